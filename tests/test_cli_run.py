"""`gradcheck run FILE.py[:NAME]`: exit codes, output files, and one-line errors for bad input."""

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gradcheck._cli import main

SRC = str(Path(__file__).resolve().parents[1] / "src")

QUADRATIC = """
import numpy as np
import gradcheck as gc

A = np.array([[2.0, 0.5], [0.5, 1.0]])
W = np.array([[0.3, -1.2], [0.7, 0.1]])

def loss(p):
    return float(np.sum(p["W"] * (A @ p["W"])) + np.sum(p["b"] ** 3))

def problem():
    b = np.array([0.5, -1.5, 2.0])
    return gc.Problem(loss=loss, params={"W": W, "b": b}, grad={"dW": 2 * A @ W, "db": 3 * b**2})

def buggy():
    b = np.array([0.5, -1.5, 2.0])
    return {"loss": loss, "params": {"W": W, "b": b}, "grad": {"W": 2 * A @ W, "b": 6 * b**2}}
"""


def gradcheck(*args, cwd):
    env = {**os.environ, "PYTHONPATH": SRC, "COLUMNS": "120"}
    return subprocess.run(
        [sys.executable, "-m", "gradcheck", *map(str, args)],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.fixture
def quadratic(tmp_path):
    (tmp_path / "quadratic.py").write_text(QUADRATIC)
    return tmp_path


def test_a_right_gradient_exits_0_and_writes_both_reports(quadratic):
    result = gradcheck("run", "quadratic.py", "--json", "r.json", "--html", "r.html", cwd=quadratic)
    assert result.returncode == 0, result.stderr
    assert "✔ gradients are correct" in result.stdout
    assert "wrote r.json" in result.stdout and "wrote r.html" in result.stdout
    data = json.loads((quadratic / "r.json").read_text())
    assert data["schema"] == 1 and data["passed"] is True
    assert [t["name"] for t in data["tensors"]] == ["W", "b"]
    assert '<svg class="heatmap"' in (quadratic / "r.html").read_text()


def test_a_wrong_gradient_exits_1_naming_the_tensor(quadratic):
    result = gradcheck("run", "quadratic.py:buggy", "--method", "central4", cwd=quadratic)
    assert result.returncode == 1, result.stderr
    assert "WRONG in b" in result.stdout
    assert "central4 differences" in result.stdout


def test_options_reach_the_check(quadratic):
    code = main(
        [
            "run",
            str(quadratic / "quadratic.py"),
            "--eps",
            "1e-6",
            "--seed",
            "3",
            "--json",
            str(quadratic / "r.json"),
        ]
    )
    assert code == 0
    settings_ = json.loads((quadratic / "r.json").read_text())["settings"]
    assert (settings_["eps"], settings_["seed"]) == (1e-6, 3)


def test_reseed_from_the_problem_is_used(tmp_path):
    (tmp_path / "dropout.py").write_text(
        textwrap.dedent("""
        import numpy as np
        rng = np.random.default_rng(0)
        w = np.array([0.5, -1.0, 2.0, 0.25])

        def reseed():
            global rng
            rng = np.random.default_rng(0)

        def loss(w):
            mask = rng.random(w.size) < 0.5
            return float(np.sum((w * mask) ** 2))

        def problem():
            reseed()
            mask = rng.random(w.size) < 0.5
            return {"loss": loss, "params": w, "grad": 2 * w * mask, "reseed": reseed}
        """)
    )
    assert main(["run", str(tmp_path / "dropout.py")]) == 0


def test_bad_input_is_one_line_without_traceback_but_debug_shows_it(tmp_path):
    (tmp_path / "broken.py").write_text("def problem():\n    return 1 / 0\n")
    result = gradcheck("run", "broken.py", cwd=tmp_path)
    assert result.returncode == 2
    assert result.stderr.splitlines() == [
        "gradcheck: error: broken.py:problem() raised ZeroDivisionError: division by zero"
    ]
    assert result.stdout == ""
    debug = gradcheck("run", "broken.py", "--debug", cwd=tmp_path)
    assert debug.returncode == 2
    assert "Traceback" in debug.stderr and "1 / 0" in debug.stderr


def test_missing_output_folder_fails_before_the_check(quadratic, capsys):
    code = main(["run", str(quadratic / "quadratic.py"), "--html", str(quadratic / "no/dir/r.html")])
    out, err = capsys.readouterr()
    assert "no/dir does not exist" in _one_line_error(code, out, err)
    assert "Checking" not in out


@pytest.mark.parametrize(
    "option, value, strategy",
    [
        ("--components", "2", "sample"),
        ("--directions", "2", "directions"),
        ("--workers", "2", "full"),
        ("--strategy", "certify", "certify"),
    ],
)
def test_each_option_reaches_the_check(quadratic, option, value, strategy, tmp_path):
    report = tmp_path / "r.json"
    code = main(["run", str(quadratic / "quadratic.py"), option, value, "--json", str(report)])
    assert code == 0
    assert json.loads(report.read_text())["settings"]["strategy"] == strategy


def test_usage_errors_exit_2(quadratic, capsys):
    result = gradcheck("run", cwd=quadratic)
    assert result.returncode == 2 and "usage:" in result.stderr
    for option, value, message in (
        ("--method", "backwards", "method='backwards' (type=str) is not valid"),
        ("--eps", "tiny", "--eps 'tiny': pass 'auto' or a number"),
    ):
        code = main(["run", str(quadratic / "quadratic.py"), option, value])
        assert message in _one_line_error(code, *capsys.readouterr())
    with pytest.raises(SystemExit) as exit_:
        main(["run", "quadratic.py", "--seed", "x"])
    assert exit_.value.code == 2


# Problem files that must each give exit status 2 and one line naming what is wrong.
MALFORMED = {
    "syntax error": ("def problem(:\n", "syntax error"),
    "raises on import": (
        "raise RuntimeError('no data')\n",
        "raised RuntimeError: no data while being imported",
    ),
    "exits on import": ("import sys\nsys.exit(3)\n", "SystemExit"),
    "no function": ("def other():\n    pass\n", "defines no 'problem' (it defines other)"),
    "not a function": ("problem = 3\n", "problem is 3 (type=int), not a function"),
    "needs arguments": ("def problem(x):\n    pass\n", "missing 1 required positional argument"),
    "returns None": ("def problem():\n    pass\n", "returned None (type=NoneType)"),
    "returns a tuple": ("def problem():\n    return (1, 2, 3)\n", "return gradcheck.Problem"),
    "dict lacks grad": ("def problem():\n    return {'loss': len, 'params': [1.0]}\n", "lacks 'grad'"),
    "dict has a typo": (
        "def problem():\n    return {'loss': len, 'params': [1.0], 'grad': [1.0], 'reseeed': 1}\n",
        "unknown key 'reseeed'",
    ),
    "loss not callable": (
        "def problem():\n    return {'loss': 1.0, 'params': [1.0], 'grad': [1.0]}\n",
        "pass a function loss(params) -> float",
    ),
    "reseed not callable": (
        "def problem():\n    return {'loss': sum, 'params': [1.0], 'grad': [1.0], 'reseed': 0}\n",
        "Problem(reseed=...) got 0",
    ),
    "params None": (
        "def problem():\n    return {'loss': sum, 'params': None, 'grad': [1.0]}\n",
        "params=None",
    ),
    "string params": (
        "def problem():\n    return {'loss': sum, 'params': 'ab', 'grad': 'ab'}\n",
        "is the string 'ab', not a float array",
    ),
    "grad of another shape": (
        "import numpy as np\n"
        "def problem():\n    return {'loss': np.sum, 'params': np.ones((2, 3)), 'grad': np.ones((3, 2))}\n",
        "did you transpose it?",
    ),
    "loss raises": (
        "def problem():\n    return {'loss': lambda p: 1 / 0, 'params': [1.0], 'grad': [1.0]}\n",
        "the loss raised ZeroDivisionError",
    ),
    "loss returns an array": (
        "import numpy as np\n"
        "def problem():\n    return {'loss': lambda p: np.ones(3), 'params': [1.0], 'grad': [1.0]}\n",
        "array of shape (3,)",
    ),
    "loss returns nan": (
        "def problem():\n    return {'loss': lambda p: float('nan'), 'params': [1.0], 'grad': [1.0]}\n",
        "the loss is nan",
    ),
    "grad function raises": (
        "import numpy as np\n"
        "def g(p):\n    raise KeyError('dW9')\n"
        "def problem():\n    return {'loss': lambda p: float(np.sum(p)), 'params': np.ones(2), 'grad': g}\n",
        "failed with KeyError: 'dW9'",
    ),
    "multi-line message": (
        "def problem():\n    raise ValueError('first\\nsecond')\n",
        "raised ValueError: first second",
    ),
    "torch loss returning a float": (
        "import torch\n"
        "def problem():\n    w = torch.ones(2, dtype=torch.float64)\n"
        "    return {'loss': lambda p: 0.0, 'params': {'w': w}, 'grad': None}\n",
        "must return a scalar tensor",
    ),
}


def _one_line_error(code, out, err):
    assert code == 2, out + err
    lines = err.splitlines()
    assert len(lines) == 1 and lines[0].startswith("gradcheck: error: "), err
    assert "Traceback" not in out + err
    return lines[0]


@pytest.mark.parametrize("case", MALFORMED, ids=list(MALFORMED))
def test_malformed_problem_files_exit_2_with_one_line(tmp_path, capsys, case):
    source, expected = MALFORMED[case]
    (tmp_path / "p.py").write_text(source)
    code = main(["run", str(tmp_path / "p.py")])
    assert expected in _one_line_error(code, *capsys.readouterr())


def test_malformed_problem_files_in_a_real_process(tmp_path):
    for case in ("syntax error", "grad function raises"):
        source, expected = MALFORMED[case]
        (tmp_path / "p.py").write_text(source)
        result = gradcheck("run", "p.py", cwd=tmp_path)
        assert expected in _one_line_error(result.returncode, result.stdout, result.stderr), case


def test_a_missing_file_and_a_missing_function_are_named(quadratic, capsys, monkeypatch):
    monkeypatch.chdir(quadratic)
    assert _one_line_error(main(["run", "nothere.py"]), *capsys.readouterr()).endswith(
        "nothere.py: no such file"
    )
    line = _one_line_error(main(["run", "quadratic.py:problme"]), *capsys.readouterr())
    assert "quadratic.py defines no 'problme' (it defines buggy, loss, problem)" in line


# Hypothesis fuzz: problem dicts built from good and bad values, checked in process for speed.
VALUES = {
    "loss": [
        "lambda p: float(np.sum(p['w'] ** 2))",
        "None",
        "3",
        "'loss'",
        "lambda: 1.0",
        "lambda p: [1, 2]",
    ],
    "params": [
        "{'w': np.ones(3)}",
        "None",
        "{'w': 'abc'}",
        "{}",
        "[[1.0], [2.0, 3.0]]",
        "{'w': np.ones(3, int)}",
    ],
    "grad": [
        "{'dw': 2 * np.ones(3)}",
        "None",
        "{'v': np.ones(3)}",
        "{'w': np.ones(4)}",
        "lambda p: 1 / 0",
        "7",
    ],
    "reseed": ["None", "1", "lambda: None", "lambda x: x"],
}


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    choice=st.fixed_dictionaries({k: st.sampled_from(v) for k, v in VALUES.items()}),
    drop=st.sampled_from([None, "loss", "params", "grad"]),
    extra=st.booleans(),
)
def test_fuzzed_problem_dicts_never_show_a_traceback(tmp_path_factory, capsys, choice, drop, extra):
    fields = {k: v for k, v in choice.items() if k != drop}
    if extra:
        fields["options"] = "{}"
    body = ", ".join(f"{k!r}: {v}" for k, v in fields.items())
    path = tmp_path_factory.mktemp("fuzz") / "p.py"
    path.write_text(f"import numpy as np\ndef problem():\n    return {{{body}}}\n")
    capsys.readouterr()
    code = main(["run", str(path)])
    out, err = capsys.readouterr()
    if code == 2:
        _one_line_error(code, out, err)
    else:
        assert code in (0, 1) and err == "" and "Traceback" not in out


def test_problem_is_a_frozen_validated_value():
    import dataclasses

    import gradcheck as gc

    problem = gc.Problem(loss=sum, params=[1.0], grad=[1.0])
    assert problem.reseed is None
    with pytest.raises(dataclasses.FrozenInstanceError):
        problem.loss = len
    with pytest.raises(
        gc.ProblemError, match=r"Problem\(loss=...\) got 'cost' \(type=str\); pass a function"
    ):
        gc.Problem(loss="cost", params=[1.0], grad=[1.0])
    with pytest.raises(gc.ProblemError, match=r"Problem\(params=None\)"):
        gc.Problem(loss=sum, params=None, grad=[1.0])
    assert gc.Problem(loss=sum, params=[1.0], grad=None).grad is None  # PyTorch/JAX: autodiff
