"""Dense → batch norm → tanh with a squared error: the backward pass with the mean terms."""

from __future__ import annotations

import numpy as np

from ._base import Bug, Model

# Batch norm's ε inside the square root (the customary 1e-5).
BN_EPS = 1e-5


class BatchNorm(Model):
    """h = x·W, ĥ = (h − mean)/√(var + ε), z = γ·ĥ + β, loss = ½·mean ||tanh(z) − t||² over 6 examples."""

    name = "batchnorm"
    BUGS = {
        "dh-no-mean-terms": Bug(
            "wrong_components", ("W",), "dh = γ·dz/σ, forgetting the mean and variance terms"
        ),
        "dgamma-sign": Bug("sign", ("gamma",), "dγ with the wrong sign"),
        "dbeta-x2": Bug("scale", ("beta",), "dβ counted twice"),
        "dgamma-zero": Bug("zero_gradient", ("gamma",), "dγ never computed"),
    }

    def setup(self, rng):
        x = rng.normal(size=(6, 3))
        t = rng.uniform(-0.5, 0.5, size=(6, 4))
        params = {
            "W": rng.normal(size=(3, 4)),
            "gamma": 1 + 0.2 * rng.normal(size=4),
            "beta": 0.1 * rng.normal(size=4),
        }
        return {"x": x, "t": t}, params

    def forward(self, p, data):
        x, t = data["x"], data["t"]
        h = x @ p["W"]
        mu = h.mean(axis=0)
        inv = 1 / np.sqrt(h.var(axis=0) + self.dtype.type(BN_EPS))
        hat = (h - mu) * inv
        out = np.tanh(p["gamma"] * hat + p["beta"])
        loss = 0.5 * np.sum((out - t) ** 2) / x.shape[0]
        return loss, (hat, inv, out)

    def backward(self, p, data, cache, bug):
        x, t = data["x"], data["t"]
        hat, inv, out = cache
        m = x.shape[0]
        dz = (out - t) * (1 - out**2) / m
        dgamma = np.sum(dz * hat, axis=0)
        dbeta = np.sum(dz, axis=0)
        dhat = dz * p["gamma"]
        dh = inv * (dhat - dhat.mean(axis=0) - hat * np.mean(dhat * hat, axis=0))
        if bug == "dh-no-mean-terms":
            dh = inv * dhat
        if bug == "dgamma-sign":
            dgamma = -dgamma
        if bug == "dbeta-x2":
            dbeta = 2 * dbeta
        if bug == "dgamma-zero":
            dgamma = np.zeros_like(dgamma)
        return {"W": x.T @ dh, "gamma": dgamma, "beta": dbeta}
