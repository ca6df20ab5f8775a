"""What the serial in-process path adds to the loss evaluations themselves.

    PYTHONPATH=src python benchmarks/overhead.py [--size 1e4] [--repeat 5]

Alternates a bare loop of 2n loss evaluations with gradcheck's serial full check (2n + 18
evaluations: two at θ, sixteen to measure the noise) and reports the best of each.
"""

from __future__ import annotations

import os

for _variable in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[_variable] = "1"

import argparse  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from functools import partial  # noqa: E402

sys.path.insert(0, os.path.dirname(__file__))
import mlp  # noqa: E402
from compare import bare_loop  # noqa: E402

import gradcheck as gc  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--size", default="1e4")
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    params, X, Y = mlp.make(args.size)
    grad = mlp.numpy_grad(params, X, Y)
    loss = partial(mlp.numpy_loss, X=X, Y=Y)
    best = {"bare loop": float("inf"), "gradcheck serial": float("inf")}
    print(f"load average before: {os.getloadavg()}")
    for _ in range(args.repeat):
        start = time.perf_counter()
        bare_loop(params, X, Y)
        best["bare loop"] = min(best["bare loop"], time.perf_counter() - start)
        start = time.perf_counter()
        gc.check(loss, params, grad, progress=False)
        best["gradcheck serial"] = min(best["gradcheck serial"], time.perf_counter() - start)
    for label, seconds in best.items():
        print(f"| {label:<17} | {seconds:7.3f} s |")
    print(f"gradcheck serial / bare loop = {best['gradcheck serial'] / best['bare loop']:.3f}")
    print(f"load average after: {os.getloadavg()}")


if __name__ == "__main__":
    main()
