"""workers=2 against the serial run, for a NumPy loss that costs several milliseconds.

PYTHONPATH=src python benchmarks/workers.py [--batch 16384]
"""

from __future__ import annotations

import os

for _variable in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[_variable] = "1"  # one core per process: the pool, not BLAS, uses the second core

import argparse  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from functools import partial  # noqa: E402

sys.path.insert(0, os.path.dirname(__file__))
import mlp  # noqa: E402

import gradcheck as gc  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--batch", type=int, default=16384)
    args = parser.parse_args()
    params, X, Y = mlp.make("1e3", batch=args.batch)
    loss = partial(mlp.numpy_loss, X=X, Y=Y)
    grad = mlp.numpy_grad(params, X, Y)
    start = time.perf_counter()
    for _ in range(20):
        loss(params)
    per_loss = (time.perf_counter() - start) / 20
    print(f"load average before: {os.getloadavg()}")
    print(f"one loss evaluation: {per_loss * 1e3:.1f} ms ({sum(v.size for v in params.values())} parameters)")
    times = {}
    for label, options in (("serial", {}), ("workers=2", {"workers": 2})):
        start = time.perf_counter()
        report = gc.check(loss, params, grad, progress=False, **options)
        times[label] = time.perf_counter() - start
        print(
            f"| {label:<10} | {times[label]:7.2f} s | {report.settings.evaluations} evaluations | passed={report.passed}"
        )
    print(f"speed-up of workers=2: {times['serial'] / times['workers=2']:.2f}×")
    print(f"load average after: {os.getloadavg()}")


if __name__ == "__main__":
    main()
