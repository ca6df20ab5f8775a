"""Jumps of the loss: one inside a step (a discontinuity, left out like a kink), a staircase (said
to be one, never a bug finding), and a discontinuous input that must not blind the others."""

import numpy as np
import pytest

import gradcheck as gc
from gradcheck._discontinuity import one_jump

X = np.array([0.3, -1.2, 2.0 + 2.0**-21, 0.7, -0.4])  # X[2] sits 5e-7 above the jump of floor at 2


def smooth_plus_steps(p):
    """A smooth loss plus a step function of each entry: its derivative is the smooth one's."""
    x = p["x"]
    return float(np.sum(x**3) + 0.5 * np.sum(np.floor(x)))


def smooth_gradient(p):
    return {"x": 3 * p["x"] ** 2}


def test_one_jump_fits_five_values_with_a_step_and_not_a_kink():
    h = 2.0**-10
    offsets = np.array([-h, -h / 2, 0.0, h / 2, h])
    smooth = 2.0 * offsets + offsets**2
    found = one_jump(offsets, smooth + 0.3 * (offsets < -h / 4), sigma=1e-16)
    assert found is not None and found.interval == 1
    assert found.slope == pytest.approx(2.0) and found.size == pytest.approx(0.3)
    assert one_jump(offsets, smooth, sigma=1e-16) is None  # smooth: a cubic fits
    assert one_jump(offsets, smooth + 5.0 * np.maximum(offsets, 0), sigma=1e-16) is None  # a kink


def test_a_kink_in_a_noisy_loss_is_not_taken_for_a_jump():
    """fractional_max_pool3d with steps of 0.25 (a noisy loss): flat, then two slopes. A jump model
    fits the far point within 8σ, but the 'jump' is no larger than the slopes move J: a kink."""
    offsets = np.array([-0.25, -0.125, 0.0, 0.125, 0.25])
    values = np.array([0.03488913, 0.03488913, 0.0, -0.06695867, -0.05784818])
    assert one_jump(offsets, values, sigma=6.8e-4) is None


def test_a_jump_inside_the_step_is_a_discontinuity_left_out_of_the_verdict():
    report = gc.check(smooth_plus_steps, {"x": X.copy()}, smooth_gradient, eps=2.0**-18)
    assert report.passed, report.summary()
    (finding,) = [f for f in report.findings if f.kind == "discontinuity"]
    assert finding.components == ("x[2]",) and "jump of the loss" in finding.message
    assert report.tensors[0].kinks == 1


def test_a_wrong_gradient_beside_a_jump_is_still_caught():
    wrong = lambda p: {"x": 3 * p["x"] ** 2 * np.where(np.arange(5) == 2, 1.5, 1.0)}  # noqa: E731
    report = gc.check(smooth_plus_steps, {"x": X.copy()}, wrong, eps=2.0**-18)
    assert not report.passed and report.wrong_tensors == ["x"]
    assert not [f for f in report.findings if f.kind == "discontinuity"]


def test_a_staircase_is_said_to_be_one_and_never_gets_a_bug_finding():
    rng = np.random.default_rng(1)
    x, v = 3 * rng.normal(size=20), rng.normal(size=20)
    report = gc.check(lambda p: float(np.round(p["x"], 3) @ v), {"x": x}, {"x": np.zeros(20)})
    assert report.passed, report.summary()
    kinds = [f.kind for f in report.findings]
    assert "discontinuity" in kinds and not {"zero_gradient", "wrong_components", "precision"} & set(kinds)
    (stairs,) = [f for f in report.findings if f.kind == "discontinuity"]
    assert "piecewise constant along x" in stairs.message and "nothing could be detected" in stairs.message
    assert report.detection_limit == np.inf


def test_labels_that_jump_do_not_blind_the_check_of_the_other_input():
    """Labels of ±1 that require grad spoil one noise estimate for the whole loss; measured along
    each tensor, a 1 % error in the other input's gradient is caught."""
    rng = np.random.default_rng(2)
    x, y = rng.normal(size=12), np.where(rng.random(12) < 0.5, -1.0, 1.0)

    def hinge(p):  # y = 1: x; y = -1: max(0, 1 - x); anything else: 0 (a jump off ±1)
        return float(
            np.mean(np.where(p["y"] == 1, p["x"], 0) + np.where(p["y"] == -1, np.maximum(0, 1 - p["x"]), 0))
        )

    def gradient(p, error=1.0):
        gx = np.where(p["y"] == 1, 1.0, np.where((p["y"] == -1) & (p["x"] < 1), -1.0, 0.0)) / 12
        return {"x": error * gx, "y": np.zeros(12)}

    params = {"x": x, "y": y}
    right = gc.check(hinge, params, gradient)
    assert right.passed and right.tensors[0].detection_limit < 1e-6, right.summary()
    wrong = gc.check(hinge, params, lambda p: gradient(p, error=1.01))
    assert wrong.wrong_tensors == ["x"] and wrong.findings[0].kind == "scale"


def test_on_a_staircase_the_winners_of_a_max_are_judged_below_the_stairs():
    """Round to 2 decimals plus a max over blocks of 100: along x the loss is a staircase (the noise
    probe misses the 4 winners), but the winners move it smoothly. They are judged at steps below
    the stairs: the right gradient passes, and a backward that drops them fails on all 4."""
    rng = np.random.default_rng(0)
    x, w = rng.normal(size=400), rng.normal(size=400)

    def loss(p):
        return float(np.round(p["x"], 2) @ w + p["x"].reshape(4, 100).max(axis=1).sum())

    def gradient(p, drop_winners=False):
        g = np.zeros(400)  # round's derivative is 0 between stairs
        if not drop_winners:
            g[p["x"].reshape(4, 100).argmax(axis=1) + 100 * np.arange(4)] = 1.0
        return {"x": g}

    right = gc.check(loss, {"x": x}, gradient)
    assert right.passed and "discontinuity" in [f.kind for f in right.findings], right.summary()
    wrong = gc.check(loss, {"x": x}, lambda p: gradient(p, drop_winners=True))
    assert not wrong.passed and wrong.tensors[0].flagged == 4, wrong.summary()
