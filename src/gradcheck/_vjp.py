"""Check one layer's backward pass: a vector-Jacobian product against its forward.

A layer ``y = f(x)`` has a backward ``vjp(x, c) = Jᵀc`` (the course's ``backward(dout, cache)``).
With a random cotangent c the scalar J(x) = Σ c·f(x) has the gradient Jᵀc, so `check` does the
numerical part. A backward must also be *linear* in c; one that ignores ``dout``, masks with
``dout``'s own sign, or accumulates into a buffer between calls is caught by comparing
vjp(c₁ + c₂) with vjp(c₁) + vjp(c₂), vjp(2c₁) with 2·vjp(c₁), and vjp(c₁) with itself.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any, Optional

import numpy as np

from . import _linearity, _options, _precision, _wording
from ._check import check
from ._errors import LossValueError
from ._linearity import linearity_tolerance
from ._options import Eps, Options
from ._report._report import Report
from ._tree import Layout, flatten, match_gradient

# The findings that fail the check: a backward that is not linear or repeatable in its cotangent,
# or that writes into it (a branch that shares dout then gets a wrong gradient).
FAILING = (*_linearity.KINDS, "modifies_cotangent")
# The cotangents come from their own stream of the seed (the plan uses stream 1).
COTANGENT_STREAM = 2


def _output(value: Any, where: str, shape: Optional[tuple[int, ...]] = None) -> np.ndarray:
    """f's return value as a float array (of ``shape`` when given)."""
    if hasattr(value, "detach"):  # a torch tensor that requires grad
        value = value.detach()
    array = np.asarray(value)
    if not np.issubdtype(array.dtype, np.floating):
        raise LossValueError(
            f"f returned dtype {array.dtype} {where}; check_vjp needs f(inputs) to return the "
            f"layer's output as a float array"
        )
    if shape is not None and array.shape != shape:
        raise LossValueError(
            f"f returned shape {array.shape} {where} but {shape} at the unperturbed inputs; "
            f"a layer's output must keep its shape"
        )
    return array


class _Backward:
    """Calls the user's vjp with fresh copies and flattens what it returns."""

    def __init__(self, vjp: Callable[[Any, Any], Any], layout: Layout, theta: np.ndarray) -> None:
        self.vjp = vjp
        self.layout = layout
        self.theta = theta
        self.wrote_cotangent = 0  # entries of a cotangent the vjp changed in place

    def raw(self, cotangent: np.ndarray) -> Any:
        given = cotangent.copy()
        result = self.vjp(self.layout.unflatten(self.theta), given)
        self.wrote_cotangent = max(self.wrote_cotangent, int(np.sum(given != cotangent)))
        return result

    def flat(self, cotangent: np.ndarray) -> np.ndarray:
        return match_gradient(self.layout, self.raw(cotangent))[0]


def check_vjp(
    f: Callable[[Any], Any],
    inputs: Any,
    vjp: Callable[[Any, Any], Any],
    *,
    method: str = "central",
    eps: Eps = "auto",
    seed: int = 0,
    components: Optional[int] = None,
) -> Report:
    """Check a layer's backward pass ``vjp`` against its forward ``f``.

    Args:
        f: ``f(inputs) -> array``, the layer's output; called with copies.
        inputs: what the layer's output depends on and the backward differentiates: one float
            array or a list / tuple / dict of them (``{"x": x, "W": W, "b": b}``).
        vjp: ``vjp(inputs, cotangent)`` returns the gradients of ``Σ cotangent·f(inputs)``
            with the structure of ``inputs`` (``dW`` for ``W`` is fine, extra keys are
            ignored): a layer's ``backward(dout, cache)`` wrapped as
            ``lambda inp, dout: backward(dout, forward_cache(inp))``.
        method: as in `check`.
        eps: as in `check`.
        components: as in `check`.
        seed: draws the random cotangents (and seeds `check`).

    Returns:
        A `Report` of `check` on ``Σ c·f(inputs)``, failing also when the backward is not linear
        in the cotangent (``linearity``) or not repeatable (``repeatability``) findings.

    Example:
        >>> import numpy as np, gradcheck as gc
        >>> W = np.arange(6.0).reshape(2, 3)
        >>> gc.check_vjp(lambda x: W @ x, np.ones(3), lambda x, dout: W.T @ dout).passed
        True
    """
    _options.callables(f=f, vjp=vjp)
    Options(method=method, eps=eps, seed=seed, components=components)
    theta, layout = flatten(inputs)
    output = _output(f(layout.unflatten(theta)), "at the unperturbed inputs")
    rng = np.random.default_rng([int(seed), COTANGENT_STREAM])
    c1, c2 = (rng.standard_normal(output.shape).astype(output.dtype) for _ in range(2))
    weights = c1.astype(np.float64)

    def loss(params: Any) -> float:
        return float(np.sum(weights * _output(f(params), "at perturbed inputs", output.shape)))

    backward = _Backward(vjp, layout, theta)
    raw = backward.raw(c1)
    report = check(loss, inputs, raw, method=method, eps=eps, seed=seed, components=components)
    first, dtypes = match_gradient(layout, raw)[:2]
    coarsest = max(_precision.eps(d) for d in (*dtypes, output.dtype, *(t.dtype for t in layout.tensors)))
    tolerance = linearity_tolerance(float(coarsest))
    findings = _linearity.findings(backward.flat, layout, first, c1, c2, tolerance)
    if backward.wrote_cotangent:
        findings.append(_wording.modifies_cotangent(backward.wrote_cotangent))
    return dataclasses.replace(
        report,
        passed=report.passed and not any(x.kind in FAILING for x in findings),
        findings=report.findings + tuple(findings),
    )
