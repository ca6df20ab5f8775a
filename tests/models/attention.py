"""Single-head self-attention: softmax(Q·Kᵀ/√d)·V on 4 tokens of width 3, squared error."""

from __future__ import annotations

import numpy as np

from ._base import Bug, Model, softmax


class Attention(Model):
    """Q, K, V = x·Wq, x·Wk, x·Wv; out = softmax(Q·Kᵀ/√3)·V; loss = ½·mean ||out − t||²."""

    name = "attention"
    BUGS = {
        "no-1/sqrt(d)": Bug("scale", ("Wq", "Wk"), "the scores' 1/√d left out of the backward pass"),
        "dWk-transposed": Bug("transpose", ("Wk",), "dWk = dKᵀ·x instead of xᵀ·dK"),
        "softmax-no-subtract": Bug("wrong_components", ("Wq", "Wk"), "softmax backward as A ⊙ dA"),
        "dWv-zero": Bug("zero_gradient", ("Wv",), "dWv never computed"),
    }

    def setup(self, rng):
        x = rng.normal(size=(4, 3))
        t = rng.normal(size=(4, 3))
        return {"x": x, "t": t}, {k: 0.8 * rng.normal(size=(3, 3)) for k in ("Wq", "Wk", "Wv")}

    def forward(self, p, data):
        x, t = data["x"], data["t"]
        q, k, v = x @ p["Wq"], x @ p["Wk"], x @ p["Wv"]
        scale = 1 / np.sqrt(self.dtype.type(x.shape[1]))
        a = softmax(q @ k.T * scale)
        out = a @ v
        return 0.5 * np.sum((out - t) ** 2) / x.shape[0], (q, k, v, a, out, scale)

    def backward(self, p, data, cache, bug):
        x, t = data["x"], data["t"]
        q, k, v, a, out, scale = cache
        dout = (out - t) / x.shape[0]
        dv = a.T @ dout
        da = dout @ v.T
        ds = a * da if bug == "softmax-no-subtract" else a * (da - np.sum(da * a, axis=1, keepdims=True))
        if bug != "no-1/sqrt(d)":
            ds = ds * scale
        dq, dk = ds @ k, ds.T @ q
        grads = {"Wq": x.T @ dq, "Wk": dk.T @ x if bug == "dWk-transposed" else x.T @ dk, "Wv": x.T @ dv}
        if bug == "dWv-zero":
            grads["Wv"] = np.zeros_like(grads["Wv"])
        return grads
