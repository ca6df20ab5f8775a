"""Losses computed in low precision: the regression check reaches the precision's limit, its
stated limits hold, and approximate-by-design gradients are told apart from bugs (rtol)."""

import ml_dtypes
import numpy as np
import pytest

import gradcheck as gc
from test_precision import dense

BF16 = np.dtype(ml_dtypes.bfloat16)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_a_correct_float32_loss_passes_and_a_3e_4_factor_is_named(seed):
    # The case: NumPy code computing in float32 whatever it is handed; dW1 × 1.0003 used
    # to pass with a stated limit of 3.4e-3.
    loss, params, grad = dense(np.float32, seed=seed)
    report = gc.check(loss, params, grad)
    assert report.passed, report.summary()
    assert all(row.scale_limit < 1e-4 for row in report.tensors)
    wrong = gc.check(loss, params, dense(np.float32, factor=1.0003, seed=seed)[2])
    assert not wrong.passed and wrong.wrong_tensors == ["W1"], wrong.summary()
    (finding,) = [f for f in wrong.findings if f.kind == "scale"]
    assert finding.tensor == "W1" and finding.value == pytest.approx(1.0003, abs=1e-4)


@pytest.mark.parametrize("dtype, factor", [(BF16, 1.05), (np.float16, 1.03)])
def test_bfloat16_and_float16_losses_catch_a_few_percent(dtype, factor):
    loss, params, grad = dense(dtype)
    report = gc.check(loss, params, grad)
    assert report.passed and report.settings.strategy == "regression", report.summary()
    wrong = gc.check(loss, params, dense(dtype, factor=factor)[2])
    assert not wrong.passed and {(f.kind, f.tensor) for f in wrong.findings if f.kind == "scale"} == {
        ("scale", "W1")
    }


@pytest.mark.parametrize("dtype", [np.float32, BF16])
def test_a_factor_above_the_stated_limit_is_always_caught(dtype):
    # The stated limit is a promise: plant a factor just above it, in each tensor in turn.
    loss, params, grad = dense(dtype, seed=3)
    limits = {row.name: row.scale_limit for row in gc.check(loss, params, grad).tensors}
    for name, limit in limits.items():
        planted = lambda p, name=name, limit=limit: {**grad(p), name: grad(p)[name] * (1 + 1.2 * limit)}
        report = gc.check(loss, params, planted)
        assert not report.passed and name in report.wrong_tensors, (name, limit, report.summary())


def test_the_low_precision_finding_says_what_was_seen_and_how_to_see_further():
    loss, params, grad = dense(BF16)
    (finding,) = [f for f in gc.check(loss, params, grad).findings if f.kind == "precision"]
    assert "caught a constant factor off by more than" in finding.message
    assert "precision='float64'" in finding.message and "reference=ref_fn" in finding.message
    assert "directions=64" in finding.message


def test_directions_k_screens_a_low_precision_loss_without_locating():
    loss, params, grad = dense(BF16)
    report = gc.check(loss, params, dense(BF16, factor=1.5)[2], directions=8)
    assert not report.passed and report.settings.strategy == "regression" and report.settings.directions == 8
    assert report.wrong_tensors == ["W1"]


def cg(matrix, rhs, tol):
    """Conjugate gradients, stopped at a relative residual of ``tol``: a solver with a tolerance."""
    x, r = np.zeros(rhs.size), rhs.copy()
    d = r.copy()
    while np.linalg.norm(r) > tol * np.linalg.norm(rhs):
        a = (r @ r) / (d @ matrix @ d)
        x, r_next = x + a * d, r - a * (matrix @ d)
        d, r = r_next + (r_next @ r_next) / (r @ r) * d, r_next
    return x


def implicit(tol=1e-6, n=60, bug=1.0):
    """J(d, c) = ‖x‖² with (A + diag d)·x = b + c; the gradient by implicit differentiation
    through two CG solves (the adjoint), right to the solver's tolerance."""
    rng = np.random.default_rng(0)
    q = np.linalg.qr(rng.normal(size=(n, n)))[0]
    a, b = q @ np.diag(np.logspace(0, 3, n)) @ q.T, rng.normal(size=n)
    params = {"d": 0.1 * rng.normal(size=n), "c": rng.normal(size=n)}

    def loss(p):
        x = np.linalg.solve(a + np.diag(p["d"]), b + p["c"])
        return float(x @ x)

    def grad(p):
        m = a + np.diag(p["d"])
        x = cg(m, b + p["c"], tol)
        lam = cg(m.T, 2 * x, tol)
        return {"d": -lam * x * bug, "c": lam}

    return loss, params, grad


def test_an_approximate_gradient_is_told_apart_from_a_bug_and_rtol_accepts_it():
    report = gc.check(*implicit())
    assert not report.passed
    kinds = {f.kind for f in report.findings}
    assert "approximate" in kinds and "wrong_components" not in kinds, report.summary()
    (finding,) = [f for f in report.findings if f.kind == "approximate"]
    assert "solver with a tolerance" in finding.message and "rtol=1e-05" in finding.message

    accepted = gc.check(*implicit(), rtol=1e-5)
    assert accepted.passed and accepted.settings.rtol == 1e-5
    assert accepted.wrong_tensors == ["d", "c"]  # what the strict check saw stays in the report
    assert "within rtol=1e-05 (strictly wrong in d, c)" in str(accepted)
    assert any(f.kind == "tolerance" for f in accepted.findings)


