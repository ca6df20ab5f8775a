"""The contracts of a custom op, checked with `gradcheck.torch.check_function`'s numeric check.

Beyond the right numbers, a ``torch.autograd.Function`` owes its callers: inputs left alone by
forward and backward (unless an in-place op declares it with ``ctx.mark_dirty``), outputs that
do not alias inputs undeclared, a gradient with its input's dtype, shape and device (autograd
silently casts and sums what does not fit, hiding the bug), no gradient for integer or boolean
inputs, zero gradients for a zero upstream gradient, the same gradient from a second backward,
and, where vmap applies, the same gradient from vmap as from a loop. Each broken contract is a
``contract`` finding naming the contract and the tensor, with the fix.

Everything runs on clones of your inputs in their own dtype and device, inside the adapter's
``fork_rng``: your tensors are never touched.
"""

from __future__ import annotations

import dataclasses
from typing import Any, Optional

import numpy as np

from . import _wording
from ._compare import norm
from ._linearity import linearity_tolerance, relative
from ._report._model import Finding
from ._report._report import Report

# Cotangents vmapped at once in the vmap contract: a batch, small enough to cost nothing.
VMAP_BATCH = 3


def added(torch: Any, report: Report, fn: Any, inputs: tuple[Any, ...], seed: int) -> Report:
    """``report`` with the broken contracts of ``fn`` as findings; any of them fails it."""
    found = check(torch, fn, inputs, seed)
    return dataclasses.replace(
        report, passed=report.passed and not found, findings=report.findings + tuple(found)
    )


def check(torch: Any, fn: Any, inputs: tuple[Any, ...], seed: int) -> list[Finding]:
    """Every broken contract of ``fn`` at ``inputs`` (empty when it keeps them all)."""
    args = _clones(torch, inputs)
    before = _snapshot(torch, args)
    result = fn(*args)
    outputs = list(result) if isinstance(result, (tuple, list)) else [result]
    dirty = {i for i, x in enumerate(args) if any(_shares(torch, o, x) for o in outputs)} & _changed(
        torch, args, before
    )
    found = _mutations(torch, args, before, dirty, "forward")
    custom = _custom_node(outputs)
    if custom is not None:
        found += [
            _wording.aliased(f"inputs[{i}]", f"output {k}")
            for k, o in enumerate(outputs)
            for i, x in enumerate(args)
            if i not in dirty and _shares(torch, o, x)
        ]
    differentiable = [o for o in outputs if isinstance(o, torch.Tensor) and o.requires_grad]
    wrt = [i for i, x in enumerate(args) if isinstance(x, torch.Tensor) and x.requires_grad]
    if not differentiable or not wrt:
        return found
    generator = torch.Generator(device="cpu").manual_seed(seed)
    cotangents = [
        torch.randn(o.shape, generator=generator, dtype=o.dtype).to(o.device) for o in differentiable
    ]
    after = _snapshot(torch, args)
    first = _backward(torch, differentiable, [args[i] for i in wrt], cotangents)
    found += _mutations(torch, args, after, dirty, "backward")
    again = _backward(torch, differentiable, [args[i] for i in wrt], cotangents)
    zero = _backward(torch, differentiable, [args[i] for i in wrt], [torch.zeros_like(c) for c in cotangents])
    for i, g1, g2, g0 in zip(wrt, first, again, zero, strict=True):
        eps = float(torch.finfo(args[i].dtype).eps)
        if g1 is not None and g2 is not None:
            difference = relative(_array(torch, g2) - _array(torch, g1), _array(torch, g1))
            if difference > linearity_tolerance(eps):
                found.append(_wording.unrepeatable(f"inputs[{i}]", difference))
        if g0 is not None and bool(torch.any(g0 != 0)):
            found.append(_wording.zero_cotangent(f"inputs[{i}]", float(g0.abs().max())))
    if custom is not None:
        found += _raw_gradients(torch, custom, args, outputs, cotangents)
    found += _vmap(torch, fn, args, wrt, seed)
    return found


def _clones(torch: Any, inputs: tuple[Any, ...]) -> list[Any]:
    """Fresh copies in the caller's dtype and device; floating tensors require grad as the
    numeric check differentiates them (those that require grad, or all if none does)."""
    floats = [isinstance(x, torch.Tensor) and x.is_floating_point() for x in inputs]
    chosen = {i for i, x in enumerate(inputs) if floats[i] and x.requires_grad} or {
        i for i, f in enumerate(floats) if f
    }
    return [
        x.detach().clone().requires_grad_(i in chosen) if isinstance(x, torch.Tensor) else x
        for i, x in enumerate(inputs)
    ]


def _snapshot(torch: Any, args: list[Any]) -> list[Optional[Any]]:
    return [x.detach().clone() if isinstance(x, torch.Tensor) else None for x in args]


def _changed(torch: Any, args: list[Any], before: list[Optional[Any]]) -> set[int]:
    return {
        i
        for i, (x, b) in enumerate(zip(args, before, strict=True))
        if b is not None and _differs(torch, x, b).any()
    }


def _differs(torch: Any, x: Any, before: Any) -> Any:
    now = x.detach()
    both_nan = (
        torch.isnan(now) & torch.isnan(before)
        if now.is_floating_point()
        else torch.zeros_like(now, dtype=torch.bool)
    )
    return (now != before) & ~both_nan


def _mutations(
    torch: Any, args: list[Any], before: list[Optional[Any]], dirty: set[int], during: str
) -> list[Finding]:
    found = []
    for i, (x, b) in enumerate(zip(args, before, strict=True)):
        if b is None or i in dirty:
            continue
        changed = int(_differs(torch, x, b).sum())
        if changed:
            found.append(_wording.mutated(f"inputs[{i}]", changed, int(x.numel()), during))
    return found


