"""Run the user's loss at perturbed parameters, with every misbehaviour turned into a clear error.

The evaluator owns one working copy of the params (fresh arrays, never the caller's). A
perturbation writes one component, calls the loss and writes the component back, so an
evaluation costs the loss call and nothing proportional to the number of parameters.
"""

from __future__ import annotations

import contextlib
import math
import time
from collections.abc import Callable, Iterator
from functools import partial
from typing import Any, Optional, Protocol

import numpy as np

from .._errors import (
    ComplexStepError,
    LossRaisedError,
    MutatedParamsError,
    NondeterministicLossError,
)
from .._options import Options
from .._tree import Layout, round_to_dtypes
from ._batched import Batched
from ._pool import Pooled
from ._progress import Advance, Progress
from ._scalar import Where, describe, to_scalar

Loss = Callable[[Any], Any]
# The serial loop reports progress every this many evaluations: the bar stays live while
# the bookkeeping costs one call per 64 loss evaluations.
PROGRESS_EVERY = 64


class Backend(Protocol):
    """Another way to run `Evaluator.many` / `Evaluator.many_along` (batched, pooled)."""

    def many(
        self, evaluator: Evaluator, components: np.ndarray, values: np.ndarray, advance: Advance
    ) -> np.ndarray: ...

    def many_along(
        self, evaluator: Evaluator, directions: np.ndarray, ts: np.ndarray, advance: Advance
    ) -> np.ndarray: ...


_PLAIN_FLOATS = (float, np.float64)

# Two evaluations at θ may differ by this many units in the last place of J and still count as
# one deterministic loss: summation orders that vary between runs move the last few bits (a few
# dozen ulps after cancellation); dropout or sampling moves J by many orders more.
ROUNDING_SPREAD = 64

# Durations of the first loss calls are kept to estimate what a whole check will cost
# (`_budget`); the probe makes 18 calls, a few more cover a slow first (compiling) call.
TIMED_CALLS = 32


