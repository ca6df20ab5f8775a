"""``gc.check_vjp``: one layer's backward(dout, cache) against its forward, and its linearity in dout."""

import numpy as np
import pytest

import gradcheck as gc

rng = np.random.default_rng(7)
X = rng.standard_normal((4, 3))
W = rng.standard_normal((3, 5))
B = rng.standard_normal(5)
DENSE = {"x": X, "W": W, "b": B}


def dense(p):
    return p["x"] @ p["W"] + p["b"]


def dense_backward(dout, cache):
    x, w = cache
    return {"dx": dout @ w.T, "dW": x.T @ dout, "db": dout.sum(axis=0)}


def dense_vjp(p, dout):
    return dense_backward(dout, (p["x"], p["W"]))


def relu(p):
    return np.maximum(p["x"], 0)


def relu_vjp(p, dout):
    return {"x": dout * (p["x"] > 0)}


def softmax(p):
    z = p["z"] - p["z"].max(axis=1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=1, keepdims=True)


def softmax_vjp(p, dout):
    s = softmax(p)
    return {"z": s * (dout - np.sum(dout * s, axis=1, keepdims=True))}


def tanh_vjp(p, dout):
    return {"x": dout * (1 - np.tanh(p["x"]) ** 2)}


Z = {"z": rng.standard_normal((4, 6))}


def findings(report, kind):
    return [f for f in report.findings if f.kind == kind]


@pytest.mark.parametrize(
    "f, inputs, vjp",
    [
        (dense, DENSE, dense_vjp),
        (relu, {"x": X}, relu_vjp),
        (softmax, Z, softmax_vjp),
        (lambda p: np.tanh(p["x"]), {"x": X}, tanh_vjp),
    ],
    ids=["dense", "relu", "softmax", "tanh"],
)
def test_correct_layers_pass_without_findings(f, inputs, vjp):
    report = gc.check_vjp(f, inputs, vjp)
    assert report.passed, report.summary()
    assert report.findings == ()


def test_float32_dense_layer_passes_without_a_linearity_finding():
    inputs = {k: v.astype(np.float32) for k, v in DENSE.items()}
    report = gc.check_vjp(dense, inputs, dense_vjp)
    assert report.passed, report.summary()
    assert not findings(report, "linearity")


def test_a_backward_that_ignores_dout_fails_with_a_linearity_finding():
    def ignores_dout(p, dout):
        return {"dx": np.ones_like(dout) @ p["W"].T, "dW": p["x"].T @ dout, "db": dout.sum(axis=0)}

    report = gc.check_vjp(dense, DENSE, ignores_dout)
    assert not report.passed and report.wrong_gradients == ["dx"]
    (finding,) = findings(report, "linearity")
    assert finding.tensor == "x"
    assert "does not scale with the upstream gradient" in finding.message
    assert "ignore dout" in finding.message
    assert finding.value == pytest.approx(1 / 3)  # vjp(2c) − 2·vjp(c) = −g against |g| + 2|g|


def test_a_relu_mask_taken_from_dout_is_not_additive():
    report = gc.check_vjp(relu, {"x": X}, lambda p, dout: {"x": dout * (dout > 0)})
    assert not report.passed
    (finding,) = findings(report, "linearity")
    assert "not additive" in finding.message and "dout > 0" in finding.message


def test_dout_squared_is_not_homogeneous():
    report = gc.check_vjp(relu, {"x": X}, lambda p, dout: {"x": dout**2 * (p["x"] > 0)})
    assert "does not scale" in findings(report, "linearity")[0].message


def test_a_backward_that_accumulates_between_calls_fails_even_when_its_first_answer_is_right():
    buffer = {"dW": np.zeros_like(W)}

    def accumulates(p, dout):
        buffer["dW"] += p["x"].T @ dout  # forgot to zero the buffer
        return {"dx": dout @ p["W"].T, "dW": buffer["dW"].copy(), "db": dout.sum(axis=0)}

    report = gc.check_vjp(dense, DENSE, accumulates)
    assert report.wrong_gradients == []  # the first call was right ...
    assert not report.passed  # ... but the backward is stateful
    (finding,) = findings(report, "repeatability")
    assert finding.tensor == "W" and "+=" in finding.message
    assert "gradients are WRONG (see findings)" in report.summary()


@pytest.mark.parametrize(
    "bug, gradient",
    [
        (lambda p, dout: {"z": softmax(p) * dout}, "z"),  # forgot the Σ dout·s term
        (lambda p, dout: {"dx": 2 * dout @ p["W"].T, "dW": p["x"].T @ dout, "db": dout.sum(0)}, "dx"),
        (lambda p, dout: {"dx": dout @ p["W"].T, "dW": dout.T @ p["x"], "db": dout.sum(0)}, None),
    ],
    ids=["softmax-missing-term", "dx-times-2", "dW-transposed"],
)
def test_linear_bugs_fail_the_check_without_a_linearity_finding(bug, gradient):
    inputs = Z if gradient == "z" else DENSE
    f = softmax if gradient == "z" else dense
    if gradient is None:  # a transposed dW has the wrong shape: caught before any evaluation
        with pytest.raises(gc.StructureError, match="did you transpose it"):
            gc.check_vjp(f, inputs, bug)
        return
    report = gc.check_vjp(f, inputs, bug)
    assert report.wrong_gradients == [gradient]
    assert not findings(report, "linearity")


def test_a_backward_that_writes_into_dout_fails_though_its_values_are_right():
    def in_place(p, dout):
        dout[p["x"] <= 0] = 0  # the classic relu_backward that clobbers the upstream gradient
        return {"x": dout}

    report = gc.check_vjp(relu, {"x": X}, in_place)
    assert not report.passed and report.wrong_tensors == []  # every value is right
    (finding,) = findings(report, "modifies_cotangent")
    assert "dout.copy()" in finding.message


def test_cotangent_is_seeded():
    seen = []

    def recording(p, dout):
        seen.append(dout.copy())
        return dense_vjp(p, dout)

    gc.check_vjp(dense, DENSE, recording, seed=1)
    gc.check_vjp(dense, DENSE, recording, seed=1)
    gc.check_vjp(dense, DENSE, recording, seed=2)
    assert np.array_equal(seen[0], seen[5]) and not np.array_equal(seen[0], seen[10])


def test_the_callers_inputs_are_not_modified():
    inputs = {k: v.copy() for k, v in DENSE.items()}
    gc.check_vjp(dense, inputs, dense_vjp, components=5)
    assert all(np.array_equal(inputs[k], DENSE[k]) for k in DENSE)


def test_errors_name_what_is_wrong():
    with pytest.raises(gc.OptionError, match="vjp=.* is not callable"):
        gc.check_vjp(dense, DENSE, None)
    with pytest.raises(gc.OptionError, match="components=0"):
        gc.check_vjp(dense, DENSE, dense_vjp, components=0)
    with pytest.raises(gc.LossValueError, match="f returned dtype int64"):
        gc.check_vjp(lambda p: np.ones(3, dtype=np.int64), DENSE, dense_vjp)
