"""Check a JAX function with a custom_vjp rule, with `gradcheck.jax`.

Install the extra first: pip install "gradcheck[jax]". The analytic side is jax.grad(f), which
runs the custom rule; the numerics run in float64 (x64 is enabled only during the check).
"""

import jax
import jax.numpy as jnp

import gradcheck.jax


def make_softplus(derivative):
    @jax.custom_vjp
    def softplus(x):
        return jnp.log1p(jnp.exp(x))

    softplus.defvjp(lambda x: (softplus(x), x), lambda x, g: (g * derivative(x),))
    return softplus


right = make_softplus(jax.nn.sigmoid)
wrong = make_softplus(lambda x: jnp.exp(x))  # the derivative of exp, not of log1p(exp)

params = {"w": jnp.linspace(-2.0, 2.0, 7), "b": jnp.array(0.5)}


def loss_with(softplus):
    return lambda p: jnp.sum(softplus(p["w"] + p["b"]) ** 2)


assert gradcheck.jax.check(loss_with(right), params).passed
report = gradcheck.jax.check(loss_with(wrong), params)
print(report.summary())
assert not report.passed
