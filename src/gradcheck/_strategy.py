"""Which check runs: every component ("full"), certify, or K random directions, and why.

``strategy="auto"`` runs the full check where it is cheap and certify above. Cheap means few
components or a full check of a few seconds, timed on the loss evaluations gradcheck made
before choosing (the determinism probe and the noise measurement).
"""

from __future__ import annotations

from dataclasses import dataclass

from ._options import Options

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


def choose(options: Options, size: int, seconds_per_evaluation: float) -> Choice:
    """The check to run for ``size`` components, with the reason the report shows."""
    strategy, directions, method, eps = options.strategy, options.directions, options.method, options.eps
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
