"""``gc.check_hvp``: Hessian-vector products against differences of the gradient, with the planted
second-order bugs named (a missing λI, a doubled diagonal, a transposed block, a zero second
derivative), the symmetry and linearity tests, and right HVPs passing on 20 seeds."""

import numpy as np
import pytest

import gradcheck as gc

RNG = np.random.default_rng(3)
N = 12
_M = RNG.standard_normal((N, N))
A = _M @ _M.T / N  # a dense coupling: the Hessian is not diagonal
LAM = 0.1
PARAMS = {"w": RNG.standard_normal(N), "V": RNG.standard_normal((3, 3))}


def loss(p):
    """½wᵀAw + Σ log cosh w + (λ/2)‖w‖² + 0.1·Σw·ΣV + ⅛‖VᵀV‖²-like quartic in V."""
    w, v = p["w"], p["V"]
    quartic = 0.125 * np.sum((v.T @ v) ** 2)
    return (
        0.5 * w @ A @ w + np.sum(np.log(np.cosh(w))) + 0.5 * LAM * w @ w + 0.1 * w.sum() * v.sum() + quartic
    )


def grad(p):
    w, v = p["w"], p["V"]
    return {
        "w": A @ w + np.tanh(w) + LAM * w + 0.1 * v.sum() * np.ones(N),
        "V": 0.1 * w.sum() * np.ones_like(v) + 0.5 * v @ v.T @ v,
    }


def hvp(p, t, bug=None):
    w, v = p["w"], p["V"]
    tw, tv = t["w"], t["V"]
    hw = A @ tw + (1 - np.tanh(w) ** 2) * tw + LAM * tw + 0.1 * tv.sum() * np.ones(N)
    hv = 0.1 * tw.sum() * np.ones_like(v) + 0.5 * (tv @ v.T @ v + v @ tv.T @ v + v @ v.T @ tv)
    if bug == "no-lambda":
        hw = hw - LAM * tw
    elif bug == "doubled-diagonal":  # H assembled as L + Lᵀ from a triangle L that includes the diagonal
        hw = hw + (np.diag(A) + 1 - np.tanh(w) ** 2 + LAM) * tw
    elif bug == "transposed":
        hv = hv.T
    elif bug == "detached":  # the V block's backward saved without a graph: no second derivative
        hv = np.zeros_like(hv)
    return {"w": hw, "V": hv}


def check(bug=None, **options):
    return gc.check_hvp(grad, PARAMS, lambda p, t: hvp(p, t, bug), **options)


def test_the_planted_loss_matches_its_gradient_and_hessian():
    assert gc.check(loss, PARAMS, grad).passed
    assert gc.taylor_test(loss, PARAMS, grad, hvp=hvp).passed


@pytest.mark.parametrize("strategy", ["full", "certify"])
def test_a_right_hvp_passes_without_findings(strategy):
    report = check(strategy=strategy)
    assert report.passed and report.findings == (), report.summary()
    assert report.settings.checked == "Hessian-vector products"
    assert "Hessian-vector products are correct" in str(report)


def test_right_hvps_pass_on_20_seeds():
    assert all(check(seed=seed).passed for seed in range(20))


@pytest.mark.parametrize(
    "bug, kind, tensor, words",
    [
        ("no-lambda", "missing_regularization", "w", "misses λ·v"),
        ("doubled-diagonal", "diagonal", "w", "diagonal counted twice"),
        ("transposed", "transpose", "V", "transpose"),
        ("detached", "zero_second_derivative", "V", "detached or saved intermediate"),
    ],
)
@pytest.mark.parametrize("strategy", ["full", "certify"])
def test_planted_second_order_bugs_are_named(bug, kind, tensor, words, strategy):
    report = check(bug, strategy=strategy)
    assert not report.passed and report.wrong_tensors == [tensor]
    finding = next(f for f in report.findings if f.tensor == tensor)
    assert finding.kind == kind and words in finding.message, finding.message


def test_the_missing_lambda_is_measured():
    finding = check("no-lambda").findings[0]
    assert finding.value == pytest.approx(LAM, rel=1e-6)


def test_an_asymmetric_hvp_fails_even_where_h_u_looks_right():
    def skew(p, t):  # adds K·t with K antisymmetric: H_a·u stays wrong, and uᵀH_a v ≠ vᵀH_a u
        out = hvp(p, t)
        return {"w": out["w"] + 1e-3 * (np.roll(t["w"], 1) - np.roll(t["w"], -1)), "V": out["V"]}

    report = gc.check_hvp(grad, PARAMS, skew)
    assert not report.passed
    assert any(f.kind == "asymmetric" for f in report.findings)


def test_an_hvp_that_ignores_its_direction_is_not_linear():
    def squared(p, t):  # uses v², so hvp(2v) = 4·hvp(v)
        out = hvp(p, {k: v * np.abs(v) for k, v in t.items()})
        return out

    report = gc.check_hvp(grad, PARAMS, squared)
    assert not report.passed and any(f.kind == "linearity" for f in report.findings)


def test_float32_params_pass():
    params = {k: v.astype(np.float32) for k, v in PARAMS.items()}
    assert gc.check_hvp(grad, params, hvp).passed


def test_callables_are_required():
    with pytest.raises(gc.OptionError, match="hvp=.*not callable"):
        gc.check_hvp(grad, PARAMS, np.eye(N))


def test_rtol_is_taken_like_everywhere_else():
    """An HVP approximate by design within rtol passes; the strict check still says what it saw."""
    A = np.array([[2.0, 1.0], [1.0, 3.0]])
    w = np.array([0.5, -1.0])
    approximate = lambda w, v: (A @ v + 3 * w**2 * v) * (1 + 1e-7)  # noqa: E731
    strict = gc.check_hvp(lambda w: A @ w + w**3, w, approximate)
    tolerated = gc.check_hvp(lambda w: A @ w + w**3, w, approximate, rtol=1e-6)
    assert not strict.passed and tolerated.passed
    assert tolerated.settings.rtol == 1e-6
