"""Benchmark: gradients checked in the precision the code runs in, against the peers.

Run:  PYTHONPATH=src python benchmarks/precision.py [--seeds 20] [--skip-scale]

The suite (tests/kernels.py): dense, layer norm, softmax cross-entropy, attention-like and 2-D
convolution kernels as torch.autograd.Functions computing in float32 only (they raise for
anything else, as Triton and CUDA kernels do), in bfloat16 or in float16, each with inputs drawn
from a seed. For every kernel, precision and seed it runs

- gradcheck.torch.check_function with no option (precision="auto");
- torch.autograd.gradcheck(fn, inputs) with its defaults (it warns that it wants float64);
- jax.test_util.check_grads on the same function in JAX (jax.custom_vjp around jax.vjp, the same
  planted bugs), on the same inputs, order 1, reverse mode, its per-dtype default tolerances;

on the correct kernel (a failure is a false alarm) and with a bug planted in the weight's
gradient: a factor 1.0003 in float32, 1.05 in bfloat16, 1.03 in float16 (caught = reported
wrong; for gradcheck also the culprit input named), and a zeroed first row in bfloat16. The
kernel-against-reference section compares check_function(..., reference=) with what kernel
projects write by hand: torch.testing.assert_close of the kernel's bfloat16 gradient and the
reference's, with its default bfloat16 tolerances. The last section times a bfloat16 kernel of
1e3 to 1e5 input elements and counts its loss evaluations.
"""

from __future__ import annotations

import os

for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import argparse  # noqa: E402
import statistics  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
import warnings  # noqa: E402
from pathlib import Path  # noqa: E402

import jax  # noqa: E402
import jax.numpy as jnp  # noqa: E402
import numpy as np  # noqa: E402
import torch  # noqa: E402
from jax.test_util import check_grads  # noqa: E402

import gradcheck.torch as gt  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
import kernels as K  # noqa: E402

torch.set_num_threads(1)
PRECISIONS = {"float32-only": torch.float32, "bfloat16": torch.bfloat16, "float16": torch.float16}
FACTORS = {"float32-only": 1.0003, "bfloat16": 1.05, "float16": 1.03}


# --- the same functions in JAX -----------------------------------------------------------------


def _jax_layer_norm(x, gamma, beta):
    mean = x.mean(-1, keepdims=True)
    var = ((x - mean) ** 2).mean(-1, keepdims=True)
    return (x - mean) / jnp.sqrt(var + 1e-5) * gamma + beta


def _jax_cross_entropy(logits, w):
    scores = (logits @ w).astype(jnp.float32)
    labels = jnp.arange(scores.shape[0]) % scores.shape[1]
    return -jnp.mean(jax.nn.log_softmax(scores)[jnp.arange(scores.shape[0]), labels])


def _jax_attention(q, k, v):
    scores = (q @ jnp.swapaxes(k, -1, -2)) * (1.0 / np.sqrt(q.shape[-1]))
    return jax.nn.softmax(scores, axis=-1) @ v


def _jax_conv(x, w):
    return jax.lax.conv_general_dilated(x, w, (1, 1), ((1, 1), (1, 1)))


JAX_FUNCTIONS = {
    "dense": lambda x, w, b: jnp.tanh(x @ w + b),
    "layer_norm": _jax_layer_norm,
    "softmax_cross_entropy": _jax_cross_entropy,
    "attention": _jax_attention,
    "conv": _jax_conv,
}


def jax_kernel(fn, dtype, scale=None, zero_row=None):
    """``fn`` computing in ``dtype`` with a custom VJP carrying the planted bug."""

    def cast(args):
        return tuple(a.astype(dtype) for a in args)

    @jax.custom_vjp
    def kernel(*args):
        return fn(*cast(args))

    def backward(args, g):
        _, vjp = jax.vjp(lambda *a: fn(*cast(a)), *args)
        grads = list(vjp(g))
        if scale is not None:
            grads[scale[0]] = grads[scale[0]] * scale[1]
        if zero_row is not None:
            grads[zero_row[0]] = grads[zero_row[0]].at[zero_row[1]].set(0)
        return tuple(grads)

    kernel.defvjp(lambda *args: (kernel(*args), args), backward)
    return kernel


# --- one check by each tool --------------------------------------------------------------------


def ours(name, precision, seed, **bug):
    case = K.CASES[name]
    dtype = PRECISIONS[precision]
    kind = {"only": dtype} if dtype == torch.float32 else {"cast": dtype}
    report = gt.check_function(K.kernel(case.fn, **kind, **bug), *K.inputs(case, dtype, seed))
    culprit = None
    if "scale" in bug:
        culprit = f"inputs[{bug['scale'][0]}]"
    elif "zero_row" in bug:
        culprit = f"inputs[{bug['zero_row'][0]}]"
    return report, (not report.passed, culprit is not None and report.wrong_tensors == [culprit])


