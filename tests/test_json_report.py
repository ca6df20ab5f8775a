"""JSON reports: strictly valid JSON, documented schema 1, and a real round trip back to a Report."""

import json

import numpy as np
import pytest

import gradcheck as gc
from gradcheck import _demo


def strict_loads(text):
    def refuse(constant):
        raise ValueError(f"{constant} is not JSON")

    return json.loads(text, parse_constant=refuse)


@pytest.fixture(scope="module")
def wrong_report():
    return gc.check(*_demo.problem(("dW2x2", "db1-4m")))


def test_json_round_trip_gives_the_same_report(wrong_report):
    text = wrong_report.to_json()
    rebuilt = gc.Report.from_dict(strict_loads(text))
    assert rebuilt.summary() == wrong_report.summary()
    assert str(rebuilt) == str(wrong_report)
    assert rebuilt.to_json() == text
    assert rebuilt.wrong_tensors == ["b1", "W2"]


def test_the_worst_n_are_kept_and_said_so(wrong_report):
    data = strict_loads(wrong_report.to_json(max_components=3))
    assert data["components_included"] == "worst"
    assert [c["name"] for c in data["components"]] == [c.name for c in wrong_report.worst(3)]
    assert gc.Report.from_dict(data).summary(k=3) == wrong_report.summary(k=3)
    assert strict_loads(wrong_report.to_json())["components_included"] == "all"


def test_schema_1_holds_verdict_settings_tensors_findings_and_components(wrong_report):
    data = strict_loads(wrong_report.to_json())
    assert set(data) == {
        "schema", "passed", "difference", "band", "detection_limit", "safety_factor",
        "settings", "tensors", "findings", "components_included", "components",
    }  # fmt: skip
    assert set(data["settings"]) == {
        "method", "eps", "strategy", "seed", "dtype", "loss_value", "noise", "evaluations", "seconds",
        "strategy_reason", "directions", "miss_probability", "checked", "precision", "precision_reason", "rtol",
    }  # fmt: skip
    assert data["tensors"][2] | {"difference": 0, "max_abs_error": 0, "detection_limit": 0, "entry_limit": 0} == {
        "name": "W2", "shape": [3, 5], "difference": 0, "max_abs_error": 0, "worst": "W2[2, 0]",
        "checked": 15, "flagged": 4, "kinks": 0, "detection_limit": 0, "gradient": "dW2",
        "entry_limit": 0, "scale_limit": "NaN",
    }  # fmt: skip
    assert data["settings"]["precision"] == "float64" and data["settings"]["rtol"] == 0
    first = data["components"][0]
    assert set(first) == {
        "index",
        "name",
        "tensor",
        "analytic",
        "numerical",
        "estimate",
        "flagged",
        "kink",
        "error",
    }
    assert len(data["components"]) == 47


def test_non_finite_numbers_become_strings_that_read_back():
    # A loss that does not depend on w: every gradient is 0, so no error is detectable (inf).
    report = gc.check(lambda p: 1.0 + 0.0 * float(np.sum(p)), np.ones(3), np.zeros(3))
    assert report.detection_limit == float("inf")
    data = strict_loads(report.to_json())
    assert data["detection_limit"] == "Infinity"
    assert data["tensors"][0]["detection_limit"] == "Infinity"
    assert gc.Report.from_dict(data).detection_limit == float("inf")


def test_a_tensor_named_like_a_number_stays_a_name():
    report = gc.check(lambda p: float(np.sum(p["NaN"] ** 2)), {"NaN": np.ones(2)}, {"NaN": 2 * np.ones(2)})
    rebuilt = gc.Report.from_dict(strict_loads(report.to_json()))
    assert rebuilt.tensors[0].name == "NaN"


def test_another_schema_version_is_refused(wrong_report):
    data = strict_loads(wrong_report.to_json())
    with pytest.raises(gc.GradcheckError, match="schema=2: this version of gradcheck reads report schema 1"):
        gc.Report.from_dict({**data, "schema": 2})
