"""Flattening params into θ with a name for every component; matching the gradient to them."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import gradcheck as gc
from gradcheck._tree import flatten, match_gradient

arrays = hnp.arrays(
    dtype=st.sampled_from([np.float32, np.float64]),
    shape=hnp.array_shapes(min_dims=0, max_dims=3, min_side=1, max_side=4),
    elements=st.floats(-1e3, 1e3, width=32),
)
keys = st.text(alphabet="abcdefghij", min_size=1, max_size=3)
trees = st.recursive(
    arrays,
    lambda children: st.one_of(
        st.lists(children, min_size=1, max_size=3),
        st.lists(children, min_size=1, max_size=3).map(tuple),
        st.dictionaries(keys, children, min_size=1, max_size=3),
    ),
    max_leaves=6,
)


def same_tree(a, b):
    if isinstance(a, dict):
        return isinstance(b, dict) and list(a) == list(b) and all(same_tree(a[k], b[k]) for k in a)
    if isinstance(a, (list, tuple)):
        return type(a) is type(b) and len(a) == len(b) and all(map(same_tree, a, b))
    return a.dtype == b.dtype and a.shape == b.shape and np.array_equal(a, b)


@settings(max_examples=60, deadline=None)
@given(trees)
def test_unflatten_of_flatten_is_the_identity(tree):
    theta, layout = flatten(tree)
    assert theta.dtype == np.float64 and theta.size == layout.size
    assert same_tree(layout.unflatten(theta), tree)


@settings(max_examples=60, deadline=None)
@given(trees, st.data())
def test_every_component_name_points_at_its_entry(tree, data):
    theta, layout = flatten(tree)
    component = data.draw(st.integers(0, layout.size - 1))
    tensor = layout.tensor_of(component)
    node = tree
    for key in tensor.path:
        node = node[key]
    local = component - tensor.offset
    assert theta[component] == np.asarray(node, dtype=np.float64).reshape(-1)[local]
    name = layout.component_name(component)
    assert name.startswith(tensor.name)
    if tensor.shape:
        index = np.unravel_index(local, tensor.shape)
        assert name.endswith("[" + ", ".join(map(str, index)) + "]")


def test_names_follow_the_course_order_and_shapes():
    params = {"W1": np.zeros((5, 4)), "b1": np.zeros((5, 1)), "W2": np.zeros((3, 5))}
    theta, layout = flatten(params)
    assert [t.name for t in layout.tensors] == ["W1", "b1", "W2"]
    assert layout.component_name(0) == "W1[0, 0]"
    assert layout.component_name(21) == "b1[1, 0]"
    assert layout.component_name(20 + 5 + 3 * 5 - 1) == "W2[2, 4]"


def test_nested_names():
    params = {"layers": [{"W": np.zeros((2, 2))}, {"W": np.zeros(3)}], "scale": np.array(1.0)}
    _, layout = flatten(params)
    assert [t.name for t in layout.tensors] == ["layers[0].W", "layers[1].W", "scale"]
    assert layout.component_name(5) == "layers[1].W[1]"


def test_gradient_dict_may_use_the_d_prefix_and_carry_cache_entries():
    params = {"W1": np.ones((2, 2)), "b1": np.ones(2)}
    grads = {"dW1": np.full((2, 2), 3.0), "db1": np.full(2, 4.0), "dZ1": np.zeros(7), "dA0": None}
    _, layout = flatten(params)
    g, dtype, names = match_gradient(layout, grads)
    assert g.tolist() == [3.0] * 4 + [4.0] * 2 and names == ("dW1", "db1")


@pytest.mark.parametrize(
    "grads, message",
    [
        ({"dW1": np.ones((2, 2))}, r"no gradient for b1.*'dW1'"),
        ({"dW1": np.ones((2, 2)), "bd1": np.ones(2)}, r"did you mean 'bd1'"),
        (
            {"dW1": np.ones((2, 1)), "db1": np.ones(2)},
            r"gradient of W1 has shape \(2, 1\) but W1 has shape \(2, 2\)",
        ),
        ({"dW1": np.ones((2, 2), dtype=int), "db1": np.ones(2)}, r"dtype int"),
        ([np.ones((2, 2)), np.ones(2)], r"grad is a list but params is a dict.*dict\(zip\(params, grad\)\)"),
    ],
)
def test_mismatched_gradients_name_the_key_and_shapes(grads, message):
    params = {"W1": np.ones((2, 2)), "b1": np.ones(2)}
    with pytest.raises(gc.StructureError, match=message):
        gc.check(lambda p: float(np.sum(p["W1"]) + np.sum(p["b1"])), params, grads)


def test_transposed_gradient_gets_a_hint():
    with pytest.raises(gc.StructureError, match="did you transpose it"):
        gc.check(lambda p: float(np.sum(p)), np.ones((2, 3)), np.ones((3, 2)))


def test_integer_params_are_refused_with_the_fix():
    with pytest.raises(gc.StructureError, match=r"W is an integer array \(dtype int64.*astype\(float\)"):
        gc.check(lambda p: 0.0, {"W": np.ones(3, dtype=np.int64)}, {"W": np.ones(3)})
