"""Numerical derivatives of every requested component, each with an estimate of its own error.

Pass 1 spends the stencil's evaluations (2 per component for central differences, as in the
seeds) and attaches the round-off estimate σ·Σ|w|/h. Components whose disagreement with the
analytic gradient exceeds that are *suspicious*; only they get a second step h/2, which yields
the truncation error (Richardson: D(h) − D(h/2) ≈ (1 − 2^-p)·err(h)) and the kink test.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Optional

import numpy as np

from ._compare import SAFETY
from ._discontinuity import one_jump
from ._evaluate import Evaluator
from ._stencils import COMPLEX_STEP, FLOAT64_EPS, STENCILS
from ._tree import round_to_dtypes

# On a smooth loss the one-sided curvatures left and right of θᵢ agree to O(h); when they differ
# by more than this fraction of the larger one, the derivative jumps inside the step (a kink).
KINK_CURVATURE_RATIO = 0.5
# On a smooth loss F₊ − F₋ (one-sided slopes) halves with h; a kink at θᵢ keeps it constant.
# A ratio above 0.75 (halfway between the smooth 0.5 and the kink's 1) means a kink.
KINK_SLOPE_RATIO = 0.75
# The extrapolated jump 2·A(h/2) − A(h) of the asymmetry A = F₊ − F₋ is, for a smooth loss,
# (h²/8)·J''''/J'' times the curvature term A(h) − A(h/2): tiny at steps where truncation is under
# control. A jump above a quarter of the curvature term is a kink's, not a smooth loss's.
KINK_JUMP_RATIO = 0.25
# A kink at distance d inside the step makes |Δ⁴| ≈ |right − left|·(h/2)² (ratio 1 for d in
# [h/2, h], larger below); a smooth loss gives ratio h·J⁗/(4·J‴), 0 for a cubic. A quarter
# separates them unless the kink sits within a few per cent of h/3, where the ratio dips to 0.
KINK_QUARTIC_RATIO = 0.25


@dataclass(frozen=True)
class Estimates:
    """Numerical derivatives of the components in ``components`` (flat indices into θ)."""

    components: np.ndarray
    numerical: np.ndarray
    roundoff: np.ndarray
    truncation: np.ndarray
    kink: np.ndarray
    refined: np.ndarray
    steps: np.ndarray
    jump: np.ndarray  # the loss jumps inside the step and the slope beside the jump is the analytic one

    @property
    def error_estimate(self) -> np.ndarray:
        return self.roundoff + self.truncation


class _Points:
    """Loss values at θᵢ + c·h, planned first and then evaluated together.

    ``need`` registers a point, ``evaluate`` runs every pending point through
    `Evaluator.many` (one call: serial, batched or parallel), ``get`` reads a value.
    """

    def __init__(self, evaluator: Evaluator, j0: float, nominal: bool) -> None:
        self.evaluator = evaluator
        self.theta = evaluator.theta
        self.j0 = j0
        self.nominal = nominal
        self.values: dict[tuple[int, float], tuple[float, float]] = {}
        self.pending: dict[tuple[int, float], float] = {}

    def need(self, i: int, c: float, h: float) -> None:
        key = (i, c * h)
        if c != 0 and key not in self.values and key not in self.pending:
            self.pending[key] = self.theta[i] + c * h

    def evaluate(self) -> None:
        if not self.pending:
            return
        keys = list(self.pending)
        components = np.array([k[0] for k in keys], dtype=np.int64)
        xs = np.array([self.pending[k] for k in keys])
        if not self.nominal:  # a fixed eps is the seeds' recipe: θᵢ ± eps exactly as asked
            xs = round_to_dtypes(self.evaluator.layout, xs, components)
        values = self.evaluator.many(components, xs)
        for (i, offset), x, value in zip(keys, xs, values, strict=True):
            # The realised offset x − θᵢ is exact (Sterbenz) and is the step actually taken.
            self.values[(i, offset)] = (float(value), offset if self.nominal else x - self.theta[i])
        self.pending.clear()

    def get(self, i: int, c: float, h: float) -> tuple[float, float]:
        """(J, realised offset x − θᵢ) at x = θᵢ + c·h."""
        if c == 0:
            return self.j0, 0.0
        return self.values[(i, c * h)]


def _offsets(method: str, h: float) -> list[tuple[float, float]]:
    """The (c, h) pairs ``_derivative`` reads for ``method`` at step h."""
    if method == "richardson":
        return [(c, s) for s in (h, h / 2, h / 4) for c in (1.0, -1.0)]
    return [(c, h) for c in STENCILS[method].offsets]


def _central(points: _Points, i: int, h: float) -> float:
    plus, b = points.get(i, 1.0, h)
    minus, minus_a = points.get(i, -1.0, h)
    a = -minus_a
    if a == b:
        return (plus - minus) / (a + b)
    # θᵢ ± h rounded to a float32 parameter's grid: the offsets b and −a differ, and the plain
    # quotient would be centred off θᵢ by (b − a)/2, an error J''·(b − a)/2. The derivative of the
    # parabola through (−a, J₋), (0, J₀), (b, J₊) has no such term (exact for quadratics).
    j0 = points.j0
    return (a * a * plus - b * b * minus + (b * b - a * a) * j0) / (a * b * (a + b))


def _polynomial_derivative(offsets: np.ndarray, values: np.ndarray) -> float:
    """J'(θᵢ) from the interpolating polynomial through (offsets, values): weights w with
    Σ wₖ·xₖʲ = [j = 1] for j < number of points (Fornberg's idea, solved directly)."""
    powers = np.vander(offsets, increasing=True).T
    target = np.zeros(offsets.size)
    target[1] = 1.0
    return float(np.linalg.solve(powers, target) @ values)


def _derivative(points: _Points, method: str, i: int, h: float) -> tuple[float, float]:
    """(D, truncation estimate or 0) of ``method`` at step h, from evaluated points."""
    if method == "forward":
        plus, dx = points.get(i, 1.0, h)
        return (plus - points.j0) / dx, 0.0
    if method == "central":
        return _central(points, i, h), 0.0
    if method == "central4":
        stencil = STENCILS["central4"]
        read = [points.get(i, c, h) for c in stencil.offsets]
        values = np.array([value for value, _ in read])
        realised = np.array([offset for _, offset in read])
        if np.array_equal(realised, np.array(stencil.offsets) * h):
            return float(np.dot(stencil.weights, values)) / h, 0.0
        # Unequal offsets (float32 rounding): the quartic through the five points taken.
        return _polynomial_derivative(np.append(realised, 0.0), np.append(values, points.j0)), 0.0
    # Richardson: central differences at h, h/2, h/4, extrapolated to order 4, then 6.
    d1, d2, d3 = (_central(points, i, s) for s in (h, h / 2, h / 4))
    e1, e2 = (4 * d2 - d1) / 3, (4 * d3 - d2) / 3
    best = (16 * e2 - e1) / 15
    return best, abs(best - e2)


KINK_OFFSETS = (1.0, -1.0, 0.5, -0.5)


def curvatures_disagree(
    j0: float,
    jp: float,
    jm: float,
    jp2: float,
    jm2: float,
    h: float,
    sigma: float,
    offsets: Optional[tuple[float, float, float, float]] = None,
) -> bool:
    """Do J's one-sided curvatures on [0, h] and [−h, 0] differ beyond noise and smooth O(h) change?

    Values at 0, ±h, ±h/2 — or at the realised ``offsets`` (+h, −h, +h/2, −h/2 after rounding to
    a float32 parameter's grid). On a smooth loss the two agree to O(h); a kink between h/2 and h
    on one side makes them differ by more than KINK_CURVATURE_RATIO of the larger.
    """
    far_right, far_left, near_right, near_left = offsets or (h, -h, h / 2, -h / 2)
    right = _second_difference(j0, jp2, jp, near_right, far_right)
    left = _second_difference(j0, jm2, jm, near_left, far_left)
    curvature_noise = 2 * 4 * sigma / (h / 2) ** 2  # Σ|w| = 4 on each side, two sides
    if abs(right - left) <= max(SAFETY * curvature_noise, KINK_CURVATURE_RATIO * max(abs(right), abs(left))):
        return False
    # A smooth loss whose curvature changes across the step (θ³ near 0 with a float32-sized step)
    # also splits the curvatures; but near a cubic its fourth difference vanishes, while a kink's
    # is about (right − left)·(h/2)². Only a kink explains both.
    nodes = np.array([far_left, near_left, 0.0, near_right, far_right])
    values = np.array([jm, jm2, j0, jp2, jp])
    fourth = 24 * (h / 2) ** 4 * _divided_difference(nodes, values)  # Δ⁴ for equal spacing
    return abs(fourth) > KINK_QUARTIC_RATIO * abs(right - left) * (h / 2) ** 2


def _divided_difference(nodes: np.ndarray, values: np.ndarray) -> float:
    """The highest divided difference f[x₀, …, xₙ] = Σᵢ fᵢ / Πⱼ≠ᵢ (xᵢ − xⱼ)."""
    gaps = nodes[:, None] - nodes[None, :]
    np.fill_diagonal(gaps, 1.0)
    return float(np.sum(values / np.prod(gaps, axis=1)))


def _second_difference(j0: float, j_near: float, j_far: float, near: float, far: float) -> float:
    """J'' from values at 0, near and far (same side): the divided difference, any spacing."""
    return 2 * ((j_far - j_near) / (far - near) - (j_near - j0) / near) / far


def _asymmetry(points: _Points, i: int, s: float) -> tuple[float, float]:
    """(F₊ − F₋, mean step) at step s: one-sided slopes over the realised offsets."""
    plus, b = points.get(i, 1.0, s)
    minus, minus_a = points.get(i, -1.0, s)
    return (plus - points.j0) / b - (points.j0 - minus) / -minus_a, (b - minus_a) / 2


def _kink_evidence(points: _Points, i: int, h: float, sigma: float) -> float:
    """How strongly the derivative of J along θᵢ jumps within [θᵢ − h, θᵢ + h].

    In units of the smallest jump the verdict could mistake for a bug: a slope jump Δs at θᵢ
    moves a central difference by about Δs/2, and the verdict flags moves beyond SAFETY times the
    refined round-off 2σ/h. Evidence ≥ 2 is a kink on its own (the original threshold, SAFETY
    times the noise sum of F₊ − F₋); between 1 and 2 it needs the analytic value's support.
    Every slope uses the offsets really taken, so float32 rounding of θᵢ ± h is no kink.
    """
    (jp, bp), (jm, bm), (jp2, bp2), (jm2, bm2) = (points.get(i, c, h) for c in KINK_OFFSETS)
    if curvatures_disagree(points.j0, jp, jm, jp2, jm2, h, sigma, offsets=(bp, bm, bp2, bm2)):
        return math.inf
    visible = 2 * SAFETY * 2 * sigma / h
    asym_h, mean_h = _asymmetry(points, i, h)
    asym_half, mean_half = _asymmetry(points, i, h / 2)
    evidence = abs(asym_half) / visible if abs(asym_half) > KINK_SLOPE_RATIO * abs(asym_h) else 0.0
    # F₊ − F₋ = Δs + J''·m + O(m³) for mean step m: extrapolating to m → 0 finds a jump that the
    # curvature term hides (a ReLU input of 1e-10 in a curved loss). Its noise is twice that of
    # F₊ − F₋ at h/2. With exact steps (m_h = 2·m_half) the jump is 2·asym_half − asym_h.
    jump = (asym_half * mean_h - asym_h * mean_half) / (mean_h - mean_half)
    smooth = asym_h - asym_half
    if abs(jump) > KINK_JUMP_RATIO * abs(smooth):
        evidence = max(evidence, abs(jump) / (2 * visible))
    return evidence


def _beside_jump(points: _Points, i: int, h: float, sigma: float) -> Optional[tuple[np.ndarray, np.ndarray]]:
    """(slope, its error) of the loss at θᵢ beside a jump inside [θᵢ − h, θᵢ + h], if one explains
    the five values there (`_discontinuity.one_jump`); offsets as really taken."""
    read = {c: points.get(i, c, h) for c in KINK_OFFSETS}
    order = (-1.0, -0.5, 0.0, 0.5, 1.0)
    offsets = np.array([read[c][1] if c else 0.0 for c in order])
    values = np.array([read[c][0] if c else points.j0 for c in order])
    found = one_jump(offsets, values, sigma)
    if found is None:
        return None
    return np.array([found.slope]), np.array([found.slope_error])


def _one_sided(points: _Points, i: int, h: float, sigma: float) -> tuple[np.ndarray, np.ndarray]:
    """J's right and left derivatives at θᵢ (slopes over h/2) and their estimated errors.

    Truncation: |F(h) − F(h/2)| (first order, so halving h halves it); round-off 2σ/(h/2) + 2σ/h.
    """
    j0 = points.j0
    (jp, dp), (jm, dm), (jp2, dp2), (jm2, dm2) = (points.get(i, c, h) for c in KINK_OFFSETS)
    slopes = np.array([(jp2 - j0) / dp2, (jm2 - j0) / dm2])
    coarse = np.array([(jp - j0) / dp, (jm - j0) / dm])
    noise = 2 * sigma / abs(dp2) + 2 * sigma / abs(dp)
    return slopes, np.abs(coarse - slopes) + noise


def _roundoff(method: str, sigma: np.ndarray, h: np.ndarray) -> np.ndarray:
    if method == "richardson":
        # The last level is a central difference at h/4 (noise gain 4/h), amplified by the
        # extrapolation weights (16/15)·(4/3) ≈ 1.42.
        return sigma * 4 * (16 / 15) * (4 / 3) / h
    return sigma * STENCILS[method].noise_gain / h


def _complex_step(evaluator: Evaluator, components: np.ndarray, j0: float) -> Estimates:
    theta = evaluator.theta[components]
    h = COMPLEX_STEP * np.maximum(np.abs(theta), 1.0)
    values = evaluator.many(components, theta + 1j * h)
    numerical = np.imag(values) / h
    # No cancellation: the derivative is as accurate as the arithmetic producing it.
    # A few ulps (4ε) of the derivative and of J's own scale per unit of θ: the rounding of the
    # handful of operations that produce Im J, with no cancellation to amplify it.
    roundoff = 4 * FLOAT64_EPS * (np.abs(numerical) + abs(j0) / np.maximum(np.abs(theta), 1.0))
    none = np.zeros(components.size, dtype=bool)
    return Estimates(components, numerical, roundoff, np.zeros(components.size), none, none, h, none)


def estimate(
    evaluator: Evaluator,
    components: np.ndarray,
    *,
    method: str,
    steps: np.ndarray,
    nominal: bool,
    sigma: np.ndarray,
    j0: float,
    is_suspicious: Callable[[np.ndarray, np.ndarray, np.ndarray], np.ndarray],
) -> Estimates:
    """Numerical derivatives of ``components`` with round-off and truncation estimates.

    ``steps`` and ``sigma`` (the loss's noise along each component's tensor) are aligned with
    ``components``.

    ``is_suspicious(components, numerical, error_estimate)`` says which components disagree with
    the analytic gradient beyond the pass-1 estimate; only those are refined at h/2.
    """
    if method == "complex":
        return _complex_step(evaluator, components, j0)
    h_all = np.asarray(steps, dtype=np.float64)
    sigma = np.broadcast_to(np.asarray(sigma, dtype=np.float64), components.shape)
    points = _Points(evaluator, j0, nominal)
    for i, h in zip(components.tolist(), h_all.tolist(), strict=True):
        for c, s in _offsets(method, h):
            points.need(i, c, s)
    points.evaluate()
    pairs = [
        _derivative(points, method, i, h) for i, h in zip(components.tolist(), h_all.tolist(), strict=True)
    ]
    numerical = np.array([p[0] for p in pairs])
    truncation = np.array([p[1] for p in pairs])
    roundoff = _roundoff(method, sigma, h_all)
    kink = np.zeros(components.size, dtype=bool)
    refined = np.zeros(components.size, dtype=bool)
    jump = np.zeros(components.size, dtype=bool)

    known = truncation if method == "richardson" else 0.0
    suspicious = np.flatnonzero(is_suspicious(components, numerical, roundoff + known))
    # Richardson already has its error estimate; the kink test reuses its points at ±h/2, ±h/4.
    kink_step = 0.5 if method == "richardson" else 1.0
    for k in suspicious.tolist():
        i, h = int(components[k]), float(h_all[k])
        for c in KINK_OFFSETS:
            points.need(i, c, h * kink_step)
        if method != "richardson":
            for c, s in _offsets(method, h / 2):
                points.need(i, c, s)
    points.evaluate()

    order = STENCILS[method].order
    for k in suspicious.tolist():
        i, h = int(components[k]), float(h_all[k])
        beside = _beside_jump(points, i, h * kink_step, float(sigma[k]))
        if beside is not None:  # judged by the slope beside the jump: a discontinuity, or wrong
            jump[k] = not is_suspicious(np.array([i]), *beside)[0]
            numerical[k], roundoff[k], truncation[k], refined[k] = beside[0][0], beside[1][0], 0.0, True
            continue
        evidence = _kink_evidence(points, i, h * kink_step, float(sigma[k]))
        kink[k] = evidence >= 2.0
        if 1.0 <= evidence < 2.0:  # weak evidence: a kink if the analytic value is a one-sided slope
            slopes, errors = _one_sided(points, i, h * kink_step, float(sigma[k]))
            kink[k] = not np.all(is_suspicious(np.array([i, i]), slopes, errors))
        if method == "richardson":
            continue
        half_value, _ = _derivative(points, method, i, h / 2)
        difference = abs(numerical[k] - half_value)
        if nominal:  # keep the requested step's value (the seed recipe); measure its error
            truncation[k] = difference * 2**order / (2**order - 1)
        else:  # use the better value at h/2, whose truncation error is the smaller share
            truncation[k] = difference / (2**order - 1)
            numerical[k] = half_value
            roundoff[k] *= 2
        refined[k] = True
    return Estimates(components, numerical, roundoff, truncation, kink, refined, h_all, jump)