def torch_gradcheck(name, precision, seed, **bug):
    case = K.CASES[name]
    dtype = PRECISIONS[precision]
    kind = {"only": dtype} if dtype == torch.float32 else {"cast": dtype}
    inputs = K.inputs(case, dtype, seed)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            ok = torch.autograd.gradcheck(
                K.kernel(case.fn, **kind, **bug), tuple(inputs), raise_exception=False
            )
        except Exception:
            ok = False
    return not ok


def jax_check_grads(name, precision, seed, **bug):
    case = K.CASES[name]
    dtype = {"float32-only": jnp.float32, "bfloat16": jnp.bfloat16, "float16": jnp.float16}[precision]
    inputs = tuple(
        jnp.asarray(t.detach().to(torch.float32).numpy()).astype(dtype)
        for t in K.inputs(case, PRECISIONS[precision], seed)
    )
    fn = jax_kernel(JAX_FUNCTIONS[name], dtype, **bug)
    try:
        check_grads(fn, inputs, order=1, modes=["rev"])
    except Exception:
        return True
    return False


# --- the sections ------------------------------------------------------------------------------


def row(cells):
    print("| " + " | ".join(str(c) for c in cells) + " |")


def section_precisions(seeds):
    print("\n## Correct kernels (false alarms) and a planted factor (caught), per precision\n")
    row(["precision", "kernel", "gradcheck false alarms", "gradcheck caught (culprit named)",
         "torch.autograd.gradcheck false alarms", "caught", "jax check_grads false alarms", "caught",
         "gradcheck s/check", "stated factor limit (median)"])  # fmt: skip
    row(["---"] * 10)
    for precision, factor in FACTORS.items():
        for name, case in K.CASES.items():
            alarms = caught = named = 0
            torch_alarms = torch_caught = jax_alarms = jax_caught = 0
            seconds, limits = [], []
            for seed in range(seeds):
                start = time.perf_counter()
                report, (alarm, _) = ours(name, precision, seed)
                seconds.append(time.perf_counter() - start)
                limits.append(report.tensors[case.weight].scale_limit)
                _, (found, culprit) = ours(name, precision, seed, scale=(case.weight, factor))
                alarms, caught, named = alarms + alarm, caught + found, named + culprit
                torch_alarms += torch_gradcheck(name, precision, seed)
                torch_caught += torch_gradcheck(name, precision, seed, scale=(case.weight, factor))
                jax_alarms += jax_check_grads(name, precision, seed)
                jax_caught += jax_check_grads(name, precision, seed, scale=(case.weight, factor))
            row([f"{precision} (×{factor})", name, f"{alarms}/{seeds}", f"{caught}/{seeds} ({named})",
                 f"{torch_alarms}/{seeds}", f"{torch_caught}/{seeds}", f"{jax_alarms}/{seeds}",
                 f"{jax_caught}/{seeds}", f"{statistics.median(seconds):.2f}",
                 f"{statistics.median(limits):.1e}"])  # fmt: skip


def section_zero_row(seeds):
    print("\n## A zeroed first row of the weight's gradient, bfloat16\n")
    row(["kernel", "gradcheck caught (row named)", "torch.autograd.gradcheck", "jax check_grads"])
    row(["---"] * 4)
    for name, case in K.CASES.items():
        caught = named = torch_caught = jax_caught = 0
        for seed in range(seeds):
            report, (found, culprit) = ours(name, "bfloat16", seed, zero_row=(case.rows, 0))
            row_named = any(f.kind == "zero_gradient" and "[0, :" in f.message for f in report.findings)
            caught, named = caught + found, named + (culprit and row_named)
            torch_caught += torch_gradcheck(name, "bfloat16", seed, zero_row=(case.rows, 0))
            jax_caught += jax_check_grads(name, "bfloat16", seed, zero_row=(case.rows, 0))
        row([name, f"{caught}/{seeds} ({named})", f"{torch_caught}/{seeds}", f"{jax_caught}/{seeds}"])


def _assert_close_fails(kernel, reference, inputs):
    """What kernel tests do by hand: the kernel's gradient against the reference's in bfloat16."""
    grads = []
    for fn in (kernel, reference):
        xs = [x.detach().clone().requires_grad_(True) for x in inputs]
        out = fn(*xs)
        cotangent = torch.ones_like(out) if out.dim() else None
        grads.append(torch.autograd.grad(out, xs, cotangent))
    try:
        for a, b in zip(*grads, strict=True):
            torch.testing.assert_close(a, b)
    except AssertionError:
        return True
    return False


