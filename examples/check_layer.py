"""Check one layer's backward pass with `gc.check_vjp` (the course's ``backward(dout, cache)``)."""

import numpy as np

import gradcheck as gc

rng = np.random.default_rng(0)
inputs = {"x": rng.normal(size=(4, 3)), "W": rng.normal(size=(3, 5)), "b": rng.normal(size=5)}


def affine_forward(p):
    return p["x"] @ p["W"] + p["b"]


def affine_backward(p, dout):
    return {"x": dout @ p["W"].T, "W": p["x"].T @ dout, "b": dout.sum(axis=0)}


def buggy_backward(p, dout):  # forgets dout in db: a classic that a loss of sum(out) never shows
    return {"x": dout @ p["W"].T, "W": p["x"].T @ dout, "b": np.ones(5) * p["x"].shape[0]}


right = gc.check_vjp(affine_forward, inputs, affine_backward)
print(right.summary())
assert right.passed

wrong = gc.check_vjp(affine_forward, inputs, buggy_backward)
print(wrong.summary())
assert not wrong.passed and "b" in wrong.wrong_tensors
