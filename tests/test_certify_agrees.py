"""strategy="certify" reaches the full check's verdict, finding kinds and finding texts on the
planted-bug collection."""

import numpy as np
import pytest

import gradcheck as gc
from models.collection import BUG_KINDS, cases

CASES = cases(0)


def _bugs(report):
    return [f for f in report.findings if f.kind in BUG_KINDS]


def _checked_one_by_one(report, name):
    """Did the check compare every entry of tensor ``name`` component by component?"""
    (tensor,) = [t for t in report.layout.tensors if t.name == name]
    inside = (report.components >= tensor.offset) & (report.components < tensor.offset + tensor.size)
    return np.unique(report.components[inside]).size == tensor.size


@pytest.mark.parametrize("case", CASES, ids=[case.id for case in CASES])
def test_certify_agrees_with_the_full_check(case):
    network = case.network
    params = network.params()
    grad = network.grad_with(case.bug)
    full = gc.check(network.loss, params, grad, strategy="full")
    certified = gc.check(network.loss, params, grad, strategy="certify")
    assert certified.passed == full.passed
    if case.strict:  # saturated networks may honestly read a bug as another kind
        assert {(f.kind, f.tensor) for f in _bugs(certified)} == {(f.kind, f.tensor) for f in _bugs(full)}
    # Where certify checked a tensor entry by entry, it names the bug in the full check's words.
    same_evidence = [f for f in _bugs(certified) if f.tensor and _checked_one_by_one(certified, f.tensor)]
    assert all(f in _bugs(full) for f in same_evidence)