def section_reference(seeds, factors=(1.04, 1.01)):
    print(f"\n## Kernel against reference, bfloat16 (factors {factors} in the weight's gradient)\n")
    row(["kernel", "reference= false alarms", *(f"×{f} caught (culprit named)" for f in factors),
         "stated factor limit (median)", "assert_close false alarms",
         *(f"assert_close ×{f} caught" for f in factors)])  # fmt: skip
    row(["---"] * (4 + 2 * len(factors)))
    for name, case in K.CASES.items():
        alarms = close_alarms = 0
        caught = dict.fromkeys(factors, 0)
        named = dict.fromkeys(factors, 0)
        close_caught = dict.fromkeys(factors, 0)
        limits = []
        for seed in range(seeds):
            inputs = K.inputs(case, torch.bfloat16, seed)
            right = K.kernel(case.fn, cast=torch.bfloat16)
            report = gt.check_function(right, *inputs, reference=case.fn)
            alarms += not report.passed
            limits.append(report.tensors[case.weight].scale_limit)
            close_alarms += _assert_close_fails(right, case.fn, inputs)
            for factor in factors:
                wrong = K.kernel(case.fn, cast=torch.bfloat16, scale=(case.weight, factor))
                report = gt.check_function(wrong, *inputs, reference=case.fn)
                caught[factor] += not report.passed
                named[factor] += report.wrong_tensors == [f"inputs[{case.weight}]"]
                close_caught[factor] += _assert_close_fails(wrong, case.fn, inputs)
        row([name, f"{alarms}/{seeds}", *(f"{caught[f]}/{seeds} ({named[f]})" for f in factors),
             f"{statistics.median(limits):.1e}", f"{close_alarms}/{seeds}",
             *(f"{close_caught[f]}/{seeds}" for f in factors)])  # fmt: skip


def section_numpy(seeds):
    print("\n## NumPy code that computes in float32, bfloat16 or float16 whatever it is handed\n")
    import gradcheck as gc
    from test_precision import dense

    row(["computes in", "false alarms", "caught (named W1)", "stated factor limit of W1 (median)"])
    row(["---"] * 4)
    for name, dtype, factor in (
        ("float32 (×1.0003)", np.float32, 1.0003),
        ("bfloat16 (×1.05)", np.dtype(jnp.bfloat16), 1.05),
        ("float16 (×1.03)", np.float16, 1.03),
    ):
        alarms = caught = named = 0
        limits = []
        for seed in range(seeds):
            loss, params, grad = dense(dtype, seed=seed)
            report = gc.check(loss, params, grad)
            alarms += not report.passed
            limits.append(report.tensors[0].scale_limit)
            report = gc.check(loss, params, dense(dtype, factor=factor, seed=seed)[2])
            caught += not report.passed
            named += report.wrong_tensors == ["W1"]
        row([name, f"{alarms}/{seeds}", f"{caught}/{seeds} ({named})", f"{statistics.median(limits):.1e}"])


def section_scale():
    print("\n## Scale: a bfloat16 dense kernel, n input elements\n")
    row(["n", "seconds", "loss evaluations", "result (W ×1.05)", "stated factor limit (W)"])
    row(["---"] * 5)
    for batch, inputs, outputs in ((8, 32, 24), (32, 96, 80), (64, 256, 384)):
        case = K.Case(
            "dense", K.dense, ((batch, inputs), (inputs, outputs), (outputs,)), (1.0, 0.06, 0.1), 1, 1
        )
        tensors = K.inputs(case, torch.bfloat16, 0)
        n = sum(t.numel() for t in tensors)
        start = time.perf_counter()
        report = gt.check_function(K.kernel(case.fn, cast=torch.bfloat16, scale=(1, 1.05)), *tensors)
        seconds = time.perf_counter() - start
        result = f"{'caught' if not report.passed else 'missed'}: {', '.join(report.wrong_tensors)}"
        row(
            [n, f"{seconds:.1f}", report.settings.evaluations, result, f"{report.tensors[1].scale_limit:.1e}"]
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=20)
    parser.add_argument("--skip-scale", action="store_true")
    args = parser.parse_args()
    print(f"load average before: {os.getloadavg()[0]:.1f}; torch {torch.__version__}, jax {jax.__version__}")
    section_precisions(args.seeds)
    section_zero_row(args.seeds)
    section_reference(args.seeds)
    section_numpy(args.seeds)
    if not args.skip_scale:
        section_scale()
    print(f"\nload average after: {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