class Evaluator:
    """Evaluates the loss at θ and at θ with one component (or a direction) changed."""

    def __init__(
        self,
        loss: Loss,
        layout: Layout,
        theta: np.ndarray,
        *,
        reseed: Optional[Callable[[], Any]] = None,
        complex_step: bool = False,
        backend: Optional[Backend] = None,
        progress: Optional[Progress] = None,
        native: bool = False,
    ) -> None:
        self.loss = loss
        self.layout = layout
        self.theta = theta
        self.reseed = reseed
        self.complex_step = complex_step
        self.backend = backend
        self.progress = progress or Progress(enabled=False)
        self.j0: Optional[float] = None  # J(θ) once probed: batched backends check against it
        self.native = native  # the loss gets arrays of each tensor's own dtype, not float64 copies
        dtype = np.complex128 if complex_step else None if native else np.float64
        self.tree = layout.unflatten(theta, dtype=dtype)
        self._leaves = _leaf_arrays(self.tree, layout)
        # Flat views to write components through (a complex parameter's real or imaginary part).
        self._views = [
            getattr(leaf.reshape(-1), t.part) if t.part else leaf.reshape(-1)
            for leaf, t in zip(self._leaves, layout.tensors, strict=True)
        ]
        self._owner = layout.tensor_ids()  # which view holds each component
        self._slices = [t.slice for t in layout.tensors]
        self._narrow = any(t.dtype != np.float64 for t in layout.tensors)
        offsets = np.array([t.offset for t in layout.tensors])
        self._local = np.arange(layout.size) - offsets[self._owner]
        self.count = 0
        self.spread = 0.0  # |J(θ) − J(θ)| of two evaluations (`probe`)
        self.durations: list[float] = []  # seconds of the first TIMED_CALLS loss calls

    def __reduce__(self) -> tuple[Any, tuple[Any, ...]]:
        """Pickle as a fresh serial evaluator of the same loss at the same θ (what a worker runs)."""
        return _serial, (self.loss, self.layout, self.theta, self.reseed, self.complex_step, self.native)

    def _call(self, where: Where, perturbed: bool = True) -> complex | float:
        """One loss evaluation at the working copy; ``where`` describes the point (built lazily)."""
        if self.reseed is not None:
            self.reseed()
        self.count += 1
        start = time.perf_counter()
        try:
            value = self.loss(self.tree)
        except KeyboardInterrupt:  # never turned into a LossError: the user asked to stop
            raise
        except Exception as error:
            if self.complex_step:
                raise ComplexStepError(
                    f"method='complex' needs a loss that accepts complex parameters, but the "
                    f"loss raised {type(error).__name__}: {error} {describe(where)}; use method='central'"
                ) from error
            hint = (
                "it works at θ, so θ lies within one step of where it fails: pass a smaller fixed "
                "eps, or move the params away from there"
                if perturbed
                else "call loss(params) yourself to debug it"
            )
            raise LossRaisedError(
                f"the loss raised {type(error).__name__}({error}) {describe(where)}; {hint} (its "
                f"traceback is shown above this error)"
            ) from error
        if len(self.durations) < TIMED_CALLS:
            self.durations.append(time.perf_counter() - start)
        if self.complex_step and not np.iscomplexobj(value):
            raise ComplexStepError(
                f"method='complex' perturbs the params by an imaginary step, but the loss returned "
                f"the real {type(value).__name__} {value!r} {describe(where)}: it drops the imaginary "
                f"part (float(), .real, abs() or a real-typed buffer); use method='central'"
            )
        if type(value) in _PLAIN_FLOATS and not self.complex_step and math.isfinite(value):
            return float(value)  # the common case, without any conversion or message
        return to_scalar(value, where, complex_ok=self.complex_step, perturbed=perturbed)

    def at_theta(self) -> float:
        return float(np.real(self._call("at θ (the params as given)", perturbed=False)))

    def _moved(self, component: int, value: complex | float) -> str:
        name = self.layout.component_name(component)
        base = float(self.theta[component])
        if isinstance(value, complex):
            return f"when {name} = {base!r} gets the imaginary step {value.imag:.1e}i"
        return f"when {name} is moved by {value - base:+.3g} (from {base!r} to {value!r})"

    def many(self, components: np.ndarray, values: np.ndarray) -> np.ndarray:
        """J with θ[components[k]] set to values[k], for every k: the one entry point.

        Runs in process one at a time, or through the backend (batched, worker processes, an
        executor); every path gives the serial path's values.
        """
        components = np.asarray(components, dtype=np.int64).reshape(-1)
        values = np.asarray(values, dtype=np.complex128 if self.complex_step else np.float64).reshape(-1)
        with self.progress.task(components.size) as advance:
            if self.backend is None:
                return self.serial_many(components, values, advance)
            return self.backend.many(self, components, values, advance)

    def many_along(self, directions: np.ndarray, ts: np.ndarray) -> np.ndarray:
        """J(θ + ts[k]·directions[k]) for every k: `along` for many points, through the backend."""
        directions = np.asarray(directions, dtype=np.float64).reshape(-1, self.layout.size)
        ts = np.asarray(ts, dtype=np.float64).reshape(-1)
        if directions.shape[0] != ts.size:
            raise ValueError(f"many_along needs one t per direction, got {directions.shape[0]} and {ts.size}")
        with self.progress.task(ts.size) as advance:
            if self.backend is None:
                return self.serial_many_along(directions, ts, advance)
            return self.backend.many_along(self, directions, ts, advance)

    def serial_many(self, components: np.ndarray, values: np.ndarray, advance: Advance) -> np.ndarray:
        """`many`, one evaluation at a time in this process."""
        out = np.empty(len(components), dtype=np.complex128 if self.complex_step else np.float64)
        # Plain Python lists: indexing them is several times cheaper than NumPy scalars.
        views, owners, locals_ = (
            self._views,
            self._owner[components].tolist(),
            self._local[components].tolist(),
        )
        comps, vals = components.tolist(), values.tolist()
        for start in range(0, len(comps), PROGRESS_EVERY):
            for k in range(start, min(start + PROGRESS_EVERY, len(comps))):
                view, local = views[owners[k]], locals_[k]
                original = view[local]
                view[local] = vals[k]
                try:
                    out[k] = self._call(partial(self._moved, comps[k], vals[k]))
                finally:
                    view[local] = original
            advance(min(PROGRESS_EVERY, len(comps) - start))
        return out

    def serial_many_along(self, directions: np.ndarray, ts: np.ndarray, advance: Advance) -> np.ndarray:
        """`many_along`, one evaluation at a time in this process."""
        out = np.empty(ts.size)
        for k, t in enumerate(ts.tolist()):
            out[k] = self.along(directions[k], t)
            advance(1)
        return out

    def along(self, direction: np.ndarray, t: float) -> float:
        """J(θ + t·direction) for a flat direction (the working copy is restored after).

        Like every evaluated point, θ + t·direction is rounded to each tensor's own dtype: the
        point a float32 model would really see (and what the batched backends evaluate).
        """
        point = self.theta + t * direction
        if self._narrow:
            point = round_to_dtypes(self.layout, point)
        for part, view in zip(self._slices, self._views, strict=True):
            view[:] = point[part]

        def where() -> str:
            moved = np.flatnonzero(direction)
            names = ", ".join(self.layout.component_name(int(i)) for i in moved[:4])
            return (
                f"at θ moved by up to {abs(t) * np.abs(direction).max():.1e} in {moved.size} "
                f"components ({names}{', ...' if moved.size > 4 else ''}) while measuring the "
                f"loss's round-off noise"
            )

        try:
            return float(np.real(self._call(where)))
        finally:
            for part, view in zip(self._slices, self._views, strict=True):
                view[:] = self.theta[part]

    @contextlib.contextmanager
    def rounding_to(self, layout: Layout) -> Iterator[None]:
        """Round perturbed points to ``layout``'s dtypes inside (the grids the loss reads its
        tensors on, `_grid`); the working copy and its dtype stay as they are."""
        before = self.layout, self._narrow
        self.layout, self._narrow = layout, any(t.dtype != np.float64 for t in layout.tensors)
        try:
            yield
        finally:
            self.layout, self._narrow = before

    def assert_unchanged(self) -> None:
        """Raise if the loss wrote into its params or replaced arrays in their structure."""
        replaced = _replaced(self.tree, self.layout, self._leaves)
        if replaced is not None:
            raise MutatedParamsError(
                f"the loss replaced {replaced} in the params it was given (e.g. p[key] = new "
                f"array or p.pop(key)); your arrays are untouched (gradcheck passes copies), but "
                f"later evaluations would not see the perturbations: leave the params structure "
                f"alone and keep intermediate results in local variables"
            )
        for tensor, view in zip(self.layout.tensors, self._views, strict=True):
            if not np.array_equal(view, self.theta[tensor.slice], equal_nan=True):
                before = self.theta[tensor.slice]
                changed = np.flatnonzero((view != before) & ~(np.isnan(view) & np.isnan(before)))
                raise MutatedParamsError(
                    f"the loss modified its params in place ({tensor.name} changed at "
                    f"{changed.size} of {tensor.size} entries, first "
                    f"{tensor.component_name(int(changed[0]))}); "
                    f"your arrays are untouched (gradcheck passes copies), but a loss that "
                    f"writes to its params cannot be checked: compute into new arrays instead "
                    f"(W = W - x, not W -= x)"
                )

    def probe(self) -> float:
        """Evaluate J(θ) twice: prove that the loss leaves params alone and is deterministic.

        Values that differ in their last few bits (`ROUNDING_SPREAD`) are rounding that depends
        on the run (a LAPACK or SIMD path chosen by memory alignment, a threaded sum): ``spread``
        keeps the difference, which the noise σ then covers.
        """
        first = self.at_theta()
        second = self.at_theta()
        self.j0 = first
        self.assert_unchanged()  # first: a loss that writes to its params also drifts
        self.spread = abs(first - second)
        if self.spread > ROUNDING_SPREAD * float(np.spacing(max(abs(first), abs(second)))):
            raise NondeterministicLossError(
                f"the loss gave {first!r} and then {second!r} for the same params: it is not "
                f"deterministic (dropout or other sampling?). Turn the randomness off "
                f"(keep_prob = 1, model.eval()), or pass reseed=<function that resets your "
                f"random generator> so every evaluation draws the same mask"
            )
        return first


