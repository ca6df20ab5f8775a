"""The benchmark's model: a float64 tanh MLP (in → h1 → h2 → out, MSE), as NumPy, PyTorch and JAX code."""

from __future__ import annotations

import numpy as np

BATCH = 64
# Layer sizes giving about 1e3, 1e4 and 1e5 parameters.
SIZES = {
    "1e3": (20, 24, 16, 4),  # 972 parameters
    "1e4": (100, 64, 48, 10),  # 10,074
    "1e5": (700, 128, 64, 10),  # 98,634
}


def make(size: str, batch: int = BATCH, seed: int = 0):
    """(params, X, Y): params a dict W1, b1, ... of float64 arrays (W of shape (out, in))."""
    dims = SIZES[size]
    rng = np.random.default_rng(seed)
    params = {}
    for k, (a, b) in enumerate(zip(dims[:-1], dims[1:], strict=True), 1):
        params[f"W{k}"] = rng.normal(size=(b, a)) / np.sqrt(a)
        params[f"b{k}"] = rng.normal(size=b) * 0.1
    return params, rng.normal(size=(batch, dims[0])), rng.normal(size=(batch, dims[-1]))


def numpy_loss(p, X, Y):
    h1 = np.tanh(X @ p["W1"].T + p["b1"])
    h2 = np.tanh(h1 @ p["W2"].T + p["b2"])
    return float(np.mean((h2 @ p["W3"].T + p["b3"] - Y) ** 2))


def numpy_grad(p, X, Y):
    h1 = np.tanh(X @ p["W1"].T + p["b1"])
    h2 = np.tanh(h1 @ p["W2"].T + p["b2"])
    d3 = 2 * (h2 @ p["W3"].T + p["b3"] - Y) / Y.size
    d2 = (d3 @ p["W3"]) * (1 - h2**2)
    d1 = (d2 @ p["W2"]) * (1 - h1**2)
    return {
        "W3": d3.T @ h2,
        "b3": d3.sum(0),
        "W2": d2.T @ h1,
        "b2": d2.sum(0),
        "W1": d1.T @ X,
        "b1": d1.sum(0),
    }


def torch_model(params):
    import torch

    dims = [params["W1"].shape[1]] + [params[f"W{k}"].shape[0] for k in (1, 2, 3)]
    model = torch.nn.Sequential(
        torch.nn.Linear(dims[0], dims[1]),
        torch.nn.Tanh(),
        torch.nn.Linear(dims[1], dims[2]),
        torch.nn.Tanh(),
        torch.nn.Linear(dims[2], dims[3]),
    ).double()
    with torch.no_grad():
        for k, index in ((1, 0), (2, 2), (3, 4)):
            model[index].weight.copy_(torch.from_numpy(params[f"W{k}"]))
            model[index].bias.copy_(torch.from_numpy(params[f"b{k}"]))
    return model


def jax_loss(p, X, Y):
    import jax.numpy as jnp

    h1 = jnp.tanh(X @ p["W1"].T + p["b1"])
    h2 = jnp.tanh(h1 @ p["W2"].T + p["b2"])
    return jnp.mean((h2 @ p["W3"].T + p["b3"] - Y) ** 2)
