"""L2 regularization (λ/2)·Σ||W||² over any model's weight matrices, with plantable bugs."""

from __future__ import annotations

from typing import Any, Optional

import numpy as np

from ._base import Arrays, Bug, Model


class L2:
    """``inner``'s loss plus (λ/2)·||W||² for every parameter with two or more axes."""

    def __init__(self, inner: Model, lam: float) -> None:
        self.inner = inner
        self.name = f"{inner.name}+l2"
        self.dtype = inner.dtype
        self.lam = inner.dtype.type(lam)
        self.weights = tuple(k for k, v in inner.initial.items() if v.ndim >= 2)
        self.BUGS = {
            "l2-missing": Bug("missing_regularization", self.weights, "λ·W left out of every dW"),
            "l2-twice": Bug("missing_regularization", self.weights, "2λ·W in every dW (λ/2 in the loss)"),
        }

    def params(self) -> Arrays:
        return self.inner.params()

    def loss(self, p: Arrays) -> Any:
        cast = self.inner.cast(p)
        penalty = self.lam / 2 * sum(np.sum(cast[k] ** 2) for k in self.weights)
        return self.inner.loss(p) + self.inner.loss_scale * penalty

    def grad(self, p: Arrays, bug: Optional[str] = None) -> Arrays:
        grads = self.inner.grad(p)
        cast = self.inner.cast(p)
        times = {"l2-missing": 0, "l2-twice": 2}.get(bug or "", 1)
        for k in self.weights:
            grads[k] = grads[k] + self.inner.loss_scale * times * self.lam * cast[k]
        return grads

    def grad_with(self, bug: Optional[str]) -> Any:
        return lambda p: self.grad(p, bug)
