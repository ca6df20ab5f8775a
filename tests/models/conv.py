"""A 1-D convolution (cross-correlation, valid padding) → tanh → squared error."""

from __future__ import annotations

import numpy as np

from ._base import Bug, Model


def correlate(x: np.ndarray, k: np.ndarray) -> np.ndarray:
    """y[n, o, l] = Σ_c,j x[n, c, l + j]·k[o, c, j] (what deep-learning libraries call conv)."""
    width = k.shape[2]
    windows = np.stack([x[:, :, j : x.shape[2] - width + 1 + j] for j in range(width)], axis=-1)
    return np.einsum("ncLj,ocj->noL", windows, k)


class Conv1d(Model):
    """y = tanh(conv(x, K) + b) on 3 examples of 2 channels × 6 steps, 2 output channels."""

    name = "conv1d"
    BUGS = {
        "dK-flipped": Bug("wrong_components", ("K",), "dK computed with the kernel flipped (convolution)"),
        "db-no-1/m": Bug("scale", ("b",), "db summed over the batch without the 1/m"),
        "db-zero": Bug("zero_gradient", ("b",), "db never computed"),
        "dK-channel": Bug("wrong_components", ("K",), "dK of output channel 1 forgets tanh'"),
    }

    def setup(self, rng):
        x = rng.normal(size=(3, 2, 6))
        t = rng.uniform(-0.5, 0.5, size=(3, 2, 4))
        return {"x": x, "t": t}, {"K": 0.5 * rng.normal(size=(2, 2, 3)), "b": 0.1 * rng.normal(size=2)}

    def forward(self, p, data):
        x, t = data["x"], data["t"]
        out = np.tanh(correlate(x, p["K"]) + p["b"][:, None])
        return 0.5 * np.sum((out - t) ** 2) / x.shape[0], out

    def backward(self, p, data, out, bug):
        x, t = data["x"], data["t"]
        m, width = x.shape[0], p["K"].shape[2]
        dy = (out - t) * (1 - out**2) / m
        windows = np.stack([x[:, :, j : x.shape[2] - width + 1 + j] for j in range(width)], axis=-1)
        dk = np.einsum("noL,ncLj->ocj", dy, windows)
        db = dy.sum(axis=(0, 2))
        if bug == "dK-flipped":
            dk = dk[:, :, ::-1]
        if bug == "db-no-1/m":
            db = m * db
        if bug == "db-zero":
            db = np.zeros_like(db)
        if bug == "dK-channel":
            dk[1] = np.einsum("nL,ncLj->cj", (out - t)[:, 1] / m, windows)
        return {"K": dk, "b": db}
