"""The JAX adapter by mode and order: custom_jvp rules in forward mode, custom_vjp backwards at
second order (reverse over reverse, with a random direction, never f(x))."""

import pytest

jax = pytest.importorskip("jax")

import jax.numpy as jnp  # noqa: E402
import numpy as np  # noqa: E402

import gradcheck.jax as gj  # noqa: E402

RNG = np.random.default_rng(5)
PARAMS = {"W": RNG.normal(size=(3, 4)), "v": RNG.normal(size=4)}
X = RNG.normal(size=(6, 3))


def sin_vjp(stop_gradient=False):
    """sin with a hand-written VJP; ``stop_gradient`` drops the backward's own derivative."""

    @jax.custom_vjp
    def sin(x):
        return jnp.sin(x)

    def backward(x, g):
        derivative = jnp.cos(x)
        return (g * (jax.lax.stop_gradient(derivative) if stop_gradient else derivative),)

    sin.defvjp(lambda x: (jnp.sin(x), x), backward)
    return sin


def tanh_jvp(scale=1.0):
    """tanh with a hand-written JVP; ``scale`` != 1 plants a bug in it."""

    @jax.custom_jvp
    def tanh(x):
        return jnp.tanh(x)

    tanh.defjvp(
        lambda primals, tangents: (
            jnp.tanh(primals[0]),
            scale * (1 - jnp.tanh(primals[0]) ** 2) * tangents[0],
        )
    )
    return tanh


def loss_with(activation):
    return lambda p: jnp.sum(activation(X @ p["W"]) @ p["v"]) ** 2 / 10


def test_a_custom_vjp_has_no_forward_mode_and_the_report_says_so():
    report = gj.check(loss_with(sin_vjp()), PARAMS)
    assert report.passed
    (note,) = report.findings
    assert note.kind == "not_checked" and "custom_vjp" in note.message and "custom_jvp" in note.message


def test_a_stop_gradient_in_a_custom_vjp_backward_is_caught_at_order_2():
    right = gj.check(loss_with(sin_vjp()), PARAMS, order=2)
    assert right.passed, right.summary()
    wrong = gj.check(loss_with(sin_vjp(stop_gradient=True)), PARAMS, order=2)
    assert not wrong.passed and set(wrong.wrong_tensors) <= {"hvp:W", "hvp:v"} and wrong.wrong_tensors
    assert gj.check(loss_with(sin_vjp(stop_gradient=True)), PARAMS).passed  # first order is right


def test_a_wrong_custom_jvp_is_caught_in_forward_mode():
    right = gj.check(loss_with(tanh_jvp()), PARAMS)
    assert right.passed and [row.name for row in right.tensors] == ["W", "v", "fwd:W", "fwd:v"]
    wrong = gj.check(loss_with(tanh_jvp(2.0)), PARAMS)
    assert not wrong.passed and "fwd:W" in wrong.wrong_tensors


def test_second_order_passes_where_f_is_zero():
    """check_grads(order=2) uses f(x) as the cotangent; at f(x) = 0 it sees nothing. We use a
    random direction, so a loss whose value is 0 at θ is checked like any other."""
    zero_at_theta = lambda p: jnp.sum(jnp.sin(p["v"])) * jnp.sum(p["W"] - PARAMS["W"])  # noqa: E731
    report = gj.check(zero_at_theta, PARAMS, order=2)
    assert report.passed and any(row.name.startswith("hvp:") for row in report.tensors)


def test_a_stop_gradient_bug_is_caught_at_order_2_where_f_is_zero():
    # check_grads(order=2) takes f(x) as the cotangent and sees nothing where f(x) = 0 (here by a
    # constant offset); the random direction of order=2 does not depend on f's value.
    x0 = jnp.array([0.3, -1.1, 0.7])
    offset = float(jnp.sum(jnp.sin(x0) ** 2))
    wrong = gj.check(lambda x: jnp.sum(sin_vjp(stop_gradient=True)(x) ** 2) - offset, x0, order=2)
    assert not wrong.passed and wrong.wrong_tensors == ["hvp:theta"], wrong.summary()
    assert gj.check(lambda x: jnp.sum(sin_vjp()(x) ** 2) - offset, x0, order=2).passed
