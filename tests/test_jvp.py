"""``gc.check_jvp``: forward-mode rules against differences of f, output by output, laid out by
Jacobian block; planted bugs named (a factor, a missing tanh′, a dropped tangent), linearity and
the agreement with a VJP; right rules pass on 20 seeds."""

import numpy as np
import pytest

import gradcheck as gc

RNG = np.random.default_rng(2)
W = RNG.standard_normal((4, 3))
B = RNG.standard_normal(4)
INPUTS = {"x": RNG.standard_normal(3), "W": W, "b": B}


def layer(p):
    return np.tanh(p["W"] @ p["x"] + p["b"])


def layer_jvp(p, t, bug=None):
    z = p["W"] @ p["x"] + p["b"]
    dz = t["W"] @ p["x"] + p["W"] @ t["x"] + t["b"]
    if bug == "twice":
        dz = 2 * dz
    elif bug == "no tanh'":
        return dz
    elif bug == "drops W":
        dz = p["W"] @ t["x"] + t["b"]
    elif bug == "normalised":
        dz = dz / np.linalg.norm(dz)
    return (1 - np.tanh(z) ** 2) * dz


def layer_vjp(p, c, bug=None):
    g = c * (1 - np.tanh(p["W"] @ p["x"] + p["b"]) ** 2)
    return {"x": (2 if bug else 1) * p["W"].T @ g, "W": np.outer(g, p["x"]), "b": g}


def check(bug=None, **options):
    return gc.check_jvp(layer, INPUTS, lambda p, t: layer_jvp(p, t, bug), **options)


def blocks(report):
    return [row.name for row in report.tensors]


@pytest.mark.parametrize("strategy", ["full", "certify"])
def test_a_right_rule_passes_on_20_seeds_with_a_row_per_jacobian_block(strategy):
    for seed in range(20):
        report = check(strategy=strategy, seed=seed, vjp=layer_vjp)
        assert report.passed and report.findings == (), report.summary()
    suffix = "" if strategy == "full" else "·v"
    assert blocks(report) == [f"∂out/∂{name}{suffix}" for name in ("x", "W", "b")]
    assert report.settings.checked == "JVPs" and "JVPs are correct" in str(report)


@pytest.mark.parametrize("strategy", ["full", "certify"])
def test_a_rule_twice_too_large_is_a_scale_in_every_block(strategy):
    report = check("twice", strategy=strategy)
    scales = [f for f in report.findings if f.kind == "scale"]
    assert not report.passed and len(scales) == 3 and all(f.value == pytest.approx(2.0) for f in scales)
    assert "the analytic JVP ∂out/∂x" in scales[0].message


@pytest.mark.parametrize("strategy", ["full", "certify"])
def test_a_missing_tanh_prime_is_named(strategy):
    report = check("no tanh'", strategy=strategy)
    assert not report.passed
    assert {f.kind for f in report.findings} == {"activation"}
    assert "misses tanh's derivative" in report.findings[0].message and "1 − y²" in report.findings[0].message


def test_a_dropped_input_tangent_is_named_by_its_block():
    report = check("drops W")
    assert report.wrong_tensors == ["∂out/∂W"]
    (finding,) = report.findings
    assert finding.kind == "zero_derivative" and "drop this input's tangent" in finding.message


def test_a_rule_that_is_not_linear_in_the_tangent_fails():
    report = check("normalised")
    assert any(
        f.kind == "linearity" and "does not scale with the tangent" in f.message for f in report.findings
    )


def test_forward_and_reverse_rules_must_agree():
    report = check(vjp=lambda p, c: layer_vjp(p, c, bug="x twice"))
    assert not report.passed
    (finding,) = report.findings
    assert finding.kind == "consistency" and "⟨u, jvp(v)⟩" in finding.message


def test_one_array_in_and_several_out():
    def f(x):
        return np.sin(x), {"square": x**2}

    def jvp(x, t):
        return np.cos(x) * t, {"square": 2 * x * t}

    report = gc.check_jvp(f, RNG.standard_normal(5), jvp)
    assert report.passed and blocks(report) == ["∂out[0]/∂x", "∂out[1].square/∂x"]


def test_float32_inputs_pass():
    inputs = {k: v.astype(np.float32) for k, v in INPUTS.items()}
    assert gc.check_jvp(layer, inputs, layer_jvp).passed


def test_a_relu_kink_inside_the_step_is_left_out():
    x = np.array([-1.0, 0.0, 0.5, 2.0])
    report = gc.check_jvp(lambda v: np.maximum(v, 0), x, lambda v, t: (v > 0) * t)
    assert report.passed and report.tensors[0].kinks >= 1


def test_bad_input_is_named():
    with pytest.raises(gc.LossValueError, match="not deterministic"):
        gc.check_jvp(lambda x: x * RNG.random(), np.ones(2), lambda x, t: t)
    with pytest.raises(gc.LossValueError, match="jvp returned out with shape"):
        gc.check_jvp(np.sin, np.ones(3), lambda x, t: t[:2])
    with pytest.raises(gc.OptionError, match="jvp=.*not callable"):
        gc.check_jvp(np.sin, np.ones(3), None)
