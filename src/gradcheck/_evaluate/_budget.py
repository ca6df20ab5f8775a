"""Estimate what a check will cost before spending it, and warn when that is long.

A full check needs a few loss evaluations per parameter: 2·10⁷ of them for 10⁷ parameters
with central differences, days for a loss that takes milliseconds. The probe's first calls
(two at θ, sixteen to measure the noise) are timed; their median times the planned number of
evaluations is the estimate, and above ``warn_slow`` seconds a `SlowCheckWarning` says so
(with the way out) before the long part starts.
"""

from __future__ import annotations

import statistics
import sys
import warnings
from collections.abc import Sequence
from types import FrameType
from typing import Optional

from .._errors import SlowCheckWarning
from .._stencils import STENCILS


def _duration(seconds: float) -> str:
    for unit, size in (("days", 86400.0), ("hours", 3600.0), ("minutes", 60.0)):
        if seconds >= size:
            return f"{seconds / size:.1f} {unit}"
    return f"{seconds:.0f} seconds"


def _caller_stacklevel() -> int:
    """The stacklevel that points a warning at the first frame outside gradcheck."""
    level = 1
    frame: Optional[FrameType] = sys._getframe(1)
    while frame is not None and frame.f_globals.get("__name__", "").startswith("gradcheck"):
        level += 1
        frame = frame.f_back
    return level


def warn_if_slow(durations: Sequence[float], method: str, components: int, limit: Optional[float]) -> None:
    """Warn when differentiating ``components`` components will take more than ``limit`` seconds.

    Args:
        durations: seconds of the loss calls made so far (at least one).
        method: the finite-difference method (sets the evaluations per component).
        components: how many components the check will differentiate.
        limit: seconds; None never warns.
    """
    if not durations:
        return
    per_call = statistics.median(durations)
    per_component = STENCILS[method].evaluations
    planned = per_component * components
    seconds = per_call * planned
    if limit is not None and seconds > limit:
        warnings.warn(
            SlowCheckWarning(
                f"this check will take about {_duration(seconds)}: {planned:,} loss evaluations "
                f"({per_component} per component for method={method!r} × {components:,} components) "
                f"at {per_call * 1e3:.3g} ms each (the median of the first {len(durations)}). Check "
                f"a random sample with components=1000, or every component in a few dozen "
                f"evaluations with strategy='certify'. The check goes on (Ctrl-C stops it); "
                f"warn_slow=None silences this warning"
            ),
            stacklevel=_caller_stacklevel(),
        )
