"""The pytest plugin (entry point ``pytest11``), run in pytester's inner sessions."""

import importlib.metadata
import os
import subprocess
import sys
from pathlib import Path

import numpy  # noqa: F401  (loaded here, it survives pytester's sys.modules snapshots; it cannot load twice)
import pytest

pytest_plugins = ["pytester"]

ROOT = Path(__file__).resolve().parents[1]

TESTS = """
import numpy as np

W = np.array([[0.5, -1.0], [2.0, 0.25]])
loss = lambda p: float(np.sum(np.tanh(p["W"]) ** 2))
right = {"W": 2 * np.tanh(W) / np.cosh(W) ** 2}
wrong = {"W": right["W"] * np.array([[1.0, 1.0], [1.0, 3.0]])}

def test_right(gradcheck):
    report = gradcheck.assert_gradients(loss, {"W": W}, right)
    print("method", report.settings.method)

def test_wrong(gradcheck):
    gradcheck.assert_gradients(loss, {"W": W}, wrong)

def test_check_only(gradcheck):
    assert not gradcheck.check(loss, {"W": W}, wrong).passed
    assert not gradcheck.check(loss, {"W": W}, wrong, method="central4").passed
    assert len(gradcheck.reports) == (2 if gradcheck._html_dir else 0)
"""


def _installed():
    return any(e.value == "gradcheck_pytest" for e in importlib.metadata.entry_points(group="pytest11"))


@pytest.fixture
def run(pytester):
    pytester.makepyfile(test_nets=TESTS)

    def run(*args):
        # Installed (make test): pytest finds the plugin by its entry point; from a source tree: -p.
        plugin = () if _installed() else ("-p", "gradcheck_pytest")
        return pytester.runpytest(*plugin, "-p", "no:cacheprovider", *args)

    return run


def test_fixture_passes_right_and_fails_wrong_with_a_short_message(run):
    result = run("-s", "--gradcheck-method", "forward")
    result.assert_outcomes(passed=2, failed=1)
    result.stdout.fnmatch_lines(["gradcheck: method=forward, HTML reports of failing checks in (none)"])
    result.stdout.fnmatch_lines(["*method forward"])
    result.stdout.fnmatch_lines(
        [
            "E *gradcheck.GradientMismatch: ✘ gradients are WRONG in W (difference *, worry)",
            "E *  W: 1 of 4 components wrong (difference *)",
            "E *  W?1, 1?: analytic *, numerical * (error *, numerical error ≈ *)",
        ]
    )
    assert "HTML report:" not in result.stdout.str()


def test_html_dir_gets_a_report_for_every_failing_check(run, pytester):
    result = run("--gradcheck-html-dir", "reports")
    result.assert_outcomes(passed=2, failed=1)
    written = sorted(p.name for p in (pytester.path / "reports").iterdir())
    assert written == [
        "test_nets.py_test_check_only-2.html",
        "test_nets.py_test_check_only.html",
        "test_nets.py_test_wrong.html",
    ]
    result.stdout.fnmatch_lines(["E *HTML report: reports/test_nets.py_test_wrong.html"])
    page = (pytester.path / "reports" / "test_nets.py_test_wrong.html").read_text()
    assert "Gradients are wrong in W" in page


def test_an_invalid_method_is_reported_by_the_check(run):
    result = run("--gradcheck-method", "sideways")
    result.assert_outcomes(failed=3)
    result.stdout.fnmatch_lines(["*OptionError: method='sideways' (type=str) is not valid*"])


def test_loading_the_plugin_imports_nothing_heavy():
    code = (
        "import sys, gradcheck_pytest; "
        "loaded = {'numpy', 'gradcheck', 'torch', 'jax', 'matplotlib', 'rich'} & set(sys.modules); "
        "assert not loaded, loaded"
    )
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src")}
    subprocess.run([sys.executable, "-c", code], check=True, env=env, timeout=60)


def test_the_entry_point_is_declared():
    tomllib = pytest.importorskip("tomllib")
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    assert project["entry-points"]["pytest11"] == {"gradcheck": "gradcheck_pytest"}
