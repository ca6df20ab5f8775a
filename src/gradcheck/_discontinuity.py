"""Jumps in the loss: a step function inside a finite-difference step, or a staircase of them.

A derivative does not exist where the loss jumps (round, floor, sign, a step function, sorting
ties, searchsorted), and a finite difference across the jump measures jump/step, not a slope.
Two situations are told apart from a wrong gradient:

- **One jump inside the step.** The five values at θᵢ + (−h, −h/2, 0, h/2, h) fit a quadratic
  plus one jump between two neighbouring points, to the loss's noise, where a cubic cannot fit
  them, and the loss is locally flat: the jump is far larger than its slope moves it over the
  step (a kink, a change of slope, fails one test or the other). Then the slope of
  that fit is the derivative at θᵢ seen from both sides; when it matches the analytic one, the
  component is a ``discontinuity``: left out of the verdict, like a kink.
- **A staircase.** Along some tensor the loss repeats exactly at the noise probe's finest
  spacing and then moves in jumps, while its values are not rounded to a coarse grid such as
  float32's (`piecewise_constant`): float64 arithmetic that stands still is a flat function.
  Its finite differences at any step that resolves the stairs measure their average rise, while
  the derivative between jumps is 0. A component that stands on a stair (`on_a_stair`: J does
  not move at that finest spacing) with a zero analytic derivative cannot be judged: it is a
  ``discontinuity`` too, and the report says nothing could be detected for it. A component that
  does move J there (a smooth term beside the stairs, a max-pool's winner) is judged at steps
  below the stairs, with J's own rounding as its noise; one on a stair with a nonzero analytic
  derivative (a cast's straight-through identity) at steps that resolve them.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Optional

import numpy as np

from ._compare import SAFETY
from ._evaluate import Evaluator
from ._noise import SPACING, Noise
from ._stencils import FLOAT64_EPS
from ._steps import MIN_STEP_ULPS
from ._tree import round_to_dtypes


def piecewise_constant(noise: Noise) -> bool:
    """Is the loss along the noise probe's direction a staircase (not a rounded smooth loss)?

    It repeated at the finest spacing and then moved (``noise.jump``), in float64 values: a
    loss computed in float64 that stands still over 2^-20 of its parameters is flat there. (A
    float64 function of float16 or bfloat16 intermediates is flat between their rounding steps
    too: it *is* piecewise constant at that scale, and a zero derivative there as uncheckable.)
    """
    return 0 < noise.jump < math.inf and not noise.rounded


def on_a_stair(
    evaluator: Evaluator, components: np.ndarray, spacing: np.ndarray, spread: float
) -> np.ndarray:
    """Which ``components`` leave J where it is (to its rounding and run-to-run ``spread``) at
    θᵢ ± δᵢ, δᵢ the noise probe's finest spacing: those stand on a stair of the loss."""
    theta = evaluator.theta[components]
    delta = np.maximum(SPACING * np.maximum(np.abs(theta), 1.0), MIN_STEP_ULPS * spacing)
    at = np.concatenate([components, components])
    points = round_to_dtypes(evaluator.layout, np.concatenate([theta + delta, theta - delta]), at)
    values = evaluator.many(at, points).reshape(2, -1)
    j0 = evaluator.j0 if evaluator.j0 is not None else evaluator.at_theta()
    return np.all(np.abs(values - j0) <= resolution(j0, spread), axis=0)


def resolution(j0: float, spread: float) -> float:
    """What J can move by without moving: its float64 rounding, or its run-to-run spread."""
    return max(spread, 0.5 * FLOAT64_EPS * abs(j0))


@dataclass(frozen=True)
class Jump:
    """The fit of the five values with one jump: the slope at θᵢ (with its error), the jump."""

    slope: float
    slope_error: float  # the values' noise and the fit's miss, carried through the slope's weights
    size: float
    interval: int  # 0..3: (−h, −h/2), (−h/2, 0), (0, h/2), (h/2, h)


def _fit(
    offsets: np.ndarray, values: np.ndarray, beyond: Optional[np.ndarray]
) -> tuple[np.ndarray, np.ndarray, float]:
    """Least squares of ``values`` on 1, x, x² and the jump indicator ``beyond`` (on 1, x, x², x³
    without one): coefficients, the weights that make the slope from the values, and the
    largest residual."""
    columns = [np.ones_like(offsets), offsets, offsets**2]
    columns.append(offsets**3 if beyond is None else beyond.astype(np.float64))
    design = np.stack(columns, axis=1)
    weights = np.linalg.pinv(design)
    # In units of the largest value: a loss of 1e300 would overflow the products, and the fit is
    # linear in the values, so the scale comes back out exactly.
    unit = float(np.max(np.abs(values))) or 1.0
    scaled = weights @ (values / unit)
    miss = float(np.max(np.abs(design @ scaled - values / unit)))
    return scaled * unit, weights[1], miss * unit


def one_jump(offsets: np.ndarray, values: np.ndarray, sigma: float) -> Optional[Jump]:
    """The jump that explains five values at sorted ``offsets`` (−h, −h/2, 0, h/2, h), if one does.

    A cubic and a quadratic with a jump each leave one degree of freedom over five points. At the
    steps gradcheck takes, a smooth loss's quartic term is below its noise σ, so a cubic fits it;
    with values good to σ, the cubic must miss by more than SAFETY·σ and the jump model fit within
    SAFETY·σ, and the jump itself must stand out of the noise.
    """
    tolerance = SAFETY * sigma
    if _fit(offsets, values, None)[2] <= tolerance:
        return None
    best: Optional[tuple[float, Jump]] = None
    for interval in range(4):
        # the points on the far side of the interval from θᵢ (offset 0 sits at index 2)
        beyond = np.arange(5) <= interval if interval < 2 else np.arange(5) > interval
        coefficients, weights, miss = _fit(offsets, values, beyond)
        error = (sigma + miss) * float(np.sum(np.abs(weights)))
        if best is None or miss < best[0]:
            best = (miss, Jump(float(coefficients[1]), error, float(coefficients[3]), interval))
    assert best is not None
    miss, jump = best
    if miss > tolerance or abs(jump.size) <= 2 * tolerance:
        return None
    # Locally flat: the jump dwarfs what the loss's slope changes it by over the step. A kink,
    # whose far-side values a jump model can also fit (one point beyond the jump), changes J by
    # about its slopes times the step, so it never passes this.
    if abs(jump.size) <= SAFETY * abs(jump.slope) * float(np.max(np.abs(offsets))):
        return None
    return jump
