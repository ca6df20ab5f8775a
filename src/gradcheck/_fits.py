"""Bug patterns fitted to one tensor's evidence: its gradient seen along some directions.

The evidence is a set of projections: pairs (u·g analytic, D numerical) along directions u of
the tensor, each with the estimated error of the comparison and u·θ. A component checked one
by one is the projection along eᵢ (its flat position is then known); a directional test of
certify is a projection along a random-sign direction. The patterns are linear, so projections
show them as well as the components do:

- scale c (sign: c = −1): g ≈ c·g', one constant for every u;
- missing regularization λθ: g' − g ≈ λ·θ, the residual follows u·θ;
- zero gradient: u·g = 0 where D is not;
- transposition of two axes of equal length: g ≈ g' with those axes swapped (positions needed).

A pattern explains a tensor only when every residual stays within SAFETY times that projection's
estimated error: no hand-set tolerance, so float32 and large losses are judged by the same rule
as the verdict itself, and a few wrong entries never pass for a tensor-wide pattern.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass
from typing import Optional

import numpy as np

from ._compare import SAFETY, magnitude

# A one-parameter fit needs two degrees of freedom left to be refutable: fewer directional
# tests are always explained (a single wrong entry *is* a scale error along one direction).
MIN_PROJECTIONS = 3


@dataclass(frozen=True)
class Projections:
    """One tensor's evidence: analytic and numerical values along directions, with their errors."""

    name: str
    shape: tuple[int, ...]
    analytic: np.ndarray
    numerical: np.ndarray
    estimate: np.ndarray  # estimated error of each comparison (never zero)
    theta: np.ndarray  # u·θ for each direction u (θᵢ for a component)
    flagged: np.ndarray  # which comparisons disagree beyond SAFETY × estimate
    local: Optional[np.ndarray] = None  # flat positions in the tensor, when each u is one eᵢ
    # Directional tests may be run against the analytic gradient with two axes swapped: then
    # ``analytic`` holds u·(g with these axes swapped).
    swapped: Optional[tuple[int, int]] = None
    # What the analytic side is: "gradient", "hvp" (a Hessian-vector product H·u, whose
    # ``theta`` then holds u: the pattern of a missing λI) or "jvp" (a forward-mode rule).
    subject: str = "gradient"
    # hvp only: (H_a)ₖₖ·uₖ, the analytic Hessian's diagonal entry times u, where it was measured
    # (NaN elsewhere): the pattern of an error confined to the diagonal.
    diagonal: Optional[np.ndarray] = None
    # jvp only: the function's output y at each comparison's output entry, where an
    # activation's derivative (tanh′ = 1 − y², ...) can be read off.
    output: Optional[np.ndarray] = None

    def __len__(self) -> int:
        return int(self.analytic.size)


def fit(x: np.ndarray, y: np.ndarray, error: np.ndarray) -> tuple[float, float]:
    """Weighted least squares y ≈ k·x (weights 1/error²): k and its standard error.

    x, y and the errors are each divided by their largest entry first, so that no square
    overflows (a loss of 1e300) or underflows (a loss of 1e-300); k is scaled back after.
    """
    units = [magnitude(v) for v in (x, y, error)]
    if not all(math.isfinite(u) and u > 0 for u in units[::2]):
        return math.nan, math.inf
    x_unit, y_unit, e_unit = units[0], units[1] or 1.0, units[2]
    weight = 1.0 / (error / e_unit) ** 2
    xs = x / x_unit
    sxx = float(np.sum(weight * xs * xs))
    if sxx == 0.0 or not math.isfinite(sxx):
        return math.nan, math.inf
    k = float(np.sum(weight * xs * (y / y_unit))) / sxx * (y_unit / x_unit)
    return k, e_unit / x_unit / math.sqrt(sxx)


def explains(residual: np.ndarray, error: np.ndarray) -> bool:
    """Is every residual within SAFETY times its comparison's estimated error?"""
    return bool(np.all(np.abs(residual) <= SAFETY * error))


def is_zero(p: Projections) -> bool:
    """Is the analytic gradient indistinguishable from 0 wherever the check flagged it?"""
    wrong = p.flagged
    return bool(wrong.any()) and bool(np.all(np.abs(p.analytic[wrong]) <= SAFETY * p.estimate[wrong]))


def informative(p: Projections) -> int:
    """How many comparisons carry evidence for a scale fit (analytic clearly nonzero)."""
    return int(np.sum(np.abs(p.analytic) > SAFETY * p.estimate))


def floor(errors: np.ndarray) -> np.ndarray:
    """Estimated errors kept above 0: an estimate of exactly 0 (a loss of exactly 0 everywhere)
    would make every fit divide by 0."""
    return np.maximum(errors, np.finfo(np.float64).tiny)


def equal_axes(shape: tuple[int, ...]) -> list[tuple[int, int]]:
    """Pairs of axes of equal length ≥ 2: the swaps a shape check cannot see."""
    return [(a, b) for a, b in itertools.combinations(range(len(shape)), 2) if shape[a] == shape[b] >= 2]


def transposed_axes(p: Projections) -> Optional[tuple[int, int]]:
    """The first two axes of equal length whose swap turns g' into g, if any.

    From components: components left out (sampled away, or on a kink) are skipped; at least two
    flagged ones need their mirror image, and every pair present must match. From directional
    tests: they were run against g with two axes swapped, and every one of them agrees.
    """
    if p.local is None:
        agrees = p.swapped is not None and len(p) >= MIN_PROJECTIONS and not p.flagged.any()
        return p.swapped if agrees else None
    return next((axes for axes in equal_axes(p.shape) if _swap_explains(p, *axes)), None)


