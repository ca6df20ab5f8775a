"""``gradcheck demo --train`` as a user runs it: the seeds' "check again after some training"."""

import json
import subprocess
import sys
from pathlib import Path

import pytest


def gradcheck(*args):
    import gradcheck as package

    return subprocess.run(
        [sys.executable, "-m", "gradcheck", *args],
        capture_output=True,
        text=True,
        env={"COLUMNS": "120", "PATH": "/usr/bin:/bin", "PYTHONPATH": str(Path(package.__file__).parents[1])},
    )


def test_training_a_correct_network_passes_every_check_with_exit_code_0():
    result = gradcheck("demo", "--train")
    assert result.returncode == 0, result.stderr
    assert result.stdout.count("✔ passed") == 11
    assert "all 11 checks passed (steps 0–200)" in " ".join(result.stdout.split())


def test_a_bug_that_only_shows_after_training_passes_at_step_0_and_fails_later(tmp_path):
    path = tmp_path / "report.json"
    result = gradcheck("demo", "--train", "--bug", "sigmoid-at-0", "--json", str(path))
    assert result.returncode == 1, result.stderr
    rows = [line.split() for line in result.stdout.splitlines() if line[:5].strip().isdigit()]
    assert rows[0][0] == "0" and rows[0][4:6] == ["fine", "✔"]
    assert rows[-1][0] == "20" and rows[-1][4:6] == ["worry", "✘"]
    text = " ".join(result.stdout.split())  # the console wraps long lines
    assert "passed the check at step 0 and was caught at step 20" in text
    assert "check at initialisation and again after some training" in text
    report = json.loads(path.read_text())
    assert report["passed"] is False and report["settings"]["strategy"] == "sample"


def test_a_bug_visible_from_the_start_fails_at_the_first_check():
    result = gradcheck("demo", "--train", "--bug", "dW2x2", "--steps", "5")
    assert result.returncode == 1
    assert "wrong from the start" in " ".join(result.stdout.split())


@pytest.mark.parametrize("args", [["--every", "0"], ["--steps", "-1"]])
def test_bad_training_options_exit_2(args):
    result = gradcheck("demo", "--train", *args)
    assert result.returncode == 2
    assert "error" in result.stderr and "Traceback" not in result.stderr
