"""The convergence rate of a Taylor remainder, fitted over its asymptotic window.

Along a direction δ the remainder R(h) = J(θ + hδ) − J(θ) − h·g·δ falls as h² when g is the
gradient and as h when it is not; with the Hessian term −½h²·δHδ it falls as h³. On a ladder of
halving steps the *local rate* between two neighbours is log₂(|R(h)| / |R(h/2)|). Large steps
are pre-asymptotic (higher-order terms, or a kink crossed), small ones drown in round-off, so
the rate is read where the remainder is clean:

- a step is *usable* when |R| is at least USABLE times its round-off floor (then the local
  rate's error from noise is ≤ 0.03);
- the *window* is the run of usable steps that ends at the smallest usable step, grown towards
  larger steps while each local rate stays within SPREAD of the window's median: the most
  asymptotic stretch the ladder saw, whatever the scale of the problem;
- the rate is the least-squares slope of log|R| against log h over the window.

A wrong derivative along δ adds a term a·h that dominates as h shrinks, so the window, which
ends at the smallest usable steps, finds rate 1 whenever |a| is above `detection_limit`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

# |R| ≥ USABLE × floor: the floor's share of log|R| is ≤ 1 %, so a local rate between two such
# steps is off by at most 2·0.01/ln 2 ≈ 0.03 from noise.
USABLE = 100.0
# Local rates of a window agree within ±SPREAD of its median: the slack a clean remainder needs
# for its next-order term (a rate of 2 + O(h)) and noise, far less than the 1 between a right
# and a wrong derivative.
SPREAD = 0.25
# A window needs two local rates to be a window; eight keep the fit in the asymptotic range.
WINDOW_MIN = 3
WINDOW_MAX = 8
# A rate below expected − RATE_TOLERANCE fails: halfway between the rate of a right derivative
# (p) and of a wrong one (p − 1).
RATE_TOLERANCE = 0.5
# An error a·h^(p−1) in a remainder of rate p with |a|·h^(p−1) ≥ LIMIT_FACTOR·|R(h)| at the
# window's last two steps pulls the last local rate below p − ½ whatever its sign (p = 2: same
# sign log₂(12/5) = 1.26, opposite log₂(4/3) = 0.41; p = 3: 2.26 and 1.41), so it is caught.
LIMIT_FACTOR = 4.0


@dataclass(frozen=True)
class Fit:
    """The remainder's rate over its asymptotic window (``start``, ``stop``: step indices)."""

    rate: float  # NaN: fewer than WINDOW_MIN usable steps in a row
    start: int
    stop: int  # exclusive
    usable: np.ndarray  # per step: |R| ≥ USABLE × floor

    @property
    def found(self) -> bool:
        return self.stop - self.start >= WINDOW_MIN


def usable(remainder: np.ndarray, floor: np.ndarray) -> np.ndarray:
    """Steps whose remainder stands USABLE times above its round-off floor."""
    return np.isfinite(remainder) & (np.abs(remainder) >= USABLE * floor)


def local_rates(steps: np.ndarray, remainder: np.ndarray) -> np.ndarray:
    """log(|R(hₖ)| / |R(hₖ₊₁)|) / log(hₖ / hₖ₊₁) for each neighbouring pair (NaN where R is 0)."""
    with np.errstate(divide="ignore", invalid="ignore"):
        logs = np.log(np.abs(remainder))
        return np.diff(logs) / np.diff(np.log(steps))


def fit(steps: np.ndarray, remainder: np.ndarray, floor: np.ndarray) -> Fit:
    """The rate of ``remainder`` over its asymptotic window (see the module docstring)."""
    good = usable(remainder, floor)
    if not good.any():
        return Fit(math.nan, 0, 0, good)
    stop = int(np.flatnonzero(good)[-1]) + 1
    start = stop - 1
    while start > 0 and good[start - 1]:
        start -= 1
    rates = local_rates(steps, remainder)
    first = stop - 1
    while first > start and stop - first < WINDOW_MAX:
        candidate = rates[first - 1 : stop - 1]
        if np.any(np.abs(candidate - np.median(candidate)) > SPREAD):
            break
        first -= 1
    if stop - first < WINDOW_MIN:
        return Fit(math.nan, first, stop, good)
    x, y = np.log(steps[first:stop]), np.log(np.abs(remainder[first:stop]))
    return Fit(float(np.polyfit(x, y, 1)[0]), first, stop, good)


def passes(fitted: Fit, expected: int) -> bool:
    """Fails only on a window whose rate is below expected − RATE_TOLERANCE.

    No window (fewer than WINDOW_MIN usable steps in a row) is inconclusive and passes: the
    remainder is near its round-off floor at every step, and `detection_limit` then says how
    large an error could have hidden there.
    """
    return not fitted.found or fitted.rate >= expected - RATE_TOLERANCE


def detection_limit(
    steps: np.ndarray, remainder: np.ndarray, floor: np.ndarray, fitted: Fit, power: int = 1
) -> float:
    """The smallest coefficient a of an error term a·hᵖᵒʷᵉʳ the test is sure to show (absolute).

    LIMIT_FACTOR·|R(h)|/hᵖᵒʷᵉʳ at the last usable step (the window's last step). Without any
    usable step, an error with a·h₀ᵖᵒʷᵉʳ ≥ USABLE·floor(h₀) at the first step would have been
    usable there and below: LIMIT_FACTOR·USABLE·floor(h₀)/h₀ᵖᵒʷᵉʳ.
    """
    if fitted.usable.any():
        last = int(np.flatnonzero(fitted.usable)[-1])
        return LIMIT_FACTOR * abs(float(remainder[last])) / float(steps[last]) ** power
    return LIMIT_FACTOR * USABLE * float(floor[0]) / float(steps[0]) ** power
