"""JAX's modes and orders for `gradcheck.jax`: forward-mode gradients and second derivatives.

- **Forward mode** (``"fwd"``): the gradient assembled from ``jax.jvp`` along the basis
  directions, ``jit(vmap(...))`` in chunks. A ``jax.custom_vjp`` function has no forward mode
  (JAX raises ``TypeError``): the report says so.
- **Second order** (``order=2``): reverse over reverse, H·v = ∇(∇f·v), checked by `check_hvp`'s
  machinery against differences of ``jax.grad(f)`` along a random direction v (never f itself,
  whose value can be 0: ``jax.test_util.check_grads(order=2)`` uses f(x) as the cotangent).
  A ``custom_vjp`` backward differentiated by JAX shows here when it drops a term (a
  ``stop_gradient``, a saved residual).

Everything runs on the adapter's float64 flat dict of leaves, with 64-bit types enabled.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Optional

import numpy as np

from . import _hvp, _modes, _wording
from ._modes import Mode
from ._options import Options
from ._report._model import Finding
from ._report._report import Report
from ._tree import flatten
from ._vmap import VmapLoss

FORWARD_HINT = "define the rule with jax.custom_jvp to support forward mode, or pass modes='rev'"


def check(problem: Any, grad: Any, options: dict[str, Any], modes: tuple[str, ...], order: int) -> Report:
    """The adapter's report: f's gradient in ``modes``, and its HVP when ``order`` is 2.

    ``problem`` is the adapter's flat view of f (``jax``, ``f``, ``tree``, ``flat``, ``loss``);
    ``grad`` the gradient reverse mode checks (``jax.grad(f)``, or the user's).
    """
    chosen = []
    native = any(v.dtype != np.float64 for v in problem.flat.values()) or any(problem.devices.values())
    if "rev" in modes:
        chosen.append(Mode("rev", grad))
    if "fwd" in modes and native:
        chosen.append(Mode("fwd", None, _modes.NATIVE))
    elif "fwd" in modes:
        layout = flatten(problem.flat)[1]
        chosen.append(forward_mode(problem, _modes.forward_sample(layout, options)))
    second: Optional[Callable[[], Report | Finding]] = None
    if order == 2:
        second = (
            (lambda: _wording.not_checked(_modes.WHAT["hvp"], _modes.NATIVE))
            if native
            else (lambda: second_order(problem, options))
        )
    return _modes.check(problem.loss, problem.flat, chosen, Options(**options), second)


def _flat_f(problem: Any) -> Any:
    """f as a function of the flat dict of leaves."""
    return lambda flat: problem.f(problem.tree(flat))


def forward_mode(problem: Any, sample: Optional[np.ndarray] = None) -> Mode:
    """The forward-mode gradient at θ (jvp along each basis direction; at the components
    ``sample`` only, NaN elsewhere, when given), or why f has none."""
    jax = problem.jax
    base = {k: jax.numpy.asarray(v) for k, v in problem.flat.items()}
    along = jax.jit(jax.vmap(lambda tangent: jax.jvp(_flat_f(problem), (base,), (tangent,))[1]))
    wanted = _modes.local_rows(flatten(problem.flat)[1], sample)
    per_call = _modes.tangents_per_call(sum(leaf.size for leaf in problem.flat.values()))
    values = {}
    try:
        for name, leaf in problem.flat.items():
            out = np.full(leaf.size, np.nan)
            for start in range(0, wanted[name].size, per_call):
                rows = wanted[name][start : start + per_call]
                out[rows] = np.asarray(along(_basis(problem.flat, name, rows, per_call)))[: rows.size]
            values[name] = out.reshape(leaf.shape)
    except TypeError as error:  # "can't apply forward-mode autodiff (jvp) to a custom_vjp function"
        if "custom_vjp" not in str(error):
            raise
        return _modes.unsupported("fwd", error, FORWARD_HINT)
    return Mode("fwd", values, sample=sample)


def _basis(flat: dict[str, np.ndarray], name: str, rows: np.ndarray, count: int) -> dict[str, np.ndarray]:
    """``count`` stacked tangents: e_j for the entries ``rows`` of leaf ``name``, then zeros (the
    last chunk padded, so that every call has the shape jit compiled once)."""
    stack = {k: np.zeros((count, *v.shape)) for k, v in flat.items()}
    stack[name].reshape(count, -1)[np.arange(rows.size), rows] = 1.0
    return stack


def second_order(problem: Any, options: dict[str, Any]) -> Report:
    """The check of reverse-over-reverse H·v (`check_hvp`) against differences of jax.grad(f)."""
    jax = problem.jax
    gradient = jax.jit(jax.grad(_flat_f(problem)))

    def projected(flat: Any, v: Any) -> Any:
        g = gradient(flat)
        return sum(jax.numpy.vdot(g[k], v[k]) for k in g)

    hessian_vector = jax.jit(jax.grad(projected))

    def grad(flat: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        return {k: np.asarray(v) for k, v in gradient(flat).items()}

    def hvp(flat: dict[str, np.ndarray], v: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        return {k: np.asarray(x) for k, x in hessian_vector(flat, v).items()}

    hvp_options = {k: v for k, v in options.items() if k != "batched_loss"}
    if "workers" not in options and "executor" not in options:
        hvp_options["batched_grad"] = _BatchedGradient(problem, gradient)
    return _hvp.check_hvp(grad, problem.flat, hvp, **hvp_options)


class _BatchedGradient(VmapLoss):
    """jit(vmap(jax.grad(f))) over the rows of a (k, n) stack, flat in θ's order."""

    def __init__(self, problem: Any, gradient: Any) -> None:
        super().__init__(list(problem.flat), [v.shape for v in problem.flat.values()])
        self.gradient = problem.jax.jit(problem.jax.vmap(gradient))

    def rows(self, leaves: dict[str, np.ndarray]) -> np.ndarray:
        count = len(next(iter(leaves.values())))
        # Padded to a power of two (at least 16 rows): one compilation per size, a handful in all.
        size = max(16, 1 << (count - 1).bit_length())
        padded = {k: np.concatenate([v, np.repeat(v[:1], size - count, axis=0)]) for k, v in leaves.items()}
        out = self.gradient(padded)
        return np.concatenate([np.asarray(out[k])[:count].reshape(count, -1) for k in self.names], axis=1)
