"""PyTorch's modes and orders for `gradcheck.torch`: forward-mode gradients and double backward.

- **Forward mode** (``"fwd"``): the gradient assembled from JVPs along the basis directions,
  ``torch.func.jvp`` under ``vmap`` in chunks, or one ``torch.autograd.forward_ad`` pass per
  component where vmap is not supported (a custom ``Function`` without a vmap rule). A
  ``Function`` without ``jvp`` has no forward mode: the report says so.
- **Second order** (``order=2``): double backward, H·v = ∂(g·v)/∂θ with ``create_graph=True``,
  checked by `check_hvp`'s machinery against differences of the first-order gradient. For
  ``check_function`` the scalar is Σ c·f with the seeded random cotangent c (never f itself).
  A backward marked ``@once_differentiable`` declares it has no second derivative: said, not
  failed.

Everything runs on the float64 copies the adapter made, inside its ``fork_rng``.
"""

from __future__ import annotations

import warnings
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

FORWARD_HINT = "define the Function's jvp(ctx, *tangents), or pass modes='rev'"
ONCE_HINT = (
    "backward is marked @once_differentiable, which declares that it has no second derivative; "
    "write the backward with differentiable torch operations to support order=2"
)


def check(
    torch: Any,
    loss: Any,
    params: dict[str, np.ndarray],
    grad: Any,
    reseed: Callable[[], Any],
    options: dict[str, Any],
    modes: tuple[str, ...],
    order: int,
) -> Report:
    """The adapter's report: ``loss``'s gradient in ``modes``, and its HVP when ``order`` is 2.

    ``loss`` is the adapter's loss of a dict of float64 arrays (``scalar`` of tensors,
    ``gradient``); ``grad`` the gradient reverse mode checks (autograd's, or the user's).
    """
    chosen = []
    native = not loss.placement.on_host_in_float64
    if "rev" in modes:
        chosen.append(Mode("rev", grad))
    if "fwd" in modes and native:
        chosen.append(Mode("fwd", None, _modes.NATIVE))
    elif "fwd" in modes:
        chosen.append(
            forward_mode(torch, loss, params, reseed, _modes.forward_sample(flatten(params)[1], options))
        )
    first = Options(reseed=reseed, **options)
    second: Optional[Callable[[], Report | Finding]] = None
    if order == 2:
        second = (
            (lambda: _wording.not_checked(_modes.WHAT["hvp"], _modes.NATIVE))
            if native
            else (lambda: second_order(torch, loss, params, reseed, options))
        )
    return _modes.check(loss, params, chosen, first, second)


def forward_mode(
    torch: Any,
    loss: Any,
    params: dict[str, np.ndarray],
    reseed: Callable[[], Any],
    sample: Optional[np.ndarray] = None,
) -> Mode:
    """The forward-mode gradient at θ (at the components ``sample``, NaN elsewhere; all when
    None), or why the code has none."""
    tensors = {k: torch.from_numpy(v.copy()) for k, v in params.items()}
    rows = _modes.local_rows(flatten(params)[1], sample)
    with warnings.catch_warnings():
        # PyTorch's own forward-mode formulas (batch_norm's) call torch.jit.script, which warns
        # that it is deprecated: a message about PyTorch's internals, not about the user's code.
        warnings.filterwarnings("ignore", message=".*torch.jit.script.*", category=DeprecationWarning)
        try:
            values = _vmapped_jvps(torch, loss, tensors, rows, reseed)
        except Exception:  # no vmap support (a custom Function without a vmap rule): one pass each
            try:
                values = _dual_passes(torch, loss, tensors, rows, reseed)
            except NotImplementedError as error:  # a custom Function without jvp
                return _modes.unsupported("fwd", error, FORWARD_HINT)
            except (MemoryError, torch.OutOfMemoryError):  # the machine's limit, not the rule's bug
                raise
            except Exception as error:  # a jvp rule that fails at these inputs: a bug, said and failed
                return _modes.raised("fwd", error)
    return Mode("fwd", {k: v.reshape(params[k].shape) for k, v in values.items()}, sample=sample)


def _basis(torch: Any, tensors: dict[str, Any], name: str, rows: np.ndarray) -> dict[str, Any]:
    """Tangents e_j for the flat entries ``rows`` of tensor ``name``, stacked (zero elsewhere)."""
    stack = {k: torch.zeros((rows.size, *v.shape), dtype=v.dtype) for k, v in tensors.items()}
    stack[name].reshape(rows.size, -1)[torch.arange(rows.size), torch.from_numpy(rows)] = 1.0
    return stack


def _vmapped_jvps(
    torch: Any, loss: Any, tensors: dict[str, Any], wanted: dict[str, np.ndarray], reseed: Callable[[], Any]
) -> dict[str, np.ndarray]:
    """∂J/∂θⱼ for the ``wanted`` entries of each tensor (NaN elsewhere), vmapped JVPs in chunks."""
    from torch.func import jvp, vmap

    def along(tangent: dict[str, Any]) -> Any:
        return jvp(loss.scalar, (tensors,), (tangent,))[1]

    batched = vmap(along, randomness="same")
    per_call = _modes.tangents_per_call(sum(v.numel() for v in tensors.values()))
    values = {}
    for name, value in tensors.items():
        out = np.full(value.numel(), np.nan)
        for start in range(0, wanted[name].size, per_call):
            rows = wanted[name][start : start + per_call]
            reseed()
            out[rows] = batched(_basis(torch, tensors, name, rows)).detach().numpy()
        values[name] = out
    return values


