"""Inverted dropout: a random mask on every evaluation, checkable only with ``reseed=``."""

from __future__ import annotations

import numpy as np

from ._base import Bug, Model

KEEP = 0.8


class Dropout(Model):
    """a = tanh(x·W1), dropped with keep 0.8 and scaled by 1/0.8, read out by w2 (squared error).

    The mask comes from ``self.rng``; ``reseed()`` resets it, so every evaluation draws the same one.
    """

    name = "dropout"
    BUGS = {
        "no-1/keep": Bug("scale", ("W1",), "the backward pass forgets the 1/keep_prob"),
        "mask-ignored": Bug("wrong_components", ("W1",), "the backward pass ignores the mask"),
    }

    def setup(self, rng):
        self.reseed()
        x = rng.normal(size=(5, 3))
        t = rng.normal(size=5)
        return {"x": x, "t": t}, {"W1": rng.normal(size=(3, 4)), "w2": rng.normal(size=4)}

    def reseed(self) -> None:
        self.rng = np.random.default_rng(1234)

    def forward(self, p, data):
        x, t = data["x"], data["t"]
        a = np.tanh(x @ p["W1"])
        mask = (self.rng.random(a.shape) < KEEP).astype(self.dtype)
        dropped = a * mask / self.dtype.type(KEEP)
        out = dropped @ p["w2"]
        return 0.5 * np.sum((out - t) ** 2) / x.shape[0], (a, mask, dropped, out)

    def backward(self, p, data, cache, bug):
        x, t = data["x"], data["t"]
        a, mask, dropped, out = cache
        dout = (out - t) / x.shape[0]
        ddropped = np.outer(dout, p["w2"])
        if bug == "mask-ignored":
            da = ddropped / KEEP
        else:
            da = ddropped * mask / (1 if bug == "no-1/keep" else KEEP)
        return {"W1": x.T @ (da * (1 - a**2)), "w2": dropped.T @ dout}
