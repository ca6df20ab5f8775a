"""Single-entry perturbations of an ``nn.Sequential``, evaluated from the layer they change onwards.

A finite-difference point changes one parameter of one child k. The children before k see
the same input as at θ, so their outputs are computed once (at θ) and reused. When child k
is an ``nn.Linear`` on (batch, features), changing W[i, j] by δ changes only output column i,
by δ·x[:, j] (a bias entry: by δ); elementwise activations keep that change in column i, and
the next Linear turns it into the rank-one update Δcolumn ⊗ W[:, i]. Only the children after
that run in full, for all points of a chunk at once under ``torch.func.vmap``. The result is
the same loss up to rounding (the check compares it with the plain forward at θ).
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, Optional

import numpy as np

from ._evaluate._batched import CHUNK_BYTES

# Modules that act on each element alone: a change confined to one column stays there.
ELEMENTWISE = ("Tanh", "ReLU", "Sigmoid", "GELU", "SiLU", "ELU", "LeakyReLU", "Softplus", "Identity")


class SequentialPlan:
    """The activations of an nn.Sequential at θ, and losses of single-entry changes from them."""

    def __init__(
        self, torch: Any, model: Any, loss: Callable[[Any], Any], x: Any, reseed: Callable[[], Any]
    ) -> None:
        self.torch, self.loss, self.reseed = torch, loss, reseed
        self.children = list(model.children())
        reseed()
        with torch.no_grad():
            self.acts = [x]
            for child in self.children:
                self.acts.append(child(self.acts[-1]))

    @staticmethod
    def applies(torch: Any, model: Any, batch: tuple[Any, ...]) -> bool:
        """Sequential, one input, and no dropout drawing masks (its RNG stream would shift)."""
        active_dropout = any(
            isinstance(m, torch.nn.modules.dropout._DropoutNd) and m.training and m.p > 0
            for m in model.modules()
        )
        return isinstance(model, torch.nn.Sequential) and len(batch) in (1, 2) and not active_dropout

    def owner(self, name: str) -> Optional[tuple[int, str]]:
        """(child index, attribute) of a parameter of a direct child, like ``"2.weight"``."""
        head, _, attribute = name.partition(".")
        if head.isdigit() and attribute in self.children[int(head)]._parameters:
            return int(head), attribute
        return None

    def losses(self, k: int, attribute: str, local: np.ndarray, values: np.ndarray) -> np.ndarray:
        """The loss with entry ``local[r]`` of child k's ``attribute`` set to ``values[r]``, per r."""
        out = np.empty(local.size)
        child, torch = self.children[k], self.torch
        linear = type(child) is torch.nn.Linear and self.acts[k].dim() == 2
        # Each point carries its own copy of the activations after child k (twice as many when
        # child k itself runs batched).
        step = max(1, CHUNK_BYTES // (8 * sum(a.numel() for a in self.acts[k + 1 :]) * (1 if linear else 2)))
        for start in range(0, local.size, step):
            part = slice(start, start + step)
            idx, vals = torch.from_numpy(local[part]), torch.from_numpy(values[part])
            with torch.no_grad():
                if linear:
                    out[part] = self._linear(k, attribute, idx, vals)
                else:
                    out[part] = self._general(k, attribute, idx, vals)
        return out

    def _linear(self, k: int, attribute: str, idx: Any, vals: Any) -> np.ndarray:
        torch, child, x = self.torch, self.children[k], self.acts[k]
        parameter = getattr(child, attribute)
        delta = vals - parameter.reshape(-1)[idx]
        if attribute == "weight":
            column, source = idx // child.in_features, idx % child.in_features
            new = self.acts[k + 1][:, column].T + delta[:, None] * x[:, source].T
        else:
            column = idx
            new = self.acts[k + 1][:, column].T + delta[:, None]
        position = k + 1
        while position < len(self.children) and type(self.children[position]).__name__ in ELEMENTWISE:
            new = self.children[position](new)
            position += 1
        after: Any = self.children[position] if position < len(self.children) else None
        if type(after) is torch.nn.Linear:
            change = new - self.acts[position][:, column].T  # (points, batch)
            rows = torch.addcmul(
                self.acts[position + 1][None], change[:, :, None], after.weight[:, column].T[:, None, :]
            )
            return self._suffix(position + 1, rows)
        rows = self.acts[position][None].repeat(len(column), 1, 1)
        rows[torch.arange(len(column)), :, column] = new
        return self._suffix(position, rows)

    def _general(self, k: int, attribute: str, idx: Any, vals: Any) -> np.ndarray:
        """Any other child: vmap it over its changed parameter, on its input at θ."""
        from torch.func import functional_call, vmap

        torch, child = self.torch, self.children[k]
        base = getattr(child, attribute).detach()
        stack = base.reshape(1, -1).repeat(len(idx), 1)
        stack[torch.arange(len(idx)), idx] = vals
        stack = stack.reshape(len(idx), *base.shape)
        self.reseed()
        rows = vmap(lambda p: functional_call(child, {attribute: p}, (self.acts[k],)), randomness="same")(
            stack
        )
        return self._suffix(k + 1, rows)

    def _suffix(self, start: int, rows: Any) -> np.ndarray:
        """The loss of children start… applied to each row of activations."""
        from torch.func import vmap

        rest = self.children[start:]
        run = lambda a: self.loss(functools.reduce(lambda value, child: child(value), rest, a))  # noqa: E731
        self.reseed()
        return vmap(run, randomness="same")(rows).numpy()
