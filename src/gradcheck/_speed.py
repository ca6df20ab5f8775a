"""The options that choose how loss evaluations run: ``batched_loss``, ``workers``, ``executor``, ``progress``."""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import Executor
from dataclasses import dataclass
from typing import Any, Optional

from ._batched import Batched
from ._errors import OptionError
from ._evaluate import Backend
from ._pool import Pooled
from ._progress import Progress


@dataclass(frozen=True)
class Speed:
    """Validated evaluation options; `backend` builds what `Evaluator` runs plans through."""

    batched_loss: Optional[Callable[[Any], Any]] = None
    workers: Optional[int] = None
    executor: Optional[Executor] = None
    progress: bool = True

    def __post_init__(self) -> None:
        _validate(self.batched_loss, self.workers, self.executor, self.progress)

    def backend(self) -> Optional[Backend]:
        if self.batched_loss is not None:
            return Batched(self.batched_loss)
        if self.executor is not None or (self.workers or 1) > 1:
            return Pooled(workers=self.workers, executor=self.executor)
        return None

    @property
    def parallelism(self) -> int:
        """How many loss evaluations run at once (for time estimates; an executor counts as 1)."""
        return self.workers or 1

    def progress_bar(self) -> Progress:
        return Progress(enabled=self.progress)


def _validate(batched_loss: Any, workers: Any, executor: Any, progress: Any) -> None:
    if batched_loss is not None and not callable(batched_loss):
        raise OptionError(
            f"batched_loss={batched_loss!r} (type={type(batched_loss).__name__}): pass a function "
            f"from a (k, n) array of flat parameter vectors to the k losses, or None"
        )
    if workers is not None and (isinstance(workers, bool) or not isinstance(workers, int) or workers < 1):
        raise OptionError(
            f"workers={workers!r} (type={type(workers).__name__}): pass a number of processes ≥ 1, or None "
            f"to evaluate in this process"
        )
    if executor is not None and not callable(getattr(executor, "submit", None)):
        raise OptionError(
            f"executor={executor!r} (type={type(executor).__name__}): pass a concurrent.futures.Executor "
            f"(e.g. ProcessPoolExecutor(), or a Dask client's client.get_executor())"
        )
    chosen = [
        name for name, value in (("batched_loss", batched_loss), ("executor", executor)) if value is not None
    ]
    if workers is not None and workers > 1:
        chosen.append("workers")
    if len(chosen) > 1:
        raise OptionError(
            f"{' and '.join(f'{name}=' for name in chosen)} were both given: choose one way to run the "
            f"evaluations (batched_loss in this process, or workers= / executor= in parallel)"
        )
    if not isinstance(progress, bool):
        raise OptionError(f"progress={progress!r} (type={type(progress).__name__}): pass True or False")
