"""Finite-difference rules and the step size that suits each.

A stencil estimates ∂J/∂θᵢ as  Σₖ wₖ · J(θ + cₖ·h·eᵢ) / h.  Its truncation error is O(h^order)
and its round-off error about σ·Σ|wₖ|/h, where σ is the noise of one loss evaluation.
Balancing the two gives the classical step h ∝ (σ/|J|)^(1/(order+1)) · max(|θᵢ|, 1)
(Numerical Recipes §5.7; Gill, Murray & Wright, Practical Optimization §8.6).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

METHODS = ("forward", "central", "central4", "richardson", "complex")

FLOAT64_EPS = float(np.finfo(np.float64).eps)

# A complex step has no subtractive cancellation, so the step only has to make the O(h²)
# truncation negligible; 1e-20 is the customary choice (Squire & Trapp 1998; Martins et al. 2003).
COMPLEX_STEP = 1e-20

# Upper clamp on the loss's relative noise when choosing steps: beyond 1e-4 (steps of
# 1e-4^(1/3) ≈ 5 % of θᵢ's scale for central differences) truncation would swamp any
# derivative, so a noisier loss gets no larger step, only a wider (reported) error estimate.
MAX_RELATIVE_NOISE = 1e-4


@dataclass(frozen=True)
class Stencil:
    """Offsets ``cₖ`` (in units of h) and weights ``wₖ`` of one finite-difference rule."""

    name: str
    offsets: tuple[float, ...]
    weights: tuple[float, ...]
    order: int

    @property
    def noise_gain(self) -> float:
        """Σ|wₖ|: how much of the loss's noise σ ends up in h·D."""
        return float(sum(abs(w) for w in self.weights))


STENCILS = {
    "forward": Stencil("forward", (1.0, 0.0), (1.0, -1.0), order=1),
    "central": Stencil("central", (1.0, -1.0), (0.5, -0.5), order=2),
    "central4": Stencil("central4", (2.0, 1.0, -1.0, -2.0), (-1 / 12, 8 / 12, -8 / 12, 1 / 12), order=4),
    # Richardson: central differences at h, h/2, h/4 extrapolated twice (order 2 → 4 → 6);
    # the stencil below is only used to choose the step and count evaluations.
    "richardson": Stencil("richardson", (1.0, -1.0, 0.5, -0.5, 0.25, -0.25), (0.0,) * 6, order=6),
}


def auto_steps(theta: np.ndarray, order: int, relative_noise: float) -> np.ndarray:
    """Per-component steps h = ε^(1/(order+1)) · max(|θᵢ|, 1), rounded down to a power of two.

    ``relative_noise`` is the loss's noise relative to |J| (at least float64's epsilon). The
    power of two makes θᵢ ± h, θᵢ ± h/2 exact in binary floating point for most θᵢ, so the step
    that was taken is the step that was meant.
    """
    eps = min(max(relative_noise, FLOAT64_EPS), MAX_RELATIVE_NOISE)
    raw = eps ** (1.0 / (order + 1)) * np.maximum(np.abs(theta), 1.0)
    return np.exp2(np.floor(np.log2(raw)))
