"""A check never changes the caller's arrays: after success, failure, or a loss that raises."""

import numpy as np
import pytest

import gradcheck as gc
from gradcheck import _demo


def snapshot(tree):
    return {k: v.copy() for k, v in tree.items()}


def assert_bit_identical(before, after):
    for key in before:
        assert before[key].tobytes() == after[key].tobytes(), key
        assert before[key].dtype == after[key].dtype


@pytest.mark.parametrize("bugs", [(), ("dW2x2",)])
def test_params_and_grads_unchanged_after_a_check(bugs):
    loss, params, grads = _demo.problem(bugs)
    params_before, grads_before = snapshot(params), snapshot(grads)
    gc.check(loss, params, grads)
    gc.check(loss, params, grads, eps=1e-7, method="central4")
    assert_bit_identical(params_before, params)
    assert_bit_identical(grads_before, grads)


def test_params_unchanged_when_the_loss_raises_midway():
    loss, params, grads = _demo.problem()
    before = snapshot(params)
    calls = {"n": 0}
    midway = gc.check(loss, params, grads).settings.evaluations - 10  # among the components

    def failing(p):
        calls["n"] += 1
        if calls["n"] == midway:
            raise RuntimeError("boom")
        return loss(p)

    with pytest.raises(gc.LossRaisedError, match="boom") as caught:
        gc.check(failing, params, grads)
    assert isinstance(caught.value.__cause__, RuntimeError)
    assert "when" in str(caught.value)  # names the perturbed component
    assert_bit_identical(before, params)


def test_the_loss_never_receives_the_callers_arrays():
    params = {"W": np.ones(3)}
    seen = []
    gc.check(
        lambda p: (seen.append(p["W"]), float(np.sum(p["W"] ** 2)))[1], params, lambda p: {"W": 2 * p["W"]}
    )
    assert all(array is not params["W"] for array in seen)
