"""The analytic gradient's own round-off, measured rather than assumed from machine epsilon.

A gradient computed in float32 or bfloat16 carries rounding that grows with the number of terms
summed: a convolution's weight gradient, summed over a batch and every position, carries more
than ε of its size, and a bfloat16 one stored once carries less than a full ε. When ``grad`` is
a function, its rounding is measured from how it varies under perturbations far too small to
change the true gradient: the gradient at θ + k·p for k = 1…5 and at θ − k·p, p one ulp of
each parameter (random signs). The fourth difference Δ⁴g of each side's five cancels the smooth
change (to third order) and leaves the rounding, with variance 70σ² for independent rounding of
variance σ² (the Moré–Wild idea of `_noise`, applied to the gradient). Per tensor this gives a
relative level ρ, from the median entry (a few entries on a kink do not count) and the quieter
side (a kink crossed between θ ± p and θ ± 5p spoils one side only), and each entry an
allowance ρ·max(|gᵢ|, rms of its tensor) — the form `analytic_allowance` gives ε.

A tensor whose gradient does not change at all across the points (a loss linear in it, or
a backward that rounds the perturbation away) shows no rounding, which does not mean it has
none: it keeps the ε allowance.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np

from ._compare import analytic_allowance
from ._diagnose import NOISY_LOSS
from ._noise import GAUSSIAN_MEDIAN_ABS
from ._probe import Gradient, Probe
from ._stencils import FLOAT64_EPS
from ._tree import round_to_dtypes

# Offsets k of the five points on each side of θ (θ itself left out: a ReLU input within an ulp
# of 0 flips between θ and its neighbours, and would read as rounding); Δ⁴ weights 1, −4, 6,
# −4, 1 (Σw² = 70).
OFFSETS = (1, 2, 3, 4, 5)
WEIGHTS = np.array([1.0, -4.0, 6.0, -4.0, 1.0])
# Keeps these signs independent of every other random choice of the check (same seed).
SIGN_STREAM = 17


def needed(probe: Probe, gradient: Gradient) -> bool:
    """Is the rounding worth measuring: a gradient narrower than float64, or a loss noisier than
    float64 arithmetic (code that casts down inside likely computes its gradient so too)?"""
    return bool(np.any(gradient.eps > FLOAT64_EPS)) or probe.relative_noise > NOISY_LOSS


def measured(probe: Probe, grad: Callable[[Any], Any], gradient: Gradient) -> Gradient:
    """``gradient`` with each tensor's allowance measured where its rounding shows."""
    rng = np.random.default_rng((probe.options.seed, SIGN_STREAM))
    step = probe.spacing * rng.choice([-1.0, 1.0], size=probe.theta.size)
    sides = [[_gradient_at(probe, grad, step * k * side) for k in OFFSETS] for side in (1, -1)]
    fourths = [np.tensordot(WEIGHTS, np.array(values), axes=1) for values in sides]
    ids = probe.layout.tensor_ids()
    unit = analytic_allowance(gradient.values, ids, np.ones(len(probe.layout.tensors)))  # at ε = 1
    levels = gradient.eps.copy()
    for k, tensor in enumerate(probe.layout.tensors):
        where = tensor.slice
        if not any(np.any(v[where] != values[0][where]) for values in sides for v in values):
            continue  # no rounding showed: keep ε
        level = min(_level(fourth[where], unit[where]) for fourth in fourths)
        levels[k] = level if math.isfinite(level) else levels[k]
    # The allowance is linear in ε: each tensor's measured level times its scale.
    return Gradient(gradient.values, gradient.names, levels[ids] * unit, gradient.eps)


def _gradient_at(probe: Probe, grad: Callable[[Any], Any], offset: np.ndarray) -> np.ndarray:
    """The analytic gradient at θ + offset (rounded to each tensor's dtype), flat."""
    return probe.gradient_at(grad, round_to_dtypes(probe.layout, probe.theta + offset))[0]


def _level(fourth: np.ndarray, unit: np.ndarray) -> float:
    """ρ with rounding σᵢ ≈ ρ·unitᵢ, from the median of |Δ⁴gᵢ|/unitᵢ (Δ⁴g has standard deviation
    √70·σ, and a median of 0.6745 of it for Gaussian rounding). The median, because an entry
    whose gradient jumps between the five points (a ReLU input within two ulps of 0) is a kink,
    not rounding, and must not set the allowance of all the others."""
    finite = np.isfinite(fourth) & (unit > 0)
    if not finite.any():
        return math.inf
    typical = float(np.median(np.abs(fourth[finite]) / unit[finite]))
    return typical / (GAUSSIAN_MEDIAN_ABS * math.sqrt(float(WEIGHTS @ WEIGHTS)))
