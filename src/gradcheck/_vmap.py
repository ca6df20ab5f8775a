"""The core the PyTorch and JAX adapters share: a ``batched_loss`` built on a framework's vmap.

Both adapters see the params as a flat dict of float64 arrays keyed by path names (``fc1.weight``,
``layers[0].W``). The core asks a batched loss for two things (`_evaluate._batched`): the losses
of whole rows of θ, and the losses of single-entry changes. This base class splits rows into
the dict's leaves and groups single-entry changes by the leaf they change, so that only that
leaf is batched; a framework subclass says how to evaluate a batch (`rows`, `changes`).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np


class VmapLoss:
    """``batched_loss(rows)`` and ``at_components(components, values)`` for a flat dict of leaves."""

    def __init__(self, names: Sequence[str], shapes: Sequence[tuple[int, ...]]) -> None:
        self.names = list(names)
        self.shapes = [tuple(s) for s in shapes]
        self.offsets = np.cumsum([0] + [math.prod(s) for s in self.shapes])

    def __call__(self, rows: np.ndarray) -> np.ndarray:
        """The loss of each row of a (k, n) stack of flat parameter vectors."""
        rows = np.ascontiguousarray(rows, dtype=np.float64)
        leaves = {  # contiguous: some kernels refuse strided views (group_norm under vmap)
            name: np.ascontiguousarray(rows[:, self.offsets[j] : self.offsets[j + 1]]).reshape(
                len(rows), *shape
            )
            for j, (name, shape) in enumerate(zip(self.names, self.shapes, strict=True))
        }
        return self.rows(leaves)

    def at_components(self, components: np.ndarray, values: np.ndarray) -> np.ndarray:
        """The loss with θ[components[j]] = values[j], for every j, grouped by the leaf changed."""
        out = np.empty(components.size)
        owner = np.searchsorted(self.offsets, components, side="right") - 1
        for j, name in enumerate(self.names):
            mine = np.flatnonzero(owner == j)
            if mine.size:
                out[mine] = self.changes(name, components[mine] - self.offsets[j], values[mine])
        return out

    def rows(self, leaves: dict[str, np.ndarray]) -> np.ndarray:
        """The loss for each row of the stacked leaves (k, *shape each)."""
        raise NotImplementedError

    def changes(self, name: str, local: np.ndarray, values: np.ndarray) -> np.ndarray:
        """The loss with flat entry ``local[r]`` of leaf ``name`` set to ``values[r]``, per r."""
        raise NotImplementedError
