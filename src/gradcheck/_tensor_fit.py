"""Tensor-wide bug patterns read from projections of one tensor's gradient.

A projection is a pair (u·g analytic, D numerical) along some direction u of the tensor, with
the error of D and of u·g, and u·θ: a directional test of certify, or one component (u = eᵢ).
The patterns are linear, so projections show them as well as the components do:

- zero gradient: u·g = 0 for every u while D is not;
- scale c (sign: c = −1): u·g = c·D for every u, one constant;
- missing regularization λθ: D − u·g = λ·(u·θ), the residual follows the projection of θ.

Each fit is weighted least squares (weights 1/error²) and is accepted only when every
projection's residual stays within SAFETY times its error, so a few wrong entries (whose
residuals do not follow D or u·θ) never pass for a tensor-wide pattern.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Optional

import numpy as np

from ._finite_differences import SAFETY
from ._report import Finding

# A one-parameter fit needs two degrees of freedom left to be refutable; fewer projections
# are always explained (a single wrong entry *is* a scale error of a one-entry tensor).
MIN_PROJECTIONS = 3
# Name a likely cause only when c is known to 1 %: then "2" and "1/m" are not guesses.
HINT_PRECISION = 0.01


@dataclass(frozen=True)
class Projections:
    """Projections of one tensor's gradient (arrays of equal length)."""

    analytic: np.ndarray
    numerical: np.ndarray
    numerical_error: np.ndarray
    analytic_error: np.ndarray
    theta: np.ndarray  # u·θ for each direction u

    def __len__(self) -> int:
        return int(self.analytic.size)


def _fit(y: np.ndarray, x: np.ndarray, error: np.ndarray) -> tuple[float, float]:
    """y ≈ k·x by weighted least squares: k and its standard error."""
    weight = 1.0 / np.maximum(error, np.finfo(float).tiny) ** 2
    sxx = float(np.sum(weight * x * x))
    if sxx == 0:
        return math.nan, math.inf
    return float(np.sum(weight * x * y)) / sxx, 1.0 / math.sqrt(sxx)


def _scale(p: Projections) -> Optional[tuple[float, float]]:
    """(c, its standard error) when analytic = c·numerical explains every projection and c ≠ 1."""
    c, se = _fit(p.analytic, p.numerical, p.numerical_error + p.analytic_error)
    if not math.isfinite(c) or abs(c - 1) <= SAFETY * se:
        return None
    allowed = SAFETY * (abs(c) * p.numerical_error + p.analytic_error)
    return (c, se) if bool(np.all(np.abs(p.analytic - c * p.numerical) <= allowed)) else None


def _regularization(p: Projections) -> Optional[float]:
    error = p.numerical_error + p.analytic_error
    lam, se = _fit(p.numerical - p.analytic, p.theta, error)
    if not math.isfinite(lam) or abs(lam) <= SAFETY * se:
        return None
    residual = p.numerical - p.analytic - lam * p.theta
    return lam if bool(np.all(np.abs(residual) <= SAFETY * error)) else None


def _hint(c: float, se: float) -> str:
    """What a telling factor usually means (2 or 1/2, an integer m or 1/m), or ''."""
    size = abs(c)
    if SAFETY * se > HINT_PRECISION * size:
        return ""
    # The standard error of |c| is se, that of 1/|c| is se/c².
    for k, value, text in ((round(size), size, "{k}"), (round(1 / size), 1 / size, "1/{k}")):
        if k < 2 or abs(value - k) > SAFETY * se * value / size:
            continue
        shown = text.format(k=k)
        if k == 2:
            return f" (a factor {shown}: a missing or extra 1/2, e.g. in the derivative of x²/2)"
        return f" (a factor {shown}: did you forget or double the 1/m of a batch of {k}?)"
    return ""


def tensor_finding(name: str, p: Projections) -> Optional[Finding]:
    """The tensor-wide pattern that explains every projection, as a finding; else None."""
    if len(p) < MIN_PROJECTIONS:
        return None
    loud = np.abs(p.numerical) > SAFETY * p.numerical_error
    if bool(np.all(np.abs(p.analytic) <= SAFETY * p.analytic_error)) and bool(loud.any()):
        return Finding(
            "zero_gradient",
            name,
            f"the gradient of {name} is zero but the loss does depend on {name} "
            f"(numerical derivatives up to {np.max(np.abs(p.numerical)):.2e}): is its backward step missing?",
        )
    fitted = _scale(p)
    if fitted is not None:
        c, se = fitted
        if abs(c + 1) <= SAFETY * se:
            return Finding(
                "sign", name, f"the gradient of {name} has the wrong sign (analytic = −1 × numerical)", (), c
            )
        return Finding(
            "scale",
            name,
            f"the gradient of {name} is {c:.6g} × the numerical one{_hint(c, se)}",
            (),
            c,
        )
    lam = _regularization(p)
    if lam is not None:
        return Finding(
            "missing_regularization",
            name,
            f"the gradient of {name} misses a term λ·{name} with λ = {lam:.6g} (numerical − analytic "
            f"follows {name} itself): remember the regularization term's gradient",
            (),
            lam,
        )
    return None


def describe_entries(name: str, shape: tuple[int, ...], local: np.ndarray) -> str:
    """'row 12 of W2', 'column 3 of W1' or 'W2' when wrong entries share an index; else ''."""
    if len(shape) < 2 or local.size < 2:
        return ""
    index = np.unravel_index(local, shape)
    if np.unique(index[0]).size == 1:
        return f"all in row {int(index[0][0])} of {name}"
    if np.unique(index[-1]).size == 1:
        return f"all in column {int(index[-1][0])} of {name}"
    return ""
