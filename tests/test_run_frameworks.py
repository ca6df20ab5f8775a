"""`gradcheck run` and `gradcheck.torch.check` on problems whose params are PyTorch or JAX tensors."""

import subprocess
import sys
from pathlib import Path

import pytest

torch = pytest.importorskip("torch")
import gradcheck.torch  # noqa: E402

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"
SRC = Path(__file__).resolve().parents[1] / "src"


def run(spec):
    return subprocess.run(
        [sys.executable, "-m", "gradcheck", "run", spec],
        cwd=EXAMPLES,
        capture_output=True,
        text=True,
        env={"PYTHONPATH": str(SRC), "PATH": "/usr/bin:/bin", "COLUMNS": "100"},
        timeout=300,
    )


def test_a_torch_problem_is_checked_through_the_adapter():
    assert run("torch_problem.py").returncode == 0
    wrong = run("torch_problem.py:buggy")
    assert wrong.returncode == 1 and "WRONG in W, b" in wrong.stdout


def test_a_jax_problem_is_checked_through_the_adapter():
    pytest.importorskip("jax")
    result = run("jax_problem.py")
    assert result.returncode == 0, result.stderr


def test_torch_check_names_nested_tensors_and_takes_a_given_gradient():
    params = {
        "layers": [{"W": torch.randn(3, 2, dtype=torch.float64)}],
        "s": torch.tensor(0.5, dtype=torch.float64),
    }

    def loss(p):
        return (p["layers"][0]["W"] ** 2).sum() * p["s"]

    report = gradcheck.torch.check(loss, params)
    assert report.passed and [t.name for t in report.tensors][:2] == ["layers[0].W", "s"]
    wrong = {"layers": [{"W": 3 * params["layers"][0]["W"]}], "s": (params["layers"][0]["W"] ** 2).sum()}
    report = gradcheck.torch.check(loss, params, grad=wrong)
    assert report.wrong_tensors == ["layers[0].W"]


def test_torch_check_leaves_the_callers_tensors_alone():
    w = torch.randn(4, dtype=torch.float32)
    before = w.clone()
    gradcheck.torch.check(lambda p: (p["w"].sin()).sum(), {"w": w})
    assert torch.equal(w, before) and w.dtype == torch.float32


def test_a_numpy_problem_without_grad_is_refused(tmp_path):
    (tmp_path / "p.py").write_text(
        "import numpy as np\ndef problem():\n    return {'loss': np.sum, 'params': np.ones(2), 'grad': None}\n"
    )
    result = subprocess.run(
        [sys.executable, "-m", "gradcheck", "run", "p.py"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        env={"PYTHONPATH": str(SRC), "PATH": "/usr/bin:/bin"},
    )
    assert result.returncode == 2 and "grad=None" in result.stderr and "Traceback" not in result.stderr
