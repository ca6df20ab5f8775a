"""strategy="certify" reaches the full check's verdict and finding kinds on the planted-bug collection."""

import pytest

import gradcheck as gc
from models.collection import BUG_KINDS, cases

CASES = cases(0)


def _bug_kinds(report):
    return {(f.kind, f.tensor) for f in report.findings if f.kind in BUG_KINDS}


@pytest.mark.parametrize("case", CASES, ids=[case.id for case in CASES])
def test_certify_agrees_with_the_full_check(case):
    network = case.network
    params = network.params()
    grad = network.grad_with(case.bug)
    full = gc.check(network.loss, params, grad, strategy="full")
    certified = gc.check(network.loss, params, grad, strategy="certify")
    assert certified.passed == full.passed
    if case.strict:  # saturated networks may honestly read a bug as another kind
        assert _bug_kinds(certified) == _bug_kinds(full)