def _serial(
    loss: Loss,
    layout: Layout,
    theta: np.ndarray,
    reseed: Optional[Callable[[], Any]],
    complex_step: bool,
    native: bool,
) -> Evaluator:
    return Evaluator(loss, layout, theta, reseed=reseed, complex_step=complex_step, native=native)


def backend_for(options: Options) -> Optional[Backend]:
    """The backend the options ask for: batched, a process pool or executor, or None (serial)."""
    if options.batched_loss is not None:
        return Batched(options.batched_loss)
    if options.executor is not None or (options.workers or 1) > 1:
        return Pooled(workers=options.workers, executor=options.executor)
    return None


def _replaced(tree: Any, layout: Layout, leaves: list[np.ndarray]) -> Optional[str]:
    """The name of the first parameter that is no longer the array the evaluator put there."""
    for tensor, leaf in zip(layout.tensors, leaves, strict=True):
        node = tree
        try:
            for key in tensor.path:
                node = node[key]
        except (KeyError, IndexError, TypeError):
            return tensor.name
        if node is not leaf:
            return tensor.name
    return None


def _leaf_arrays(tree: Any, layout: Layout) -> list[np.ndarray]:
    arrays = []
    for tensor in layout.tensors:
        node = tree
        for key in tensor.path:
            node = node[key]
        arrays.append(node)
    return arrays
