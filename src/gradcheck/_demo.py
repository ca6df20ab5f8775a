"""The course's three-layer network (LINEAR→RELU→LINEAR→RELU→LINEAR→SIGMOID) with plantable bugs.

Written the way the course writes it (``np.dot`` products, ``1./m * ...``) so that a fixed
``eps=1e-7`` reproduces the course's reference differences to the last digits.
"""

from __future__ import annotations

from typing import Any

import numpy as np

BUGS = {
    "dW2x2": "dW2 multiplied by 2 (the course's first planted bug)",
    "db1-4m": "db1 computed with 4./m instead of 1./m (the course's second planted bug)",
    "dW3-sign": "dW3 with the wrong sign",
    "db2-zero": "db2 left at zero",
    "dW1-entry": "one entry of dW1 off by 50 %",
    "sigmoid-at-0": "σ′(z3) taken as σ′(0) = 1/4: exact while z3 ≈ 0 (small weights), wrong after training",
}


def test_case() -> tuple[np.ndarray, np.ndarray, dict[str, np.ndarray]]:
    """The course's X (4×3), Y and parameters, drawn after ``np.random.seed(1)``."""
    rng = np.random.RandomState(1)
    x = rng.randn(4, 3)
    y = np.array([1, 1, 0])
    w1 = rng.randn(5, 4)
    b1 = rng.randn(5, 1)
    w2 = rng.randn(3, 5)
    b2 = rng.randn(3, 1)
    w3 = rng.randn(1, 3)
    b3 = rng.randn(1, 1)
    return x, y, {"W1": w1, "b1": b1, "W2": w2, "b2": b2, "W3": w3, "b3": b3}


def relu(z: np.ndarray) -> np.ndarray:
    return np.maximum(0, z)


def sigmoid(z: np.ndarray) -> np.ndarray:
    return 1 / (1 + np.exp(-z))


def forward(x: np.ndarray, y: np.ndarray, parameters: dict[str, np.ndarray]) -> tuple[float, tuple]:
    """The cost and the cache, exactly as the course computes them."""
    m = x.shape[1]
    w1, b1, w2, b2, w3, b3 = (parameters[k] for k in ("W1", "b1", "W2", "b2", "W3", "b3"))
    z1 = np.dot(w1, x) + b1
    a1 = relu(z1)
    z2 = np.dot(w2, a1) + b2
    a2 = relu(z2)
    z3 = np.dot(w3, a2) + b3
    a3 = sigmoid(z3)
    logprobs = np.multiply(-np.log(a3), y) + np.multiply(-np.log(1 - a3), 1 - y)
    cost = 1.0 / m * np.sum(logprobs)
    return cost, (z1, a1, w1, b1, z2, a2, w2, b2, z3, a3, w3, b3)


def backward(x: np.ndarray, y: np.ndarray, cache: tuple, bugs: tuple[str, ...] = ()) -> dict[str, Any]:
    """The course's backward pass, with the named bugs planted (see ``BUGS``)."""
    unknown = set(bugs) - set(BUGS)
    if unknown:
        raise ValueError(f"unknown bug {sorted(unknown)[0]!r}; choose from {', '.join(BUGS)}")
    m = x.shape[1]
    z1, a1, w1, b1, z2, a2, w2, b2, z3, a3, w3, b3 = cache
    dz3 = a3 - y
    if "sigmoid-at-0" in bugs:  # dA3 · σ′(z3) with σ′(z3) = a3(1 − a3) linearised at z3 = 0
        dz3 = (-y / a3 + (1 - y) / (1 - a3)) * 0.25
    dw3 = 1.0 / m * np.dot(dz3, a2.T)
    db3 = 1.0 / m * np.sum(dz3, axis=1, keepdims=True)
    da2 = np.dot(w3.T, dz3)
    dz2 = np.multiply(da2, np.int64(a2 > 0))
    dw2 = 1.0 / m * np.dot(dz2, a1.T)
    db2 = 1.0 / m * np.sum(dz2, axis=1, keepdims=True)
    da1 = np.dot(w2.T, dz2)
    dz1 = np.multiply(da1, np.int64(a1 > 0))
    dw1 = 1.0 / m * np.dot(dz1, x.T)
    db1 = 1.0 / m * np.sum(dz1, axis=1, keepdims=True)
    if "dW2x2" in bugs:
        dw2 = 1.0 / m * np.dot(dz2, a1.T) * 2
    if "db1-4m" in bugs:
        db1 = 4.0 / m * np.sum(dz1, axis=1, keepdims=True)
    if "dW3-sign" in bugs:
        dw3 = -dw3
    if "db2-zero" in bugs:
        db2 = np.zeros_like(db2)
    if "dW1-entry" in bugs:
        dw1 = dw1.copy()
        dw1[2, 1] *= 1.5
    return {
        "dZ3": dz3,
        "dW3": dw3,
        "db3": db3,
        "dA2": da2,
        "dZ2": dz2,
        "dW2": dw2,
        "db2": db2,
        "dA1": da1,
        "dZ1": dz1,
        "dW1": dw1,
        "db1": db1,
    }


def problem(bugs: tuple[str, ...] = ()) -> tuple[Any, dict[str, np.ndarray], dict[str, Any]]:
    """(loss, parameters, gradients) of the course's test case, ready for ``gc.check``."""
    x, y, parameters = test_case()
    _, cache = forward(x, y, parameters)
    gradients = backward(x, y, cache, bugs)
    return (lambda p: forward(x, y, p)[0]), parameters, gradients
