"""Module-level losses for the parallel tests: worker processes need to unpickle them."""

import os

import numpy as np

X = np.random.default_rng(3).normal(size=(16, 5))
Y = np.random.default_rng(4).normal(size=16)


def params():
    rng = np.random.default_rng(5)
    return {"W": rng.normal(size=(5, 3)), "v": rng.normal(size=3)}


def loss(p):
    return float(np.mean((np.tanh(X @ p["W"]) @ p["v"] - Y) ** 2))


def batched_loss(rows):
    """The same loss for each row of a (k, 18) stack, computed row by row (bit-identical)."""
    return np.array([loss({"W": row[:15].reshape(5, 3), "v": row[15:]}) for row in rows])


def grad(p):
    h = np.tanh(X @ p["W"])
    r = 2 * (h @ p["v"] - Y) / Y.size
    return {"W": X.T @ (np.outer(r, p["v"]) * (1 - h**2)), "v": h.T @ r}


def crashing_loss(p):
    start = params()
    if p["W"][0, 0] != start["W"][0, 0] and np.array_equal(p["v"], start["v"]):  # only W moved
        os._exit(3)  # a worker that dies without a Python exception
    return loss(p)


def raising_loss(p):
    start = params()
    others_at_start = np.array_equal(p["W"], start["W"]) and np.array_equal(p["v"][:2], start["v"][:2])
    if p["v"][2] != start["v"][2] and others_at_start:  # only v[2] moved (one component, not a probe)
        raise RuntimeError("bad v")
    return loss(p)
