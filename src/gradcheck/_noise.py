"""Measure the round-off noise σ of one loss evaluation.

The loss is evaluated at m+1 equally spaced points along a short random direction. High-order
differences of the values cancel the smooth part of J and leave the noise: for independent noise
of standard deviation σ, Δᵏf has standard deviation σ·sqrt(C(2k, k)) (Moré & Wild, "Estimating
computational noise", SIAM J. Sci. Comput. 33, 2011). We read σ from the *median* of |Δᵏf|
(0.6745 standard deviations for Gaussian noise) rather than its mean square: a kink of ReLU or
max that the line happens to cross spoils at most k+1 neighbouring differences, an outlier
the median ignores. This is what makes float32 losses, large losses and long sums checkable
without a hand-set tolerance.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Optional

import numpy as np

from ._stencils import FLOAT64_EPS

# Seventeen points give orders 4..6 with 13..11 differences each, so one crossed kink (≤ k+1
# spoiled differences) stays a minority; 16 evaluations are a small share of a full check.
POINTS = 17
ORDERS = (4, 5, 6)
# Median of |X| for a Gaussian X of unit standard deviation.
GAUSSIAN_MEDIAN_ABS = 0.6745
# Relative spacing of the points: large enough to move float32 parameters by several units
# in the last place (float32 ε ≈ 1.2e-7), small enough that the 3rd and higher differences of
# a smooth loss (∝ spacing³) stay far below float64 round-off.
SPACING = 2.0**-20
# Moré & Wild widen a probe that cannot resolve the noise by 100; a power of two (16) keeps the
# points exact in binary, and three widenings reach 2^-8 of max(|θᵢ|, 1), beyond which the smooth
# part of J would leak into the 4th to 6th differences and pose as noise.
WIDEN = 16.0
WIDENINGS = 3
# Components moved at once: a few dozen spread over all tensors sample the loss's arithmetic
# widely, while keeping the direction's length (∝ √k) and so its smooth differences small.
SUPPORT = 64


def noise_direction(
    theta: np.ndarray, rng: np.random.Generator, candidates: Optional[np.ndarray] = None
) -> np.ndarray:
    """A sparse random ±max(|θᵢ|, 1)·SPACING direction on up to SUPPORT components (of
    ``candidates``, flat indices into θ, when given)."""
    direction = np.zeros_like(theta)
    pool = np.arange(theta.size) if candidates is None else candidates
    chosen = pool[rng.choice(pool.size, size=min(SUPPORT, pool.size), replace=False)]
    signs = rng.choice([-1.0, 1.0], size=chosen.size)
    direction[chosen] = signs * np.maximum(np.abs(theta[chosen]), 1.0) * SPACING
    return direction


def estimate_noise(values: np.ndarray) -> float:
    """σ from loss values at equally spaced points (median over the difference orders)."""
    return float(estimate_noise_columns(np.asarray(values)[:, None])[0])


def estimate_noise_columns(values: np.ndarray) -> np.ndarray:
    """`estimate_noise` of each column of ``values`` (points × outputs): one σ per output."""
    estimates = []
    for k in ORDERS:
        typical = np.median(np.abs(np.diff(values, n=k, axis=0)), axis=0)
        estimates.append(typical / (GAUSSIAN_MEDIAN_ABS * math.sqrt(math.comb(2 * k, k))))
    return np.median(np.array(estimates), axis=0)


# float32 arithmetic leaves a loss noisy at ≥ 1e-8 of its value (ε₃₂ ≈ 1.2e-7, averaged by
# sums); float64 at ~1e-16 (ε₆₄), 1e-12 at worst after heavy cancellation. 1e-10 sits between
# them with two orders of margin each way, so only precision that really limits the check is told.
NOISY_LOSS = 1e-10
# Sixteen differences of a float64 loss all fall on a grid 2^10 times coarser than float64's spacing
# at J with probability 2^-160: values on such a grid were rounded to a coarser format (float32).
# Unless the arithmetic was exact: integer params moved by power-of-two steps under a sum give
# such values too, so a coarse grid is confirmed at points off the binary grid (offsets ×1/√2,
# a full 53-bit mantissa), where exact float64 arithmetic has full mantissas and rounding to
# float32 still leaves its grid.
COARSE_GRID = 2.0**10
OFF_GRID = math.sqrt(0.5)


@dataclass(frozen=True)
class Noise:
    """The loss's noise σ along one direction, and the jumps it moved in when it had to be widened."""

    sigma: float
    # When the finest spacing left most values equal (the loss moves in jumps there: rounding,
    # or a step function), the typical move where it first moved; 0 when it resolved at once.
    jump: float = 0.0
    # The values lie on a grid far coarser than float64's (`value_grid`): J was rounded to a
    # coarser format, so its repeats and jumps are rounding, not a step function.
    rounded: bool = False


def value_grid(values: np.ndarray) -> float:
    """The coarsest power of two that every difference between ``values`` is a multiple of (0: all equal).

    Example:
        >>> value_grid(np.array([1.0, 1.25, 1.75]))
        0.25
    """
    differences = np.abs(values - values[0])  # exact for values within a factor 2 (Sterbenz)
    differences = differences[differences > 0]
    if not differences.size:
        return 0.0
    mantissa, exponent = np.frexp(differences)
    integer = (mantissa * 2.0**53).astype(np.int64)  # difference = integer · 2^(exponent − 53)
    lowest = integer & -integer  # its lowest set bit
    return float(np.min(np.ldexp(lowest.astype(np.float64), exponent - 53)))


