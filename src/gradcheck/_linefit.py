"""Directional derivatives measured by regression over many step sizes: the low-precision line test.

Two loss values say little when the loss is computed in float32, bfloat16 or float16: their
difference is mostly round-off. Many values along one line say much more. Along u = signs ⊙ s on
a block of components (sᵢ = max(|θᵢ|, 1), as for every directional test), the loss is evaluated
at 2m equally spaced points t = ±T·j/m. Each point is rounded to the parameters' dtypes, so the
step really taken is Δⱼ = fl(θ + tⱼ·u) − θ, and the analytic first-order change Δⱼ·g is computed
exactly in float64 on the host. What is left,

    rⱼ = J(θ + Δⱼ) − J(θ) − Δⱼ·g  =  Δⱼ·(g* − g) + ½ΔⱼᵀHΔⱼ + … + noise,

is fitted by least squares with c₀ + a·s + b·s² + c·s³ + d·s⁴, s the realised position along u
(the projection of Δⱼ on u). The slope a is u·(g* − g): the error of the analytic directional
derivative, with curvature absorbed by the higher terms and round-off averaged over 2m points.
Its standard error is σ·‖w‖₂, w the row of the fit's pseudo-inverse that gives a, σ the loss's
noise, measured twice on the same values: by the fit's residuals and, independently, by
Moré & Wild's high-order differences of the equally spaced series (`_noise.estimate_noise`).
When the residuals exceed the noise by more than ADEQUATE, the quartic does not describe the
line at this T (higher derivatives or kinks show); the half-widths tried are FIRST_STEP / SHRINKᵏ,
and `_regression` picks among them.

A kink at θ (ReLU at 0, a tie of max) gives the line two slopes. `sides` fits each half of the
line on its own; a valid (sub)gradient's directional derivative lies between the two one-sided
slopes, so the analytic value is accepted when it lies within that interval.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from ._compare import norm
from ._directional import BATCH_VALUES, evaluate_along
from ._evaluate import Evaluator
from ._noise import estimate_noise
from ._tree import round_to_dtypes

# Points on each side of θ: 2m = 16 evaluations per line leave 11 degrees of freedom after the
# quartic's five coefficients, enough to measure the noise from the residuals, and 17 equally
# spaced values give Moré–Wild's 4th to 6th differences 13 to 11 terms each.
POINTS = 8
DEGREE = 4
# The half-widths tried, in units of sᵢ: from a quarter of each parameter's scale down by SHRINK
# (a factor 4 cuts a 5th-order misfit by 4⁴ ≈ 256) TRIES times, to 2⁻¹⁸ (a few float32 ulps of
# sᵢ spread over 8 points).
FIRST_STEP = 2.0**-2
SHRINK = 4.0
TRIES = 9
# The quartic describes the line when the fit's residuals are at most this multiple of the noise
# measured by the high-order differences. With 11 degrees of freedom the ratio of two noise
# estimates stays below 2 about 99% of the time; a misfit of higher derivatives shows in the
# residuals tens of times more than in the 4th-6th differences at spacing T/m.
ADEQUATE = 2.0
# Each direction is swept twice, over [−T, T] and over [−rT, rT]. The two slopes estimate the same
# derivative, with different rounding and different kinks crossed. In bfloat16 an intermediate
# that moves by only a few ulps along the line rounds in a sawtooth whose trend leans the fitted
# slope; in a ReLU network kinks crossed between rT and T lean it too (the quartic absorbs their
# bends, not their slope). Neither shows in the residuals; the slopes' difference shows both.
# On a float32 or float64 grid r = 1/4 keeps most kinks of the long sweep off the short one; a
# bfloat16 or float16 loss barely resolves a quarter of T, and there r = 2^-½.
SECOND_RANGE = 0.25
SECOND_RANGE_COARSE = 2.0**-0.5
# Each side of a kinked line is fitted by a quadratic: its 16 points (two sweeps) and θ leave 14
# degrees of freedom, and a quadratic extrapolates the one-sided slope to θ without the quartic's
# confusion of |s| with s² and s⁴ (a cubic's would be twice as noisy; a half-width the quartic
# describes leaves little third-order term on half of it).
SIDE_DEGREE = 2


@dataclass(frozen=True)
class Fit:
    """One line's regression: the slope of r (the analytic derivative's error) and its noise."""

    slope: float  # a = u·(g* − g), estimated
    gain: float  # ‖w‖₂: the slope's standard error per unit of noise
    gain_l1: float  # ‖w‖₁: the most a misfit of one noise unit per point can move the slope
    residual_noise: float  # √(RSS / degrees of freedom): the noise the fit leaves
    noise: float  # Moré–Wild σ of the equally spaced residual series


@dataclass(frozen=True)
class Measurement:
    """A direction measured by two sweeps: the combined slope, its noise gains, and the split."""

    slope: float  # inverse-variance mean of the two slopes
    gain: float
    gain_l1: float
    residual_noise: float  # the larger of the two fits'
    noise: float  # the larger of the two Moré–Wild estimates
    split: float  # slope(T) − slope(rT): rounding only, the derivative cancels
    split_gain: float  # its standard error per unit of white noise


def combine(first: Fit, second: Fit) -> Measurement:
    """The two sweeps of one direction as one measurement."""
    w1, w2 = 1.0 / first.gain**2, 1.0 / second.gain**2
    return Measurement(
        slope=(w1 * first.slope + w2 * second.slope) / (w1 + w2),
        gain=1.0 / math.sqrt(w1 + w2),
        gain_l1=(w1 * first.gain_l1 + w2 * second.gain_l1) / (w1 + w2),
        residual_noise=max(first.residual_noise, second.residual_noise),
        noise=max(first.noise, second.noise),
        split=first.slope - second.slope,
        split_gain=math.hypot(first.gain, second.gain),
    )


@dataclass(frozen=True)
class Sides:
    """The line's slope on each side of θ (a fit of each half), relative to u·g, and their gains."""

    right: float
    left: float
    right_gain: float
    left_gain: float
    residual_noise: float


