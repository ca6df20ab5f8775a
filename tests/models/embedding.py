"""An embedding lookup with a repeated token → logistic read-out."""

from __future__ import annotations

import numpy as np

from ._base import Bug, Model


class Embedding(Model):
    """z = E[tokens]·w, loss = mean log(1 + exp(−y·z)); token 3 appears twice, token 5 never."""

    name = "embedding"
    INPUTS = ()  # the inputs are token ids; nothing to scale
    BUGS = {
        "overwrite-repeats": Bug(
            "wrong_components", ("E",), "dE[tokens] = g instead of np.add.at (repeats lost)"
        ),
        "dE-zero": Bug("zero_gradient", ("E",), "dE never computed"),
        "dw-no-1/m": Bug("scale", ("w",), "dw without the 1/m"),
    }

    def setup(self, rng):
        tokens = np.array([1, 3, 0, 3, 4, 2])
        y = np.array([1.0, -1.0, 1.0, -1.0, -1.0, 1.0])
        return {"tokens": tokens, "y": y}, {"E": rng.normal(size=(6, 3)), "w": rng.normal(size=3)}

    def forward(self, p, data):
        rows = p["E"][data["tokens"]]
        margin = data["y"] * (rows @ p["w"])
        return np.mean(np.logaddexp(0, -margin)), (rows, margin)

    def backward(self, p, data, cache, bug):
        tokens, y = data["tokens"], data["y"]
        rows, margin = cache
        m = tokens.size
        dz = -y * np.exp(-np.logaddexp(0, margin)) / m  # −y·σ(−margin)/m, without overflow
        de = np.zeros_like(p["E"])
        if bug == "overwrite-repeats":
            de[tokens] = np.outer(dz, p["w"])
        elif bug != "dE-zero":
            np.add.at(de, tokens, np.outer(dz, p["w"]))
        dw = rows.T @ dz * (m if bug == "dw-no-1/m" else 1)
        return {"E": de, "w": dw}
