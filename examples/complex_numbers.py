"""Complex numbers: a complex layer in PyTorch, a JAX function of complex parameters.

A complex parameter z is checked as two real ones, z.real and z.imag, and its gradient is read
in PyTorch's convention ∂J/∂Re z + i·∂J/∂Im z (JAX's jax.grad returns the conjugate; the JAX
adapter converts). The classic bug, a missing conjugate in a backward, is caught in both.
"""

import jax.numpy as jnp
import torch

import gradcheck.jax
import gradcheck.torch


class ComplexLinear(torch.autograd.Function):
    """y = W x for complex W, x. PyTorch's backward conjugates: dW = g xᴴ, dx = Wᴴ g."""

    forget_conjugate = False

    @staticmethod
    def forward(ctx, w, x):
        ctx.save_for_backward(w, x)
        return w @ x

    @staticmethod
    def backward(ctx, g):
        w, x = ctx.saved_tensors
        if ComplexLinear.forget_conjugate:
            return torch.outer(g, x), w.T @ g  # the bug: x and w not conjugated
        return torch.outer(g, x.conj()), w.conj().T @ g


w = torch.randn(3, 2, dtype=torch.complex128, requires_grad=True)
x = torch.randn(2, dtype=torch.complex128, requires_grad=True)
right = gradcheck.torch.check_function(ComplexLinear.apply, w, x)
print(right.summary())
assert right.passed

ComplexLinear.forget_conjugate = True
wrong = gradcheck.torch.check_function(ComplexLinear.apply, w, x)
print(wrong.summary())
assert not wrong.passed and "inputs[0].imag" in wrong.wrong_tensors


# JAX: a real loss of complex parameters; jax.grad gives ∂f/∂x − i·∂f/∂y, converted before comparing.
a = jnp.array([[1.0 + 2.0j, -0.5j], [0.3, 2.0 - 1.0j]])


def f(p):
    return jnp.sum(jnp.abs(a @ p["z"] - 1.0) ** 2)


params = {"z": jnp.array([0.5 + 0.5j, -1.0 + 0.25j])}
report = gradcheck.jax.check(f, params)
print(report.summary())
assert report.passed

# A hand-written gradient is read in JAX's convention by gradcheck.jax: the conjugate of
# 2·Aᴴ(Az − 1) passes, and PyTorch's convention (not conjugated) is named a conjugate.
steepest = lambda p: {"z": 2 * a.conj().T @ (a @ p["z"] - 1.0)}  # noqa: E731
assert gradcheck.jax.check(f, params, grad=lambda p: {"z": jnp.conj(steepest(p)["z"])}).passed
mixed_up = gradcheck.jax.check(f, params, grad=steepest)
print(mixed_up.summary())
assert [finding.kind for finding in mixed_up.findings] == ["conjugate"]
