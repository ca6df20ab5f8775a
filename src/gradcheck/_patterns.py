"""Bug patterns fitted to one tensor's analytic and numerical gradients.

Each pattern is a model of the analytic gradient g in terms of the numerical one g' (and θ):
g' ≈ k·g (scale, sign), g ≈ g'ᵀ (transpose), g' − g ≈ λ·θ (missing regularization), g = 0
(zero gradient). A pattern explains a tensor only when every residual stays within SAFETY
times that component's estimated numerical error (``Report.estimate``): no hand-set tolerance,
so float32 and large losses are judged by the same rule as the verdict itself.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Optional

import numpy as np

from ._finite_differences import SAFETY


@dataclass(frozen=True)
class View:
    """One tensor's checked, kink-free components, as the patterns see them."""

    name: str
    shape: tuple[int, ...]
    local: np.ndarray  # flat indices inside the tensor
    analytic: np.ndarray
    numerical: np.ndarray
    estimate: np.ndarray  # each numerical derivative's estimated error (never zero)
    theta: np.ndarray
    flagged: np.ndarray


def fit(x: np.ndarray, y: np.ndarray, error: np.ndarray) -> tuple[float, float]:
    """Weighted least squares y ≈ k·x (weights 1/error²): k and its standard error."""
    weight = 1.0 / error**2
    sxx = float(np.sum(weight * x * x))
    if sxx == 0.0 or not math.isfinite(sxx):
        return math.nan, math.inf
    return float(np.sum(weight * x * y)) / sxx, 1.0 / math.sqrt(sxx)


def explains(residual: np.ndarray, error: np.ndarray) -> bool:
    """Is every residual within SAFETY times its component's estimated error?"""
    return bool(np.all(np.abs(residual) <= SAFETY * error))


def is_zero(view: View) -> bool:
    """Is the analytic gradient indistinguishable from 0 wherever the check flagged it?"""
    wrong = view.flagged
    return bool(wrong.any()) and bool(np.all(np.abs(view.analytic[wrong]) <= SAFETY * view.estimate[wrong]))


def is_transpose(view: View) -> bool:
    """Does g match g'ᵀ on a square matrix (the one transposition the shape check misses)?

    Components left out (sampled away, or on a kink) are skipped; at least two flagged ones
    need their mirror image, and every pair present must match.
    """
    if len(view.shape) != 2 or view.shape[0] != view.shape[1] or view.shape[0] < 2:
        return False
    n = view.shape[0]
    a, d, e = (np.full(n * n, np.nan) for _ in range(3))
    for target, values in ((a, view.analytic), (d, view.numerical), (e, view.estimate)):
        target[view.local] = values
    g, g_num, err = a.reshape(n, n), d.reshape(n, n), e.reshape(n, n)
    paired = ~np.isnan(g) & ~np.isnan(g.T)
    wrong = np.zeros(n * n, dtype=bool)
    wrong[view.local] = view.flagged
    if np.sum(paired & wrong.reshape(n, n)) < 2:
        return False
    return explains((g - g_num.T)[paired], (err + err.T)[paired])


@dataclass(frozen=True)
class Scale:
    """g ≈ c·g' over a set of components, with the standard error of c."""

    factor: float
    error: float


def scale(view: View, where: Optional[np.ndarray] = None) -> Optional[Scale]:
    """The constant c with g ≈ c·g' on ``where`` (default: every component), if one explains them.

    The fit is g' ≈ k·g because the error sits in g'; c = 1/k. A scale needs evidence: k must
    differ from 0 by more than SAFETY standard errors.
    """
    mask = np.ones(view.local.size, dtype=bool) if where is None else where
    a, d, e = view.analytic[mask], view.numerical[mask], view.estimate[mask]
    k, k_error = fit(a, d, e)
    if not math.isfinite(k) or abs(k) <= SAFETY * k_error or not explains(d - k * a, e):
        return None
    return Scale(1.0 / k, k_error / k**2)


def regularization(view: View) -> Optional[float]:
    """λ with g' − g ≈ λ·θ (the error proportional to the parameter), if it explains the tensor."""
    residual = view.numerical - view.analytic
    lam, lam_error = fit(view.theta, residual, view.estimate)
    if not math.isfinite(lam) or abs(lam) <= SAFETY * lam_error:
        return None
    return lam if explains(residual - lam * view.theta, view.estimate) else None


def nearest_integer(value: float, error: float) -> Optional[int]:
    """The integer ≥ 2 that ``value`` equals within SAFETY standard errors, if exactly one can."""
    n = round(value)
    spread = SAFETY * error
    if n >= 2 and spread < 0.5 and abs(value - n) <= spread:
        return int(n)
    return None


def likely_cause(c: float, error: float) -> str:
    """What a telling factor usually means (2, 1/2, an integer m or 1/m, √m), or ''."""
    n = nearest_integer(c, error)
    if n == 2:
        return (
            "a factor 2: is there a ½ in the loss (½x², whose derivative is x) that the gradient "
            "drops, a term added twice, or a batch of m = 2 without the 1/m?"
        )
    if n is not None:
        return f"if {n} is your batch size m, did you forget the 1/m?"
    inverse = nearest_integer(1.0 / c, error / c**2) if c else None
    if inverse == 2:
        return (
            "a factor 1/2: does the gradient keep a ½ that the loss does not have, or count once "
            "a term that the loss counts twice (a shared weight)?"
        )
    if inverse is not None:
        return (
            f"if {inverse} is your batch size m, did you divide by m twice, or does the loss "
            f"sum over the batch while the gradient averages?"
        )
    square = nearest_integer(c * c, 2 * abs(c) * error)
    if square is not None:
        return f"c² ≈ {square}: a missing 1/√{square} (such as attention's 1/√d)?"
    inverse_square = nearest_integer(1.0 / (c * c), 2 * error / abs(c) ** 3) if c else None
    if inverse_square is not None:
        return f"1/c² ≈ {inverse_square}: an extra 1/√{inverse_square} (such as attention's 1/√d)?"
    return ""
