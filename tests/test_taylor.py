"""``gc.taylor_test``: rates 2 (right gradient), 3 (right HVP), 1 (wrong), read on the asymptotic
window just above the round-off floor; its report as text, JSON and a self-contained HTML page."""

import json

import numpy as np
import pytest

import gradcheck as gc
from gradcheck import _demo

RNG = np.random.default_rng(11)
A = RNG.standard_normal((50, 50)) / 7
B = RNG.standard_normal(50)
W = RNG.standard_normal(50)


def loss(w):
    return float(np.sum(np.tanh(A @ w)) + 0.5 * w @ w + B @ w)


def grad(w):
    return A.T @ (1 - np.tanh(A @ w) ** 2) + w + B


def hvp(w, v):
    t = np.tanh(A @ w)
    return A.T @ (-2 * t * (1 - t**2) * (A @ v)) + v


def one_percent_off(w):
    """A 1 % error in one of the 50 gradient components (the case a 4-step ladder misses)."""
    return grad(w) * np.where(np.arange(50) == 7, 1.01, 1.0)


def test_the_course_network_falls_at_rate_2_when_fixed_and_1_with_its_two_bugs():
    right = gc.taylor_test(*_demo.problem())
    assert right.passed and all(abs(rate - 2.0) <= 0.1 for rate in right.rates), right.rates
    wrong = gc.taylor_test(*_demo.problem(("dW2x2", "db1-4m")))
    assert not wrong.passed and all(abs(rate - 1.0) <= 0.1 for rate in wrong.rates), wrong.rates
    assert [f.kind for f in wrong.findings] == ["taylor_rate"] * 3
    assert "the gradient is wrong along δ" in wrong.findings[0].message


def test_a_one_percent_error_in_one_of_50_components_fails_in_every_direction_on_20_seeds():
    for seed in range(20):
        assert gc.taylor_test(loss, W, grad, seed=seed, directions=5).passed, seed
        report = gc.taylor_test(loss, W, one_percent_off, seed=seed, directions=5)
        assert not any(d.passed for d in report.directions), (seed, report.rates)


def test_with_the_hvp_the_remainder_falls_at_rate_3():
    report = gc.taylor_test(loss, W, grad, hvp=hvp)
    assert report.passed and all(abs(rate - 3.0) <= 0.1 for rate in report.rates), report.rates
    assert all(abs(rate - 2.0) <= 0.1 for rate in report.gradient_rates)


def test_an_hvp_without_its_lambda_i_falls_at_rate_2_and_is_named():
    report = gc.taylor_test(loss, W, grad, hvp=lambda w, v: hvp(w, v) - 0.01 * v)
    assert not report.passed and all(abs(rate - 2.0) <= 0.1 for rate in report.rates)
    assert "the HVP is wrong along δ" in report.findings[0].message


def test_an_error_just_above_the_stated_detection_limit_is_caught():
    delta = RNG.standard_normal(50)
    right = gc.taylor_test(loss, W, grad, direction=delta)
    limit = right.directions[0].detection_limit
    assert right.passed and right.settings.given and 0 < limit < np.inf
    bump = 1.5 * limit * delta / (delta @ delta)  # an error of 1.5 × the limit along δ only
    wrong = gc.taylor_test(loss, W, lambda w: grad(w) + bump, direction=delta)
    assert not wrong.passed, (limit, wrong.rates)


def test_a_linear_loss_stays_at_the_floor_and_passes_inconclusively():
    report = gc.taylor_test(lambda w: float(B @ w), W, lambda w: B)
    assert report.passed and all(np.isnan(report.rates)) and all(d.inconclusive for d in report.directions)


def test_the_callers_arrays_are_untouched_and_pytrees_work():
    params = {"W1": RNG.standard_normal((3, 4)), "b1": np.zeros(3)}
    before = {k: v.copy() for k, v in params.items()}

    def f(p):
        return float(np.sum(np.tanh(p["W1"] @ np.ones(4) + p["b1"]) ** 2))

    def g(p):
        t = np.tanh(p["W1"] @ np.ones(4) + p["b1"])
        d = 2 * t * (1 - t**2)
        return {"dW1": np.outer(d, np.ones(4)), "db1": d}

    assert gc.taylor_test(f, params, g).passed
    assert all(np.array_equal(params[k], before[k]) for k in params)


def test_text_json_and_html(tmp_path):
    report = gc.taylor_test(*_demo.problem(("dW2x2",)))
    text = str(report)
    assert "✘ Taylor test FAILED" in text and "rates of the remainders" in text and "step by step" in text
    again = gc.TaylorReport.from_dict(json.loads(report.to_json()))
    assert str(again) == text and again.rates == report.rates
    path = tmp_path / "taylor.html"
    report.to_html(path)
    page = path.read_text(encoding="utf-8")
    assert page.count("<svg") >= 3 and "Taylor test FAILED" in page
    assert "http" not in page.replace('xmlns="http://www.w3.org/2000/svg"', "")  # nothing fetched


def test_a_failed_taylor_test_raises_on_request():
    with pytest.raises(gc.GradientMismatch, match="Taylor test FAILED"):
        gc.taylor_test(loss, W, one_percent_off).raise_for_failure()


def test_options_are_validated():
    with pytest.raises(gc.OptionError, match="directions=0"):
        gc.taylor_test(loss, W, grad, directions=0)
    with pytest.raises(gc.StructureError, match="direction is zero"):
        gc.taylor_test(loss, W, grad, direction=np.zeros(50))
