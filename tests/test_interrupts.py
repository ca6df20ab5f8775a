"""Nothing of the caller's is lost: arrays bit-identical after every outcome, Ctrl-C never swallowed."""

from __future__ import annotations

import gc as garbage_collector
import os
import signal
from collections.abc import Iterator
from typing import Any

import numpy as np
import pytest

import gradcheck as gc

pytestmark = pytest.mark.skipif(not hasattr(signal, "setitimer"), reason="needs POSIX signals")


def caller_params() -> dict[str, Any]:
    rng = np.random.default_rng(3)
    readonly = rng.normal(size=(4, 5))
    readonly.setflags(write=False)
    return {
        "W": rng.normal(size=(6, 5)),
        "b": rng.normal(size=(6, 1)).astype(np.float32),
        "layers": [readonly, np.asfortranarray(rng.normal(size=(5, 4)))],
    }


def loss(p: dict[str, Any]) -> float:
    return float(
        np.sum(np.tanh(p["W"]) ** 2) + np.sum(p["b"] ** 3) + np.sum(p["layers"][0] * p["layers"][1].T)
    )


def right_grad(p: dict[str, Any]) -> dict[str, Any]:
    return {
        "W": 2 * np.tanh(p["W"]) * (1 - np.tanh(p["W"]) ** 2),
        "b": 3 * p["b"].astype(np.float64) ** 2,
        "layers": [p["layers"][1].T, p["layers"][0].T],
    }


def fingerprint(params: dict[str, Any]) -> list[tuple[Any, ...]]:
    arrays = [params["W"], params["b"], *params["layers"]]
    return [(a.tobytes(), a.dtype.str, a.shape, a.strides, a.flags.writeable, id(a)) for a in arrays]


@pytest.fixture
def sigint_raises() -> Iterator[None]:
    """Python's own Ctrl-C behaviour (KeyboardInterrupt), whatever the test runner installed."""
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    yield
    signal.signal(signal.SIGINT, previous)


class SignalsItself:
    """A loss that sends SIGINT to its own process on its ``at``-th call (a user's Ctrl-C)."""

    def __init__(self, at: int) -> None:
        self.at = at
        self.calls = 0

    def __call__(self, p: dict[str, Any]) -> float:
        self.calls += 1
        if self.calls == self.at:
            os.kill(os.getpid(), signal.SIGINT)
        return loss(p)


@pytest.mark.parametrize("at", [1, 2, 10, 19, 40, 95])
def test_sigint_during_the_check_propagates_and_leaves_params_identical(sigint_raises: None, at: int) -> None:
    params = caller_params()
    before = fingerprint(params)
    signalling = SignalsItself(at)
    with pytest.raises(KeyboardInterrupt):
        gc.check(signalling, params, right_grad(params))
    assert signalling.calls >= at  # it really was interrupted mid-run, not before
    assert fingerprint(params) == before


@pytest.mark.parametrize("delay", [0.002, 0.011, 0.023])
def test_an_interrupt_at_an_arbitrary_moment_propagates(delay: float) -> None:
    """A timer fires wherever the check happens to be: in the loss, the planning or the numerics."""
    previous = signal.signal(signal.SIGALRM, signal.default_int_handler)
    params = caller_params()
    before = fingerprint(params)
    forever = {**params, "W": np.zeros((2000, 5))}  # 20 000 evaluations: far longer than the delay
    grad = {**right_grad(params), "W": np.zeros((2000, 5))}
    # Python drops exceptions raised inside garbage-collector callbacks ("Exception ignored in
    # gc_callback"), and Hypothesis installs one; a timer landing there would be lost by the
    # interpreter, not by gradcheck, so the collector stays off while the timer runs.
    garbage_collector.disable()
    try:
        signal.setitimer(signal.ITIMER_REAL, delay)
        with pytest.raises(KeyboardInterrupt):
            gc.check(loss, forever, grad)
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
        garbage_collector.enable()
    assert fingerprint(params) == before


def test_keyboard_interrupt_raised_by_the_loss_is_not_wrapped() -> None:
    def interrupted(p: dict[str, Any]) -> float:
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        gc.check(interrupted, caller_params(), right_grad(caller_params()))


@pytest.mark.parametrize(
    "outcome",
    ["passes", "fails", "loss raises", "loss writes to params", "loss returns NaN late"],
)
def test_params_identical_after_every_outcome(outcome: str) -> None:
    params = caller_params()
    before = fingerprint(params)
    grad = right_grad(params)
    calls = [0]

    def misbehaving(p: dict[str, Any]) -> float:
        calls[0] += 1
        if outcome == "loss raises" and calls[0] > 30:
            raise RuntimeError("out of memory")
        if outcome == "loss writes to params":
            p["W"] += 1.0
        if outcome == "loss returns NaN late" and calls[0] > 30:
            return float("nan")
        return loss(p)

    if outcome == "fails":
        grad["W"] = grad["W"] * 1.01
    try:
        report = gc.check(misbehaving, params, grad)
    except gc.LossError:
        assert outcome.startswith("loss")
    else:
        assert report.passed == (outcome == "passes")
    assert fingerprint(params) == before
