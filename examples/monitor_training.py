"""Check during training with `gc.Monitor`: at the start, then every N steps, cheaply.

The seeds advise checking at random initialisation and again after some training, because
some bugs only show when the weights grow. Here tanh'(z) is approximated by 1: right while the
pre-activations are near zero (here 1e-6: an error of 1e-12, below what any check can see),
wrong once training has made them large.
"""

import numpy as np

import gradcheck as gc

rng = np.random.default_rng(0)
X = rng.normal(size=(4, 64))
y = np.sin(X.sum(axis=0, keepdims=True))
params = {"W1": 1e-6 * rng.normal(size=(16, 4)), "W2": 1e-6 * rng.normal(size=(1, 16))}


def loss(p):
    return float(np.mean((p["W2"] @ np.tanh(p["W1"] @ X) - y) ** 2))


def grad(p):  # bug: tanh'(z) = 1 - tanh(z)^2 replaced by 1
    a = np.tanh(p["W1"] @ X)
    dout = 2 * (p["W2"] @ a - y) / y.size
    return {"W1": (p["W2"].T @ dout) @ X.T, "W2": dout @ a.T}


monitor = gc.Monitor(loss, grad, every=25, components=32, on_failure="raise")
try:
    for _ in range(500):
        monitor.step(params)
        g = grad(params)
        params = {k: v - 0.5 * g[k] for k, v in params.items()}
except gc.MonitorFailure as failure:
    print(f"caught at step {failure.step}:")
    print(failure.report.summary())
for record in monitor.history:
    print(record.step, "passed" if record.passed else "FAILED", f"{record.difference:.1e}")
assert monitor.history[0].passed and not monitor.history[-1].passed
