"""Golden files: every finding text of the planted-bug collection, under both strategies.

The texts are what users read, so any change to them is a change to review: a failing test
shows the diff. ``GRADCHECK_UPDATE_GOLDEN=1 pytest tests/test_golden_findings.py`` writes the
files anew (then read the diff before committing it).
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

import gradcheck as gc
from models.collection import cases
from test_transpose import conv, swapped

GOLDEN = Path(__file__).parent / "golden"
UPDATE = os.environ.get("GRADCHECK_UPDATE_GOLDEN") == "1"
STRATEGIES = ("full", "certify")
LAM = 0.01


def _mlp(hidden: int = 30, seed: int = 1, batch: int = 32):
    """A 20-H-H-1 tanh MLP with L2 (LAM) on every tensor, plus V that only appears in ½λ‖V‖²."""
    rng = np.random.default_rng(seed)
    x, y = rng.standard_normal((batch, 20)), rng.standard_normal((batch, 1))
    params = {
        "W1": rng.standard_normal((20, hidden)) / np.sqrt(20),
        "b1": 0.1 * rng.standard_normal(hidden),
        "W2": rng.standard_normal((hidden, hidden)) / np.sqrt(hidden),
        "b2": 0.1 * rng.standard_normal(hidden),
        "W3": rng.standard_normal((hidden, 1)) / np.sqrt(hidden),
        "V": rng.standard_normal((6, 8)),
    }

    def forward(p):
        h1 = np.tanh(x @ p["W1"] + p["b1"])
        h2 = np.tanh(h1 @ p["W2"] + p["b2"])
        return h1, h2, h2 @ p["W3"]

    def loss(p):
        return 0.5 * np.mean((forward(p)[2] - y) ** 2) + 0.5 * LAM * sum(np.sum(v**2) for v in p.values())

    def grad(p, bug=None):
        h1, h2, out = forward(p)
        d = (out - y) / batch
        dz2 = (d @ p["W3"].T) * (1 - h2**2)
        dz1 = (dz2 @ p["W2"].T) * (1 - h1**2)
        g = {"W1": x.T @ dz1, "b1": dz1.sum(0), "W2": h1.T @ dz2, "b2": dz2.sum(0), "W3": h2.T @ d}
        g = {k: v + LAM * p[k] for k, v in g.items()}
        g["V"] = LAM * p["V"]
        if bug == "W2x2":
            g["W2"] = 2 * g["W2"]
        elif bug == "W2-sign":
            g["W2"] = -g["W2"]
        elif bug == "W2-no-l2":
            g["W2"] = g["W2"] - LAM * p["W2"]
        elif bug == "W2-zero":
            g["W2"] = np.zeros_like(g["W2"])
        elif bug == "W2-transposed":
            g["W2"] = g["W2"].T.copy()
        elif bug == "W2-entry":
            g["W2"] = g["W2"].copy()
            g["W2"][3, 7] *= 1.5
        elif bug == "W1-row":
            g["W1"] = g["W1"].copy()
            g["W1"][4] *= 1.2
        elif bug == "W1-rows-zero":
            g["W1"] = g["W1"].copy()
            g["W1"][:4] = 0.0
        elif bug == "V-zero":
            g["V"] = np.zeros_like(g["V"])
        return g

    return loss, params, grad


MLP_BUGS = (
    None,
    "W2x2",
    "W2-sign",
    "W2-no-l2",
    "W2-zero",
    "W2-transposed",
    "W2-entry",
    "W1-row",
    "W1-rows-zero",
    "V-zero",
)


def _problems():
    """(id, loss, params, grad) for every case: the collection, then the larger MLP."""
    for case in cases(seed=0):
        network = case.network
        yield case.id, network.loss, network.params, network.grad_with(case.bug)
    loss, params, grad = _mlp()
    for bug in MLP_BUGS:
        yield (
            f"mlp:{bug or 'correct'}",
            loss,
            lambda: {k: v.copy() for k, v in params.items()},
            (lambda p, bug=bug: grad(p, bug)),
        )
    for channels, size in ((2, 6), (12, 8)):  # 36 entries, and 1,296: too many for one by one
        loss, kernel, grad = conv(channels, size)
        yield f"conv{channels}:K-axes-swapped", loss, lambda kernel=kernel: dict(kernel), swapped(grad, 0, 1)


def _lines(strategy: str) -> list[str]:
    lines = []
    for case_id, loss, params, grad in _problems():
        report = gc.check(loss, params(), grad, strategy=strategy)
        verdict = "pass" if report.passed else "FAIL"
        lines.append(f"{case_id}  {verdict}")
        lines += [f"    [{f.kind}] {f.tensor}: {f.message}" for f in report.findings]
    return lines


@pytest.mark.parametrize("strategy", STRATEGIES)
def test_finding_texts_match_the_golden_file(strategy):
    path = GOLDEN / f"findings-{strategy}.txt"
    text = "\n".join(_lines(strategy)) + "\n"
    if UPDATE:
        path.write_text(text, encoding="utf-8")
    expected = path.read_text(encoding="utf-8")
    assert text == expected, f"finding texts changed: compare with {path} (see the module docstring)"
