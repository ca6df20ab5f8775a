"""The frame every model of the collection shares: data, parameters, loss, backward with bugs."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Optional

import numpy as np

Arrays = dict[str, np.ndarray]


@dataclass(frozen=True)
class Bug:
    """A bug plantable in a backward pass, and what gradcheck must say about it."""

    kind: str  # the finding kind gradcheck must report
    tensors: tuple[str, ...]  # every tensor the finding must name
    text: str  # what was planted


class Model:
    """A tiny NumPy model with a hand-written backward pass and plantable bugs.

    Subclasses define ``setup(rng) -> (data, params)``, ``forward(p, data) -> (loss, cache)`` and
    ``backward(p, data, cache, bug) -> grads``; ``INPUTS`` names the data arrays that
    ``input_scale`` multiplies. Everything is computed in ``dtype``: the loss casts the params it
    receives (gradcheck passes float64 copies), as a float32 network holds float32 weights.
    """

    name = ""
    INPUTS: tuple[str, ...] = ("x",)
    BUGS: dict[str, Bug] = {}

    def __init__(
        self,
        *,
        dtype: Any = np.float64,
        seed: int = 0,
        input_scale: float = 1.0,
        weight_scale: float = 1.0,
        loss_scale: float = 1.0,
    ) -> None:
        self.dtype = np.dtype(dtype)
        self.seed = seed
        self.loss_scale = self.dtype.type(loss_scale)
        data, params = self.setup(np.random.default_rng(seed))
        self.data = {
            k: (v * input_scale if k in self.INPUTS else v).astype(self.dtype)
            if np.issubdtype(np.asarray(v).dtype, np.floating)
            else v
            for k, v in data.items()
        }
        self.initial = {k: (v * weight_scale).astype(self.dtype) for k, v in params.items()}

    def setup(self, rng: np.random.Generator) -> tuple[Arrays, Arrays]:
        raise NotImplementedError

    def forward(self, p: Arrays, data: Arrays) -> tuple[Any, Any]:
        raise NotImplementedError

    def backward(self, p: Arrays, data: Arrays, cache: Any, bug: Optional[str]) -> Arrays:
        raise NotImplementedError

    def params(self) -> Arrays:
        """Fresh copies of the parameters."""
        return {k: v.copy() for k, v in self.initial.items()}

    def cast(self, p: Arrays) -> Arrays:
        return {k: np.asarray(v).astype(self.dtype) for k, v in p.items()}

    def loss(self, p: Arrays) -> Any:
        return self.loss_scale * self.forward(self.cast(p), self.data)[0]

    def grad(self, p: Arrays, bug: Optional[str] = None) -> Arrays:
        """The analytic gradient at ``p``, with ``bug`` (a key of ``BUGS``) planted."""
        if bug is not None and bug not in self.BUGS:
            raise ValueError(f"{self.name} has no bug {bug!r}; choose from {', '.join(self.BUGS)}")
        p = self.cast(p)
        _, cache = self.forward(p, self.data)
        grads = self.backward(p, self.data, cache, bug)
        return {k: self.loss_scale * g for k, g in grads.items()}

    def grad_with(self, bug: Optional[str]) -> Any:
        """``grad`` as a one-argument callable, ready for ``gc.check``."""
        return lambda p: self.grad(p, bug)


def softmax(z: np.ndarray) -> np.ndarray:
    e = np.exp(z - z.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


def one_hot(labels: np.ndarray, classes: int, dtype: Any) -> np.ndarray:
    return np.eye(classes, dtype=dtype)[labels]
