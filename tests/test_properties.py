"""Property tests over random pytrees and random smooth losses with known gradients.

- flatten∘unflatten is the identity, and every component's name points at its entry;
- a correct gradient always passes;
- a tensor's gradient scaled by more than its reported detection limit always fails;
- the caller's arrays never change.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import gradcheck as gc
from gradcheck._tree import flatten, leaves

# Modest budgets keep the file at a few seconds; each example is a whole gradient check.
FAST = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
CHECKS = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])

KEYS = st.sampled_from(["W", "b", "W1", "b1", "gamma", "beta", "embed"])
SHAPES = hnp.array_shapes(min_dims=0, max_dims=3, min_side=1, max_side=4)
DTYPES = st.sampled_from([np.float32, np.float64])


def trees(leaf: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    """Nested dicts, lists and tuples of leaves (at least one leaf, at most eight)."""
    return st.recursive(
        leaf,
        lambda children: (
            st.lists(children, min_size=1, max_size=3)
            | st.tuples(children, children)
            | st.dictionaries(KEYS, children, min_size=1, max_size=3)
        ),
        max_leaves=8,
    )


def any_array(dtype: Any, shape: tuple[int, ...]) -> st.SearchStrategy[np.ndarray]:
    return hnp.arrays(dtype, shape, elements=st.floats(-3, 3, width=np.dtype(dtype).itemsize * 8))


ARRAY_TREES = trees(st.tuples(DTYPES, SHAPES).flatmap(lambda ds: any_array(*ds)))


def fingerprint(tree: Any) -> list[tuple[Any, ...]]:
    return [(path, a.tobytes(), a.dtype.str, a.shape) for path, a in leaves(tree)]


@FAST
@given(ARRAY_TREES)
def test_unflatten_of_flatten_is_the_identity(params: Any) -> None:
    theta, layout = flatten(params)
    rebuilt = layout.unflatten(theta)
    assert type(rebuilt) is type(params)
    assert [p for p, _ in leaves(rebuilt)] == [p for p, _ in leaves(params)]
    for (_, original), (_, copy) in zip(leaves(params), leaves(rebuilt), strict=True):
        assert copy.dtype == original.dtype and copy.shape == original.shape
        assert np.array_equal(copy, original)
        assert not np.shares_memory(copy, original)


def entry(tree: Any, name: str) -> float:
    """Follow a component name such as ``W1[0][2].b[1, 0]`` through ``tree`` (independently of _tree)."""
    node = tree
    for key, index in re.findall(r"([A-Za-z_]\w*)|\[([\d, ]+)\]", name):
        if key:
            node = node[key]
        elif isinstance(node, np.ndarray):
            node = node[tuple(int(i) for i in index.split(","))]
        else:
            node = node[int(index)]
    return float(node)


@FAST
@given(ARRAY_TREES)
def test_every_component_name_points_at_its_entry(params: Any) -> None:
    theta, layout = flatten(params)
    names = [layout.component_name(k) for k in range(theta.size)]
    assert len(set(names)) == len(names)
    if isinstance(params, np.ndarray):  # one array: its components are theta[i, j]
        names = [name.replace("theta", "", 1) for name in names]
    for k, name in enumerate(names):
        assert entry(params, name) == theta[k], name


# --- random smooth losses with known gradients

SMOOTH: dict[str, tuple[Callable[[Any], Any], Callable[[Any], Any]]] = {
    "sin": (np.sin, np.cos),
    "tanh": (np.tanh, lambda x: 1 - np.tanh(x) ** 2),
    "square": (np.square, lambda x: 2 * x),
    "cube": (lambda x: x**3 / 3, np.square),
    "log1p_sq": (lambda x: np.log1p(x * x), lambda x: 2 * x / (1 + x * x)),
    "softplus": (lambda x: np.logaddexp(0, x), lambda x: 1 / (1 + np.exp(-x))),
}


@dataclass
class Problem:
    """J(p) = Σ_leaves Σ cᵢ·f(xᵢ) + (Σ uᵢ·xᵢ over leaf A)·(Σ vⱼ·g(yⱼ) over leaf B), in each leaf's dtype."""

    params: Any
    functions: list[str]
    weights: list[np.ndarray]
    pair: tuple[int, int]
    u: np.ndarray
    v: np.ndarray

    def arrays(self, tree: Any) -> list[np.ndarray]:
        return [a for _, a in leaves(tree)]

    def loss(self, tree: Any) -> float:
        xs = self.arrays(tree)
        total = sum(
            np.sum(w.astype(x.dtype) * SMOOTH[f][0](x))
            for x, f, w in zip(xs, self.functions, self.weights, strict=True)
        )
        a, b = xs[self.pair[0]], xs[self.pair[1]]
        g = SMOOTH[self.functions[self.pair[1]]][0]
        return float(total + np.sum(self.u.astype(a.dtype) * a) * np.sum(self.v.astype(b.dtype) * g(b)))

    def gradient(self) -> list[np.ndarray]:
        xs = [x.astype(np.float64) for x in self.arrays(self.params)]
        grads = [w * SMOOTH[f][1](x) for x, f, w in zip(xs, self.functions, self.weights, strict=True)]
        (i, j), a, b = self.pair, xs[self.pair[0]], xs[self.pair[1]]
        f_b, df_b = SMOOTH[self.functions[j]]
        grads[i] = grads[i] + self.u * np.sum(self.v * f_b(b))
        grads[j] = grads[j] + np.sum(self.u * a) * self.v * df_b(b)
        return grads

    def grad_tree(self, grads: list[np.ndarray]) -> Any:
        _, layout = flatten(self.params)
        flat = np.concatenate([g.reshape(-1) for g in grads])
        return layout.unflatten(flat, dtype=np.float64)


