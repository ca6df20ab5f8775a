"""Benchmark: a second-order check of a 10⁴-parameter model against torch.autograd.gradgradcheck.

Run:  PYTHONPATH=src python benchmarks/second_order.py [--hidden 90] [--repeat 3] [--skip-torch]

Model: 20-H-H-1 tanh MLP in PyTorch, float64, batch 64, MSE (H = 90: 10,171 parameters).
gradcheck: ``gradcheck.torch.check_module(..., modes="rev", order=2)`` (first order, then the
HVP of double backward through `check_hvp`, strategy auto → certify); the second-order part is
the difference with ``order=1``. torch: ``torch.autograd.gradgradcheck`` in slow mode (the
numerical Jacobian of the backward). Planted bug: the hidden activation is a custom Function
whose backward uses tanh′ computed in forward, outside the graph (no second derivative), in
both. Single-threaded, like every benchmark here.
"""

from __future__ import annotations

import os

for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import argparse  # noqa: E402
import statistics  # noqa: E402
import time  # noqa: E402

import torch  # noqa: E402

import gradcheck.torch as gt  # noqa: E402

torch.set_num_threads(1)


class DetachedTanh(torch.autograd.Function):
    """tanh whose backward uses 1 − y² computed in forward: right first derivative, no second."""

    @staticmethod
    def forward(ctx, x):
        y = torch.tanh(x)
        ctx.derivative = 1 - y * y
        return y

    @staticmethod
    def backward(ctx, grad):
        return grad * ctx.derivative


class Activation(torch.nn.Module):
    def __init__(self, buggy: bool) -> None:
        super().__init__()
        self.buggy = buggy

    def forward(self, x):
        return DetachedTanh.apply(x) if self.buggy else torch.tanh(x)


def model(hidden: int, buggy: bool = False) -> torch.nn.Module:
    torch.manual_seed(0)
    return torch.nn.Sequential(
        torch.nn.Linear(20, hidden),
        Activation(buggy),
        torch.nn.Linear(hidden, hidden),
        torch.nn.Tanh(),
        torch.nn.Linear(hidden, 1),
    ).double()


def batch():
    generator = torch.Generator().manual_seed(1)
    return torch.randn(64, 20, generator=generator, dtype=torch.float64), torch.randn(
        64, 1, generator=generator, dtype=torch.float64
    )


def ours(net: torch.nn.Module, order: int):
    x, y = batch()
    start = time.perf_counter()
    report = gt.check_module(net, torch.nn.MSELoss(), x, y, modes="rev", order=order)
    return time.perf_counter() - start, report


def gradgradcheck(net: torch.nn.Module) -> tuple[float, bool]:
    x, y = batch()
    names = [name for name, _ in net.named_parameters()]
    params = tuple(p.detach().clone().requires_grad_(True) for p in net.parameters())

    def loss(*ps):
        return torch.nn.functional.mse_loss(torch.func.functional_call(net, dict(zip(names, ps)), (x,)), y)

    start = time.perf_counter()
    try:
        ok = torch.autograd.gradgradcheck(loss, params, fast_mode=False)
    except Exception:  # raise_exception=True: a mismatch raises
        ok = False
    return time.perf_counter() - start, ok


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--hidden", type=int, default=90)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--skip-torch", action="store_true")
    args = parser.parse_args()
    print(f"load average before: {os.getloadavg()[0]:.1f}")
    right, wrong = model(args.hidden), model(args.hidden, buggy=True)
    n = sum(p.numel() for p in right.parameters())
    ours(right, 2)  # warm-up: imports, first vmap
    first = statistics.median(ours(right, 1)[0] for _ in range(args.repeat))
    runs = [ours(right, 2) for _ in range(args.repeat)]
    both = statistics.median(t for t, _ in runs)
    report = runs[0][1]
    hvp_rows = [row for row in report.tensors if row.name.startswith("hvp:")]
    second = both - first
    limit = max(row.detection_limit for row in hvp_rows)
    entry = max(row.entry_limit for row in hvp_rows)
    print(f"{n} parameters; gradcheck order=1 {first:.3f} s, order=2 {both:.3f} s → second order {second:.3f} s")
    print(f"  passed={report.passed}; second-order detection limit {limit:.1e} relative, any H·u entry off by > {entry:.1e}")
    print(f"  evaluations in all (loss calls, then gradient calls): {report.settings.evaluations}")
    t_bug, bug_report = ours(wrong, 2)
    print(f"  planted detached-tanh′: caught={not bug_report.passed} in {t_bug:.3f} s, wrong: {bug_report.wrong_tensors}")
    print(f"  findings: {sorted({f.kind for f in bug_report.findings})}")
    if args.skip_torch:
        return
    t_torch, ok = gradgradcheck(right)
    print(f"torch.autograd.gradgradcheck (slow): {t_torch:.1f} s, passed={ok}")
    print(f"  ratio: {t_torch / second:.0f}× (second-order part), {t_torch / both:.0f}× (whole order=2 call)")
    t_torch_bug, ok_bug = gradgradcheck(wrong)
    print(f"  planted detached-tanh′: gradgradcheck caught={not ok_bug} in {t_torch_bug:.1f} s")
    print(f"load average after: {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
