"""Check forward-mode rules: `gc.check_jvp` for a NumPy layer, `modes=` for a custom Function.

A JVP maps a tangent of the inputs to a tangent of the outputs. gc.check_jvp compares it with
central differences of f, output by output, with a row per Jacobian block ∂out/∂x, and names
what is wrong: here a rule that forgets tanh′.
"""

import numpy as np
import torch

import gradcheck as gc
import gradcheck.torch

rng = np.random.default_rng(0)
inputs = {"x": rng.normal(size=3), "W": rng.normal(size=(4, 3)), "b": rng.normal(size=4)}


def layer(p):
    return np.tanh(p["W"] @ p["x"] + p["b"])


def layer_jvp(p, t):
    z = p["W"] @ p["x"] + p["b"]
    return (1 - np.tanh(z) ** 2) * (t["W"] @ p["x"] + p["W"] @ t["x"] + t["b"])


def forgets_tanh_prime(p, t):
    return t["W"] @ p["x"] + p["W"] @ t["x"] + t["b"]


def layer_vjp(p, c):  # with the reverse rule too, ⟨u, jvp(v)⟩ = ⟨vjp(u), v⟩ is checked, no step
    g = c * (1 - np.tanh(p["W"] @ p["x"] + p["b"]) ** 2)
    return {"x": p["W"].T @ g, "W": np.outer(g, p["x"]), "b": g}


right = gc.check_jvp(layer, inputs, layer_jvp, vjp=layer_vjp)
print(right.summary())
assert right.passed

wrong = gc.check_jvp(layer, inputs, forgets_tanh_prime)
print(wrong.summary())
assert not wrong.passed and {f.kind for f in wrong.findings} == {"activation"}


class Cube(torch.autograd.Function):
    """x³ with a backward and a forward-mode rule (jvp); the jvp is 2× wrong."""

    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        ctx.x = x
        return x**3

    @staticmethod
    def backward(ctx, grad):
        (x,) = ctx.saved_tensors
        return 3 * x**2 * grad

    @staticmethod
    def jvp(ctx, tangent):
        return 6 * ctx.x**2 * tangent


# By default every mode the Function supports is checked against the same finite differences:
# the backward passes, the forward mode (rows "fwd:...") does not.
report = gradcheck.torch.check_function(Cube.apply, torch.randn(5, dtype=torch.float64))
print(report.summary())
assert report.wrong_tensors == ["fwd:inputs[0]"] and report.findings[0].kind == "scale"
