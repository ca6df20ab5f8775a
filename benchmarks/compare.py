"""Full gradient checks of float64 MLPs (batch 64), side by side in one process.

    PYTHONPATH=src python benchmarks/compare.py [--sizes 1e3 1e4 1e5] [--cap 300]

Every library runs on one thread (set below, before any import), so that the figures compare
the methods and not how each one uses a second core on a shared machine.
"""

from __future__ import annotations

import os

for _variable in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[_variable] = "1"
os.environ["XLA_FLAGS"] = "--xla_cpu_multi_thread_eigen=false intra_op_parallelism_threads=1"

import argparse  # noqa: E402
import signal  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from functools import partial  # noqa: E402

import numpy as np  # noqa: E402

sys.path.insert(0, os.path.dirname(__file__))
import mlp  # noqa: E402

import gradcheck as gc  # noqa: E402


class Timeout(Exception):
    pass


def capped(function, cap):
    """(seconds, note): run ``function`` with an alarm after ``cap`` seconds."""

    def alarm(signum, frame):
        raise Timeout

    signal.signal(signal.SIGALRM, alarm)
    signal.alarm(int(cap))
    start = time.perf_counter()
    try:
        note = function()
    except Timeout:
        return float("nan"), f"> {cap:.0f} s (stopped)"
    finally:
        signal.alarm(0)
    return time.perf_counter() - start, note or ""


def flat_loss(theta, params, X, Y):
    tree, offset = {}, 0
    for key, value in params.items():
        tree[key] = theta[offset : offset + value.size].reshape(value.shape)
        offset += value.size
    return mlp.numpy_loss(tree, X, Y)


def bare_loop(params, X, Y):
    """2n evaluations of the NumPy loss, perturbing one entry in place: the unbatched floor."""
    work = {k: v.copy() for k, v in params.items()}
    h = 1e-6
    for value in work.values():
        flat = value.reshape(-1)
        for i in range(flat.size):
            original = flat[i]
            flat[i] = original + h
            mlp.numpy_loss(work, X, Y)
            flat[i] = original - h
            mlp.numpy_loss(work, X, Y)
            flat[i] = original


def gradcheck_numpy(params, X, Y):
    report = gc.check(partial(mlp.numpy_loss, X=X, Y=Y), params, mlp.numpy_grad(params, X, Y), progress=False)
    return "passed" if report.passed else "FAILED"


def gradcheck_torch(params, X, Y):
    import torch

    import gradcheck.torch

    model = mlp.torch_model(params)
    # modes="rev": the backward, as torch.autograd.gradcheck checks it (forward mode is compared
    # in benchmarks/derivatives.py).
    report = gradcheck.torch.check_module(
        model, torch.nn.MSELoss(), torch.from_numpy(X), torch.from_numpy(Y), progress=False, modes="rev"
    )
    return "passed" if report.passed else "FAILED"


def gradcheck_jax(params, X, Y):
    import gradcheck.jax

    report = gradcheck.jax.check(partial(mlp.jax_loss, X=X, Y=Y), params, progress=False, modes="rev")
    return "passed" if report.passed else "FAILED"


def torch_gradcheck(params, X, Y):
    import torch
    from torch.func import functional_call

    model = mlp.torch_model(params)
    names = [name for name, _ in model.named_parameters()]
    tensors = tuple(p.detach().clone().requires_grad_(True) for p in model.parameters())
    x, y = torch.from_numpy(X), torch.from_numpy(Y)

    def loss(*ps):
        return torch.nn.functional.mse_loss(
            functional_call(model, dict(zip(names, ps, strict=True)), (x,)), y
        )

    ok = torch.autograd.gradcheck(loss, tensors, fast_mode=False, raise_exception=False)
    return "passed" if ok else "FAILED"


def scipy_approx_fprime(params, X, Y):
    from scipy.optimize import approx_fprime

    theta = np.concatenate([v.reshape(-1) for v in params.values()])
    approx_fprime(theta, flat_loss, np.sqrt(np.finfo(float).eps), params, X, Y)


def numdifftools_gradient(params, X, Y):
    import numdifftools as nd

    theta = np.concatenate([v.reshape(-1) for v in params.values()])
    nd.Gradient(partial(flat_loss, params=params, X=X, Y=Y))(theta)


RUNNERS = {
    "bare loop of 2n NumPy losses": bare_loop,
    "gradcheck, NumPy loss, serial": gradcheck_numpy,
    "gradcheck.torch.check_module": gradcheck_torch,
    "gradcheck.jax.check": gradcheck_jax,
    "torch.autograd.gradcheck (slow mode)": torch_gradcheck,
    "scipy.optimize.approx_fprime": scipy_approx_fprime,
    "numdifftools.Gradient": numdifftools_gradient,
}
REFERENCE = "torch.autograd.gradcheck (slow mode)"
FLOOR = "bare loop of 2n NumPy losses"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", nargs="+", default=list(mlp.SIZES))
    parser.add_argument("--cap", type=float, default=300.0, help="seconds before a method is stopped")
    parser.add_argument("--numdifftools-cap", type=float, default=60.0)
    parser.add_argument("--only", nargs="*", default=None, help="run only these methods (prefixes)")
    args = parser.parse_args()
    import torch

    torch.set_num_threads(1)
    print(f"load average before: {os.getloadavg()}")
    for size in args.sizes:
        params, X, Y = mlp.make(size)
        n = sum(v.size for v in params.values())
        print(f"\n## {n:,} parameters (MLP {mlp.SIZES[size]}, batch {mlp.BATCH}, float64)")
        times = {}
        for name, runner in RUNNERS.items():
            if args.only and not any(name.startswith(p) for p in args.only):
                continue
            cap = args.numdifftools_cap if name.startswith("numdifftools") else args.cap
            seconds, note = capped(partial(runner, params, X, Y), cap)
            times[name] = seconds
            print(f"| {name:<40} | {seconds:9.3f} s | {note}", flush=True)
        print()
        for name, seconds in times.items():
            ref, floor = times.get(REFERENCE, np.nan), times.get(FLOOR, np.nan)
            print(
                f"| {name:<40} | {seconds:9.3f} s | {ref / seconds:7.1f}× faster than torch gradcheck "
                f"| {seconds / floor:6.2f}× the bare loop |"
            )
    print(f"\nload average after: {os.getloadavg()}")


if __name__ == "__main__":
    main()
