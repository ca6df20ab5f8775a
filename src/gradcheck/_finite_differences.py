"""Numerical derivatives of every requested component, each with an estimate of its own error.

Pass 1 spends the stencil's evaluations (2 per component for central differences, as in the
seeds) and attaches the round-off estimate σ·Σ|w|/h. Components whose disagreement with the
analytic gradient exceeds that are *suspicious*; only they get a second step h/2, which yields
the truncation error (Richardson: D(h) − D(h/2) ≈ (1 − 2^-p)·err(h)) and the kink test.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from ._evaluate import Evaluator
from ._stencils import COMPLEX_STEP, FLOAT64_EPS, STENCILS

# Flag only when a discrepancy exceeds SAFETY times its estimated numerical error. The error
# estimates (noise σ, Richardson differences) are good to a factor of about 2-3; 8 leaves room
# for that, and for Gaussian-like round-off the chance of a false flag per component is < 1e-14.
SAFETY = 8.0
# On a smooth loss the one-sided curvatures left and right of θᵢ agree to O(h); when they differ
# by more than this fraction of the larger one, the derivative jumps inside the step (a kink).
KINK_CURVATURE_RATIO = 0.5
# On a smooth loss F₊ − F₋ (one-sided slopes) halves with h; a kink at θᵢ keeps it constant.
# A ratio above 0.75 (halfway between the smooth 0.5 and the kink's 1) means a kink.
KINK_SLOPE_RATIO = 0.75


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

    @property
    def error_estimate(self) -> np.ndarray:
        return self.roundoff + self.truncation


class _Points:
    """Loss values at θ + c·h·eᵢ, cached so that no point is evaluated twice."""

    def __init__(self, evaluator: Evaluator, j0: float, round_to: np.ndarray) -> None:
        self.evaluator = evaluator
        self.j0 = j0
        self.round_to = round_to  # per component: the dtype its perturbed values must fit
        self.cache: dict[tuple[int, float], tuple[float, float]] = {}

    def get(self, i: int, theta_i: float, c: float, h: float, nominal: bool) -> tuple[float, float]:
        """(J, realised offset x − θᵢ) at x = θᵢ + c·h."""
        if c == 0:
            return self.j0, 0.0
        key = (i, c * h)
        if key not in self.cache:
            x = theta_i + c * h
            if not nominal:
                x = float(self.round_to[i](x))
            value = float(np.real(self.evaluator.at_component(i, x)))
            self.cache[key] = (value, c * h if nominal else x - theta_i)
        return self.cache[key]


def _central(points: _Points, i: int, t: float, h: float, nominal: bool) -> float:
    plus, dx_plus = points.get(i, t, 1.0, h, nominal)
    minus, dx_minus = points.get(i, t, -1.0, h, nominal)
    return (plus - minus) / (dx_plus - dx_minus)


def _derivative(
    points: _Points, method: str, i: int, t: float, h: float, nominal: bool
) -> tuple[float, float]:
    """(D, truncation estimate or 0) of ``method`` at step h."""
    if method == "forward":
        plus, dx = points.get(i, t, 1.0, h, nominal)
        return (plus - points.j0) / dx, 0.0
    if method == "central":
        return _central(points, i, t, h, nominal), 0.0
    if method == "central4":
        stencil = STENCILS["central4"]
        values = [points.get(i, t, c, h, nominal)[0] for c in stencil.offsets]
        return float(np.dot(stencil.weights, values)) / h, 0.0
    # Richardson: central differences at h, h/2, h/4, extrapolated to order 4 then 6.
    d1, d2, d3 = (_central(points, i, t, s, nominal) for s in (h, h / 2, h / 4))
    e1, e2 = (4 * d2 - d1) / 3, (4 * d3 - d2) / 3
    best = (16 * e2 - e1) / 15
    return best, abs(best - e2)


def _is_kink(points: _Points, i: int, t: float, h: float, nominal: bool, sigma: float) -> bool:
    """Does the derivative of J along θᵢ jump within [θᵢ − h, θᵢ + h]?"""
    j0 = points.j0
    jp, jm = points.get(i, t, 1.0, h, nominal)[0], points.get(i, t, -1.0, h, nominal)[0]
    jp2, jm2 = points.get(i, t, 0.5, h, nominal)[0], points.get(i, t, -0.5, h, nominal)[0]
    half = h / 2
    right = (jp - 2 * jp2 + j0) / half**2
    left = (jm - 2 * jm2 + j0) / half**2
    curvature_noise = 2 * 4 * sigma / half**2  # Σ|w| = 4 on each side, two sides
    if abs(right - left) > max(SAFETY * curvature_noise, KINK_CURVATURE_RATIO * max(abs(right), abs(left))):
        return True
    asym_h = (jp - 2 * j0 + jm) / h
    asym_half = (jp2 - 2 * j0 + jm2) / half
    significant = abs(asym_half) > SAFETY * 4 * sigma / half
    return significant and abs(asym_half) > KINK_SLOPE_RATIO * abs(asym_h)


def estimate(
    evaluator: Evaluator,
    components: np.ndarray,
    *,
    method: str,
    steps: np.ndarray,
    nominal: bool,
    sigma: float,
    j0: float,
    round_to: np.ndarray,
    is_suspicious: Callable[[np.ndarray, np.ndarray, np.ndarray], np.ndarray],
    on_progress: Callable[[int], None] = lambda done: None,
) -> Estimates:
    """Numerical derivatives of ``components`` with round-off and truncation estimates.

    ``is_suspicious(components, numerical, error_estimate)`` says which components disagree with
    the analytic gradient beyond the pass-1 estimate; those are refined at h/2.
    """
    theta = evaluator.theta
    n = components.size
    numerical = np.empty(n)
    roundoff = np.empty(n)
    truncation = np.zeros(n)
    kink = np.zeros(n, dtype=bool)
    refined = np.zeros(n, dtype=bool)
    h_all = steps[components]

    if method == "complex":
        for k, i in enumerate(components):
            h = COMPLEX_STEP * max(abs(theta[i]), 1.0)
            value = evaluator.at_component(int(i), complex(theta[i], h))
            numerical[k] = np.imag(value) / h
            # No cancellation: the derivative is as accurate as the arithmetic producing it.
            roundoff[k] = 4 * FLOAT64_EPS * (abs(numerical[k]) + abs(j0) / max(abs(theta[i]), 1.0))
            on_progress(k + 1)
        return Estimates(components, numerical, roundoff, truncation, kink, refined, h_all)

    points = _Points(evaluator, j0, round_to)
    gain = STENCILS[method].noise_gain if method != "richardson" else 1.0
    for k, component in enumerate(components):
        i, h = int(component), float(h_all[k])
        numerical[k], truncation[k] = _derivative(points, method, i, theta[i], h, nominal)
        # Richardson's last level is a central difference at h/4, amplified ×(16·4)/(15·3).
        roundoff[k] = sigma * gain / h if method != "richardson" else sigma * 4 * 1.43 / h
        on_progress(k + 1)

    if method == "richardson":
        suspicious = is_suspicious(components, numerical, roundoff + truncation)
        for k in map(int, np.flatnonzero(suspicious)):
            i = int(components[k])
            kink[k] = _is_kink(points, i, theta[i], float(h_all[k]) / 2, nominal, sigma)
        return Estimates(components, numerical, roundoff, truncation, kink, refined, h_all)

    suspicious = is_suspicious(components, numerical, roundoff)
    order = STENCILS[method].order
    for k in map(int, np.flatnonzero(suspicious)):
        i, h = int(components[k]), float(h_all[k])
        half_value, _ = _derivative(points, method, i, theta[i], h / 2, nominal)
        difference = abs(numerical[k] - half_value)
        if nominal:  # keep the requested step's value (the seed recipe); measure its error
            truncation[k] = difference * 2**order / (2**order - 1)
        else:  # use the better value at h/2, whose truncation error is the smaller share
            truncation[k] = difference / (2**order - 1)
            numerical[k] = half_value
            roundoff[k] *= 2
        kink[k] = _is_kink(points, i, theta[i], h, nominal, sigma)
        refined[k] = True
    return Estimates(components, numerical, roundoff, truncation, kink, refined, h_all)
