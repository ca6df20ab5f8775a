"""Check a network with inverted dropout: `reseed` makes every evaluation draw the same mask.

The seeds say dropout breaks gradient checking, because each evaluation of the loss samples a
new mask. Resetting the generator before every evaluation (and before the gradient) fixes the
mask, so the loss becomes a deterministic function of the parameters that can be checked.
"""

import numpy as np

import gradcheck as gc

rng = np.random.default_rng(0)
X, y = rng.normal(size=(6, 32)), rng.normal(size=(1, 32))
params = {"W1": 0.5 * rng.normal(size=(8, 6)), "W2": 0.5 * rng.normal(size=(1, 8))}
KEEP = 0.8
state = {"rng": np.random.default_rng(42)}


def reseed():
    state["rng"] = np.random.default_rng(42)


def forward(p):
    a1 = np.tanh(p["W1"] @ X)
    mask = (state["rng"].random(a1.shape) < KEEP) / KEEP  # inverted dropout
    d1 = a1 * mask
    out = p["W2"] @ d1
    return np.mean((out - y) ** 2), (a1, mask, d1, out)


def backward(p, scale_mask=True):
    _, (a1, mask, d1, out) = forward(p)
    dout = 2 * (out - y) / y.size
    dd1 = p["W2"].T @ dout
    da1 = dd1 * (mask if scale_mask else (mask > 0))  # the bug: forgets the 1/keep_prob
    return {"W1": (da1 * (1 - a1**2)) @ X.T, "W2": dout @ d1.T}


def loss(p):
    return forward(p)[0]


try:
    gc.check(loss, params, backward)
except gc.NondeterministicLossError as error:
    print("without reseed:", error)

print(gc.check(loss, params, backward, reseed=reseed).summary())
assert gc.check(loss, params, backward, reseed=reseed).passed

buggy = gc.check(loss, params, lambda p: backward(p, scale_mask=False), reseed=reseed)
print(buggy.summary())
assert buggy.wrong_tensors == ["W1"]