def test_rtol_does_not_accept_a_real_bug():
    report = gc.check(*implicit(bug=2.0), rtol=1e-5)
    assert not report.passed and "d" in report.wrong_tensors
    assert not any(f.kind == "approximate" for f in report.findings)


def float32_convolution(seed, factor=1.0):
    """A float32 network, conv(3→6) → tanh → conv(6→8) → tanh → dense → softmax cross-entropy,
    with its hand-written float32 backward (im2col): gradients summed over every position."""
    rng = np.random.default_rng(seed)
    n, c, h, k, f1, f2 = 8, 3, 10, 3, 6, 8
    x = rng.normal(size=(n, c, h, h)).astype(np.float32)
    labels = rng.integers(0, 10, size=n)
    params = {
        "W1": (rng.normal(size=(f1, c * k * k)) / np.sqrt(c * k * k)).astype(np.float32),
        "b1": np.zeros(f1, np.float32),
        "W2": (rng.normal(size=(f2, f1 * k * k)) / np.sqrt(f1 * k * k)).astype(np.float32),
        "b2": np.zeros(f2, np.float32),
        "V": (rng.normal(size=(f2 * (h - 4) ** 2, 10)) / np.sqrt(f2 * (h - 4) ** 2)).astype(np.float32),
    }

    def cols(a):  # (n, C, H, W) → (n, H−2, W−2, C·9)
        out = a.shape[2] - k + 1
        patches = [a[:, :, i : i + out, j : j + out] for i in range(k) for j in range(k)]
        return np.stack(patches, axis=-1).transpose(0, 2, 3, 1, 4).reshape(a.shape[0], out, out, -1)

    def uncols(d, shape):  # the adjoint of cols
        out = shape[2] - k + 1
        d = d.reshape(shape[0], out, out, shape[1], k * k).transpose(0, 3, 1, 2, 4)
        back = np.zeros(shape, np.float32)
        for m, (i, j) in enumerate((i, j) for i in range(k) for j in range(k)):
            back[:, :, i : i + out, j : j + out] += d[..., m]
        return back

    def forward(p):
        c1 = cols(x)
        a1 = np.tanh(c1 @ p["W1"].T + p["b1"])
        c2 = cols(a1.transpose(0, 3, 1, 2))
        a2 = np.tanh(c2 @ p["W2"].T + p["b2"])
        s = a2.reshape(n, -1) @ p["V"]
        e = np.exp(s - s.max(1, keepdims=True))
        prob = e / e.sum(1, keepdims=True)
        return -np.mean(np.log(prob[np.arange(n), labels])), (c1, a1, c2, a2, prob)

    def loss(p):
        return forward({key: np.asarray(v, np.float32) for key, v in p.items()})[0]

    def grad(p):
        p = {key: np.asarray(v, np.float32) for key, v in p.items()}
        c1, a1, c2, a2, prob = forward(p)[1]
        ds = prob.copy()
        ds[np.arange(n), labels] -= 1
        ds /= np.float32(n)
        dz2 = (ds @ p["V"].T).reshape(a2.shape) * (1 - a2 * a2)
        dz1 = uncols(dz2 @ p["W2"], a1.transpose(0, 3, 1, 2).shape).transpose(0, 2, 3, 1) * (1 - a1 * a1)
        return {
            "W1": dz1.reshape(-1, f1).T @ c1.reshape(-1, c * k * k),
            "b1": dz1.reshape(-1, f1).sum(0),
            "W2": factor * dz2.reshape(-1, f2).T @ c2.reshape(-1, f1 * k * k),
            "b2": dz2.reshape(-1, f2).sum(0),
            "V": a2.reshape(n, -1).T @ ds,
        }

    return loss, params, grad


def test_a_correct_float32_convolution_network_passes_and_a_1_percent_factor_is_caught():
    # The analytic gradient's float32 rounding (sums over every position) is measured, not
    # assumed from ε.
    report = gc.check(*float32_convolution(0))
    assert report.passed, report.summary()
    wrong = gc.check(*float32_convolution(0, factor=1.01))
    assert not wrong.passed and wrong.wrong_tensors == ["W2"], wrong.summary()


def test_a_non_finite_entry_stays_out_of_the_regression_screens():
    x = np.random.default_rng(0).normal(size=40).astype(np.float32)
    x[3] = np.nan

    def loss(p):
        return float(np.nansum(p["x"] * p["x"]))

    report = gc.check(loss, {"x": x}, {"x": np.nan_to_num(2 * x)})
    assert report.passed and {"unchecked", "precision"} <= {f.kind for f in report.findings}
    wrong = np.nan_to_num(2 * x)
    wrong[7] *= 1.5
    assert not gc.check(loss, {"x": x}, {"x": wrong}).passed
