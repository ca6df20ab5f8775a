"""The directional-derivative primitive, the tensor-wide fits and the strategy choice."""

import numpy as np
import pytest

from gradcheck import _strategy
from gradcheck._compare import SAFETY, analytic_allowance
from gradcheck._diagnose import explain
from gradcheck._directional import Line, Lines, evaluate_along, kink
from gradcheck._evaluate import Evaluator
from gradcheck._fits import Projections
from gradcheck._noise import measure
from gradcheck._options import Options
from gradcheck._tree import flatten

RNG = np.random.default_rng(0)
A = RNG.standard_normal((40, 40)) / 10
B = RNG.standard_normal(40)


def cubic(theta):
    return float(0.5 * theta @ A @ theta + B @ theta + np.sum(theta**3) / 6)


def cubic_grad(theta):
    return 0.5 * (A + A.T) @ theta + B + theta**2 / 2


def lines_for(theta, grad, dtype=np.float64):
    params = theta.astype(dtype)
    flat, layout = flatten(params)
    evaluator = Evaluator(cubic, layout, flat)
    allowance = analytic_allowance(
        grad, layout.tensor_ids(), np.array([np.finfo(np.float64).eps] * len(layout.tensors))
    )
    j0 = cubic(flat)

    def points(direction, ts):
        return np.array([evaluator.along(direction, float(t)) for t in ts])

    sigma = measure(points, flat, j0, np.random.default_rng(0)).sigma
    return Lines(evaluator, grad, allowance, sigma=sigma, j0=j0), flat


def a_line(size, step, seed=1):
    block = np.arange(size)
    signs = (np.random.default_rng(seed).integers(0, 2, size) * 2 - 1).astype(np.int8)
    return Line(block, signs, step, curvature=1.0)


def test_evaluate_along_is_the_loss_on_the_line():
    theta = RNG.standard_normal(40)
    lines, flat = lines_for(theta, cubic_grad(theta))
    d = RNG.standard_normal(40)
    values = evaluate_along(lines.evaluator, [(d, 0.5), (d, -1e-3)])
    assert values == pytest.approx([cubic(flat + 0.5 * d), cubic(flat - 1e-3 * d)], rel=1e-15)


@pytest.mark.parametrize("step", [2.0**-12, 2.0**-8, 2.0**-4])
def test_a_correct_gradient_passes_with_a_residual_inside_the_error(step):
    theta = RNG.standard_normal(40)
    lines, _ = lines_for(theta, cubic_grad(theta))
    (result,) = lines.run([a_line(40, step)], always_refine=True)
    assert result.state == "pass" and result.refined
    assert abs(result.residual) <= SAFETY * result.error
    assert result.truncation > 0  # the second step size measured it


def test_a_wrong_entry_shows_at_its_full_size_times_its_scale():
    theta = RNG.standard_normal(40) * 3  # some |θᵢ| > 1: the scale sᵢ = max(|θᵢ|, 1) enters
    grad = cubic_grad(theta)
    j = int(np.argmax(np.abs(theta)))
    wrong = grad.copy()
    wrong[j] += 1e-4
    lines, _ = lines_for(theta, wrong)
    line = a_line(40, 2.0**-12)
    (result,) = lines.run([line], always_refine=True)
    assert result.state == "fail"
    assert result.residual == pytest.approx(line.signs[j] * abs(theta[j]) * 1e-4, rel=1e-3)


def test_float32_parameters_are_compared_along_the_step_really_taken():
    theta = RNG.standard_normal(40)
    grad = cubic_grad(theta.astype(np.float32).astype(np.float64))
    lines, _ = lines_for(theta, grad, dtype=np.float32)
    # At this step θ + t·u loses about 3 of its 24 bits: u·g and the realised step differ.
    (result,) = lines.run([a_line(40, 2.0**-20)], always_refine=True)
    assert result.state == "pass"


def test_the_first_pass_refines_only_suspicious_lines():
    theta = RNG.standard_normal(40)
    wrong = cubic_grad(theta)
    wrong[3] += 1e-3
    lines, _ = lines_for(theta, wrong)
    # At t = 2⁻²⁰ truncation (≈ t²/6 · Σuᵢ³) is far below round-off: a correct line needs no refining.
    passing, failing = lines.run([a_line(3, 2.0**-20), a_line(40, 2.0**-20)], always_refine=False)
    assert not passing.refined and passing.state == "pass"
    assert failing.refined and failing.state == "fail"


def test_kink_sees_a_slope_jump_under_curvature_and_not_a_smooth_cubic():
    t, sigma = 1e-3, 1e-16

    def values(f):
        return f(0.0), f(t), f(-t), f(t / 2), f(-t / 2), t, sigma

    bent = lambda s: 50 * s**2 + 1e-3 * max(s, 0.0)  # h·J'' dominates the jump
    smooth = lambda s: 50 * s**2 + s**3 + 2 * s
    assert kink(*values(bent))
    assert not kink(*values(smooth))


def projections(analytic, numerical, theta):
    """Directional evidence of a tensor W: errors 1e-10 (a clean float64 loss)."""
    analytic, numerical = np.array(analytic), np.array(numerical)
    estimate = np.full(analytic.size, 1e-10)
    flagged = np.abs(analytic - numerical) > SAFETY * estimate
    return Projections("W", (30, 30), analytic, numerical, estimate, np.array(theta), flagged)


def test_fits_name_each_tensor_wide_pattern_from_directional_tests():
    numerical = RNG.standard_normal(6)
    theta = RNG.standard_normal(6)
    assert explain(projections(3 * numerical, numerical, theta)).kind == "scale"
    assert explain(projections(-numerical, numerical, theta)).kind == "sign"
    assert explain(projections(0 * numerical, numerical, RNG.standard_normal(6))).kind == "zero_gradient"
    reg = explain(projections(numerical - 0.1 * theta, numerical, theta))
    assert reg.kind == "missing_regularization" and reg.lam == pytest.approx(0.1)


def test_fits_refuse_scattered_errors_and_too_few_projections():
    numerical = RNG.standard_normal(6)
    scattered = numerical + RNG.choice([-1, 1], 6) * 1e-3  # one wrong entry seen with random signs
    assert not explain(projections(scattered, numerical, RNG.standard_normal(6))).tensor_wide
    assert not explain(projections(2 * numerical[:2], numerical[:2], numerical[:2])).tensor_wide


@pytest.mark.parametrize(
    "size, seconds, expected",
    [(500, 1.0, "full"), (5000, 1e-5, "full"), (5000, 1e-3, "certify"), (10**6, 1e-4, "certify")],
)
def test_auto_picks_full_where_it_is_cheap(size, seconds, expected):
    choice = _strategy.choose(Options(), size, seconds)
    assert choice.name == expected and choice.reason.startswith("auto: ")


def test_per_component_settings_keep_auto_on_the_full_check():
    choice = _strategy.choose(Options(method="forward"), 10**6, 1.0)
    assert choice.name == "full" and "method='forward'" in choice.reason
