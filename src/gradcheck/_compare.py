"""Compare analytic and numerical derivatives: the seeds' relative difference and the verdict rule.

Everything that decides "wrong" lives here, with the one constant it rests on (SAFETY), so the
verdict, the fits, the detection limits and the renderers all read the same rule.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

# Flag only when a discrepancy exceeds SAFETY times its estimated numerical error. The error
# estimates (noise σ, Richardson differences) are good to a factor of about 2-3; 8 leaves room
# for that, and for Gaussian-like round-off the chance of a false flag per component is < 1e-14.
SAFETY = 8.0


# Within 1e±140 no square over- or underflows (n·(1e140)² stays below float64's 1.8e308 for
# n < 1e28, and 1e-280 is a normal number), so there the seeds' formula runs as written and the
# course's reference values come out to the last digit; beyond, the norms are taken scaled.
SAFE_RANGE = 1e140


def relative_difference(a: Any, b: Any) -> float:
    """The seeds' ``||a − b||₂ / (||a||₂ + ||b||₂)``, defined as 0 when both are zero.

    Outside SAFE_RANGE the norms are taken scaled, so a loss of 1e300 gives a finite difference too.

    Example:
        >>> round(relative_difference([3.0], [3.0001]), 12)
        1.6666389e-05
    """
    a = np.asarray(a, dtype=np.float64).reshape(-1)
    b = np.asarray(b, dtype=np.float64).reshape(-1)
    if a.shape != b.shape:
        raise ValueError(f"relative_difference needs equal sizes, got {a.size} and {b.size}")
    scale = max(magnitude(a), magnitude(b))
    if scale == 0 or not math.isfinite(scale):
        return 0.0 if scale == 0 else math.nan
    if not 1 / SAFE_RANGE <= scale <= SAFE_RANGE:
        a, b = a / scale, b / scale  # the ratio does not change; no square overflows or underflows
    denominator = np.linalg.norm(a) + np.linalg.norm(b)
    return float(np.linalg.norm(a - b) / denominator)


def magnitude(x: np.ndarray) -> float:
    """max |xᵢ| over the finite entries (0 for none): the scale norms are taken at."""
    finite = np.abs(x[np.isfinite(x)])
    return float(finite.max()) if finite.size else 0.0


def norm(x: Any) -> float:
    """||x||₂ without overflow or underflow: the largest entry is factored out first (as BLAS's
    nrm2 does), so a gradient of 1e200 has a norm, not inf."""
    x = np.asarray(x, dtype=np.float64).reshape(-1)
    scale = magnitude(x)
    if scale == 0 or not math.isfinite(scale):
        return scale
    return scale * float(np.linalg.norm(x / scale))


# The seeds' bands for the overall difference: below 1e-7 fine, around 1e-5 inspect,
# above 1e-3 worry (Ng's deep-learning course, "Gradient checking").
BANDS = ((1e-7, "fine"), (1e-3, "inspect"))


def band_legend() -> str:
    """``< 1e-7 fine, ~1e-5 inspect, > 1e-3 worry``: the seeds' bands as the report prints them
    ("around 1e-5" is the middle of the inspect band on a log scale)."""
    (fine, _), (worry, _) = BANDS

    def power(x: float) -> str:
        return f"1e{round(math.log10(x))}"

    return f"< {power(fine)} fine, ~{power(math.sqrt(fine * worry))} inspect, > {power(worry)} worry"


def seed_band(difference: float) -> str:
    """``fine``, ``inspect`` or ``worry``: where the seeds' rule of thumb puts a difference."""
    for limit, label in BANDS:
        if difference < limit:
            return label
    return "worry"


def analytic_allowance(analytic: np.ndarray, tensor_ids: np.ndarray, eps: np.ndarray) -> np.ndarray:
    """Rounding the analytic gradient itself carries: ε of its tensor's dtype times its scale.

    ``eps`` holds one ε per tensor (a float32 gradient beside float64 ones keeps its own). The
    scale is max(|gᵢ|, rms of gᵢ's tensor): a backward pass sums terms of about the tensor's
    typical size, so an entry near zero by cancellation still carries their rounding.
    """
    finite = np.isfinite(analytic)  # a NaN entry is flagged on its own, not its tensor
    values = np.abs(np.where(finite, analytic, 0.0))
    largest = np.zeros(eps.size)
    np.maximum.at(largest, tensor_ids, values)  # each tensor's squares are taken scaled by its largest
    unit = np.where(largest > 0, largest, 1.0)
    squares = (values / unit[tensor_ids]) ** 2
    # (bincount of no entries is an int64 array: an empty tensor must not change the type)
    sums = np.bincount(tensor_ids, weights=squares, minlength=eps.size).astype(np.float64)
    counts = np.bincount(tensor_ids, weights=finite, minlength=eps.size).astype(np.float64)
    rms = unit * np.sqrt(np.divide(sums, counts, out=np.zeros_like(sums), where=counts > 0))
    return eps[tensor_ids] * np.maximum(np.abs(analytic), rms[tensor_ids])


def significance(analytic: Any, numerical: Any, estimate: Any) -> np.ndarray:
    """|analytic − numerical| in units of the estimated error (flagged above SAFETY).

    0/0 is an exact match (0); an error over a zero estimate, or a NaN in the gradient, is
    infinitely significant.
    """
    error = np.abs(np.asarray(analytic, dtype=np.float64) - np.asarray(numerical, dtype=np.float64))
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = error / np.asarray(estimate, dtype=np.float64)
    return np.where(np.isnan(error), np.inf, np.where(np.isnan(ratio), 0.0, ratio))


# The rank of a component on a kink: below every significance, which is ≥ 0.
KINKED = -1.0


def ranking(analytic: Any, numerical: Any, estimate: Any, kink: Any) -> np.ndarray:
    """`significance` with components on a kink (left out of the verdict) ranked last, at KINKED."""
    return np.where(kink, KINKED, significance(analytic, numerical, estimate))


def flag(analytic: np.ndarray, numerical: np.ndarray, tolerance: np.ndarray) -> np.ndarray:
    """Components whose discrepancy exceeds SAFETY times their estimated error.

    Written as "not within" so that a NaN anywhere (a NaN in the analytic gradient) is flagged.
    """
    return ~(np.abs(analytic - numerical) <= SAFETY * tolerance)
