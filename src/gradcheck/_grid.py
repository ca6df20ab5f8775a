"""The grid the loss really reads each tensor on: its dtype, or a coarser one it casts to itself.

Code that computes in bfloat16 "whatever it is handed" rounds its float32 (or float64) inputs
to bfloat16 inside. Seen from outside, the loss is then a staircase: a step smaller than a
bfloat16 ulp changes nothing, and a larger one changes the input by a rounded amount. A
directional test that assumes the step it asked for was taken misreads that rounding as a
gradient error of about ulp/step, coherent over the tensor. So, before the low-precision
check, each tensor is tried on the grids of the narrower formats, coarsest first: when moving
it onto the grid, and then by a quarter of that grid's spacing (never across a rounding
midpoint), leaves the loss bit-identical, the loss reads the tensor on that grid, and every
perturbed point is rounded there (`round_to_dtypes` with the narrower dtype), so that the
realised offsets are again the steps really taken.
"""

from __future__ import annotations

import numpy as np

from . import _precision
from ._evaluate import Evaluator
from ._tree import Layout, Tensor

# A quarter of the candidate grid's spacing: far from the rounding midpoints (half a spacing),
# and still many ulps of the tensor's own dtype, so a loss that reads the tensor at full
# precision changes.
NUDGE = 0.25
# The move that must change the loss: a few of the grid's spacings, on the grid.
STRIDE = 4.0
# "Several": a loss whose noise spans 4 quanta of its values, or a nudge worth 4 of its σ, stays
# bit-identical with a chance of about a quarter at most if it read the tensor at full precision
# (and both θ moved onto the grid and the nudge must keep it so).
RESOLVED = 4.0
# Keeps these signs independent of every other random choice of the check (same seed).
SIGN_STREAM = 13


def effective_layout(evaluator: Evaluator, j0: float, noise: float, seed: int) -> Layout:
    """``evaluator.layout`` with each tensor's dtype replaced by the grid the loss reads it on
    (``noise``: the loss's measured noise σ)."""
    rng = np.random.default_rng((seed, SIGN_STREAM))

    def grid(tensor: Tensor) -> np.dtype:
        for dtype in _precision.formats():
            if _precision.bits(dtype) < _precision.bits(tensor.dtype) and _reads_on(
                evaluator, tensor, dtype, j0, noise, rng
            ):
                return dtype
        return tensor.dtype

    return evaluator.layout.retyped(grid)


def _reads_on(
    evaluator: Evaluator, tensor: Tensor, dtype: np.dtype, j0: float, noise: float, rng: np.random.Generator
) -> bool:
    """Is the loss bit-identical at θ moved onto ``dtype``'s grid, and nudged within it, where a
    loss that read the tensor at full precision could not have been? It could not when its noise
    σ spans several of its own values' quanta (any change of its inputs re-rounds it), or when
    the nudge is worth several σ of smooth change (a move of STRIDE spacings, STRIDE/NUDGE times
    the nudge, tells how much). A loss too insensitive to the tensor says nothing of its grid."""
    theta = evaluator.theta[tensor.slice]
    snapped = _precision.round_to(theta, dtype)
    if not np.all(np.isfinite(snapped)) or tensor.size == 0:
        return False
    spacing = np.spacing(np.abs(snapped).astype(dtype)).astype(np.float64)
    signs = rng.choice([-1.0, 1.0], size=theta.size)
    for point in (snapped, snapped + NUDGE * spacing * signs):
        if np.array_equal(point, theta):
            continue  # already on the grid: only the nudge can tell
        if _loss_at(evaluator, tensor, point) != j0:
            return False
    if noise > RESOLVED * quantum(j0):
        return True
    moved = _precision.round_to(snapped + STRIDE * spacing * signs, dtype)
    return abs(_loss_at(evaluator, tensor, moved) - j0) * (NUDGE / STRIDE) > RESOLVED * noise


def quantum(value: float) -> float:
    """The spacing of the coarsest format ``value`` is exactly representable in (a float32 loss's
    ulp, or float64's)."""
    for dtype in _precision.formats():
        if _precision.round_to(np.array([value]), dtype)[0] == value:
            return float(np.spacing(np.array(abs(value)).astype(dtype)))
    return float(np.spacing(abs(value)))


def _loss_at(evaluator: Evaluator, tensor: Tensor, point: np.ndarray) -> float:
    """The loss with ``tensor`` at ``point`` and every other tensor at θ."""
    direction = np.zeros(evaluator.theta.size)
    direction[tensor.slice] = point - evaluator.theta[tensor.slice]
    return evaluator.along(direction, 1.0)
