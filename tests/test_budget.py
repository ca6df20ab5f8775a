"""A huge check warns with its estimated time before spending it."""

from __future__ import annotations

import time
import warnings
from typing import Any

import numpy as np
import pytest

import gradcheck as gc
from gradcheck._stencils import STENCILS

PROBE_CALLS = 18  # two at θ, sixteen to measure the noise


class Sleepy:
    """A loss that takes at least 1 ms per call, and counts its calls."""

    def __init__(self) -> None:
        self.calls = 0

    def __call__(self, p: Any) -> float:
        self.calls += 1
        time.sleep(1e-3)
        return float(np.sum(p["w"] ** 2))


def test_a_million_parameters_warn_before_the_long_run_starts() -> None:
    # strategy="auto" would certify instead; a full check is what the user asked for here.
    w = np.linspace(-1, 1, 10**6)
    loss = Sleepy()
    with warnings.catch_warnings():
        warnings.simplefilter("error", gc.SlowCheckWarning)  # so the test stops where the user is warned
        with pytest.raises(gc.SlowCheckWarning) as warned:
            gc.check(loss, {"w": w}, {"w": 2 * w}, strategy="full")
    message = str(warned.value)
    # 2·10⁶ evaluations at ≥ 1 ms each: at least 33 minutes.
    assert "2,000,000 loss evaluations" in message
    assert any(unit in message for unit in ("minutes", "hours", "days"))
    assert "components=" in message and "strategy='certify'" in message and "warn_slow=None" in message
    assert loss.calls == PROBE_CALLS  # told before spending: only the probe has run


def test_the_warning_points_at_the_callers_line() -> None:
    with pytest.warns(gc.SlowCheckWarning) as record:
        gc.check(lambda p: float(p @ p), np.ones(3), 2 * np.ones(3), warn_slow=1e-12)
    assert record[0].filename == __file__


@pytest.mark.parametrize("frontend", ["check", "numerical_gradient"])
def test_warn_slow_none_never_warns(frontend: str) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error", gc.SlowCheckWarning)
        if frontend == "check":
            gc.check(lambda p: float(p @ p), np.ones(3), 2 * np.ones(3), warn_slow=None)
        else:
            gc.numerical_gradient(lambda p: float(p @ p), np.ones(3), warn_slow=None)


def test_numerical_gradient_warns_too() -> None:
    with pytest.warns(gc.SlowCheckWarning, match="6 loss evaluations"):
        gc.numerical_gradient(lambda p: float(p @ p), np.ones(3), warn_slow=1e-12)


@pytest.mark.parametrize("method", ["forward", "central", "central4", "richardson", "complex"])
def test_the_estimate_counts_the_evaluations_a_check_really_makes(method: str) -> None:
    """On a linear loss nothing is refined, so the plan is exactly what the estimate assumed.
    (Coefficients with full mantissas: with integer ones its values would be exact binary
    fractions, which the noise probe confirms are not float32 rounding with 16 evaluations more.)"""
    n = 7
    a = np.random.default_rng(0).normal(size=n)
    report = gc.check(lambda p: np.sum(a * p), np.zeros(n), a, method=method)
    assert report.settings.evaluations == PROBE_CALLS + STENCILS[method].evaluations * n
