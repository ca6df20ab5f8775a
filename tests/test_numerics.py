"""Finite differences against known derivatives: the seeds' θ³, closed forms, complex step."""

import numpy as np
import pytest

import gradcheck as gc

METHODS = ["forward", "central", "central4", "richardson", "complex"]


def cube(theta):
    return theta**3


@pytest.mark.parametrize("eps, expected", [(0.01, 3.0001), (0.001, 3.000001)])
def test_seed_example_theta_cubed(eps, expected):
    # (1.01³ − 0.99³)/0.02 = 3.0001: the seed's worked example, error 1e-4 = ε².
    numerical = gc.numerical_gradient(cube, np.array(1.0), eps=eps)
    assert float(numerical) == pytest.approx(expected, rel=1e-12)


@pytest.mark.parametrize("method, order", [("forward", 1), ("central", 2), ("central4", 4)])
def test_observed_convergence_order(method, order):
    steps = np.array([1e-1, 5e-2, 2.5e-2])
    errors = [
        abs(float(gc.numerical_gradient(np.exp, np.array(0.3), method=method, eps=h)) - np.exp(0.3))
        for h in steps
    ]
    slopes = np.diff(np.log(errors)) / np.diff(np.log(steps))
    assert slopes == pytest.approx([order, order], abs=0.15)


def smooth_loss(p, xp=np):
    return xp.sum(xp.sin(p["w"]) * xp.exp(p["v"])) + xp.sum(p["w"] ** 2) + xp.prod(xp.cos(p["v"]))


def smooth_grad(p):
    w, v = p["w"], p["v"]
    cosv = np.cos(v)
    prod_others = np.array([np.prod(np.delete(cosv, i)) for i in range(v.size)])
    return {
        "w": np.cos(w) * np.exp(v) + 2 * w,
        "v": np.sum(np.sin(w), axis=0) * np.exp(v) - np.sin(v) * prod_others,
    }


@pytest.fixture
def smooth_params():
    rng = np.random.default_rng(0)
    return {"w": rng.normal(size=(4, 3)), "v": rng.normal(size=3)}


@pytest.mark.parametrize("method", METHODS)
def test_every_method_matches_the_closed_form(method, smooth_params):
    numerical = gc.numerical_gradient(smooth_loss, smooth_params, method=method)
    exact = smooth_grad(smooth_params)
    # Each method's accuracy at its automatic step: ε^(p/(p+1)) for order p, ε for complex step.
    accuracy = {"forward": 1e-6, "central": 1e-9, "central4": 1e-11, "richardson": 1e-11, "complex": 1e-14}
    for key in exact:
        np.testing.assert_allclose(numerical[key], exact[key], atol=accuracy[method] * 10)


@pytest.mark.parametrize("method", METHODS)
def test_every_method_passes_right_and_catches_a_small_bug(method, smooth_params):
    assert gc.check(smooth_loss, smooth_params, smooth_grad, method=method).passed
    wrong = smooth_grad(smooth_params)
    wrong["v"][1] *= 1 + 1e-4
    report = gc.check(smooth_loss, smooth_params, wrong, method=method)
    assert not report.passed
    assert report.wrong_tensors == ["v"]
    assert report.worst(1)[0].name == "v[1]"


def test_detection_limit_is_honest(smooth_params):
    report = gc.check(smooth_loss, smooth_params, smooth_grad)
    limit = next(row.detection_limit for row in report.tensors if row.name == "w")
    wrong = smooth_grad(smooth_params)
    wrong["w"] = wrong["w"] * (1 + 3 * limit)
    assert not gc.check(smooth_loss, smooth_params, wrong).passed


def test_complex_step_needs_a_loss_that_accepts_complex_input(smooth_params):
    def real_only(p):
        return np.real(np.sum(p["w"]))  # silently drops the imaginary part

    with pytest.raises(gc.ComplexStepError, match="method='central'"):
        gc.check(real_only, smooth_params, smooth_grad, method="complex")


