"""batched_loss, workers and executor change how evaluations run, never their values."""

import io
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest
from rich.console import Console

import gradcheck as gc
from gradcheck._evaluate import Evaluator, Progress, backend_for
from gradcheck._options import Options
from gradcheck._tree import flatten

from . import _losses

FIELDS = ("numerical", "estimate", "flagged", "kink", "components")


def same_report(a, b, extra=0):
    """Bit-identical results; ``extra``: evaluations b spent on top (batched: its check at θ)."""
    for name in FIELDS:
        np.testing.assert_array_equal(getattr(a, name), getattr(b, name), err_msg=name)
    assert a.settings.evaluations + extra == b.settings.evaluations
    assert a.settings.noise == b.settings.noise


@pytest.fixture(scope="module")
def serial():
    return gc.check(_losses.loss, _losses.params(), _losses.grad)


@pytest.mark.parametrize(
    "options",
    [
        {"batched_loss": _losses.batched_loss},
        {"workers": 2},
        {"executor": ThreadPoolExecutor(2)},
    ],
    ids=["batched", "workers", "threads"],
)
def test_every_way_of_evaluating_gives_the_serial_values(serial, options):
    extra = 1 if "batched_loss" in options else 0
    same_report(serial, gc.check(_losses.loss, _losses.params(), _losses.grad, **options), extra)


def test_a_wrong_gradient_fails_the_same_way_on_workers():
    def wrong(p):
        g = _losses.grad(p)
        g["v"] = g["v"] * 1.01
        return g

    serial = gc.check(_losses.loss, _losses.params(), wrong)
    parallel = gc.check(_losses.loss, _losses.params(), wrong, workers=2)
    assert not parallel.passed and parallel.wrong_tensors == ["v"]
    same_report(serial, parallel)  # the refinement pass too


@pytest.mark.parametrize("method", ["forward", "central4", "richardson"])
def test_batched_values_match_serial_for_every_method(method):
    params = _losses.params()
    a = gc.numerical_gradient(_losses.loss, params, method=method)
    b = gc.numerical_gradient(_losses.loss, params, method=method, batched_loss=_losses.batched_loss)
    for key in a:
        np.testing.assert_array_equal(a[key], b[key])


def make_evaluator(speed):
    theta, layout = flatten(_losses.params())
    evaluator = Evaluator(_losses.loss, layout, theta, backend=backend_for(speed))
    evaluator.probe()
    return evaluator


@pytest.mark.parametrize(
    "speed",
    [Options(), Options(batched_loss=_losses.batched_loss), Options(workers=2)],
    ids=["serial", "batched", "workers"],
)
def test_many_along_is_along_for_many_points(speed):
    evaluator = make_evaluator(speed)
    rng = np.random.default_rng(0)
    directions, ts = rng.normal(size=(12, 18)), rng.normal(size=12) * 1e-3
    expected = [evaluator.along(d, t) for d, t in zip(directions, ts, strict=True)]
    np.testing.assert_array_equal(evaluator.many_along(directions, ts), expected)


def test_float32_params_are_rounded_alike_on_every_path():
    params = {k: v.astype(np.float32) for k, v in _losses.params().items()}
    serial = gc.check(_losses.loss, params, _losses.grad)
    same_report(serial, gc.check(_losses.loss, params, _losses.grad, batched_loss=_losses.batched_loss), 1)


def test_unpicklable_loss_names_the_fix():
    with pytest.raises(gc.WorkerError, match=r"workers=2 .*cannot be pickled.*module level.*batched_loss="):
        gc.check(lambda p: _losses.loss(p), _losses.params(), _losses.grad, workers=2)


def test_a_crashed_worker_is_an_error_not_a_hang():
    with pytest.raises(gc.WorkerError, match=r"worker process died .*workers=2.*run without workers="):
        gc.check(_losses.crashing_loss, _losses.params(), _losses.grad, workers=2)


def test_a_loss_error_in_a_worker_names_the_component():
    with pytest.raises(gc.LossRaisedError, match=r"RuntimeError\(bad v\) when v\[2\] is moved by"):
        gc.check(_losses.raising_loss, _losses.params(), _losses.grad, workers=2)


def test_batched_loss_must_return_one_loss_per_row():
    with pytest.raises(gc.BatchedLossError, match=r"returned shape \(1, 1\) for 1 parameter vectors"):
        gc.check(_losses.loss, _losses.params(), _losses.grad, batched_loss=lambda rows: rows[:, :1])


def test_batched_loss_that_computes_another_function_is_refused():
    other = lambda rows: _losses.batched_loss(rows) + 1e-3  # noqa: E731  (a missing term)
    with pytest.raises(gc.BatchedLossError, match=r"batched_loss gives .* but loss gives"):
        gc.check(_losses.loss, _losses.params(), _losses.grad, batched_loss=other)


def test_batched_non_finite_names_the_component():
    def nan_for_v1(rows):
        out = _losses.batched_loss(rows)
        v = _losses.params()["v"]
        only_v1 = (rows[:, 16] != v[1]) & (rows[:, 15] == v[0]) & (rows[:, 17] == v[2])  # not a probe
        out[only_v1] = np.nan
        return out

    with pytest.raises(gc.NonFiniteError, match=r"batched_loss gave nan when v\[1\] is set to"):
        gc.check(_losses.loss, _losses.params(), _losses.grad, batched_loss=nan_for_v1)


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"workers": 0}, r"workers=0 \(type=int\): pass a number of processes ≥ 1"),
        ({"workers": True}, r"workers=True \(type=bool\)"),
        ({"executor": "dask"}, r"executor='dask' \(type=str\): pass a concurrent.futures.Executor"),
        ({"batched_loss": 3}, r"batched_loss=3 \(type=int\)"),
        ({"workers": 2, "batched_loss": _losses.batched_loss}, r"batched_loss= and workers= were both given"),
        ({"progress": "yes"}, r"progress='yes' \(type=str\): pass True or False"),
    ],
)
def test_options_are_validated_eagerly(options, message):
    with pytest.raises(gc.OptionError, match=message):
        gc.check(_losses.loss, _losses.params(), _losses.grad, **options)


class FakeClock:
    def __init__(self):
        self.now = 0.0

    def __call__(self):
        return self.now


def run_progress(terminal, total=100, seconds_each=0.1):
    out = io.StringIO()
    clock = FakeClock()
    progress = Progress(console=Console(file=out, force_terminal=terminal, width=80), clock=clock)
    with progress.task(total) as advance:
        for _ in range(total):
            clock.now += seconds_each
            advance(1)
    return out.getvalue()


def test_progress_bar_shows_for_long_runs_on_a_terminal():
    assert "100/100" in run_progress(terminal=True)


def test_progress_bar_stays_off_for_short_runs_and_off_a_terminal():
    assert run_progress(terminal=True, seconds_each=0.001) == ""
    assert run_progress(terminal=False) == ""
