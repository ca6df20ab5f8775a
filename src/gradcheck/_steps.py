"""Step sizes: per component for the finite differences, per block for directional tests.

Balancing a stencil's truncation O(h^order) against its round-off σ·Σ|w|/h gives the classical
step h ∝ (σ/|J|)^(1/(order+1)) · max(|θᵢ|, 1) (Numerical Recipes §5.7; Gill, Murray & Wright,
Practical Optimization §8.6). Steps are powers of two, so θᵢ ± h and θᵢ ± h/2 are exact in
binary floating point for most θᵢ: the step taken is the step meant.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Union

import numpy as np

from ._stencils import FLOAT64_EPS, STENCILS

# Upper clamp on the loss's relative noise when choosing steps: beyond 1e-4 (steps of
# 1e-4^(1/3) ≈ 5 % of θᵢ's scale for central differences) truncation would swamp any
# derivative, so a noisier loss gets no larger step, only a wider (reported) error estimate.
MAX_RELATIVE_NOISE = 1e-4
# Perturbed values are rounded to each parameter's dtype, so a step must span several of its
# ulps: forward differences on float32 params chose 2^-27 (below float32's 6e-8 spacing at 0.7),
# the rounded step was 0 and the derivative NaN (found by tests/test_properties.py). Eight ulps
# keep h/4, Richardson's finest step, at two ulps. A power of two, like the steps.
MIN_STEP_ULPS = 8


def pow2_floor(x: float) -> float:
    """The largest power of two ≤ x."""
    return float(2.0 ** math.floor(math.log2(x)))


def auto_steps(theta: np.ndarray, order: int, relative_noise: Union[float, np.ndarray]) -> np.ndarray:
    """Per-component steps h = ε^(1/(order+1)) · max(|θᵢ|, 1), rounded down to a power of two.

    ``relative_noise`` is the loss's noise relative to |J| (one value, or one per component),
    taken as at least float64's epsilon.
    """
    eps = np.clip(relative_noise, FLOAT64_EPS, MAX_RELATIVE_NOISE)
    raw = eps ** (1.0 / (order + 1)) * np.maximum(np.abs(theta), 1.0)
    return np.exp2(np.floor(np.log2(raw)))


def component_steps(
    theta: np.ndarray,
    spacing: np.ndarray,
    method: str,
    eps: Union[str, float],
    relative_noise: Union[float, np.ndarray],
) -> np.ndarray:
    """Each component's step for ``method``: ``eps`` when fixed, else `auto_steps` but at least
    MIN_STEP_ULPS of the component's own dtype spacing (``spacing``)."""
    if eps != "auto":
        return np.full(theta.size, float(eps))
    steps = auto_steps(theta, STENCILS[method].order, relative_noise)
    return np.maximum(steps, MIN_STEP_ULPS * spacing)


def largest_directional_step(relative_noise: float) -> float:
    """The central-difference step for sᵢ = 1: no directional test moves θ further."""
    return float(auto_steps(np.zeros(1), STENCILS["central"].order, relative_noise)[0])


@dataclass(frozen=True)
class StepRule:
    """Steps for directional tests on blocks of any size, from one measured curvature C₀ at size k₀.

    A refined test's error is about 3σ/t (round-off of D(t/2) plus that of the truncation
    estimate) + C·t²/4, smallest at t = (6σ/C)^(1/3). C grows with the block: random-sign
    sums of third derivatives grow like √k for a loss with weakly coupled parameters, and we
    measured C ∝ k^0.5-0.6 on tanh MLPs (k = 10⁴ → 10⁵), so C(k) = C₀·√(k/k₀). Steps are
    powers of two, never above the per-component step (``largest``).
    """

    size: int
    curvature0: float
    sigma: float
    largest: float
    measured: bool

    def curvature(self, k: int) -> float:
        return self.curvature0 * math.sqrt(max(k, 1) / self.size)

    def step(self, k: int) -> float:
        if self.sigma <= 0:
            return self.largest
        return min(self.largest, pow2_floor((6 * self.sigma / self.curvature(k)) ** (1 / 3)))


def tensor_scales(theta: np.ndarray, tensor_ids: np.ndarray) -> np.ndarray:
    """Per component, its tensor's typical size: the rms of the tensor's entries.

    A tensor of zeros (a bias initialised at 0) takes the rms of all of θ, or 1 when θ is all
    zeros: the size a perturbation of it should have to be seen next to the other tensors'.
    """
    sums = np.bincount(tensor_ids, weights=theta**2)
    counts = np.bincount(tensor_ids).astype(np.float64)
    rms = np.sqrt(np.divide(sums, counts, out=np.zeros_like(sums), where=counts > 0))
    overall = float(np.sqrt(np.mean(theta**2))) if theta.size else 0.0
    rms[rms == 0] = overall if overall > 0 else 1.0
    return rms[tensor_ids]


def scaled_signs(theta: np.ndarray, tensor_ids: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """A random direction: independent ±1 signs times each tensor's `tensor_scales`.

    Every entry moves by its tensor's typical size, so a step h moves each tensor by the same
    relative amount whatever the units of the parameters.
    """
    return rng.choice([-1.0, 1.0], size=theta.size) * tensor_scales(theta, tensor_ids)
