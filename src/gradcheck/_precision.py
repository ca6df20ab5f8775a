"""Floating-point formats: NumPy's own, and bfloat16 (and the float8s) through ``ml_dtypes``.

NumPy has float16, float32 and float64 but no bfloat16. ``ml_dtypes`` (the JAX team's NumPy
dtypes, installed with JAX and with gradcheck's torch extra) adds it as a real NumPy dtype:
arrays, casts, ``np.spacing`` and a ``finfo``. gradcheck never imports it unless it meets such an
array, so the core keeps needing NumPy only.

One thing ``ml_dtypes`` does not do is round float64 correctly: it goes through float32, and the
second rounding can land on the wrong side of a tie (1 + 2⁻⁸ + 2⁻³⁰ becomes 1, not 1 + 2⁻⁷; PyTorch
does the same). `round_to` rounds to float32 *towards odd* first, which makes the second rounding
exact (Boldo & Melquiond, "Emulation of FMA and correctly rounded sums: proved algorithms using
rounding to odd", IEEE TC 2008: round-to-odd to p + 2 bits, then to p, is correctly rounded).
Every perturbed point gradcheck evaluates is rounded here, so the offsets it reads back are the
ones really applied.
"""

from __future__ import annotations

import functools
from typing import Any

import numpy as np

# Formats with fewer significand bits than float32's are coarse (`coarse`).
COARSE_BELOW = 24


def is_float(dtype: Any) -> bool:
    """A real floating-point dtype: NumPy's, or one of ml_dtypes' (bfloat16, float8...)."""
    dtype = np.dtype(dtype)
    if dtype.kind == "f":
        return True
    return dtype.kind == "V" and _ml_finfo(dtype) is not None


@functools.cache
def _ml_finfo(dtype: np.dtype) -> Any:
    """``ml_dtypes.finfo`` of a dtype ml_dtypes defines, else None."""
    if dtype.type.__module__ != "ml_dtypes":
        return None
    try:
        import ml_dtypes
    except ImportError:  # pragma: no cover - such a dtype cannot exist without ml_dtypes
        return None
    try:
        return ml_dtypes.finfo(dtype)
    except (TypeError, ValueError):  # an integer type of ml_dtypes (int4)
        return None


def formats() -> list[np.dtype]:
    """The formats narrower than float64 code computes in, coarsest first (bfloat16 when
    ml_dtypes is installed)."""
    found: list[np.dtype] = [np.dtype(np.float16), np.dtype(np.float32)]
    try:
        import ml_dtypes
    except ImportError:
        return found
    return [np.dtype(ml_dtypes.bfloat16), *found]


def finfo(dtype: Any) -> Any:
    """``np.finfo`` for NumPy floats, ``ml_dtypes.finfo`` for bfloat16 and the float8s."""
    dtype = np.dtype(dtype)
    if dtype.kind == "f":
        return np.finfo(dtype)
    found = _ml_finfo(dtype)
    if found is None:
        raise TypeError(f"{dtype} is not a floating-point dtype")
    return found


def eps(dtype: Any) -> float:
    """The dtype's machine epsilon (the gap after 1.0)."""
    return float(finfo(dtype).eps)


def bits(dtype: Any) -> int:
    """Significand bits including the implicit one: 53, 24, 11, 8 for float64 ... bfloat16."""
    return int(finfo(dtype).nmant) + 1


def coarse(dtype: Any) -> bool:
    """Fewer significand bits than float32's 24 (bfloat16's 8, float16's 11): a step of 8 ulps
    moves an entry by 3 % or 0.4 %, and rounded intermediates make the loss a staircase."""
    return bits(dtype) < COARSE_BELOW


def narrowest(dtypes: Any) -> np.dtype:
    """The dtype with the fewest significand bits (ties: the first)."""
    return min((np.dtype(d) for d in dtypes), key=bits)


def widest(dtypes: Any) -> np.dtype:
    """The dtype with the most significand bits (ties: the first)."""
    return max((np.dtype(d) for d in dtypes), key=bits)


def round_to(values: np.ndarray, dtype: Any) -> np.ndarray:
    """float64 ``values`` rounded to nearest in ``dtype`` (ties to even), returned as float64."""
    dtype = np.dtype(dtype)
    values = np.asarray(values, dtype=np.float64)
    if dtype == np.float64:
        return values
    with np.errstate(over="ignore", invalid="ignore"):  # beyond the format's range: inf, as a cast gives
        if dtype.kind == "f":  # NumPy casts float64 to float32 and float16 correctly rounded
            return values.astype(dtype).astype(np.float64)
        return _to_odd_float32(values).astype(dtype).astype(np.float64)


def _to_odd_float32(values: np.ndarray) -> np.ndarray:
    """float64 → float32 rounded to odd: truncate towards zero, then set the last bit if inexact."""
    with np.errstate(over="ignore", invalid="ignore"):
        nearest = values.astype(np.float32)
        wide = nearest.astype(np.float64)
        overshoot = np.abs(wide) > np.abs(values)
    truncated = np.where(overshoot, np.nextafter(nearest, np.float32(0)), nearest)
    inexact = truncated.astype(np.float64) != values
    bits32 = truncated.view(np.uint32) | inexact.astype(np.uint32)
    return np.where(np.isfinite(values), bits32.view(np.float32), nearest)
