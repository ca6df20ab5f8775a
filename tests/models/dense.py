"""Dense layer + softmax cross-entropy: the first backward pass everybody writes."""

from __future__ import annotations

import numpy as np

from ._base import Bug, Model, one_hot, softmax


class Dense(Model):
    """logits = x·W + b, loss = mean cross-entropy over m = 5 examples of 3 classes."""

    name = "dense-softmax"
    BUGS = {
        "dW-no-1/m": Bug("scale", ("W",), "dW = xᵀ·(p − y) without the 1/m"),
        "db-sign": Bug("sign", ("b",), "db with the wrong sign"),
        "dW-transposed": Bug("transpose", ("W",), "dW = dZᵀ·x instead of xᵀ·dZ"),
        "db-zero": Bug("zero_gradient", ("b",), "db left at zero"),
        "dW-one-entry": Bug("wrong_components", ("W",), "one entry of dW off by 30 %"),
        "dW-column": Bug("wrong_components", ("W",), "class 2's column of dW forgets its one-hot"),
    }

    def setup(self, rng):
        x = rng.normal(size=(5, 3))
        y = np.array([0, 2, 1, 2, 0])
        return {"x": x, "y": y}, {"W": rng.normal(size=(3, 3)), "b": rng.normal(size=3) * 0.1}

    def forward(self, p, data):
        x, y = data["x"], data["y"]
        logits = x @ p["W"] + p["b"]
        m = x.shape[0]
        shifted = logits - logits.max(axis=1, keepdims=True)
        log_probs = shifted - np.log(np.sum(np.exp(shifted), axis=1, keepdims=True))
        loss = -np.sum(log_probs[np.arange(m), y]) / m
        return loss, softmax(logits)

    def backward(self, p, data, probs, bug):
        x, y = data["x"], data["y"]
        m = x.shape[0]
        target = one_hot(y, 3, self.dtype)
        dz = (probs - target) / m
        dw = x.T @ dz
        db = dz.sum(axis=0)
        if bug == "dW-no-1/m":
            dw = x.T @ (probs - target)
        if bug == "db-sign":
            db = -db
        if bug == "dW-transposed":
            dw = dz.T @ x
        if bug == "db-zero":
            db = np.zeros_like(db)
        if bug == "dW-one-entry":
            dw[1, 2] *= 1.3
        if bug == "dW-column":
            dw[:, 2] = (x.T @ probs / m)[:, 2]
        return {"W": dw, "b": db}
