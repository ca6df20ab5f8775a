"""Kinks, ties, float32 near a minimum, dropout: no false alarms, and real bugs still caught."""

import numpy as np
import pytest

import gradcheck as gc
from models import ALL, Dropout
from models.collection import _kinked_residual, _tied_pool

BUG_KINDS = {"scale", "sign", "transpose", "missing_regularization", "zero_gradient", "wrong_components"}
# Models without ReLU or max: any kink they report would be invented.
SMOOTH = ("dense-softmax", "batchnorm", "conv1d", "rnn", "attention", "embedding")


def kinds(report):
    return {(f.kind, f.tensor) for f in report.findings}


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_a_relu_input_of_1e_10_is_a_kink_not_a_bug(dtype):
    model = _kinked_residual(dtype, seed=0)
    report = gc.check(model.loss, model.params(), model.grad)
    assert report.passed, report.summary()
    assert ("kink", "b1") in kinds(report) and not {k for k, _ in kinds(report)} & BUG_KINDS
    assert report.kink[report.layout.tensors[2].offset + 1]  # b1[1] feeds the kinked unit


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_a_bug_elsewhere_in_the_kinked_network_is_caught(dtype):
    model = _kinked_residual(dtype, seed=0)
    report = gc.check(model.loss, model.params(), model.grad_with("dW2-zero"))
    assert not report.passed and ("zero_gradient", "W2") in kinds(report)
    assert ("kink", "b1") in kinds(report)


def test_a_kink_hidden_behind_curvature_is_still_a_kink():
    # Seed 18: the slope jump at the kinked unit (1e-5) is smaller than the curvature term of
    # the one-sided slopes; only extrapolating their difference to h → 0 reveals it.
    model = _kinked_residual(np.float64, seed=18)
    report = gc.check(model.loss, model.params(), model.grad)
    assert report.passed, report.summary()


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_max_pool_ties_are_kinks_and_a_bug_elsewhere_is_caught(dtype):
    model = _tied_pool(dtype, seed=0)
    report = gc.check(model.loss, model.params(), model.grad)
    assert report.passed and ("kink", "W") in kinds(report), report.summary()
    buggy = gc.check(model.loss, model.params(), model.grad_with("dv-sign"))
    assert not buggy.passed and ("sign", "v") in kinds(buggy)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("name", SMOOTH)
def test_smooth_models_report_no_kinks_even_when_buggy(name, dtype):
    model = ALL[name](dtype=dtype)
    for bug in [None, *model.BUGS]:
        report = gc.check(model.loss, model.params(), model.grad_with(bug))
        assert not report.kink.any(), f"{name} {bug}: {report.summary()}"


def test_float32_loss_near_its_minimum_is_no_false_alarm():
    # The loss only moves by a few float32 ulps of its constant part: the first noise probe sees
    # one repeated value and must widen rather than read σ = 0.
    target = np.linspace(-1.0, 1.0, 10)
    loss = lambda p: np.float32(100) + np.sum((p.astype(np.float32) - target.astype(np.float32)) ** 2)
    theta = (target + 1e-3).astype(np.float32)
    report = gc.check(loss, theta, lambda p: 2 * (p - target))
    assert report.passed, report.summary()
    assert [f.kind for f in report.findings] == ["precision"]


def test_float32_saturated_and_regularized_is_no_false_alarm():
    model = ALL["conv1d+l2"](dtype=np.float32, input_scale=1e3)
    assert gc.check(model.loss, model.params(), model.grad).passed


def test_dropout_passes_with_reseed_and_fails_with_a_bug():
    model = Dropout()
    report = gc.check(model.loss, model.params(), model.grad, reseed=model.reseed)
    assert report.passed and report.findings == ()
    buggy = gc.check(model.loss, model.params(), model.grad_with("no-1/keep"), reseed=model.reseed)
    (scale,) = [f for f in buggy.findings if f.kind == "scale"]
    assert scale.tensor == "W1" and scale.value == pytest.approx(0.8, rel=1e-6)
    ignored = gc.check(model.loss, model.params(), model.grad_with("mask-ignored"), reseed=model.reseed)
    assert ("wrong_components", "W1") in kinds(ignored)


def test_dropout_without_reseed_is_refused_with_advice():
    model = Dropout()
    with pytest.raises(gc.NondeterministicLossError, match=r"keep_prob = 1.*reseed="):
        gc.check(model.loss, model.params(), model.grad)
