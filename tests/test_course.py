"""The course's own reference values, reproduced exactly with its fixed ε = 1e-7."""

import numpy as np
import pytest

import gradcheck as gc
from gradcheck import _demo


def test_course_reference_with_both_planted_bugs():
    loss, params, grads = _demo.problem(("dW2x2", "db1-4m"))
    report = gc.check(loss, params, grads, eps=1e-7)
    assert report.difference == pytest.approx(0.2850931567761623, rel=1e-9)
    assert not report.passed
    assert set(report.wrong_gradients) == {"dW2", "db1"}


def test_course_reference_when_fixed():
    loss, params, grads = _demo.problem()
    report = gc.check(loss, params, grads, eps=1e-7)
    assert report.difference == pytest.approx(1.1890913024229996e-07, rel=1e-5)
    assert report.passed  # round-off dominated at ε = 1e-7, and the verdict knows it


def test_auto_steps_bring_the_fixed_network_far_below_the_seed_band():
    loss, params, grads = _demo.problem()
    report = gc.check(loss, params, grads)
    assert report.passed
    assert report.difference < 1e-8


def test_course_one_dimensional_check():
    report = gc.check(lambda theta: theta * 2.0, np.array(4.0), np.array(2.0), eps=1e-7)
    assert report.difference == pytest.approx(2.919335883291695e-10, rel=1e-6)


@pytest.mark.parametrize(
    "bug, gradient",
    [("dW2x2", "dW2"), ("db1-4m", "db1"), ("dW3-sign", "dW3"), ("db2-zero", "db2"), ("dW1-entry", "dW1")],
)
def test_each_planted_demo_bug_names_its_gradient(bug, gradient):
    report = gc.check(*_demo.problem((bug,)))
    assert report.wrong_gradients == [gradient]


def test_cache_entries_in_the_gradients_are_ignored():
    loss, params, grads = _demo.problem()
    assert {"dZ1", "dA1", "dZ2"} <= set(grads)
    assert [row.gradient for row in gc.check(loss, params, grads).tensors] == [
        "dW1",
        "db1",
        "dW2",
        "db2",
        "dW3",
        "db3",
    ]
