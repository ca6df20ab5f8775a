"""Bug findings: every planted bug of the collection is named with its kind and tensor."""

import numpy as np
import pytest

import gradcheck as gc
from gradcheck._wording import likely_cause
from models import Dense
from models.collection import cases, run

CASES = cases(seed=0)
# In these conditions the bug must be visible and the finding's kind right, not only its tensor.
STRICT = ("float64", "float32", "tiny loss", "strong L2 float64", "strong L2 float32")


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_collection_case(case):
    outcome = run(case)
    assert outcome.ok, f"{case.id}: {outcome.why}\n{outcome.report.summary()}"
    if case.condition in STRICT:
        assert outcome.visible and outcome.kind_right


def test_the_collection_plants_every_finding_kind_in_several_layer_types():
    layers: dict[str, set[str]] = {}
    for case in CASES:
        if case.condition == "float64" and case.expect is not None:
            layers.setdefault(case.expect.kind, set()).add(case.model.removesuffix("+l2"))
    assert set(layers) == {
        "scale",
        "sign",
        "transpose",
        "missing_regularization",
        "zero_gradient",
        "wrong_components",
    }
    assert all(len(models) >= 3 for models in layers.values()), layers


def check(model, bug):
    return gc.check(model.loss, model.params(), model.grad_with(bug))


def only(report, kind):
    (finding,) = [f for f in report.findings if f.kind == kind]
    return finding


def test_scale_reports_the_factor_and_asks_about_the_batch_size():
    finding = only(check(Dense(), "dW-no-1/m"), "scale")
    assert finding.tensor == "W" and finding.value == pytest.approx(5.0, rel=1e-6)
    assert "W is 5.00× the numerical one" in finding.message
    assert "if 5 is your batch size m, did you forget the 1/m?" in finding.message


def test_scale_of_attention_names_the_square_root():
    from models import ALL

    report = check(ALL["attention"](), "no-1/sqrt(d)")
    messages = [f.message for f in report.findings if f.kind == "scale"]
    assert len(messages) == 2 and all("c² ≈ 3: a missing 1/√3" in m for m in messages)


@pytest.mark.parametrize(
    ("factor", "cause"),
    [
        (2.0, "a factor 2"),
        (0.5, "a factor 1/2"),
        (7.0, "if 7 is your batch size m, did you forget the 1/m?"),
        (1 / 32, "if 32 is your batch size m, did you divide by m twice"),
        (np.sqrt(8.0), "c² ≈ 8: a missing 1/√8"),
        (1 / np.sqrt(5.0), "1/c² ≈ 5: an extra 1/√5"),
        (1.37, ""),
    ],
)
def test_likely_cause_of_a_factor(factor, cause):
    text = likely_cause(factor, 1e-9)
    assert (cause in text) if cause else text == ""


def test_likely_cause_needs_a_precise_factor():
    assert likely_cause(3.2, 0.1) == ""  # 3 is within 8 standard errors, but so would be 4


def test_sign_transpose_zero_findings_say_what_they_saw():
    assert only(check(Dense(), "db-sign"), "sign").value == pytest.approx(-1.0)
    assert "-1.00× the numerical one" in only(check(Dense(), "db-sign"), "sign").message
    assert (
        "transpose of the numerical one (3×3 is square"
        in only(check(Dense(), "dW-transposed"), "transpose").message
    )
    zero = only(check(Dense(), "db-zero"), "zero_gradient")
    assert zero.tensor == "b" and "is zero everywhere (3 checked entries)" in zero.message


def test_missing_regularization_reports_lambda():
    from models import ALL, LAMBDA

    model = ALL["dense-softmax+l2"]()
    missing = only(check(model, "l2-missing"), "missing_regularization")
    assert missing.value == pytest.approx(LAMBDA, rel=1e-6)
    assert "λ = 0.1" in missing.message and "remember regularization" in missing.message
    twice = only(check(model, "l2-twice"), "missing_regularization")
    assert twice.value == pytest.approx(-LAMBDA, rel=1e-6) and "counts it twice" in twice.message


@pytest.mark.parametrize(
    ("model", "bug", "where"),
    [
        (
            "dense-softmax",
            "dW-one-entry",
            "only some entries of W are wrong: one entry, W[1, 2]; there analytic ≈ 1.30×",
        ),
        ("dense-softmax", "dW-column", "column 2 (W[:, 2], 3 of its 3 entries)"),
        ("embedding", "overwrite-repeats", "row 3 (E[3, :], 3 of its 3 entries)"),
        ("conv1d", "dK-channel", "the slice K[1, :, :] (6 of its 6 entries)"),
        ("batchnorm", "dh-no-mean-terms", "every entry of W is wrong"),
    ],
)
def test_wrong_components_say_where(model, bug, where):
    from models import ALL

    finding = only(check(ALL[model](), bug), "wrong_components")
    assert where in finding.message
    assert "worst: " in finding.message and "analytic" in finding.message and finding.components


def test_wrong_bias_is_called_the_bias():
    x = np.array([0.3, -1.2, 0.8])
    loss = lambda p: float(np.sum(np.tanh(p["W"] @ x + p["b"])))
    params = {"W": np.eye(3) * 0.5, "b": np.array([0.1, -0.2, 0.3])}
    z = params["W"] @ x + params["b"]
    grad = {"W": np.outer(1 - np.tanh(z) ** 2, x), "b": (1 - np.tanh(z) ** 2) + np.array([0.3, -0.1, 0.2])}
    finding = only(gc.check(loss, params, grad), "wrong_components")
    assert finding.tensor == "b" and "every entry of the bias b is wrong" in finding.message


def test_a_single_entry_tensor_needs_a_telling_factor_for_a_scale():
    loss = lambda p: float(np.sin(p["w"]).sum() + p["c"][0] ** 3)
    params = {"w": np.array([0.3, 1.1]), "c": np.array([0.7])}
    telling = gc.check(loss, params, {"w": np.cos(params["w"]), "c": 3 * 3 * params["c"] ** 2})
    assert only(telling, "scale").tensor == "c"
    plain = gc.check(loss, params, {"w": np.cos(params["w"]), "c": 1.37 * 3 * params["c"] ** 2})
    message = only(plain, "wrong_components").message
    assert message.startswith("the only entry of c is wrong; there analytic ≈ 1.37× numerical")


def test_a_non_square_transposed_gradient_is_caught_by_the_shape_check():
    params = {"W": np.ones((2, 3))}
    with pytest.raises(gc.StructureError, match="did you transpose it"):
        gc.check(lambda p: float(np.sum(p["W"] ** 2)), params, {"W": np.ones((3, 2))})


def test_findings_show_in_the_text_report_and_the_summary():
    report = check(Dense(), "dW-no-1/m")
    assert "[scale] the analytic gradient of W is 5.00×" in report.summary()
    assert "findings" in str(report) and "[scale]" in str(report)


def test_a_correct_gradient_has_no_findings():
    assert check(Dense(), None).findings == ()