def _dual_passes(
    torch: Any, loss: Any, tensors: dict[str, Any], wanted: dict[str, np.ndarray], reseed: Callable[[], Any]
) -> dict[str, np.ndarray]:
    """The same as `_vmapped_jvps`, one torch.autograd.forward_ad pass per entry."""
    from torch.autograd import forward_ad

    values = {}
    for name, value in tensors.items():
        out = np.full(value.numel(), np.nan)
        for j in wanted[name].tolist():
            tangent = torch.zeros_like(value)
            tangent.view(-1)[j] = 1.0
            reseed()
            with torch.no_grad(), forward_ad.dual_level():
                dual = forward_ad.make_dual(value, tangent)
                result = loss.scalar({**tensors, name: dual})
                tangent = forward_ad.unpack_dual(result).tangent
                # No tangent: nothing on the way propagated one (torch.func.jvp reads it as zero).
                out[j] = 0.0 if tangent is None else float(tangent)
        values[name] = out
    return values


def second_order(
    torch: Any, loss: Any, params: dict[str, np.ndarray], reseed: Callable[[], Any], options: dict[str, Any]
) -> Report | Finding:
    """The check of double backward's H·v (`check_hvp`), or why the code has no second derivative."""
    reseed()
    declared = _once_differentiable(torch, loss, params)
    if declared is not None:
        return _wording.not_checked(_modes.WHAT["hvp"], f"{declared}'s {ONCE_HINT}")
    hvp = _DoubleBackward(torch, loss)
    hvp_options = {k: v for k, v in options.items() if k != "batched_loss"}
    if "workers" not in options and "executor" not in options:
        hvp_options["batched_grad"] = _batched_gradient(torch, loss, params, reseed)
    return _hvp.check_hvp(loss.gradient, params, hvp, reseed=reseed, **hvp_options)


def _once_differentiable(torch: Any, loss: Any, params: dict[str, np.ndarray]) -> Optional[str]:
    """The name of a custom Function in the loss's graph whose backward is @once_differentiable.

    Such a backward declares that it has no derivative: double backward either raises or (when
    nothing upstream needs a graph) returns a second derivative of exactly zero.
    """
    tensors = {k: torch.tensor(v, requires_grad=True) for k, v in params.items()}
    nodes, seen = [loss.scalar(tensors).grad_fn], {}
    while nodes:
        node = nodes.pop()
        if node is None or id(node) in seen:
            continue
        seen[id(node)] = node  # kept alive: a freed wrapper's id could be reused by the next one
        function = getattr(node, "_forward_cls", None)
        code = getattr(getattr(getattr(function, "backward", None), "__code__", None), "co_filename", "")
        if code.replace("\\", "/").endswith("torch/autograd/function.py"):  # the once_differentiable wrapper
            return str(getattr(function, "__name__", "a Function"))
        nodes.extend(following for following, _ in node.next_functions)
    return None


class _DoubleBackward:
    """hvp(params, v) = ∂(g·v)/∂θ by double backward: zero where g does not depend on θ."""

    def __init__(self, torch: Any, loss: Any) -> None:
        self.torch, self.loss = torch, loss

    def __call__(self, tree: dict[str, np.ndarray], v: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        torch = self.torch
        params = {k: torch.tensor(a, requires_grad=True) for k, a in tree.items()}
        first = torch.autograd.grad(
            self.loss.scalar(params), list(params.values()), create_graph=True, allow_unused=True
        )
        terms = [
            (g * torch.from_numpy(np.asarray(v[k]))).sum()
            for k, g in zip(params, first, strict=True)
            if g is not None
        ]
        dot = sum(terms) if terms else None
        if dot is None or not dot.requires_grad:  # the gradient has no graph back to θ
            return {k: np.zeros_like(a) for k, a in tree.items()}
        second = torch.autograd.grad(dot, list(params.values()), allow_unused=True)
        return {
            k: np.zeros_like(tree[k]) if s is None else s.detach().numpy()
            for k, s in zip(params, second, strict=True)
        }


class _BatchedGradient(VmapLoss):
    """The gradient at each row of a (k, n) stack: torch.func.grad under vmap, flat in θ's order."""

    def __init__(
        self, torch: Any, loss: Any, params: dict[str, np.ndarray], reseed: Callable[[], Any]
    ) -> None:
        super().__init__(list(params), [v.shape for v in params.values()])
        from torch.func import grad, vmap

        self.torch, self.reseed = torch, reseed
        self.gradient = vmap(grad(loss.scalar), randomness="same")

    def rows(self, leaves: dict[str, np.ndarray]) -> np.ndarray:
        self.reseed()
        out = self.gradient({k: self.torch.from_numpy(v) for k, v in leaves.items()})
        count = len(next(iter(leaves.values())))
        return np.concatenate([out[k].detach().reshape(count, -1).numpy() for k in self.names], axis=1)


def _batched_gradient(
    torch: Any, loss: Any, params: dict[str, np.ndarray], reseed: Callable[[], Any]
) -> Optional[_BatchedGradient]:
    """A vmapped batched gradient, or None (one gradient per call) where vmap does not apply."""
    theta, _ = flatten(params)
    try:
        batched = _BatchedGradient(torch, loss, params, reseed)
        batched(theta[None, :])
    except Exception:  # a custom Function without a vmap rule, data-dependent control flow
        return None
    return batched
