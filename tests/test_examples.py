"""Every example runs, each in its own process, so none of them rots."""

import importlib.metadata
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = ROOT / "examples"
SCRIPTS = sorted(p.name for p in EXAMPLES.glob("*.py"))


def _run(*args):
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT / "src"), str(EXAMPLES)])}
    return subprocess.run(
        [sys.executable, *args], cwd=EXAMPLES, env=env, capture_output=True, text=True, timeout=300
    )


def _command(script):
    """How a person runs this example: pytest for test files, `gradcheck run` for problem files."""
    if script.startswith("test_"):
        installed = any(
            e.value == "gradcheck_pytest" for e in importlib.metadata.entry_points(group="pytest11")
        )
        plugin = [] if installed else ["-p", "gradcheck_pytest"]
        return ["-m", "pytest", *plugin, "-p", "no:cacheprovider", "-q", script]
    if "\ndef problem(" in (EXAMPLES / script).read_text():
        return ["-m", "gradcheck", "run", script]
    return [script]


def test_there_are_examples_of_every_workflow():
    assert {"check_network.py", "read_report.py", "fix_the_bug.py", "course_problem.py"} <= set(SCRIPTS)
    assert {"performance.py", "test_with_pytest.py"} <= set(SCRIPTS)
    assert {"check_layer.py", "dropout.py", "monitor_training.py"} <= set(SCRIPTS)
    assert {"forward_mode.py", "second_order.py", "taylor_test.py"} <= set(SCRIPTS)


@pytest.mark.parametrize("script", SCRIPTS)
def test_example_runs(script):
    result = _run(*_command(script))
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_readme_command_writes_both_reports(tmp_path):
    result = _run(
        "-m",
        "gradcheck",
        "run",
        "course_problem.py",
        "--html",
        tmp_path / "r.html",
        "--json",
        tmp_path / "r.json",
    )
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "r.html").stat().st_size > 0 and (tmp_path / "r.json").stat().st_size > 0
    assert _run("-m", "gradcheck", "run", "course_problem.py:buggy").returncode == 1
