"""Dense → max pooling over pairs of features → linear read-out with a squared error."""

from __future__ import annotations

import numpy as np

from ._base import Bug, Model


class MaxPool(Model):
    """h = x·W (4 examples, 6 features), pooled to 3 by max over pairs, read out by v."""

    name = "maxpool"
    BUGS = {
        "route-to-first": Bug(
            "wrong_components", ("W",), "the gradient routed to the first of each pair, not the max"
        ),
        "dv-sign": Bug("sign", ("v",), "dv with the wrong sign"),
        "route-to-both": Bug("wrong_components", ("W",), "the gradient copied to both entries of each pair"),
    }

    def setup(self, rng):
        x = rng.normal(size=(4, 3))
        t = rng.normal(size=4)
        return {"x": x, "t": t}, {"W": rng.normal(size=(3, 6)), "v": rng.normal(size=3)}

    def forward(self, p, data):
        x, t = data["x"], data["t"]
        h = (x @ p["W"]).reshape(x.shape[0], 3, 2)
        pooled = h.max(axis=2)
        out = pooled @ p["v"]
        return 0.5 * np.sum((out - t) ** 2) / x.shape[0], (h, pooled, out)

    def backward(self, p, data, cache, bug):
        x, t = data["x"], data["t"]
        h, pooled, out = cache
        dout = (out - t) / x.shape[0]
        dpooled = np.outer(dout, p["v"])
        winner = np.argmax(h, axis=2)
        if bug == "route-to-first":
            winner = np.zeros_like(winner)
        dh = np.zeros_like(h)
        np.put_along_axis(dh, winner[..., None], dpooled[..., None], axis=2)
        if bug == "route-to-both":
            dh = np.repeat(dpooled[..., None], 2, axis=2)
        dv = pooled.T @ dout
        if bug == "dv-sign":
            dv = -dv
        return {"W": x.T @ dh.reshape(x.shape[0], 6), "v": dv}
