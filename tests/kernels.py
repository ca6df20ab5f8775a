"""Low-precision kernels with plantable gradient bugs: the suite of issue 11's targets.

Each kernel is a ``torch.autograd.Function`` whose forward and backward compute in the dtype of
their inputs (or in the dtype they cast to, ``cast=``), as fused kernels do; its backward is
autograd on the same low-precision forward, then the planted bug: a factor on one input's
gradient (``scale``), one row of it zeroed (``zero_row``). ``only=`` makes the forward refuse
every other dtype, as a Triton or CUDA kernel written for float32 does.

The functions (dense, layer norm, softmax cross-entropy, attention-like, 2-D convolution) each
come with inputs drawn from a seed; ``reference`` is the same function in plain PyTorch, for
the kernel-against-reference check. Shared by the tests and ``benchmarks/precision.py``.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Optional

import torch
import torch.nn.functional as F


def dense(x, w, b):
    return torch.tanh(x @ w + b)


def layer_norm(x, gamma, beta):
    return F.layer_norm(x, (x.shape[-1],), gamma, beta, eps=1e-5)


def softmax_cross_entropy(logits, w):
    """Cross-entropy of (logits @ w) against fixed labels: a float32 (or float64) scalar, as fused
    loss kernels return it whatever the dtype of the logits."""
    scores = logits @ w
    labels = torch.arange(scores.shape[0], device=scores.device) % scores.shape[1]
    return F.cross_entropy(scores.float() if scores.dtype != torch.float64 else scores, labels)


def attention(q, k, v):
    scale = 1.0 / math.sqrt(q.shape[-1])
    return torch.softmax((q @ k.transpose(-1, -2)) * scale, dim=-1) @ v


def conv(x, w):
    return F.conv2d(x, w, padding=1)


@dataclass(frozen=True)
class Case:
    """One kernel: its function, how its inputs are drawn, and where a bug is planted by default."""

    name: str
    fn: Callable[..., Any]
    shapes: tuple[tuple[int, ...], ...]
    scales: tuple[float, ...]
    weight: int  # the input a scale bug goes into (the kernel's weight)
    rows: int  # the input a zeroed row goes into (2-D or more)


CASES = {
    "dense": Case("dense", dense, ((16, 32), (32, 24), (24,)), (1.0, 0.18, 0.1), 1, 1),
    "layer_norm": Case("layer_norm", layer_norm, ((16, 32), (32,), (32,)), (1.0, 0.2, 0.1), 1, 0),
    "softmax_cross_entropy": Case(
        "softmax_cross_entropy", softmax_cross_entropy, ((16, 32), (32, 10)), (1.0, 0.2), 1, 1
    ),
    "attention": Case("attention", attention, ((2, 8, 16), (2, 8, 16), (2, 8, 16)), (1.0, 1.0, 1.0), 2, 2),
    "conv": Case("conv", conv, ((2, 3, 8, 8), (4, 3, 3, 3)), (1.0, 0.2), 1, 1),
}


def inputs(case: Case, dtype: Any, seed: int = 0, device: str = "cpu") -> list[torch.Tensor]:
    """The kernel's inputs, drawn in float64 from ``seed`` and rounded to ``dtype``."""
    generator = torch.Generator().manual_seed(seed)
    drawn = [
        (scale * torch.randn(shape, generator=generator, dtype=torch.float64)).to(dtype=dtype, device=device)
        for shape, scale in zip(case.shapes, case.scales, strict=True)
    ]
    return [t.requires_grad_(True) for t in drawn]


def kernel(
    fn: Callable[..., Any],
    *,
    scale: Optional[tuple[int, float]] = None,
    zero_row: Optional[tuple[int, int]] = None,
    only: Optional[torch.dtype] = None,
    cast: Optional[torch.dtype] = None,
) -> Callable[..., Any]:
    """``fn`` as a Function computing in its inputs' dtype (or ``cast``), with a planted bug."""

    class Kernel(torch.autograd.Function):
        @staticmethod
        def forward(ctx, *args):
            if only is not None and any(a.dtype != only for a in args):
                raise TypeError(f"this kernel supports {only} only, got {[str(a.dtype) for a in args]}")
            ctx.save_for_backward(*args)
            with torch.no_grad():
                return fn(*(a.to(cast) if cast is not None else a for a in args))

        @staticmethod
        def backward(ctx, grad):
            saved = [a.detach().requires_grad_(True) for a in ctx.saved_tensors]
            with torch.enable_grad():
                out = fn(*(a.to(cast) if cast is not None else a for a in saved))
                grads = list(torch.autograd.grad(out, saved, grad.to(out.dtype)))
            if scale is not None:
                index, factor = scale
                grads[index] = grads[index] * factor
            if zero_row is not None:
                index, row = zero_row
                grads[index] = grads[index].clone()
                grads[index][row] = 0
            return tuple(grads)

    return Kernel.apply
