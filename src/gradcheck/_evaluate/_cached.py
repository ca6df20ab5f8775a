"""Remember every loss value: a second check of the same loss at the same points costs nothing.

Checking a loss's gradient in several modes (reverse mode, forward mode) compares each mode's
analytic gradient with the same finite differences. The points a check evaluates depend only on
θ, the steps and the seeded directions, so the second mode finds most of them here; only the
points its own refinement adds (around components where it disagrees) are evaluated anew.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Optional

import numpy as np

from ._progress import Advance

if TYPE_CHECKING:
    from ._evaluator import Backend, Evaluator


class Cached:
    """A `Backend` that looks every point up before passing the new ones on to ``inner``."""

    def __init__(self, inner: Optional[Backend]) -> None:
        self.inner = inner
        self.at: dict[tuple[int, Any], Any] = {}
        self.along: dict[tuple[bytes, float], float] = {}

    def many(
        self, evaluator: Evaluator, components: np.ndarray, values: np.ndarray, advance: Advance
    ) -> np.ndarray:
        def evaluate(new: np.ndarray) -> np.ndarray:
            if self.inner is None:
                return evaluator.serial_many(components[new], values[new], advance)
            return self.inner.many(evaluator, components[new], values[new], advance)

        keys = list(zip(components.tolist(), values.tolist(), strict=True))
        return _looked_up(self.at, keys, evaluate, advance)

    def many_along(
        self, evaluator: Evaluator, directions: np.ndarray, ts: np.ndarray, advance: Advance
    ) -> np.ndarray:
        def evaluate(new: np.ndarray) -> np.ndarray:
            if self.inner is None:
                return evaluator.serial_many_along(directions[new], ts[new], advance)
            return self.inner.many_along(evaluator, directions[new], ts[new], advance)

        digests = [hashlib.blake2b(d.tobytes(), digest_size=16).digest() for d in directions]
        return _looked_up(self.along, list(zip(digests, ts.tolist(), strict=True)), evaluate, advance)


def _looked_up(
    store: dict[Any, Any], keys: list[Any], evaluate: Callable[[np.ndarray], np.ndarray], advance: Advance
) -> np.ndarray:
    """The values of ``keys``: from ``store``, the new ones by ``evaluate(their positions)``."""
    new = np.array([k for k, key in enumerate(keys) if key not in store], dtype=np.int64)
    if new.size:
        for k, value in zip(new.tolist(), evaluate(new).tolist(), strict=True):
            store[keys[k]] = value
    advance(len(keys) - new.size)
    return np.array([store[key] for key in keys])