@pytest.mark.parametrize("scale, offset", [(1e-8, 0.0), (1.0, 1e6), (1e4, 0.0)])
def test_large_loss_offset_and_tiny_scale_need_no_tolerance(smooth_params, scale, offset):
    report = gc.check(
        lambda p: scale * smooth_loss(p) + offset,
        smooth_params,
        lambda p: {k: scale * g for k, g in smooth_grad(p).items()},
    )
    assert report.passed, report.summary()


def test_float32_loss_passes_and_says_so_while_a_one_percent_bug_fails():
    rng = np.random.default_rng(1)
    x = rng.normal(size=(20, 64)).astype(np.float32)
    y = rng.normal(size=(1, 64)).astype(np.float32)
    params = {"W": (0.3 * rng.normal(size=(1, 20))).astype(np.float32)}

    def loss(p):
        return np.mean((np.tanh(p["W"].astype(np.float32) @ x) - y) ** 2)

    def grad(p, factor=1.0):
        a = np.tanh(p["W"].astype(np.float32) @ x)
        return {"W": (factor * (2 * (a - y) * (1 - a * a)) @ x.T / x.shape[1]).astype(np.float32)}

    report = gc.check(loss, params, grad)
    assert report.passed
    assert [f.kind for f in report.findings] == ["precision"]
    assert 1e-5 < report.detection_limit < 1e-2
    assert not gc.check(loss, params, lambda p: grad(p, 1.01)).passed


def test_a_relu_kink_is_recognised_and_a_bug_elsewhere_still_caught():
    x = np.array([1e-10, -0.5, 2.0, -1e-11, 0.7])

    def loss(p):
        return float(np.sum(3.0 * np.maximum(p["x"], 0.0) + p["x"] ** 2))

    right = {"x": 3.0 * (x > 0) + 2 * x}
    report = gc.check(loss, {"x": x}, right)
    assert report.passed
    assert report.kink.tolist() == [True, False, False, True, False]
    assert [f.kind for f in report.findings if f.kind == "kink"] == ["kink"]
    wrong = {"x": right["x"] + np.array([0, 0, 0.01, 0, 0])}
    report = gc.check(loss, {"x": x}, wrong)
    assert not report.passed and report.worst(1)[0].name == "x[2]"


def test_relative_difference_is_the_seed_formula():
    assert gc.relative_difference([0.0, 0.0], [0.0, 0.0]) == 0.0
    assert gc.relative_difference([3.0, 4.0], [3.0, 4.0]) == 0.0
    assert gc.relative_difference([1.0, 0.0], [-1.0, 0.0]) == pytest.approx(1.0)
    assert gc.relative_difference([3.0], [3.0001]) == pytest.approx(1e-4 / 6.0001)


def test_a_float32_gradient_beside_float64_ones_keeps_its_own_rounding_allowance():
    # The loss computes in float64; the gradient of b was stored in float32 (rounding 6e-8 relative).
    rng = np.random.default_rng(3)
    params = {"a": rng.normal(size=50), "b": rng.normal(size=50)}

    def loss(p):
        return float(np.sum(np.exp(p["a"])) + np.sum(np.sin(p["b"]) * 1e3))

    grad = {"a": np.exp(params["a"]), "b": (1e3 * np.cos(params["b"])).astype(np.float32)}
    assert gc.check(loss, params, grad).passed
    wrong = {**grad, "b": grad["b"] * np.float32(1.001)}
    assert gc.check(loss, params, wrong).wrong_tensors == ["b"]


@pytest.mark.parametrize("method", ["central", "central4", "richardson"])
def test_a_cubic_near_its_inflection_is_no_kink(method):
    # Found by Hypothesis: θ³ at θ = 0.035 (float32, so steps of ~0.03 for central4) changes its
    # curvature by O(1) across the step; that is smooth, and a wrong gradient there must fail.
    theta = np.array([0.0354649], dtype=np.float32)

    def loss(p):  # computed in float32, like the model: noise ~1e-8 relative, so large steps
        return np.sum(np.float32(0.7) * p.astype(np.float32) ** 3 + np.float32(0.8))

    right = 2.1 * theta.astype(np.float64) ** 2
    report = gc.check(loss, theta, right, method=method)
    assert report.passed and not report.kink.any()
    wrong = right * (1 - 2 * report.detection_limit)
    assert not gc.check(loss, theta, wrong, method=method).passed
