"""A JAX problem for `gradcheck run` (grad=None: jax.grad, which runs the custom_vjp rule).

gradcheck run examples/jax_problem.py
"""

import jax
import jax.numpy as jnp

import gradcheck as gc


@jax.custom_vjp
def softplus(x):
    return jnp.log1p(jnp.exp(x))


def fwd(x):
    return softplus(x), x


def bwd(x, g):
    return (g * jax.nn.sigmoid(x),)


softplus.defvjp(fwd, bwd)


def problem():
    params = {"w": jnp.linspace(-1.0, 1.0, 5)}
    return gc.Problem(loss=lambda p: jnp.sum(softplus(p["w"]) ** 2), params=params, grad=None)