@dataclass(frozen=True)
class Spec:
    """A leaf to be: its dtype and shape (values come from the seeded generator)."""

    dtype: Any
    shape: tuple[int, ...]


@st.composite
def problems(draw: st.DrawFn) -> Problem:
    seed = draw(st.integers(0, 2**32 - 1))
    rng = np.random.default_rng(seed)
    skeleton = draw(trees(st.builds(Spec, DTYPES, SHAPES)))

    def fill(node: Any) -> Any:
        if isinstance(node, Spec):
            return np.asarray(rng.uniform(-1.5, 1.5, size=node.shape), dtype=node.dtype)
        if isinstance(node, dict):
            return {k: fill(v) for k, v in node.items()}
        return type(node)(fill(v) for v in node)

    params = fill(skeleton)
    arrays = [a for _, a in leaves(params)]
    k = len(arrays)
    functions = [draw(st.sampled_from(sorted(SMOOTH))) for _ in range(k)]
    weights = [rng.uniform(0.5, 2.0, size=a.shape) * rng.choice([-1, 1], size=a.shape) for a in arrays]
    pair = (draw(st.integers(0, k - 1)), draw(st.integers(0, k - 1)))
    u = rng.uniform(-1, 1, size=arrays[pair[0]].shape)
    v = rng.uniform(-1, 1, size=arrays[pair[1]].shape)
    return Problem(params, functions, weights, pair, u, v)


METHODS = st.sampled_from(["central", "forward", "central4", "richardson"])
EPS = st.sampled_from(["auto", "auto", 1e-6])


@CHECKS
@given(problems(), METHODS, EPS)
def test_a_correct_gradient_always_passes(problem: Problem, method: str, eps: Any) -> None:
    before = fingerprint(problem.params)
    report = gc.check(
        problem.loss, problem.params, problem.grad_tree(problem.gradient()), method=method, eps=eps
    )
    assert report.passed, report.summary()
    assert fingerprint(problem.params) == before


@CHECKS
@given(problems(), METHODS, EPS, st.data())
def test_a_gradient_off_by_more_than_the_detection_limit_always_fails(
    problem: Problem, method: str, eps: Any, data: st.DataObject
) -> None:
    before = fingerprint(problem.params)
    right = problem.gradient()
    options = {"method": method, "eps": eps}
    report = gc.check(problem.loss, problem.params, problem.grad_tree(right), **options)
    detectable = [t for t, row in enumerate(report.tensors) if np.isfinite(row.detection_limit)]
    if not detectable:
        return
    t = data.draw(st.sampled_from(detectable), label="tensor")
    margin = data.draw(st.floats(1.01, 100.0), label="times the detection limit")
    sign = data.draw(st.sampled_from([-1.0, 1.0]), label="sign")
    wrong = [
        g * (1 + sign * margin * report.tensors[t].detection_limit) if i == t else g
        for i, g in enumerate(right)
    ]
    failed = gc.check(problem.loss, problem.params, problem.grad_tree(wrong), **options)
    assert not failed.passed, (report.tensors[t], failed.summary())
    assert report.tensors[t].name in failed.wrong_tensors
    assert fingerprint(problem.params) == before


@pytest.mark.parametrize("method", ["central4", "richardson"])
def test_higher_order_stencils_on_float32_near_zero(method: str) -> None:
    """Found by the property test: a right gradient was flagged when |θ| is far below the step.

    θ ± h is rounded to float32 in binades coarser than θ's, so the offsets are no longer
    symmetric; the stencils now differentiate the polynomial through the points actually taken.
    """
    theta = np.array(np.float32(-0.0002148887))
    x = float(theta)
    report = gc.check(lambda p: float(np.log1p(p * p)), theta, np.array(2 * x / (1 + x * x)), method=method)
    assert report.passed, report.summary()
