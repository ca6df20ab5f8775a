"""Finite-difference rules: where each one evaluates the loss and how it weighs the values.

A stencil estimates ∂J/∂θᵢ as  Σₖ wₖ · J(θ + cₖ·h·eᵢ) / h.  Its truncation error is O(h^order)
and its round-off error about σ·Σ|wₖ|/h, where σ is the noise of one loss evaluation
(`_steps` balances the two).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ._options import METHODS

FLOAT64_EPS = float(np.finfo(np.float64).eps)

# A complex step has no subtractive cancellation, so the step only has to make the O(h²)
# truncation negligible; 1e-20 is the customary choice (Squire & Trapp 1998; Martins et al. 2003).
COMPLEX_STEP = 1e-20


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

    @property
    def evaluations(self) -> int:
        """Loss evaluations per component (J(θ) itself is known)."""
        return sum(1 for offset in self.offsets if offset != 0)


STENCILS = {
    "forward": Stencil("forward", (1.0, 0.0), (1.0, -1.0), order=1),
    "central": Stencil("central", (1.0, -1.0), (0.5, -0.5), order=2),
    "central4": Stencil("central4", (2.0, 1.0, -1.0, -2.0), (-1 / 12, 8 / 12, -8 / 12, 1 / 12), order=4),
    # Richardson: central differences at h, h/2, h/4 extrapolated twice (order 2 → 4 → 6);
    # the stencil below is only used to choose the step and count evaluations.
    "richardson": Stencil("richardson", (1.0, -1.0, 0.5, -0.5, 0.25, -0.25), (0.0,) * 6, order=6),
    # The complex step evaluates J(θ + i·h·eᵢ) once; its step and error have rules of their own.
    "complex": Stencil("complex", (1.0,), (1.0,), order=2),
}
assert set(STENCILS) == set(METHODS), "every method the options accept has a stencil"