@dataclass(frozen=True)
class AlongTensors:
    """What the noise probes along single tensors found: each one's σ/|J|, and the tensors along
    which the loss is a staircase (`_discontinuity.piecewise_constant`) with their jumps."""

    relative: dict[int, float] = field(default_factory=dict)
    staircases: dict[int, float] = field(default_factory=dict)


def measure(
    points: Callable[[np.ndarray, np.ndarray], np.ndarray],
    theta: np.ndarray,
    j0: float,
    rng: np.random.Generator,
    candidates: Optional[np.ndarray] = None,
) -> Noise:
    """The loss's noise σ at θ, never below float64's own rounding of J (ε·|J|/2).

    ``points(direction, ts)`` evaluates J(θ + t·direction) for each t (all at once, through a
    batched or parallel backend if there is one). Measured along a direction through
    ``candidates`` (flat indices into θ; default all): one tensor's components give the noise
    along that tensor, which a discontinuous other input (labels of ±1, a mask) cannot spoil.

    When fewer than half of the values differ, the spacing is below the loss's resolution (a
    float32 loss near a minimum, or with a large constant part, returns the same value again and
    again) and the differences would read σ = 0; as in Moré & Wild's ECnoise, the spacing grows
    until the values resolve. The smallest step q between the values seen then bounds σ from
    below by q/√12, the noise of rounding to a grid of q (values at a lucky, exactly
    representable set of points must not read as noise-free); so does a coarse grid that every
    value lies on (`value_grid`), also at points off the binary grid (OFF_GRID).
    """
    direction = noise_direction(theta, rng, candidates)
    rounding = 0.5 * FLOAT64_EPS * abs(j0)
    if not direction.any():  # nothing to move (no finite entries): J's own rounding is all there is
        return Noise(rounding)
    middle = POINTS // 2
    quantum, jump = math.inf, math.inf
    seen = [np.array([j0])]
    for widening in range(WIDENINGS + 1):
        offsets = np.arange(POINTS, dtype=np.float64) - middle
        values = np.insert(points(direction * WIDEN**widening, np.delete(offsets, middle)), middle, j0)
        seen.append(values)
        distinct = np.unique(values)
        if distinct.size > 1:
            quantum = min(quantum, float(np.diff(distinct).min()))
            if not math.isfinite(jump):  # the first moves of a loss that mostly repeats
                steps = np.abs(np.diff(values))
                jump = float(np.median(steps[steps > 0]))
        if distinct.size > POINTS // 2:
            break
    floor = quantum / math.sqrt(12) if widening and math.isfinite(quantum) else 0.0
    # Values on a coarse grid g (float32 arithmetic) carry its rounding noise g/√12 even when a
    # smooth J happens to cross the grid lines evenly and the differences read 0.
    # Coarse next to float64's spacing at the values' own size (J itself, or the moves of a J of 0).
    coarse = COARSE_GRID * float(np.spacing(max(abs(j0), float(np.max(np.abs(np.concatenate(seen)))))))
    grid = value_grid(np.concatenate(seen))
    if grid > coarse:
        off_grid = value_grid(
            np.append(points(direction * (WIDEN**widening * OFF_GRID), np.delete(offsets, middle)), j0)
        )
        # Off the grid the values spread finely: exact arithmetic. All equal to J says nothing
        # (a loss rounded coarsely enough to stand still there), and the grid stands.
        grid = grid if off_grid == 0.0 or off_grid > coarse else 0.0
    rounded = grid > coarse
    floor = max(floor, grid / math.sqrt(12) if rounded else 0.0)
    return Noise(max(estimate_noise(values), floor, rounding), jump if widening else 0.0, rounded)


def measure_output_noise(
    along: Callable[[np.ndarray, float], np.ndarray],
    theta: np.ndarray,
    y0: np.ndarray,
    rng: np.random.Generator,
) -> np.ndarray:
    """`measure` for a function with many outputs: one σ per output entry, same points.

    ``along(direction, t)`` returns the flat outputs at θ + t·direction. Each output is read at
    the first spacing that resolves it (more than half of its values distinct), with the same
    floors as the scalar case: q/√12 once widened, and float64's rounding ε·|yₖ|/2.
    """
    direction = noise_direction(theta, rng)
    middle = POINTS // 2
    sigma = np.full(y0.size, np.nan)
    quantum = np.full(y0.size, np.inf)
    for widening in range(WIDENINGS + 1):
        wide = direction * WIDEN**widening
        values = np.array([y0 if k == middle else along(wide, float(k - middle)) for k in range(POINTS)])
        ordered = np.sort(values, axis=0)
        steps = np.diff(ordered, axis=0)
        distinct = 1 + np.count_nonzero(steps, axis=0)
        smallest = np.where(steps > 0, steps, np.inf).min(axis=0)
        quantum = np.minimum(quantum, smallest)
        floor = np.where(np.isfinite(quantum), quantum / math.sqrt(12), 0.0) if widening else 0.0
        estimate = np.maximum(estimate_noise_columns(values), floor)
        todo = np.isnan(sigma)
        resolved = todo & (distinct > POINTS // 2)
        sigma[resolved] = estimate[resolved]
        if not np.isnan(sigma).any():
            break
    unresolved = np.isnan(sigma)
    sigma[unresolved] = estimate[unresolved]
    return np.maximum(sigma, 0.5 * FLOAT64_EPS * np.abs(y0))
