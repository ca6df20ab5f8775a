"""The JAX adapter: jax.grad (custom_vjp rules included) against numerical gradients in float64."""

import pytest

jax = pytest.importorskip("jax")

import jax.numpy as jnp  # noqa: E402
import numpy as np  # noqa: E402

import gradcheck.jax as gj  # noqa: E402


def make_sin(scale):
    """sin with a hand-written VJP; ``scale`` != 1 plants a bug in it."""

    @jax.custom_vjp
    def sin(x):
        return jnp.sin(x)

    sin.defvjp(lambda x: (jnp.sin(x), x), lambda x, g: (g * jnp.cos(x) * scale,))
    return sin


RNG = np.random.default_rng(0)
PARAMS = {"layers": [{"W": RNG.normal(size=(3, 4))}, {"W": RNG.normal(size=(4, 2))}]}
X = RNG.normal(size=(5, 3))


def loss_with(sin):
    return lambda p: jnp.mean((sin(X @ p["layers"][0]["W"]) @ p["layers"][1]["W"]) ** 2)


def test_a_right_custom_vjp_passes_in_float64_and_x64_is_restored():
    before = jax.config.read("jax_enable_x64")
    report = gj.check(loss_with(make_sin(1.0)), PARAMS)
    assert report.passed, report.summary()
    assert report.settings.noise < 1e-14  # float64 round-off, not float32's 1e-7
    assert jax.config.read("jax_enable_x64") == before


def test_a_wrong_custom_vjp_is_found_in_the_tensor_it_feeds():
    report = gj.check(loss_with(make_sin(1.001)), PARAMS)
    assert not report.passed and report.wrong_tensors == ["layers[0].W"]
    assert report.worst(1)[0].name.startswith("layers[0].W[")


def test_a_given_gradient_is_checked_instead_of_jax_grad():
    loss = loss_with(jnp.sin)
    with jax.enable_x64(True):  # float64 like the check (jax caches X's device copy per dtype)
        good = jax.grad(loss)(PARAMS)
    bad = jax.tree_util.tree_map(lambda g: -g, good)
    assert gj.check(loss, PARAMS, grad=good, batched_loss=None).passed
    assert not gj.check(loss, PARAMS, grad=lambda p: bad).passed


def test_vmapped_and_one_at_a_time_evaluations_agree():
    loss = loss_with(jnp.tanh)
    batched = gj.check(loss, PARAMS)
    serial = gj.check(loss, PARAMS, batched_loss=None)
    np.testing.assert_allclose(batched.numerical, serial.numerical, rtol=1e-7, atol=1e-10)
