"""Evaluate chunks of a plan on worker processes or any `concurrent.futures.Executor`.

The loss, the layout and θ are pickled once per run into a payload; every chunk carries the
payload and a slice of the plan, and each worker (thread or process) unpickles it once into
its own `Evaluator`, which then runs the chunk exactly as the serial path would: the values
are bit-for-bit those of a serial run.
"""

from __future__ import annotations

import multiprocessing
import pickle
import threading
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import Executor, Future, ProcessPoolExecutor, as_completed
from concurrent.futures.process import BrokenProcessPool
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any, Optional

import numpy as np

from .._errors import GradcheckError, WorkerError
from ._progress import Advance, ignore

if TYPE_CHECKING:
    from ._evaluator import Evaluator

# Chunks per worker: enough to balance uneven chunks and to move the progress bar, few enough
# that shipping the payload with each chunk stays a small cost.
CHUNKS_PER_WORKER = 8
# An executor we did not create does not say how many workers it has; 64 chunks keep a
# cluster of that many cores busy.
EXECUTOR_CHUNKS = 64
# Below this many evaluations per worker a process pool's start-up costs more than it saves.
MIN_PER_WORKER = 4

_local = threading.local()


class Pooled:
    """Runs `Evaluator.many` and `Evaluator.many_along` on ``workers`` processes or ``executor``."""

    def __init__(self, *, workers: Optional[int] = None, executor: Optional[Executor] = None) -> None:
        self.workers = workers
        self.executor = executor
        self._payload: Optional[tuple[Evaluator, tuple[str, bytes]]] = None

    def many(
        self, evaluator: Evaluator, components: np.ndarray, values: np.ndarray, advance: Advance
    ) -> np.ndarray:
        if self._too_small(components.size):
            return evaluator.serial_many(components, values, advance)
        chunks = [(components[s], values[s]) for s in self._slices(components.size)]
        dtype = np.complex128 if evaluator.complex_step else np.float64
        return self._run(evaluator, _many_chunk, chunks, dtype, advance)

    def many_along(
        self, evaluator: Evaluator, directions: np.ndarray, ts: np.ndarray, advance: Advance
    ) -> np.ndarray:
        if self._too_small(ts.size):
            return evaluator.serial_many_along(directions, ts, advance)
        chunks = [(directions[s], ts[s]) for s in self._slices(ts.size)]
        return self._run(evaluator, _along_chunk, chunks, np.float64, advance)

    def _too_small(self, size: int) -> bool:
        return self.executor is None and size < MIN_PER_WORKER * (self.workers or 1)

    def _slices(self, size: int) -> list[slice]:
        count = EXECUTOR_CHUNKS if self.executor is not None else CHUNKS_PER_WORKER * (self.workers or 1)
        bounds = np.linspace(0, size, min(count, size) + 1).astype(int)
        return [slice(a, b) for a, b in zip(bounds[:-1], bounds[1:], strict=True)]

    def _run(
        self,
        evaluator: Evaluator,
        function: Callable[..., Any],
        chunks: list[Any],
        dtype: Any,
        advance: Advance,
    ) -> np.ndarray:
        payload = self._payload_for(evaluator)
        out = np.empty(sum(len(chunk[1]) for chunk in chunks), dtype=dtype)
        starts = np.cumsum([0] + [len(chunk[1]) for chunk in chunks])
        with self._executor() as executor:
            futures: dict[Future[Any], int] = {
                executor.submit(function, payload, *chunk): k for k, chunk in enumerate(chunks)
            }
            try:
                for future in as_completed(futures):
                    k = futures[future]
                    values, count = _result(future, self, chunks[k])
                    out[starts[k] : starts[k + 1]] = values
                    evaluator.count += count
                    advance(len(values))
            finally:
                for future in futures:
                    future.cancel()
        return out

    @contextmanager
    def _executor(self) -> Iterator[Executor]:
        if self.executor is not None:
            yield self.executor
            return
        pool = ProcessPoolExecutor(max_workers=self.workers, mp_context=_context())
        try:
            yield pool
        finally:
            pool.shutdown(wait=True, cancel_futures=True)

    def _payload_for(self, evaluator: Evaluator) -> tuple[str, bytes]:
        if self._payload is not None and self._payload[0] is evaluator:
            return self._payload[1]
        try:  # the evaluator pickles as a fresh serial one (see Evaluator.__reduce__)
            payload = (uuid.uuid4().hex, pickle.dumps(evaluator, protocol=pickle.HIGHEST_PROTOCOL))
        except Exception as error:
            raise WorkerError(
                f"{self._option()} sends the loss to other processes, but it cannot be pickled "
                f"({type(error).__name__}: {error}); define the loss (and reseed) as a function at "
                f"module level, with its data bound by functools.partial, instead of a lambda or "
                f"nested function, or evaluate in this process with batched_loss="
            ) from error
        self._payload = (evaluator, payload)
        return payload

    def _option(self) -> str:
        return (
            f"workers={self.workers}" if self.executor is None else f"executor={type(self.executor).__name__}"
        )


def _context() -> Any:
    """forkserver where there is one: forking a process that runs threads (JAX, PyTorch, BLAS)
    can deadlock the child; a fork server is a fresh single-threaded process (Python 3.14's default)."""
    methods = multiprocessing.get_all_start_methods()
    return multiprocessing.get_context("forkserver" if "forkserver" in methods else None)


def _result(future: Future[Any], pooled: Pooled, chunk: Any) -> Any:
    """The chunk's (values, count), with a failure turned into an error that says what to do."""
    try:
        return future.result()
    except GradcheckError:
        raise  # the worker's own message already names the component
    except BrokenProcessPool as error:
        raise WorkerError(
            f"a worker process died while evaluating the loss on {len(chunk[1])} points ({pooled._option()}): "
            f"it crashed or was killed (out of memory?); run without workers= to see the failure here"
        ) from error
    except Exception as error:
        raise WorkerError(
            f"evaluating the loss on {pooled._option()} failed with {type(error).__name__}: {error}; "
            f"run without workers=/executor= to see the failure here"
        ) from error


def _evaluator(payload: tuple[str, bytes]) -> Evaluator:
    """This worker's own Evaluator for the payload (unpickled once per worker thread)."""
    token, data = payload
    cached = getattr(_local, "cached", None)
    if cached is None or cached[0] != token:
        cached = (token, pickle.loads(data))
        _local.cached = cached
    return cached[1]


def _many_chunk(
    payload: tuple[str, bytes], components: np.ndarray, values: np.ndarray
) -> tuple[np.ndarray, int]:
    evaluator = _evaluator(payload)
    before = evaluator.count
    out = evaluator.serial_many(components, values, ignore)
    evaluator.assert_unchanged()
    return out, evaluator.count - before


def _along_chunk(
    payload: tuple[str, bytes], directions: np.ndarray, ts: np.ndarray
) -> tuple[np.ndarray, int]:
    evaluator = _evaluator(payload)
    before = evaluator.count
    out = evaluator.serial_many_along(directions, ts, ignore)
    evaluator.assert_unchanged()
    return out, evaluator.count - before
