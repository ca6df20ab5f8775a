"""``import gradcheck`` must not import torch or jax (each costs seconds and may be absent)."""

import os
import subprocess
import sys

CODE = """
import sys
import gradcheck, gradcheck.torch, gradcheck.jax
loaded = sorted(m for m in ("torch", "jax", "dask", "distributed") if m in sys.modules)
print(",".join(loaded))
"""

MISSING = """
import sys
sys.modules["{module}"] = None  # as if it were not installed
import gradcheck.{module} as adapter
try:
    adapter.{call}
except ImportError as error:
    print(error)
"""


def run(code):
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    return subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True
    ).stdout


def test_importing_gradcheck_and_its_adapters_imports_no_framework():
    assert run(CODE).strip() == ""


def test_a_missing_framework_names_the_exact_install_line():
    torch = run(MISSING.format(module="torch", call="check_module(None, None)"))
    assert "pip install torch==2.13.0" in torch
    jax = run(MISSING.format(module="jax", call="check(None, None)"))
    assert 'pip install "gradcheck[jax]"' in jax
