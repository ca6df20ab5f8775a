"""Read the loss's return value as one real number, or say exactly why it is not one.

A gradient check needs J(θ) as a real scalar. Users return Python floats, NumPy scalars,
``cost`` arrays of shape (1, 1), framework tensors (a torch tensor that requires grad) or, by
mistake, the ``(cost, cache)`` tuple of the course's forward pass, None (a forgotten
``return``), a per-example vector, an integer count. Each gets a message with the fix.
"""

from __future__ import annotations

import numbers
from collections.abc import Callable
from typing import Any, Union

import numpy as np

from .._errors import LossValueError, NonFiniteError
from .._precision import is_float

Where = Union[str, Callable[[], str]]


def describe(where: Where) -> str:
    """The text of an evaluation point's description."""
    return where if isinstance(where, str) else where()


def _constant(text: str) -> Callable[[], str]:
    return lambda: text


def _returned(value: Any) -> str:
    return f"the loss returned {type(value).__name__}"


def _reject_obvious(value: Any, where: Callable[[], str]) -> None:
    """Return values that are never a cost, each with the mistake that usually produces it."""
    if value is None:
        raise LossValueError(f"the loss returned None {where()}; did you forget `return cost`?")
    if isinstance(value, (str, bytes)):
        raise LossValueError(
            f"the loss returned the string {value!r} {where()}; it must return the cost as a float"
        )
    if isinstance(value, (bool, np.bool_)):
        raise LossValueError(
            f"the loss returned the boolean {value!r} {where()}; it must return the cost as a float"
        )
    if isinstance(value, (tuple, list)):
        raise LossValueError(
            f"the loss returned a {type(value).__name__} of {len(value)} items {where()}; it must return "
            f"one float (if your forward pass returns (cost, cache), pass "
            f"lambda p: forward(X, Y, p)[0])"
        )
    if isinstance(value, dict):
        raise LossValueError(
            f"the loss returned a dict with keys {', '.join(map(repr, list(value)[:5]))} {where()}; "
            f"it must return the cost as a float (e.g. lambda p: model(p)['loss'])"
        )


def _as_array(value: Any, where: Callable[[], str]) -> np.ndarray:
    """A NumPy view of ``value``: framework tensors are detached and moved to the CPU first."""
    if hasattr(value, "detach"):  # a torch tensor, possibly requiring grad
        value = value.detach()
    if callable(getattr(value, "cpu", None)):  # a torch tensor on a GPU
        value = value.cpu()
    try:
        return np.asarray(value)
    except Exception as error:  # e.g. torch bfloat16, which NumPy has no dtype for
        if callable(getattr(value, "item", None)) and getattr(value, "numel", lambda: 1)() == 1:
            return np.asarray(value.item())
        raise LossValueError(
            f"{_returned(value)} {where()}, which NumPy cannot read as a number ({error})"
        ) from error


def _number(array: np.ndarray, value: Any, where: Callable[[], str]) -> Any:
    """The one element of ``array`` as a Python number, if its type is a real or complex float."""
    kind = "f" if is_float(array.dtype) else array.dtype.kind  # bfloat16 (ml_dtypes) reads as 'V'
    item = array.reshape(()).item()
    if kind == "O" and isinstance(item, numbers.Number) and not isinstance(item, numbers.Integral):
        return item if isinstance(item, complex) else float(item)  # type: ignore[arg-type]  # Fraction, Decimal
    if kind in "iu":
        raise LossValueError(
            f"the loss returned an integer ({array.dtype}, value {item}) {where()}; a loss must be a "
            f"float: an integer-valued function has no useful derivative (is this a count or an "
            f"accuracy rather than the cost?)"
        )
    if kind == "b":
        raise LossValueError(
            f"the loss returned a boolean array {where()}; it must return the cost as a float"
        )
    if kind not in "fc":
        raise LossValueError(
            f"{_returned(value)} of dtype {array.dtype} {where()}; it must return the cost as a float"
        )
    return item


def to_scalar(
    value: Any, where: Where, *, complex_ok: bool = False, perturbed: bool = False
) -> complex | float:
    """The loss's return value as a Python float (complex with ``complex_ok``).

    Args:
        value: what the loss returned.
        where: where it was evaluated, for messages (``at θ``, ``when W[0, 1] is moved by ...``);
            a function that builds the text, so that a good value costs no formatting.
        complex_ok: keep the imaginary part (the complex-step method needs it).
        perturbed: the point is not θ itself (changes the hint for a non-finite value).

    Raises:
        LossValueError: the value is not one real number.
        NonFiniteError: the value is NaN or infinite.
    """
    if isinstance(where, str):
        where = _constant(where)
    _reject_obvious(value, where)
    array = _as_array(value, where)
    if array.size != 1:
        raise LossValueError(
            f"the loss returned an array of shape {array.shape} {where()}; it must return one number "
            f"(sum or average the per-example losses, e.g. np.mean(losses))"
        )
    scalar = _number(array, value, where)
    if isinstance(scalar, complex) and not complex_ok:
        if scalar.imag != 0:
            raise LossValueError(f"the loss returned the complex number {scalar} {where()}; it must be real")
        scalar = scalar.real
    if not np.isfinite(scalar):
        raise NonFiniteError(f"the loss is {scalar} {where()}; {_nonfinite_hint(perturbed)}")
    return complex(scalar) if complex_ok else float(scalar)


def _nonfinite_hint(perturbed: bool) -> str:
    if perturbed:
        return (
            "it is finite at θ, so θ lies within one step of the edge of the loss's domain (log or "
            "sqrt of a value near 0, a probability near 0 or 1): move the params away from the "
            "edge, or pass a smaller fixed eps"
        )
    return "check for log(0), division by zero or overflow (e.g. clip probabilities away from 0 and 1)"
