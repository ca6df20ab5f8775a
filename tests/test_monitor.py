"""``gc.Monitor``: checks during training, and a bug that only shows once the weights grow."""

import warnings

import numpy as np
import pytest

import gradcheck as gc

rng = np.random.default_rng(0)
X = rng.standard_normal((3, 16))
Y = np.sin(X.sum(axis=0, keepdims=True))


def forward(p):
    a = np.tanh(p["W1"] @ X + p["b1"])
    return p["W2"] @ a + p["b2"], a


def loss(p):
    return 0.5 * float(np.mean((forward(p)[0] - Y) ** 2))


def grad(p, tanh_slope_is_one=False):
    out, a = forward(p)
    dout = (out - Y) / Y.shape[1]
    da = p["W2"].T @ dout
    # The bug: tanh′(z) = 1 − tanh²(z) taken as tanh′(0) = 1. Exact while z ≈ 0.
    dz = da if tanh_slope_is_one else da * (1 - a**2)
    return {
        "W1": dz @ X.T,
        "b1": dz.sum(1, keepdims=True),
        "W2": dout @ a.T,
        "b2": dout.sum(1, keepdims=True),
    }


def buggy_grad(p):
    return grad(p, tanh_slope_is_one=True)


def small_init():
    # Pre-activations of ~1e-6: tanh′ = 1 − 1e-12, below what any check can see.
    r = np.random.default_rng(1)
    return {
        "W1": 1e-6 * r.standard_normal((8, 3)),
        "b1": np.zeros((8, 1)),
        "W2": r.standard_normal((1, 8)),
        "b2": np.zeros((1, 1)),
    }


def train(monitor, gradient, steps=40, lr=0.5):
    p = small_init()
    for _ in range(steps):
        monitor.step(p)
        g = gradient(p)
        p = {k: p[k] - lr * g[k] for k in p}
    return p


def test_the_tanh_bug_passes_at_small_initialisation_even_in_a_full_check():
    report = gc.check(loss, small_init(), buggy_grad)
    assert report.passed, report.summary()


def test_the_monitor_catches_the_tanh_bug_after_the_weights_grow():
    monitor = gc.Monitor(loss, buggy_grad, every=10, components=12)
    with pytest.raises(gc.MonitorFailure) as caught:
        train(monitor, buggy_grad)
    failure = caught.value
    assert failure.step == 10
    assert isinstance(failure, gc.GradientMismatch) and isinstance(failure, gc.GradcheckError)
    assert "W1" in failure.report.wrong_tensors
    assert "failed at training step 10, after passing 1 check(s) (step 0)" in str(failure)
    assert "check again after some training" in str(failure)
    assert [(r.step, r.passed) for r in monitor.history] == [(0, True), (10, False)]
    assert monitor.history[0].difference < 1e-9 < 1e-3 < monitor.history[1].difference


def test_a_correct_gradient_passes_every_check_and_the_history_says_so():
    monitor = gc.Monitor(loss, grad, every=10, components=12)
    train(monitor, grad)
    assert monitor.passed
    assert [r.step for r in monitor.history] == [0, 10, 20, 30]
    assert all(r.passed and any(f.kind == "coverage" for f in r.findings) for r in monitor.history)


def test_warn_mode_warns_once_and_keeps_checking():
    monitor = gc.Monitor(loss, buggy_grad, every=10, components=12, on_failure="warn")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        train(monitor, buggy_grad)
    assert [w.category for w in caught] == [gc.GradcheckWarning]
    assert "training step 10" in str(caught[0].message)
    assert [r.passed for r in monitor.history] == [True, False, False, False]
    assert not monitor.passed


def test_steps_between_checks_cost_nothing():
    calls = {"loss": 0, "grad": 0}

    def counting_loss(p):
        calls["loss"] += 1
        return loss(p)

    def counting_grad(p):
        calls["grad"] += 1
        return grad(p)

    monitor = gc.Monitor(counting_loss, counting_grad, every=5, components=4)
    assert monitor.step(small_init()) is not None
    after_check = dict(calls)
    for _ in range(4):
        assert monitor.step(None) is None  # params are not even read
    assert calls == after_check
    assert monitor.step(small_init()) is not None and calls["grad"] == 2


def test_each_check_samples_different_components():
    monitor = gc.Monitor(loss, grad, every=1, components=6)
    p = small_init()
    first, second = monitor.step(p), monitor.step(p)
    assert not np.array_equal(first.components, second.components)


@pytest.mark.parametrize(
    "options, match",
    [
        ({"every": 0}, r"every=0 \(type=int\)"),
        ({"every": 2.0}, r"every=2.0 \(type=float\)"),
        ({"components": -1}, r"components=-1 \(type=int\)"),
        (
            {"on_failure": "ignore"},
            r"on_failure='ignore' \(type=str\) is not valid; choose one of 'raise', 'warn'",
        ),
        ({"seed": "x"}, r"seed='x' \(type=str\)"),
    ],
)
def test_invalid_options_are_refused_eagerly(options, match):
    with pytest.raises(gc.OptionError, match=match):
        gc.Monitor(loss, grad, **options)


def test_grad_must_be_a_function():
    with pytest.raises(
        gc.OptionError, match=r"(?s)grad=.*\(type=dict\): Monitor needs a function of the params"
    ):
        gc.Monitor(loss, small_init())
