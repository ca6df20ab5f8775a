"""Which check runs: every component ("full"), certify, or K random directions, and why.

``strategy="auto"`` runs the full check where it is cheap and certify above. Cheap means few
components or a full check of a few seconds, timed on the loss evaluations gradcheck made
before choosing (the determinism probe and the noise measurement).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Optional

from . import _options
from ._errors import OptionError

STRATEGIES = ("auto", "full", "certify")
# Up to this many components the full check always runs: 2,000 evaluations, and the choice
# never depends on how busy the machine is.
AUTO_FULL_SIZE = 1000
# "A few seconds": above this estimated duration the full check gives way to certify.
AUTO_SECONDS = 3.0


@dataclass(frozen=True)
class Choice:
    """The check to run (``full``, ``certify`` or ``directions``), why, and K for directions."""

    name: str
    reason: str
    directions: int = 0


def validate(strategy: Any, directions: Any, method: str, eps: Any) -> None:
    """Raise `OptionError` for a strategy or directions value gradcheck cannot use."""
    _options.choice("strategy", strategy, STRATEGIES)
    if directions is not None:
        if isinstance(directions, bool) or not isinstance(directions, int) or directions < 1:
            raise OptionError(
                f"directions={directions!r} (type={type(directions).__name__}): pass a positive "
                f"number of random directions such as 20, or None"
            )
        if strategy != "auto":
            raise OptionError(
                f"directions={directions} is a check of its own and cannot be combined with "
                f"strategy={strategy!r}; leave strategy='auto'"
            )
    directional = strategy == "certify" or directions is not None
    if directional and (method != "central" or eps != "auto"):
        which = f"directions={directions}" if directions is not None else "strategy='certify'"
        raise OptionError(
            f"{which} uses central differences with steps chosen from the loss's noise; "
            f"method={method!r} and eps={eps!r} are per-component settings: pass "
            f"method='central', eps='auto' or use strategy='full'"
        )


def choose(
    strategy: str, directions: Optional[int], size: int, seconds_per_evaluation: float, method: str, eps: Any
) -> Choice:
    """The check to run for ``size`` components, with the reason the report shows."""
    if directions is not None:
        return Choice("directions", f"directions={directions} asked for", directions)
    if strategy != "auto":
        return Choice(strategy, f"strategy={strategy!r} asked for")
    if method != "central" or eps != "auto":
        return Choice("full", f"auto: method={method!r}, eps={eps!r} are per-component settings")
    if size <= AUTO_FULL_SIZE:
        return Choice("full", f"auto: {size} components (≤ {AUTO_FULL_SIZE}) are checked one by one")
    estimate = 2 * size * seconds_per_evaluation
    if estimate <= AUTO_SECONDS:
        return Choice("full", f"auto: the full check of {size} components takes about {estimate:.1f} s")
    return Choice(
        "certify",
        f"auto: a full check of {size} components would take about {estimate:.0f} s "
        f"({2 * size} evaluations); certify needs about a hundred",
    )
