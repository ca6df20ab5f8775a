"""Complex parameters as two real ones, and the gradient convention gradcheck checks.

A real loss J of a complex parameter z = x + iy is a function of two real parameters, x and y.
gradcheck perturbs each of them (``z.real[3]``, ``z.imag[3]``) and reads the gradient of z as

    g = ∂J/∂x + i·∂J/∂y

which is PyTorch's convention (``z.grad``: twice the conjugate Wirtinger derivative ∂J/∂z̄, the
direction of steepest ascent, so that ``z - lr * g`` descends). JAX's ``jax.grad`` returns its
conjugate, ∂J/∂x − i·∂J/∂y (Wirtinger ∂J/∂z times 2); `gradcheck.jax` converts. A gradient
given in the other convention is the conjugate of the right one: the imaginary part has the
wrong sign everywhere, which the diagnosis names (`conjugate` finding).

The adapters convert at the boundary with `split` and `join`: the core only ever sees real
arrays, and a tensor pair named ``NAME.real`` / ``NAME.imag`` is how a complex parameter looks
in a report, whichever front door it came through.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Optional

import numpy as np

PARTS = ("real", "imag")


def part_names(name: str) -> tuple[str, str]:
    """``("z.real", "z.imag")``: the names of a complex parameter's two real parts."""
    return f"{name}.real", f"{name}.imag"


def complex_base(name: str) -> Optional[str]:
    """``z`` for ``z.imag`` (the imaginary part of a complex parameter), else None."""
    base, dot, part = name.rpartition(".")
    return base if dot and part == "imag" and base else None


def real_dtype(dtype: Any) -> np.dtype:
    """float32 for complex64, float64 for complex128; a real dtype stays as it is."""
    return np.finfo(np.dtype(dtype)).dtype


def complex_dtype(dtype: Any) -> np.dtype:
    """The complex dtype whose parts have the real ``dtype`` (complex64 for float32)."""
    return np.result_type(np.dtype(dtype), np.complex64)


def split(array: Any) -> tuple[np.ndarray, np.ndarray]:
    """A complex array's real and imaginary parts as fresh real arrays (a real array: imag 0)."""
    array = np.asarray(array)
    return np.array(array.real, copy=True), np.array(array.imag, copy=True)


def join(real: np.ndarray, imag: np.ndarray) -> np.ndarray:
    """A fresh complex NumPy array from its parts (parts written exactly: no 0·inf = nan)."""
    out = np.empty(np.shape(real), dtype=complex_dtype(np.result_type(real, imag)))
    out.real, out.imag = real, imag
    return out


@dataclass(frozen=True)
class Pair:
    """A complex parameter in a params structure: what stands for its two real parts."""

    real: Any
    imag: Any
