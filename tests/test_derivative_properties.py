"""Property tests for JVPs, HVPs and the Taylor test over random smooth functions:

- a right rule always passes (float64 and float32 inputs);
- a rule off by a factor always fails;
- the Taylor test catches every error along its direction above the limit it states.
"""

from __future__ import annotations

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import gradcheck as gc

CHECKS = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
SIZES = st.integers(1, 6)
SEEDS = st.integers(0, 2**31 - 1)


def layer(n: int, m: int, seed: int):
    """f(x) = tanh(A·x + b) and its JVP, for random A (m×n) and b."""
    rng = np.random.default_rng(seed)
    a, b = rng.standard_normal((m, n)), rng.standard_normal(m)

    def f(x):
        return np.tanh(a @ x + b)

    def jvp(x, t):
        return (1 - f(x) ** 2) * (a @ t)

    return f, jvp, rng.standard_normal(n)


@CHECKS
@given(SIZES, SIZES, SEEDS, st.sampled_from([np.float32, np.float64]), st.sampled_from(["full", "certify"]))
def test_a_right_jvp_passes_and_a_scaled_one_fails(n, m, seed, dtype, strategy):
    f, jvp, x = layer(n, m, seed)
    x = x.astype(dtype)
    assert gc.check_jvp(f, x, jvp, strategy=strategy, seed=seed % 1000).passed
    assert not gc.check_jvp(f, x, lambda x, t: 1.5 * jvp(x, t), strategy=strategy).passed


def quartic(n: int, seed: int):
    """J(w) = ½wᵀAw + ¼Σw⁴ + c·w: its gradient and its HVP (H = A + 3·diag(w²))."""
    rng = np.random.default_rng(seed)
    m = rng.standard_normal((n, n))
    a, c = m @ m.T / n, rng.standard_normal(n)

    def grad(w):
        return a @ w + w**3 + c

    def hvp(w, v):
        return a @ v + 3 * w**2 * v

    return grad, hvp, rng.standard_normal(n)


@CHECKS
@given(SIZES, SEEDS)
def test_a_right_hvp_passes_and_a_scaled_one_fails(n, seed):
    grad, hvp, w = quartic(n, seed)
    assert gc.check_hvp(grad, w, hvp, seed=seed % 1000).passed
    assert not gc.check_hvp(grad, w, lambda w, v: 1.01 * hvp(w, v)).passed


@CHECKS
@given(st.integers(2, 8), SEEDS, st.floats(1.5, 100.0))
def test_the_taylor_test_catches_every_error_above_its_limit(n, seed, times):
    rng = np.random.default_rng(seed)
    a, b, w = rng.standard_normal((n, n)) / np.sqrt(n), rng.standard_normal(n), rng.standard_normal(n)
    delta = rng.standard_normal(n)

    def loss(w):
        return float(np.sum(np.log(np.cosh(a @ w))) + b @ w)

    def grad(w):
        return a.T @ np.tanh(a @ w) + b

    right = gc.taylor_test(loss, w, grad, direction=delta)
    assert right.passed
    limit = right.directions[0].detection_limit
    error = times * limit * delta / (delta @ delta)  # an error of `times` × the limit along δ
    assert not gc.taylor_test(loss, w, lambda w: grad(w) + error, direction=delta).passed
