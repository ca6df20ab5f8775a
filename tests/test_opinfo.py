"""Conformance with PyTorch's own operator suite: gradcheck.torch.check_function on OpInfo samples.

Every float64 CPU sample of every operator with autograd, driven as PyTorch's test_ops drives
gradcheck (tests/_opinfo.py). Expected: no exception but a clear `GradcheckError`, and no failure
but the disagreements documented below (each measured, and in docs/pytorch-conformance.md).

``make test`` runs the first sample of every third operator (180 of 540, about 15 s with the
database's import); the whole suite (14,110 samples, about 9 minutes on one core) runs with
``GRADCHECK_OPINFO=all`` (CI sets it). benchmarks/opinfo.py runs torch.autograd.gradcheck
beside it and times both.
"""

from __future__ import annotations

import os

import pytest

pytest.importorskip("torch")
pytest.importorskip("expecttest")

import torch  # noqa: E402

import _opinfo  # noqa: E402

EVERY_SAMPLE = os.environ.get("GRADCHECK_OPINFO") == "all"
# Without it, every third operator in op_db's order: a spread over all families (unary,
# reductions, linalg, fft, nn.functional) at a third of the cost of building every sample.
EVERY_THIRD = {name for k, name in enumerate(_opinfo.op_name(op) for op in _opinfo.operators()) if k % 3 == 0}

# Operator → (what gradcheck answers on some of its samples, why). torch.autograd.gradcheck
# fails or errs on the same samples unless the reason says otherwise.
DOCUMENTED: dict[str, tuple[set[str], str]] = {
    "nn.functional.max_unpool1d": ({"fail"}, "repeated indices: several inputs go to one output, one wins"),
    "nn.functional.max_unpool2d": ({"fail"}, "repeated indices: several inputs go to one output, one wins"),
    "nn.functional.max_unpool3d": ({"fail"}, "repeated indices: several inputs go to one output, one wins"),
    "native_group_norm": ({"fail"}, "backward wrong when some output gradients are undefined"),
    "as_strided_scatter": ({"fail"}, "backward wrong for overlapping strides"),
    "normal": (
        {"fail"},
        "zero gradient for mean and std of a reparameterisable draw; forward AD raises on a broadcast mean",
    ),
    "normal.number_mean": ({"fail", "error"}, "zero gradient for std; no input requires grad"),
    "linalg.norm.subgradients_at_zero": ({"fail"}, "a subgradient where the loss is flat along each entry"),
    "sparse.mm.reduce": ({"error"}, "sparse input: refused with the fix"),
    "sparse.sampled_addmm": ({"error"}, "sparse input: refused with the fix"),
    "__rpow__": ({"error"}, "NaN output at the inputs given: refused, naming the entry"),
    # where torch.autograd.gradcheck passes:
    "nn.functional.hardsigmoid": ({"fail"}, "true finding: float32(1/6) in the float64 backward, 2.98e-8"),
    "native_layer_norm": ({"fail"}, "one normalised entry: the loss is exactly 0, ∂/∂weight -1.26e-14"),
    "as_strided.partial_views": ({"error"}, "reads storage beyond the view; gradcheck passes compact copies"),
    "grid_sampler_3d": ({"fail"}, "certify over 0.5-5 M entries with kinks everywhere: not narrowed down"),
    # true findings torch.autograd.gradcheck as test_ops runs it does not make: forward mode where
    # OpInfo says supports_forward_ad=False (test_ops skips it; PyTorch raises nothing), forward-mode
    # formulas its atol=1e-5 absorbs, and torch.func.vmap batching rules (its batched-gradient
    # check goes through the older vmap, which falls back to a loop):
    "scatter_reduce.prod": ({"fail"}, "forward AD propagates no tangent: the forward derivative reads 0"),
    "nn.functional.linear_cross_entropy.chunked": ({"fail"}, "forward AD propagates no tangent"),
    "nn.functional.linear_cross_entropy.chunked_none": ({"fail"}, "forward AD propagates no tangent"),
    "cholesky_inverse": ({"fail"}, "jvp multiplies −X·dL·X·Lᴴ for −X·dL·Lᴴ·X: 1e-5 on near-identity L"),
    "logcumsumexp": ({"fail"}, "jvp adds 1e-13 to prefix sums normalised by the global max: 1e-6 here"),
    "cdist": ({"fail"}, "torch.func.vmap of _cdist_backward uses the first cotangent for the whole batch"),
    "roll": ({"fail"}, "torch.func.vmap of roll on a 0-d tensor rolls along the batch dimension"),
}


def test_check_function_on_every_operator_raises_nothing_and_fails_only_where_documented():
    torch.set_num_threads(1)
    unexpected = []
    subset = {"per_op": None} if EVERY_SAMPLE else {"per_op": 1, "names": EVERY_THIRD}
    for sample in _opinfo.samples(**subset):
        result = _opinfo.ours(sample)
        allowed = DOCUMENTED.get(sample.name, (set(), ""))[0] | {"pass"}
        if result.kind not in allowed:
            unexpected.append(f"{sample.id}: {result.kind}: {result.message[:300]}")
    assert unexpected == [], "\n".join(unexpected)
