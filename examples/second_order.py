"""Check second derivatives: `gc.check_hvp` for a hand-written Hessian-vector product, and
`order=2` for a PyTorch custom Function whose backward must itself be differentiable.

check_hvp differentiates your gradient along a random direction u (the gradient of u·g is H·u),
so check the gradient first (gc.check). It costs two gradient calls per component, or about a
hundred in all with strategy="certify", and names what is wrong: here a missing λI.
"""

import numpy as np
import torch

import gradcheck as gc
import gradcheck.torch

rng = np.random.default_rng(0)
X, y = rng.normal(size=(40, 6)), rng.normal(size=40)
lam = 0.1
w0 = rng.normal(size=6)


def loss(w):  # L2-regularised logistic-style loss
    return np.mean(np.log1p(np.exp(-y * (X @ w)))) + 0.5 * lam * w @ w


def grad(w):
    s = 1 / (1 + np.exp(y * (X @ w)))
    return -(X.T @ (y * s)) / len(y) + lam * w


def hvp(w, v):
    s = 1 / (1 + np.exp(y * (X @ w)))
    return X.T @ (s * (1 - s) * y**2 * (X @ v)) / len(y) + lam * v


def hvp_without_lambda(w, v):
    return hvp(w, v) - lam * v


assert gc.check(loss, w0, grad).passed  # the gradient first: check_hvp trusts it
right = gc.check_hvp(grad, w0, hvp)
print(right.summary())
assert right.passed

wrong = gc.check_hvp(grad, w0, hvp_without_lambda)
print(wrong.summary())
assert wrong.findings[0].kind == "missing_regularization"


class Tanh(torch.autograd.Function):
    """tanh whose backward uses a derivative computed in forward, outside any graph."""

    @staticmethod
    def forward(ctx, x):
        out = torch.tanh(x)
        ctx.derivative = 1 - out * out  # forward runs without a graph: this is a constant
        return out

    @staticmethod
    def backward(ctx, grad):
        return grad * ctx.derivative


x = torch.randn(4, 3, dtype=torch.float64)
assert gradcheck.torch.check_function(Tanh.apply, x).passed  # every first-order check passes
report = gradcheck.torch.check_function(Tanh.apply, x, order=2)  # double backward: rows "hvp:..."
print(report.summary())
assert report.wrong_tensors == ["hvp:inputs[0]"]
assert any(f.kind == "zero_second_derivative" for f in report.findings)
