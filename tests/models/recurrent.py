"""A tanh RNN cell unrolled over 3 steps, read out at the last step (backprop through time)."""

from __future__ import annotations

import numpy as np

from ._base import Bug, Model


class RNN(Model):
    """h_t = tanh(x_t·Wx + h_{t−1}·Wh + b), loss = ½·mean (h_T·v − y)² over 2 sequences."""

    name = "rnn"
    BUGS = {
        "truncated-bptt": Bug("wrong_components", ("Wh",), "no gradient through h_{t−1} (one step of BPTT)"),
        "dWh-transposed": Bug("transpose", ("Wh",), "dWh = dzᵀ·h_{t−1} instead of h_{t−1}ᵀ·dz"),
        "db-sign": Bug("sign", ("b",), "db with the wrong sign"),
        "tanh-prime-1": Bug("wrong_components", ("Wx",), "tanh' taken as 1"),
    }

    def setup(self, rng):
        x = rng.normal(size=(3, 2, 2))
        y = rng.normal(size=2)
        params = {
            "Wx": 0.7 * rng.normal(size=(2, 3)),
            "Wh": 0.7 * rng.normal(size=(3, 3)),
            "b": 0.1 * rng.normal(size=3),
            "v": rng.normal(size=3),
        }
        return {"x": x, "y": y}, params

    def forward(self, p, data):
        x, y = data["x"], data["y"]
        hs = [np.zeros((x.shape[1], 3), dtype=self.dtype)]
        for step in x:
            hs.append(np.tanh(step @ p["Wx"] + hs[-1] @ p["Wh"] + p["b"]))
        out = hs[-1] @ p["v"]
        return 0.5 * np.sum((out - y) ** 2) / x.shape[1], (hs, out)

    def backward(self, p, data, cache, bug):
        x, y = data["x"], data["y"]
        hs, out = cache
        dout = (out - y) / x.shape[1]
        grads = {k: np.zeros_like(v) for k, v in p.items()}
        grads["v"] = hs[-1].T @ dout
        dh = np.outer(dout, p["v"])
        for t in reversed(range(x.shape[0])):
            dz = dh if bug == "tanh-prime-1" else dh * (1 - hs[t + 1] ** 2)
            grads["Wx"] += x[t].T @ dz
            grads["Wh"] += dz.T @ hs[t] if bug == "dWh-transposed" else hs[t].T @ dz
            grads["b"] += dz.sum(axis=0)
            dh = np.zeros_like(dh) if bug == "truncated-bptt" else dz @ p["Wh"].T
        if bug == "db-sign":
            grads["b"] = -grads["b"]
        return grads
