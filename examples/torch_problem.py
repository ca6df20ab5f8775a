"""A PyTorch problem for `gradcheck run`: a custom autograd.Function inside the loss.

    gradcheck run examples/torch_problem.py          # exit 0: backward is right
    gradcheck run examples/torch_problem.py:buggy    # exit 1: backward returns 2x² instead of 3x²

grad=None means "autograd's gradient": the adapter checks it against finite differences in
float64, so the custom backward is what is being checked.
"""

import torch

import gradcheck as gc


class Cube(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return x**3

    @staticmethod
    def backward(ctx, g):
        (x,) = ctx.saved_tensors
        return 3 * x**2 * g


class BadCube(Cube):
    @staticmethod
    def backward(ctx, g):
        (x,) = ctx.saved_tensors
        return 2 * x**2 * g


def _params():  # float64 (the adapter would copy float32 to float64 anyway)
    g = torch.Generator().manual_seed(0)
    return {
        "W": torch.randn(4, 3, generator=g, dtype=torch.float64),
        "b": torch.randn(4, generator=g, dtype=torch.float64),
    }


x = torch.linspace(-1, 1, 3, dtype=torch.float64)


def problem():
    return gc.Problem(loss=lambda p: Cube.apply(p["W"] @ x + p["b"]).sum(), params=_params(), grad=None)


def buggy():
    return gc.Problem(loss=lambda p: BadCube.apply(p["W"] @ x + p["b"]).sum(), params=_params(), grad=None)