def _swap_explains(p: Projections, first: int, second: int) -> bool:
    assert p.local is not None
    size = math.prod(p.shape)
    a, d, e = (np.full(size, np.nan) for _ in range(3))
    for target, values in ((a, p.analytic), (d, p.numerical), (e, p.estimate)):
        target[p.local] = values
    g, g_num, err = (x.reshape(p.shape) for x in (a, d, e))
    swap = lambda x: np.swapaxes(x, first, second)  # noqa: E731
    paired = ~np.isnan(g) & ~np.isnan(swap(g))
    wrong = np.zeros(size, dtype=bool)
    wrong[p.local] = p.flagged
    if np.sum(paired & wrong.reshape(p.shape)) < 2:
        return False
    return explains((g - swap(g_num))[paired], (err + swap(err))[paired])


@dataclass(frozen=True)
class Scale:
    """g ≈ c·g' over a set of comparisons, with the standard error of c."""

    factor: float
    error: float


def scale(p: Projections, where: Optional[np.ndarray] = None) -> Optional[Scale]:
    """The constant c with g ≈ c·g' on ``where`` (default: every comparison), if one explains them.

    The fit is g' ≈ k·g because the error sits in g'; c = 1/k. A scale needs evidence: k must
    differ from 0 by more than SAFETY standard errors.
    """
    mask = np.ones(len(p), dtype=bool) if where is None else where
    a, d, e = p.analytic[mask], p.numerical[mask], p.estimate[mask]
    k, k_error = fit(a, d, e)
    if not math.isfinite(k) or abs(k) <= SAFETY * k_error or not explains(d - k * a, e):
        return None
    return Scale(1.0 / k, k_error / k**2)


def is_sign(fitted: Scale) -> bool:
    """Is the factor −1, and known well enough to say so?"""
    spread = SAFETY * fitted.error
    return spread < 0.5 and abs(fitted.factor + 1.0) <= spread


def regularization(p: Projections) -> Optional[float]:
    """λ with g' − g ≈ λ·θ (the error proportional to the parameter), if it explains the tensor."""
    residual = p.numerical - p.analytic
    lam, lam_error = fit(p.theta, residual, p.estimate)
    if not math.isfinite(lam) or abs(lam) <= SAFETY * lam_error:
        return None
    return lam if explains(residual - lam * p.theta, p.estimate) else None


def diagonal_share(p: Projections) -> Optional[Scale]:
    """c with analytic − numerical ≈ c·(H_a)ₖₖ·uₖ: an HVP whose error sits on the diagonal only.

    With H_a = H + κ·diag(H) the residual (H_a − H)u is κ·Hₖₖ·uₖ = c·(H_a)ₖₖ·uₖ for
    c = κ/(1 + κ): c = ½ is a diagonal counted twice. Only the entries where the diagonal was
    measured take part; at least MIN_PROJECTIONS of them, every one explained.
    """
    if p.diagonal is None:
        return None
    measured = np.isfinite(p.diagonal)
    if np.count_nonzero(measured) < MIN_PROJECTIONS:
        return None
    residual = (p.analytic - p.numerical)[measured]
    c, c_error = fit(p.diagonal[measured], residual, p.estimate[measured])
    if not math.isfinite(c) or abs(c) <= SAFETY * c_error:
        return None
    if not explains(residual - c * p.diagonal[measured], p.estimate[measured]):
        return None
    return Scale(c, c_error)


# Activation derivatives written in the activation's output y, with the outputs they apply to:
# the factor a forward-mode rule forgets when it returns the tangent of the pre-activation.
ACTIVATIONS = {
    "tanh": (lambda y: 1 - y**2, lambda y: np.all(np.abs(y) <= 1)),
    "sigmoid": (lambda y: y * (1 - y), lambda y: np.all((y >= 0) & (y <= 1))),
    "relu": (lambda y: (y > 0).astype(np.float64), lambda y: np.all(y >= 0)),
}


def missing_activation(p: Projections) -> Optional[str]:
    """The activation whose derivative d(y) explains numerical ≈ d(y)·analytic, if one does.

    It must make a difference: at least MIN_PROJECTIONS comparisons where d·analytic and
    analytic differ by more than SAFETY times the estimated error.
    """
    if p.output is None:
        return None
    for name, (derivative, applies) in ACTIVATIONS.items():
        if not applies(p.output):
            continue
        d = derivative(p.output)
        telling = np.abs((1 - d) * p.analytic) > SAFETY * p.estimate
        if np.count_nonzero(telling) >= MIN_PROJECTIONS and explains(
            p.numerical - d * p.analytic, p.estimate
        ):
            return name
    return None


def nearest_integer(value: float, error: float) -> Optional[int]:
    """The integer ≥ 2 that ``value`` equals within SAFETY standard errors, if exactly one can."""
    n = round(value)
    spread = SAFETY * error
    if n >= 2 and spread < 0.5 and abs(value - n) <= spread:
        return int(n)
    return None


def factor_cause(c: float, error: float) -> Optional[tuple[str, int]]:
    """The simple form a factor c > 0 takes, within SAFETY standard errors: ("times", n) for
    c = n, ("divided", n) for 1/n, ("root", n) for √n, ("inverse_root", n) for 1/√n; else None."""
    n = nearest_integer(c, error)
    if n is not None:
        return "times", n
    inverse = nearest_integer(1.0 / c, error / c**2) if c else None
    if inverse is not None:
        return "divided", inverse
    square = nearest_integer(c * c, 2 * abs(c) * error)
    if square is not None:
        return "root", square
    inverse_square = nearest_integer(1.0 / (c * c), 2 * error / abs(c) ** 3) if c else None
    if inverse_square is not None:
        return "inverse_root", inverse_square
    return None
