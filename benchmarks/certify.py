"""Benchmark: strategy="certify" against torch.autograd.gradcheck (slow mode) on tanh MLPs.

Run:  PYTHONPATH=src python benchmarks/certify.py [--torch-large] [--repeat 5]

Model: 20-H-H-1 tanh MLP, float64, batch 64, mean squared error, written in NumPy with its
backward pass (H = 89, 305, 989 give about 10⁴, 10⁵, 10⁶ parameters). torch gets the same
weights and data. Both run single-threaded (BLAS and torch), so that other work on the
machine disturbs both alike; the load average is printed with the results.
"""

from __future__ import annotations

import os

for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import argparse  # noqa: E402
import statistics  # noqa: E402
import time  # noqa: E402

import numpy as np  # noqa: E402

import gradcheck as gc  # noqa: E402

INPUTS, BATCH = 20, 64


def mlp(hidden: int, seed: int = 0):
    """(loss, params, grad, data) of a 20-H-H-1 tanh MLP with its NumPy backward pass."""
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((BATCH, INPUTS))
    y = rng.standard_normal((BATCH, 1))
    params = {
        "W1": rng.standard_normal((INPUTS, hidden)) / np.sqrt(INPUTS),
        "b1": 0.1 * rng.standard_normal(hidden),
        "W2": rng.standard_normal((hidden, hidden)) / np.sqrt(hidden),
        "b2": 0.1 * rng.standard_normal(hidden),
        "W3": rng.standard_normal((hidden, 1)) / np.sqrt(hidden),
        "b3": 0.1 * rng.standard_normal(1),
    }

    def forward(p):
        h1 = np.tanh(x @ p["W1"] + p["b1"])
        h2 = np.tanh(h1 @ p["W2"] + p["b2"])
        return h1, h2, h2 @ p["W3"] + p["b3"]

    def loss(p):
        return 0.5 * np.mean((forward(p)[2] - y) ** 2)

    def grad(p):
        h1, h2, out = forward(p)
        d = (out - y) / BATCH
        dz2 = (d @ p["W3"].T) * (1 - h2**2)
        dz1 = (dz2 @ p["W2"].T) * (1 - h1**2)
        return {
            "W1": x.T @ dz1,
            "b1": dz1.sum(0),
            "W2": h1.T @ dz2,
            "b2": dz2.sum(0),
            "W3": h2.T @ d,
            "b3": d.sum(0),
        }

    return loss, params, grad, (x, y)


def torch_gradcheck_seconds(params, data) -> float:
    """Seconds for torch.autograd.gradcheck (slow mode) on the same model, weights and data."""
    import torch

    torch.set_num_threads(1)
    x, y = (torch.tensor(a) for a in data)
    tensors = [torch.tensor(params[k], requires_grad=True) for k in ("W1", "b1", "W2", "b2", "W3", "b3")]

    def f(w1, b1, w2, b2, w3, b3):
        h2 = torch.tanh(torch.tanh(x @ w1 + b1) @ w2 + b2)
        return 0.5 * torch.mean((h2 @ w3 + b3 - y) ** 2)

    start = time.perf_counter()
    assert torch.autograd.gradcheck(f, tensors, fast_mode=False)
    return time.perf_counter() - start


def certify(loss, params, grad, repeat: int):
    """(median seconds, last report) of ``repeat`` runs of gc.check(strategy="certify")."""
    seconds, report = [], None
    for _ in range(repeat):
        start = time.perf_counter()
        report = gc.check(loss, params, grad, strategy="certify")
        seconds.append(time.perf_counter() - start)
    return statistics.median(seconds), report


def planted(grad, params, relative: float = 1e-3):
    """The gradient with W2[H//3, H//2] off by ``relative`` × the median |gⱼ|, and that name."""
    g = grad(params)
    median = float(np.median(np.abs(np.concatenate([v.ravel() for v in g.values()]))))
    hidden = params["W2"].shape[0]
    where = (hidden // 3, hidden // 2)
    g["W2"] = g["W2"].copy()
    g["W2"][where] += relative * median
    return g, f"W2[{where[0]}, {where[1]}]"


def located(report, name: str) -> bool:
    return [c.name for c in report.worst(5) if c.flagged] == [name]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5, help="runs per certify timing (median)")
    parser.add_argument(
        "--torch-large", action="store_true", help="also time torch gradcheck at 1e5 (minutes)"
    )
    args = parser.parse_args()
    print(f"load average before: {os.getloadavg()[0]:.2f} (2 cores)")
    rows = []

    loss, params, grad, data = mlp(89)
    n = sum(v.size for v in params.values())
    g = grad(params)
    median_g = float(np.median(np.abs(np.concatenate([v.ravel() for v in g.values()]))))
    seconds, report = certify(loss, params, g, args.repeat)
    torch_seconds = torch_gradcheck_seconds(params, data)
    limit = max(row.entry_limit for row in report.tensors)
    rows.append(
        (
            f"certify a correct gradient, n = {n:,}",
            f"{seconds * 1e3:.0f} ms ({report.settings.evaluations} evaluations)",
            f"{torch_seconds:.1f} s",
            f"{torch_seconds / seconds:.0f}×",
            f"passed={report.passed}; any entry off by > {limit:.1e} = {limit / median_g:.1e} × median \\|gⱼ\\| "
            f"caught; miss probability {report.settings.miss_probability:.1e}",
        )
    )
    wrong, name = planted(grad, params)
    seconds, report = certify(loss, params, wrong, args.repeat)
    rows.append(
        (
            f"locate one entry off by 1e-3 × median \\|gⱼ\\|, n = {n:,}",
            f"{seconds * 1e3:.0f} ms ({report.settings.evaluations} evaluations)",
            f"{torch_seconds:.1f} s",
            f"{torch_seconds / seconds:.0f}×",
            f"located {name}: {located(report, name)}",
        )
    )
    for hidden, repeat in ((305, args.repeat), (989, 3)):
        loss, params, grad, data = mlp(hidden)
        n = sum(v.size for v in params.values())
        wrong, name = planted(grad, params)
        seconds, report = certify(loss, params, wrong, repeat)
        torch_cell, ratio = "—", "—"
        if hidden == 305 and args.torch_large:
            torch_seconds = torch_gradcheck_seconds(params, data)
            torch_cell, ratio = f"{torch_seconds:.0f} s", f"{torch_seconds / seconds:.0f}×"
        rows.append(
            (
                f"locate one entry off by 1e-3 × median \\|gⱼ\\|, n = {n:,}",
                f"{seconds:.2f} s ({report.settings.evaluations} evaluations)",
                torch_cell,
                ratio,
                f"located {name}: {located(report, name)}",
            )
        )
    print(f"load average after: {os.getloadavg()[0]:.2f}\n")
    print("| task | gradcheck certify | torch gradcheck (slow) | speed-up | result |")
    print("|---|---|---|---|---|")
    for row in rows:
        print("| " + " | ".join(row) + " |")


if __name__ == "__main__":
    main()
