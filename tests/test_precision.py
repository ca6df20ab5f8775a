"""Formats and the precision a check runs in: bfloat16 in NumPy, correct rounding, promotion,
losses of any size, the grid a loss really reads its params on."""

import math

import ml_dtypes
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import gradcheck as gc
from gradcheck import _precision

BF16 = np.dtype(ml_dtypes.bfloat16)


def _nearest_bfloat16(x: float) -> float:
    """Round to nearest, ties to even, by brute force on the two neighbours (exact in float64)."""
    if x == 0 or not math.isfinite(x):
        return x
    exponent = math.frexp(x)[1]
    ulp = 2.0 ** (exponent - 8)
    low = math.floor(x / ulp) * ulp
    high = low + ulp
    if x - low != high - x:
        return low if x - low < high - x else high
    return low if (low / ulp) % 2 == 0 else high


@given(st.floats(min_value=-1e30, max_value=1e30, allow_nan=False).filter(lambda x: abs(x) > 1e-30))
def test_rounding_to_bfloat16_is_correct_where_a_cast_through_float32_is_not(x):
    assert _precision.round_to(np.array([x]), BF16)[0] == _nearest_bfloat16(x)


def test_the_double_rounding_case_rounds_up():
    x = np.array([1 + 2**-8 + 2**-30])  # just above the tie: float32 first would drop the 2⁻³⁰
    assert np.array(x).astype(BF16).astype(float)[0] == 1.0  # what ml_dtypes' cast gives
    assert _precision.round_to(x, BF16)[0] == 1 + 2**-7


def test_formats_know_bfloat16():
    assert _precision.is_float(BF16) and not _precision.is_float(np.dtype(ml_dtypes.int4))
    assert _precision.eps(BF16) == 2**-7 and _precision.bits(BF16) == 8 and _precision.bits(np.float16) == 11
    assert _precision.narrowest([np.float32, BF16, np.float16]) == BF16


def dense(dtype, factor=1.0, seed=0):
    """A tanh layer whose loss computes in ``dtype`` (the params are float64 copies, cast inside)."""
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(32, 20)).astype(dtype).astype(float)
    y = rng.normal(size=(32, 5)).astype(dtype).astype(float)
    params = {
        "W1": rng.normal(size=(20, 16)) / 4.5,
        "b1": 0.1 * rng.normal(size=16),
        "W2": rng.normal(size=(16, 5)) / 4,
    }
    params = {k: v.astype(dtype).astype(float) for k, v in params.items()}

    def loss(p):
        q = {k: np.asarray(v).astype(dtype) for k, v in p.items()}
        h = np.tanh(x.astype(dtype) @ q["W1"] + q["b1"])
        return float(np.mean(((h @ q["W2"] - y.astype(dtype)) ** 2).astype(np.float32)))

    def grad(p):
        p = {k: np.asarray(v).astype(dtype).astype(float) for k, v in p.items()}
        h = np.tanh(x @ p["W1"] + p["b1"])
        d = 2 * (h @ p["W2"] - y) / y.size
        dz = (d @ p["W2"].T) * (1 - h * h)
        return {"W1": x.T @ dz * factor, "b1": dz.sum(0), "W2": h.T @ d}

    return loss, params, grad


def test_bfloat16_params_are_checked_in_bfloat16():
    loss, params, grad = dense(BF16)
    native = {k: v.astype(BF16) for k, v in params.items()}
    report = gc.check(loss, native, grad)
    assert report.passed, report.summary()
    assert report.settings.precision == "native bfloat16" and report.settings.strategy == "regression"
    assert report.settings.dtype == "bfloat16"


def test_a_loss_that_casts_its_float64_params_to_bfloat16_is_read_on_that_grid():
    loss, params, grad = dense(BF16)
    report = gc.check(loss, params, grad)
    assert report.passed, report.summary()
    assert "the loss reads W1, b1, W2 in bfloat16" in report.settings.strategy_reason
    wrong = gc.check(loss, params, dense(BF16, factor=1.05)[2])
    assert not wrong.passed and [(f.kind, f.tensor) for f in wrong.findings if f.kind == "scale"] == [
        ("scale", "W1")
    ]


