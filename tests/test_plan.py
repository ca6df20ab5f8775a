"""``components=K``: a seeded sample that covers every tensor, and an honest coverage finding."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import gradcheck as gc
from gradcheck import _demo
from gradcheck._plan import allocate, entries_to_catch, select
from gradcheck._tree import flatten


@settings(max_examples=200, deadline=None)
@given(st.lists(st.integers(0, 60), min_size=1, max_size=8), st.integers(1, 200))
def test_allocation_covers_every_tensor_and_is_max_min_fair(sizes, k):
    counts = allocate(sizes, k)
    nonempty = [s for s in sizes if s]
    assert all(0 <= c <= s for c, s in zip(counts, sizes, strict=True))
    assert all(c >= 1 for c, s in zip(counts, sizes, strict=True) if s)  # every tensor gets some
    assert sum(counts) == min(max(k, len(nonempty)), sum(sizes))
    # Max-min fair: a tensor left partly unchecked got at least as many as any other tensor.
    for c, s in zip(counts, sizes, strict=True):
        if c < s:
            assert all(c >= other - 1 for other in counts)


def test_small_tensors_are_checked_entirely():
    _, layout = flatten({"W": np.zeros((30, 40)), "b": np.zeros(4), "s": np.zeros(())})
    chosen = select(layout, 20, seed=0)
    ids = layout.tensor_ids()[chosen]
    assert np.bincount(ids).tolist() == [15, 4, 1]
    assert np.all(np.diff(chosen) > 0)  # sorted, no repeats


def test_sample_is_deterministic_for_a_seed_and_changes_with_it():
    _, layout = flatten({"W": np.zeros((30, 40)), "b": np.zeros(4)})
    assert np.array_equal(select(layout, 50, seed=3), select(layout, 50, seed=3))
    assert not np.array_equal(select(layout, 50, seed=3), select(layout, 50, seed=4))


def test_entries_to_catch_matches_the_hypergeometric_miss_probability():
    from math import comb

    for size, checked in [(100, 10), (20, 3), (1000, 64), (5, 5)]:
        r = entries_to_catch(size, checked)
        assert comb(size - r, checked) / comb(size, checked) <= 0.01
        assert r == 1 or comb(size - r + 1, checked) / comb(size, checked) > 0.01


def test_sampled_check_reports_per_tensor_counts_and_the_coverage_it_had():
    loss, params, grads = _demo.problem()
    report = gc.check(loss, params, grads, components=16)
    assert report.passed
    assert report.settings.strategy == "sample"
    assert {t.name: t.checked for t in report.tensors} == {
        "W1": 3,
        "b1": 3,
        "W2": 3,
        "b2": 3,
        "W3": 3,
        "b3": 1,
    }
    assert report.settings.evaluations < 60  # 2 per sampled component plus the noise probe, not 2·47
    (coverage,) = [f for f in report.findings if f.kind == "coverage"]
    assert coverage.value == pytest.approx(16 / 47)
    assert "sampled 16 of 47 components (34.0%)" in coverage.message
    assert "a single wrong entry among the 31 unchecked ones goes unnoticed" in coverage.message
    assert "15 of W1's 20 entries" in coverage.message
    assert "coverage" in report.summary() and "sample check" in str(report)


def test_full_check_has_no_coverage_finding():
    loss, params, grads = _demo.problem()
    for components in (None, 47, 1000):
        report = gc.check(loss, params, grads, components=components)
        assert report.settings.strategy == "full"
        assert not [f for f in report.findings if f.kind == "coverage"]


@pytest.mark.parametrize("bug, gradient", [("dW2x2", "dW2"), ("db1-4m", "db1"), ("dW3-sign", "dW3")])
def test_a_tensor_wide_bug_is_caught_by_any_sample(bug, gradient):
    loss, params, grads = _demo.problem((bug,))
    for seed in range(5):
        report = gc.check(loss, params, grads, components=6, seed=seed)
        assert report.wrong_gradients == [gradient]


def test_a_single_wrong_entry_is_missed_when_not_sampled_and_the_report_says_so():
    loss, params, grads = _demo.problem(("dW1-entry",))  # dW1[2, 1] is wrong
    wrong = 2 * 4 + 1
    seeds = [s for s in range(40) if wrong not in select(flatten(params)[1], 6, s)]
    report = gc.check(loss, params, grads, components=6, seed=seeds[0])
    assert report.passed  # the sample could not see it ...
    assert any(f.kind == "coverage" for f in report.findings)  # ... and the report says so


@pytest.mark.parametrize("bad", [0, -3, 2.5, "10", True])
def test_invalid_components_name_the_argument(bad):
    loss, params, grads = _demo.problem()
    with pytest.raises(gc.OptionError, match=rf"components={bad!r} \(type={type(bad).__name__}\)"):
        gc.check(loss, params, grads, components=bad)


def test_each_tensor_sample_includes_a_nonzero_derivative_when_there_is_one():
    # A dead ReLU unit zeroes most of dW: a scale bug is only visible where dW ≠ 0.
    _, layout = flatten({"W": np.zeros((10, 10)), "b": np.zeros(10)})
    analytic = np.zeros(110)
    analytic[[7, 42]] = 1.0
    for seed in range(20):
        chosen = select(layout, 4, seed, analytic)
        w_chosen = chosen[chosen < 100]
        assert np.any(analytic[w_chosen] != 0) and np.any(analytic[w_chosen] == 0)
