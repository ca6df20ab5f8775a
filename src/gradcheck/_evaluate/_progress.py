"""A progress bar with the time left, shown only for evaluation runs that take a while.

Short checks stay silent: the bar appears once a run has gone on for SHOW_AFTER seconds and
is projected to take at least LONG seconds in total, and never when stderr is neither a
terminal nor a Jupyter notebook (pipes, CI logs, captured test output) or with
``progress=False``. In a notebook the bar is an ipywidgets output, updated in place.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, Optional

# A run projected to take under ~2 s is over before a bar would help anyone read it.
LONG = 2.0
# Wait this long before projecting: the first evaluations (imports, JIT compilation,
# process start-up) are slower than the rest and would make any projection too pessimistic.
SHOW_AFTER = 0.5

Advance = Callable[[int], None]


class Progress:
    """Reports how many of a run's loss evaluations are done; draws a bar when worth it."""

    def __init__(
        self,
        enabled: bool = True,
        *,
        console: Any = None,
        clock: Callable[[], float] = time.perf_counter,
    ) -> None:
        self.enabled = enabled
        self.console = console
        self.clock = clock

    @contextmanager
    def task(self, total: int, description: str = "evaluating the loss") -> Iterator[Advance]:
        """Yield ``advance(n)``: call it as evaluations finish; the bar (if any) closes after."""
        if not self.enabled or total <= 0:
            yield ignore
            return
        run = _Run(self, total, description)
        try:
            yield run.advance
        finally:
            run.close()


def _has_widgets() -> bool:
    """In Jupyter rich draws its bar in an ipywidgets Output (the ``notebook`` extra); without
    ipywidgets it could only warn, so no bar is shown."""
    try:
        import ipywidgets  # noqa: F401
    except ImportError:
        return False
    return True


def ignore(done: int) -> None:
    """advance() when no bar can be shown (or from inside a worker): costs one call."""


class _Run:
    def __init__(self, owner: Progress, total: int, description: str) -> None:
        self.owner = owner
        self.total = total
        self.description = description
        self.done = 0
        self.start = owner.clock()
        self.bar: Optional[Any] = None
        self.task_id: Any = None
        self.gave_up = False

    def advance(self, count: int) -> None:
        self.done += count
        if self.bar is not None:
            self.bar.update(self.task_id, completed=self.done)
        elif not self.gave_up:
            self._maybe_show()

    def _maybe_show(self) -> None:
        elapsed = self.owner.clock() - self.start
        if elapsed < SHOW_AFTER or self.done == 0:
            return
        projected = elapsed * self.total / self.done
        if projected < LONG:
            return
        from rich.console import Console
        from rich.progress import BarColumn, MofNCompleteColumn, TextColumn, TimeRemainingColumn
        from rich.progress import Progress as Bar

        console = self.owner.console or Console(stderr=True)
        if not (console.is_terminal or (console.is_jupyter and _has_widgets())):
            self.gave_up = True
            return
        columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn())
        self.bar = Bar(*columns, console=console, transient=True)
        self.bar.start()
        self.task_id = self.bar.add_task(self.description, total=self.total, completed=self.done)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.stop()