def test_precision_float64_promotes_float32_params():
    rng = np.random.default_rng(1)
    w = rng.normal(size=6).astype(np.float32)
    loss = lambda p: float(np.sum(np.sin(p) ** 2))  # float64 arithmetic on whatever it gets
    grad = lambda p: np.sin(2 * np.asarray(p, dtype=float))
    native = gc.check(loss, w, grad)
    promoted = gc.check(loss, w, grad, precision="float64")
    assert native.settings.precision == "native float32" and promoted.settings.precision == "float64"
    # Steps on float64's grid instead of float32's: a finer check.
    assert promoted.detection_limit < native.detection_limit / 10


def test_precision_native_hands_the_loss_arrays_of_their_own_dtype():
    seen = set()

    def loss(p):
        seen.add(p.dtype)
        return float(np.sum(p.astype(np.float64) ** 2))

    gc.check(loss, np.arange(1.0, 4.0, dtype=np.float32), lambda p: 2 * p, precision="native")
    assert seen == {np.dtype(np.float32)}


def test_precision_and_rtol_are_validated():
    with pytest.raises(gc.OptionError, match=r"precision='bf16' .*'auto', 'float64', 'native'"):
        gc.check(lambda p: float(p @ p), np.ones(2), lambda p: 2 * p, precision="bf16")
    with pytest.raises(gc.OptionError, match=r"rtol=-1 .*≥ 0"):
        gc.check(lambda p: float(p @ p), np.ones(2), lambda p: 2 * p, rtol=-1)


def scaled_problem(size, factor=1.0):
    rng = np.random.default_rng(0)
    params = {"W": rng.normal(size=(3, 4)), "b": rng.normal(size=4)}
    loss = lambda p: size * (np.sum(np.tanh(p["W"]) ** 2) + np.sum(p["b"] ** 3))

    def grad(p):
        t = np.tanh(p["W"])
        return {"W": factor * size * 2 * t * (1 - t**2), "b": size * 3 * p["b"] ** 2}

    return loss, params, grad


@pytest.mark.parametrize("size", [1e300, 1e-300])
def test_losses_of_any_finite_size_give_finite_consistent_reports(size):
    # The seed formula squared 1e300 into inf and read "difference nan" beside a pass.
    report = gc.check(*scaled_problem(size))
    assert report.passed and report.difference < 1e-9 and report.band == "fine", report.summary()
    assert all(math.isfinite(row.difference) and math.isfinite(row.detection_limit) for row in report.tensors)
    wrong = gc.check(*scaled_problem(size, factor=2.0))
    assert not wrong.passed and wrong.difference == pytest.approx(
        gc.check(*scaled_problem(1.0, 2.0)).difference
    )
    assert ("scale", "W") in {(f.kind, f.tensor) for f in wrong.findings}


def test_relative_difference_and_fits_scale_their_norms():
    a = np.array([3e300, 4e300])
    assert gc.relative_difference(a, 2 * a) == pytest.approx(1 / 3)
    small = np.array([3e-310, 4e-310])  # subnormal: their squares underflow to 0
    assert gc.relative_difference(small, 2 * small) == pytest.approx(1 / 3, rel=1e-6)


def test_integer_params_of_a_loss_exact_in_float64_are_not_taken_for_float32_rounding():
    # x.sum() + 3·W.sum() at integer params: every value is exact in float64, so a probe along a
    # power-of-two direction would see values on a coarse grid and take them for float32 rounding.
    params = {"x": np.array([2.0, 3.0, -1.0]), "W": np.arange(12.0).reshape(3, 4)}

    def loss(p):
        return float(p["x"].sum() + 3 * p["W"].sum())

    report = gc.check(loss, params, {"x": np.ones(3), "W": np.full((3, 4), 3.0)})
    assert report.passed and report.settings.noise < 1e-15 * abs(report.settings.loss_value)
    assert report.detection_limit < 1e-6 and not any(f.kind == "precision" for f in report.findings)
    assert not gc.check(loss, params, {"x": np.ones(3), "W": np.full((3, 4), 3.0 * (1 + 1e-5))}).passed
