"""A residual block r = h + relu(h·W1 + b1)·W2 on top of a dense layer, with a linear read-out."""

from __future__ import annotations

import numpy as np

from ._base import Bug, Model


class Residual(Model):
    """h = x·W0; r = h + relu(h·W1 + b1)·W2; loss = ½·mean (r·v − y)² over 4 examples."""

    name = "residual"
    BUGS = {
        "skip-dropped": Bug("wrong_components", ("W0",), "the identity path's gradient left out of dh"),
        "dW2-zero": Bug("zero_gradient", ("W2",), "dW2 never computed"),
        "dW1-transposed": Bug("transpose", ("W1",), "dW1 = dzᵀ·h instead of hᵀ·dz"),
        "db1-x2": Bug("scale", ("b1",), "db1 counted twice"),
    }

    def setup(self, rng):
        x = rng.normal(size=(4, 3))
        y = rng.normal(size=4)
        params = {
            "W0": rng.normal(size=(3, 3)),
            "W1": rng.normal(size=(3, 3)),
            "b1": 0.5 + 0.1 * rng.normal(size=3),
            "W2": rng.normal(size=(3, 3)),
            "v": rng.normal(size=3),
        }
        return {"x": x, "y": y}, params

    def pre_activation(self, p, x):
        """z = h·W1 + b1, the input of the block's ReLU."""
        return (x @ p["W0"]) @ p["W1"] + p["b1"]

    def forward(self, p, data):
        x, y = data["x"], data["y"]
        h = x @ p["W0"]
        z = h @ p["W1"] + p["b1"]
        a = np.maximum(z, 0)
        r = h + a @ p["W2"]
        out = r @ p["v"]
        return 0.5 * np.sum((out - y) ** 2) / x.shape[0], (h, z, a, r, out)

    def backward(self, p, data, cache, bug):
        x, y = data["x"], data["y"]
        h, z, a, r, out = cache
        dout = (out - y) / x.shape[0]
        dr = np.outer(dout, p["v"])
        dz = (dr @ p["W2"].T) * (z > 0)
        dh = dz @ p["W1"].T if bug == "skip-dropped" else dr + dz @ p["W1"].T
        grads = {
            "W0": x.T @ dh,
            "W1": dz.T @ h if bug == "dW1-transposed" else h.T @ dz,
            "b1": dz.sum(axis=0) * (2 if bug == "db1-x2" else 1),
            "W2": np.zeros_like(p["W2"]) if bug == "dW2-zero" else a.T @ dr,
            "v": r.T @ dout,
        }
        return grads