@dataclass(frozen=True)
class Sweep:
    """One line's loss values: its block (sorted flat indices), ±1 signs and half-width T."""

    block: np.ndarray
    signs: np.ndarray
    half_width: float
    values: np.ndarray  # J at offsets(T), in that order

    @property
    def size(self) -> int:
        return int(self.block.size)


def offsets(half_width: float) -> np.ndarray:
    """The 2m steps t = ±T·j/m (negative first), each a power of two times j if T is one."""
    j = np.arange(1, POINTS + 1, dtype=np.float64)
    return np.concatenate([-j[::-1], j]) * (half_width / POINTS)


class LineTests:
    """Evaluates lines through θ and fits them against an analytic gradient."""

    def __init__(self, evaluator: Evaluator, j0: float) -> None:
        self.evaluator = evaluator
        self.theta = evaluator.theta
        self.scale = np.maximum(np.abs(self.theta), 1.0)
        self.layout = evaluator.layout
        self.j0 = j0

    def u(self, block: np.ndarray, signs: np.ndarray) -> np.ndarray:
        return signs * self.scale[block]

    def evaluate(self, requests: Sequence[tuple[np.ndarray, np.ndarray, float]]) -> list[Sweep]:
        """Evaluate each (block, signs, T) at its 2m points, in batches of bounded memory."""
        if not requests:
            return []
        n = self.theta.size
        pairs: list[tuple[np.ndarray, float]] = []
        for block, signs, half_width in requests:
            direction = np.zeros(n)
            direction[block] = self.u(block, signs)
            pairs += [(direction, float(t)) for t in offsets(half_width)]
        per_call = max(1, BATCH_VALUES // max(n, 1))
        values = np.concatenate(
            [evaluate_along(self.evaluator, pairs[k : k + per_call]) for k in range(0, len(pairs), per_call)]
        )
        step = 2 * POINTS
        return [
            Sweep(block, signs, half_width, values[k * step : (k + 1) * step])
            for k, (block, signs, half_width) in enumerate(requests)
        ]

    def residuals(self, line: Sweep, gradient: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(s, r): the realised positions along u and J − J₀ − Δ·g at each point."""
        theta = self.theta[line.block]
        u = self.u(line.block, line.signs)
        points = theta[None, :] + offsets(line.half_width)[:, None] * u[None, :]
        steps = round_to_dtypes(self.layout, points, line.block) - theta[None, :]
        s = steps @ u / float(u @ u)
        r = (line.values - self.j0) - steps @ gradient[line.block]
        return s, r

    def analytic(self, line: Sweep, gradient: np.ndarray) -> float:
        """u·g: the analytic directional derivative."""
        return float(self.u(line.block, line.signs) @ gradient[line.block])

    def analytic_error(self, line: Sweep, allowance: np.ndarray) -> float:
        """The rounding of u·g: each gᵢ off by up to its allowance, with the signs of u independent."""
        return norm(self.u(line.block, line.signs) * allowance[line.block])

    def fit(self, line: Sweep, gradient: np.ndarray) -> Fit:
        """The quartic fit of the line's residuals against ``gradient``."""
        s, r = self.residuals(line, gradient)
        design = np.vander(s / line.half_width, DEGREE + 1, increasing=True)  # 1, x, x², x³, x⁴
        coefficients, pinv, noise = _least_squares(design, r)
        w = pinv[1] / line.half_width
        series = np.concatenate([r[:POINTS], [0.0], r[POINTS:]])  # r(0) = 0: J(θ) is the reference
        return Fit(
            slope=float(coefficients[1] / line.half_width),
            gain=float(np.linalg.norm(w)),
            gain_l1=float(np.sum(np.abs(w))),
            residual_noise=noise,
            noise=estimate_noise(series),
        )

    def sides(self, sweeps: Sequence[Sweep], gradient: np.ndarray) -> Sides:
        """One quadratic per side of θ over all the sweeps' points (and θ itself): for a line with
        a kink at θ, the two one-sided slopes."""
        found = [self.residuals(sweep, gradient) for sweep in sweeps]
        s = np.concatenate([f[0] for f in found])
        r = np.concatenate([f[1] for f in found])
        unit = max(sweep.half_width for sweep in sweeps)
        slopes, gains, noises = [], [], []
        for side in (s > 0, s < 0):  # rounding may leave a point at θ: it belongs to neither side
            x = np.append(s[side], 0.0) / unit
            design = np.vander(x, SIDE_DEGREE + 1, increasing=True)
            coefficients, pinv, noise = _least_squares(design, np.append(r[side], 0.0))
            slopes.append(coefficients[1] / unit)
            gains.append(float(np.linalg.norm(pinv[1])) / unit)
            noises.append(noise)
        return Sides(slopes[0], slopes[1], gains[0], gains[1], max(noises))


def _least_squares(design: np.ndarray, r: np.ndarray) -> tuple[np.ndarray, np.ndarray, float]:
    """Coefficients, the pseudo-inverse (its rows give each coefficient from r) and the noise
    the fit leaves, √(RSS / degrees of freedom).

    r is divided by its largest entry first (and the results scaled back), so that the squares
    of a loss of 1e300 neither overflow nor those of 1e-300 underflow.
    """
    unit = float(np.max(np.abs(r))) or 1.0
    pinv = np.linalg.pinv(design)
    coefficients = pinv @ (r / unit)
    residual = r / unit - design @ coefficients
    dof = r.size - design.shape[1]
    noise = float(np.linalg.norm(residual)) * unit / math.sqrt(dof) if dof > 0 else math.inf
    return coefficients * unit, pinv, noise
