"""The noise each component sees: along all of θ, along its tensor, or below a staircase's stairs.

One measurement along all of θ (`_noise.measure`) serves a float64 loss. When that noise is above
float64's, it may come from one tensor alone (labels of ±1 that require grad, a coarse branch):
then the noise is measured along each tensor that is checked one by one, so that tensor does not
blind the check of the others. Along a tensor where the loss is a staircase
(`_discontinuity.piecewise_constant`) a component that moves J at the finest spacing is judged
below the stairs, with J's own rounding as its noise; one that stands on a stair is judged with
the stairs' noise, and its zero analytic derivative cannot be judged at all.
"""

from __future__ import annotations

import dataclasses

import numpy as np

from ._discontinuity import on_a_stair, piecewise_constant, resolution
from ._evaluate import Evaluator
from ._noise import NOISY_LOSS, AlongTensors, Noise, measure

# The noise along each tensor draws its direction from its own stream of the seed, so that the
# noise along all of θ (the seed's first stream) is measured as before.
TENSOR_NOISE_STREAM = 2


class NoiseMap:
    """The loss's noise at θ along θ, along each tensor (measured when needed), and per component."""

    def __init__(
        self, evaluator: Evaluator, j0: float, finite: np.ndarray, spacing: np.ndarray, seed: int
    ) -> None:
        self.evaluator, self.layout, self.j0 = evaluator, evaluator.layout, j0
        self.finite, self.spacing, self.seed = finite, spacing, seed
        rng = np.random.default_rng(seed)
        self.along_theta = self._measured(rng, np.flatnonzero(finite))
        self._tensors: dict[int, Noise] = {}
        self._stair: dict[int, bool] = {}  # component → stands on a stair

    def _measured(self, rng: np.random.Generator, candidates: np.ndarray) -> Noise:
        """`measure` through the evaluator's backend, never below J's run-to-run spread."""
        noise = measure(self._points, self.evaluator.theta, self.j0, rng, candidates)
        return dataclasses.replace(noise, sigma=max(noise.sigma, self.evaluator.spread))

    def _points(self, direction: np.ndarray, ts: np.ndarray) -> np.ndarray:
        """J(θ + t·direction) for each t, in one call of the evaluator (batched or parallel)."""
        if self.evaluator.backend is None:
            return np.array([self.evaluator.along(direction, float(t)) for t in ts])
        return self.evaluator.many_along(np.broadcast_to(direction, (ts.size, direction.size)), ts)

    def tensor(self, k: int) -> Noise:
        """The noise along tensor k alone, measured once when the noise along θ is above
        float64's; else, and with a single tensor, the noise along θ."""
        if len(self.layout.tensors) == 1 or self.along_theta.sigma <= NOISY_LOSS * abs(self.j0):
            return self.along_theta
        if k not in self._tensors:
            where = self.layout.tensors[k].slice
            candidates = where.start + np.flatnonzero(self.finite[where])
            self._tensors[k] = self._measured(
                np.random.default_rng((self.seed, TENSOR_NOISE_STREAM, k)), candidates
            )
        return self._tensors[k]

    def staircase(self, k: int) -> bool:
        """Is the loss piecewise constant along tensor k at the noise probe's finest spacing?"""
        return piecewise_constant(self.tensor(k))

    def components(self, components: np.ndarray) -> np.ndarray:
        """σ for each of ``components``: the noise along its tensor; on a staircase, for a
        component that moves J between the stairs, J's own rounding."""
        ids = self.layout.tensor_ids()[components]
        by_tensor = {int(k): self.tensor(int(k)).sigma for k in np.unique(ids)}
        sigma = np.array([by_tensor[int(k)] for k in ids], dtype=np.float64)
        between = self._on_staircase(components) & ~self.on_a_stair(components)
        sigma[between] = resolution(self.j0, self.evaluator.spread)
        return sigma

    def _on_staircase(self, components: np.ndarray) -> np.ndarray:
        ids = self.layout.tensor_ids()[components]
        stairs = {int(k): self.staircase(int(k)) for k in np.unique(ids)}
        return np.array([stairs[int(k)] for k in ids], dtype=bool)

    def on_a_stair(self, components: np.ndarray) -> np.ndarray:
        """Which components stand on a stair of a staircase (`_discontinuity.on_a_stair`, two
        evaluations each, once); False off staircases."""
        mask = self._on_staircase(components)
        unknown = [int(i) for i in components[mask] if int(i) not in self._stair]
        if unknown:
            at = np.array(unknown, dtype=np.int64)
            flat = on_a_stair(self.evaluator, at, self.spacing[at], self.evaluator.spread)
            self._stair.update(zip(unknown, flat.tolist(), strict=True))
        return np.array([mask[k] and self._stair[int(i)] for k, i in enumerate(components)], dtype=bool)

    def reported(self) -> float:
        """σ as the report states it: the quietest tensor's (not a staircase, whose σ is its
        stairs) once every tensor with components to check was measured, else σ along θ."""
        wanted = {k for k, t in enumerate(self.layout.tensors) if self.finite[t.slice].any()}
        if len(self.layout.tensors) == 1 or not wanted or not wanted <= set(self._tensors):
            return self.along_theta.sigma
        smooth = {k for k in wanted if not self.staircase(k)} or wanted
        return min(self._tensors[k].sigma for k in smooth)

    def along_tensors(self) -> AlongTensors:
        """The noise along single tensors measured so far, for the diagnosis."""
        scale = abs(self.j0) or 1.0
        measured = self._tensors or ({0: self.along_theta} if len(self.layout.tensors) == 1 else {})
        return AlongTensors(
            relative={k: noise.sigma / scale for k, noise in measured.items()},
            staircases={k: noise.jump for k, noise in measured.items() if self.staircase(k)},
        )