def _shares(torch: Any, a: Any, b: Any) -> bool:
    """Do two tensors share memory (the same storage, which views do)?"""
    if not (isinstance(a, torch.Tensor) and isinstance(b, torch.Tensor)) or a.numel() == 0 or b.numel() == 0:
        return False
    return bool(a.untyped_storage().data_ptr() == b.untyped_storage().data_ptr())


def _custom_node(outputs: list[Any]) -> Optional[Any]:
    """The custom Function's backward node when fn is one (its outputs' grad_fn), else None."""
    nodes = {id(getattr(o, "grad_fn", None)): getattr(o, "grad_fn", None) for o in outputs}
    node = next(iter(nodes.values())) if len(nodes) == 1 else None
    return node if node is not None and hasattr(node, "_forward_cls") else None


def _backward(torch: Any, outputs: list[Any], wrt: list[Any], cotangents: list[Any]) -> tuple[Any, ...]:
    grads = torch.autograd.grad(outputs, wrt, cotangents, retain_graph=True, allow_unused=True)
    return tuple(grads)


def _raw_gradients(
    torch: Any, node: Any, args: list[Any], outputs: list[Any], cotangents: list[Any]
) -> list[Finding]:
    """What the Function's own backward returns, before autograd casts, sums or drops it."""
    try:
        with torch.no_grad():
            raw = node.apply(*_grads_out(torch, node, outputs, cotangents))
    except Exception:  # zeros standing in for an output fn dropped that backward cannot take
        return []  # (a non-differentiable index output's metadata says float32 scalar): not judged
    raw = raw if isinstance(raw, tuple) else (raw,)
    found = []
    for i, (x, g) in enumerate(zip(args, raw, strict=False)):
        if g is None or not isinstance(x, torch.Tensor):
            continue
        name = f"inputs[{i}]"
        if not x.is_floating_point() and not x.is_complex():
            found.append(_wording.integer_gradient(name, str(x.dtype).removeprefix("torch.")))
            continue
        for what, returned, expected in (
            ("dtype", g.dtype, x.dtype),
            ("shape", tuple(g.shape), tuple(x.shape)),
            ("device", g.device, x.device),
        ):
            if returned != expected:
                found.append(_wording.gradient_metadata(name, what, _shown(returned), _shown(expected)))
    return found


def _grads_out(torch: Any, node: Any, outputs: list[Any], cotangents: list[Any]) -> list[Any]:
    """One upstream gradient per output of the Function's forward: the cotangent of each output
    fn returned, zeros for the ones it did not (fn may return a part of the Function's outputs)."""
    supplied = iter(cotangents)
    given = {
        o.output_nr: next(supplied) if o.requires_grad else torch.zeros_like(o)
        for o in outputs
        if isinstance(o, torch.Tensor) and o.grad_fn is node
    }
    metadata = getattr(node, "_input_metadata", ())  # (shape, dtype, device) of every forward output
    return [
        given.get(k, torch.zeros(tuple(m.shape), dtype=m.dtype, device=m.device))
        for k, m in enumerate(metadata)
    ] or [given[k] for k in sorted(given)]


def _array(torch: Any, x: Any) -> np.ndarray:
    """A gradient as a float64 (complex128) host array: ZeroTensors, conjugate views and device
    tensors included."""
    wide = torch.complex128 if x.is_complex() else torch.float64
    return np.asarray(x.detach().to(wide).numpy(force=True))


def _shown(value: Any) -> str:
    return str(value).removeprefix("torch.")


def _vmap(torch: Any, fn: Any, args: list[Any], wrt: list[int], seed: int) -> list[Finding]:
    """vmap of the VJP over a few cotangents against a loop, where torch.func supports fn."""
    from torch.func import vjp, vmap

    primals = [x.detach() if isinstance(x, torch.Tensor) else x for x in args]

    def only_wrt(*chosen: Any) -> Any:
        full = list(primals)
        for i, value in zip(wrt, chosen, strict=True):
            full[i] = value
        return fn(*full)

    try:
        output, pullback = vjp(only_wrt, *[primals[i] for i in wrt])[:2]
        if not isinstance(output, torch.Tensor) or not output.is_floating_point():
            return []
        generator = torch.Generator(device="cpu").manual_seed(seed + 1)
        batch = torch.randn((VMAP_BATCH, *output.shape), generator=generator, dtype=output.dtype).to(
            output.device
        )
        vmapped = vmap(pullback)(batch)
    except Exception:  # no vmap support (a Function without a vmap rule or setup_context)
        return []
    looped = [pullback(batch[k]) for k in range(VMAP_BATCH)]
    stacks = [_array(torch, torch.stack([grads[p] for grads in looped])) for p in range(len(wrt))]
    batches = [_array(torch, v) for v in vmapped]
    whole = sum(norm(x) for x in stacks + batches)
    found = []
    for position, i in enumerate(wrt):
        eps = float(torch.finfo(args[i].dtype).eps)
        # Relative to this input's gradient, but never to less than ε^¼ of the whole VJP: an
        # input whose gradient is exactly 0 in one path and round-off (ε of the VJP) in the other
        # then reads ε^¾, far below √ε, while a vmap error in a small gradient beside large ones
        # (a bias beside its weights) is still measured against its own size.
        own = norm(stacks[position]) + norm(batches[position])
        scale = max(own, eps**0.25 * whole)
        difference = norm(batches[position] - stacks[position]) / scale if scale else 0.0
        if difference > linearity_tolerance(eps):
            found.append(_wording.vmap_differs(f"inputs[{i}]", difference))
    return found
