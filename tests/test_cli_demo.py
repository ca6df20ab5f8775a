"""``gradcheck demo`` run as a user runs it: a subprocess, exit codes and output."""

import json
import subprocess
import sys

import pytest


def gradcheck(*args, cwd=None):
    return subprocess.run(
        [sys.executable, "-m", "gradcheck", *args],
        capture_output=True,
        text=True,
        cwd=cwd,
        env={"COLUMNS": "100", "PATH": "/usr/bin:/bin", "PYTHONPATH": _src()},
    )


def _src():
    import gradcheck

    return str(__import__("pathlib").Path(gradcheck.__file__).parents[1])


def test_demo_passes_with_exit_code_0():
    result = gradcheck("demo")
    assert result.returncode == 0, result.stderr
    assert "gradients are correct" in result.stdout
    assert "fine" in result.stdout


@pytest.mark.parametrize("bug, gradient", [("dW2x2", "dW2"), ("db1-4m", "db1")])
def test_demo_with_a_course_bug_exits_1_and_names_the_gradient(bug, gradient):
    result = gradcheck("demo", "--bug", bug)
    assert result.returncode == 1
    assert f"WRONG in {gradient}" in result.stdout


def test_list_bugs():
    result = gradcheck("demo", "--list-bugs")
    assert result.returncode == 0
    assert "dW2x2" in result.stdout and "db1-4m" in result.stdout


def test_demo_writes_json(tmp_path):
    path = tmp_path / "report.json"
    result = gradcheck("demo", "--bug", "dW2x2", "--json", str(path))
    assert result.returncode == 1
    data = json.loads(path.read_text())
    assert data["schema"] == 1 and data["passed"] is False
    assert [t["gradient"] for t in data["tensors"] if t["flagged"]] == ["dW2"]


@pytest.mark.parametrize("args", [["demo", "--bug", "nope"], ["demo", "--eps", "big"], ["frobnicate"], []])
def test_bad_usage_exits_2_with_one_line(args):
    result = gradcheck(*args)
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    assert "error" in result.stderr


def test_importing_gradcheck_imports_no_framework():
    code = "import sys, gradcheck; print(sorted(m for m in ('torch', 'jax', 'dask', 'matplotlib') if m in sys.modules))"
    result = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        env={"PYTHONPATH": _src(), "PATH": "/usr/bin:/bin"},
    )
    assert result.stdout.strip() == "[]", result.stderr


def test_demo_writes_the_page_and_the_json_like_run(tmp_path):
    result = gradcheck("demo", "--bug", "db1-4m", "--html", "r.html", "--json", "r.json", cwd=tmp_path)
    assert result.returncode == 1, result.stderr
    assert "wrote r.json" in result.stdout and "wrote r.html" in result.stdout
    page = (tmp_path / "r.html").read_text(encoding="utf-8")
    assert "✘ Gradients are wrong in db1" in page and page.count('<svg class="heatmap"') == 6
    assert json.loads((tmp_path / "r.json").read_text())["passed"] is False


def test_demo_refuses_a_page_in_a_missing_folder_before_checking(tmp_path):
    result = gradcheck("demo", "--html", str(tmp_path / "missing" / "r.html"))
    assert result.returncode == 2 and "does not exist" in result.stderr and "Checking" not in result.stdout
