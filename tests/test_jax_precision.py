"""The JAX adapter in the precision the code runs in: native bfloat16 leaves, and a custom_vjp
kernel against its plain-JAX reference."""

import pytest

jax = pytest.importorskip("jax")

import jax.numpy as jnp  # noqa: E402
import numpy as np  # noqa: E402

import gradcheck.jax as gj  # noqa: E402

RNG = np.random.default_rng(0)
X = jnp.asarray(RNG.normal(size=(32, 16)), dtype=jnp.bfloat16)
W = jnp.asarray(RNG.normal(size=(16, 8)) / 4, dtype=jnp.bfloat16)


def reference(p):
    """The loss in plain JAX, summed in float32 as a fused kernel would."""
    return jnp.sum(jnp.tanh(X @ p["W"]).astype(jnp.float32) ** 2)


def kernel(factor=1.0):
    """The same loss with a hand-written bfloat16 backward; ``factor`` plants a bug in it."""

    @jax.custom_vjp
    def loss(w):
        return reference({"W": w})

    def backward(w, cotangent):
        t = jnp.tanh(X @ w)
        dw = X.T @ (2 * t * (1 - t * t))  # bfloat16 throughout
        return ((cotangent * factor * dw.astype(jnp.float32)).astype(w.dtype),)

    loss.defvjp(lambda w: (loss(w), w), backward)
    return lambda p: loss(p["W"])


def test_bfloat16_leaves_are_checked_natively_and_x64_is_left_alone():
    before = jax.config.read("jax_enable_x64")
    report = gj.check(kernel(), {"W": W}, precision="native")
    assert report.passed, report.summary()
    assert report.settings.precision == "native bfloat16" and report.settings.strategy == "regression"
    assert jax.config.read("jax_enable_x64") == before
    wrong = gj.check(kernel(1.05), {"W": W}, precision="native")
    assert not wrong.passed and [(f.kind, f.tensor) for f in wrong.findings if f.kind == "scale"] == [
        ("scale", "W")
    ]


def test_auto_promotes_code_that_computes_in_float64_when_given_float64():
    report = gj.check(lambda p: jnp.sum(jnp.tanh(X @ p["W"]) ** 2), {"W": W})
    assert report.passed and report.settings.precision == "float64"
    assert "computes in float64" in report.settings.precision_reason
    cast = gj.check(reference, {"W": W})  # casts its result to float32: checked natively
    assert cast.settings.precision == "native bfloat16"
    assert cast.settings.precision_reason == "f returned float32 for float64 leaves"


def test_a_kernel_against_its_reference():
    right = gj.check(kernel(), {"W": W}, precision="native", reference=reference)
    assert right.passed and right.settings.strategy == "reference", right.summary()
    wrong = gj.check(kernel(1.04), {"W": W}, precision="native", reference=reference)
    assert not wrong.passed and wrong.wrong_tensors == ["W"]
    assert any(f.kind == "scale" for f in wrong.findings), wrong.summary()
