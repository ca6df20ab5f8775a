"""Everything a strategy needs before it spends evaluations: θ, the evaluator, J(θ), its noise.

`Probe` flattens the params, proves the loss deterministic and side-effect free (two
evaluations at θ), measures the loss's round-off noise σ (along all of θ, and, when that is
above float64's, along each tensor whose components are checked one by one, so that one
discontinuous input cannot blind the check of the others), and owns the steps. Non-finite entries of θ are never perturbed: their
derivative is undefined, and they are reported as unchecked. `Gradient` is the analytic side:
the user's gradient matched to the params, with the rounding it carries. `compare` is the
per-component check every strategy uses: numerical derivatives of some components, each judged
against its own error estimate.
"""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Union

import numpy as np

from ._compare import analytic_allowance, flag
from ._discontinuity import on_a_stair, piecewise_constant, resolution
from ._errors import ComplexStepError, NonFiniteError, StructureError
from ._evaluate import Evaluator, Loss, Progress, backend_for
from ._finite_differences import Estimates, estimate
from ._noise import NOISY_LOSS, AlongTensors, Noise, measure
from ._options import Eps, Options
from ._outcome import Evidence
from ._steps import component_steps
from ._tree import flatten, match_gradient

Grad = Union[Any, Callable[[Any], Any]]
# The noise along each tensor draws its direction from its own stream of the seed, so that the
# noise along all of θ (the seed's first stream) is measured as before.
TENSOR_NOISE_STREAM = 2


@dataclass(frozen=True)
class Gradient:
    """The analytic gradient, flat in θ's order, with each tensor's name and the rounding it carries."""

    values: np.ndarray
    names: tuple[str, ...]  # the gradient's own names (``dW1`` for ``W1``)
    allowance: np.ndarray  # rounding of each entry (`analytic_allowance`)


class Probe:
    """θ, the evaluator and the measured noise of one loss at one point."""

    def __init__(self, loss: Loss, params: Any, options: Options) -> None:
        self.theta, self.layout = flatten(params)
        self.options = options
        if options.method == "complex" and any(t.part for t in self.layout.tensors):
            complex_name = next(t.name for t in self.layout.tensors if t.part)
            raise ComplexStepError(
                f"method='complex' perturbs the params by an imaginary step, but {complex_name} is "
                f"already a part of a complex parameter; use method='central'"
            )
        self.finite = np.isfinite(self.theta)
        self.evaluator = Evaluator(
            loss,
            self.layout,
            self.theta,
            reseed=options.reseed,
            backend=backend_for(options),
            progress=Progress(enabled=options.progress),
        )
        self.loss_value = self._loss_at_theta()
        self._noise = self._at_least_spread(
            measure(
                self._points,
                self.theta,
                self.loss_value,
                np.random.default_rng(options.seed),
                np.flatnonzero(self.finite),
            )
        )
        self.noise = self._noise.sigma
        self._tensor_noise: dict[int, Noise] = {}
        self._stair: dict[int, bool] = {}  # component → stands on a stair (`_on_a_stair`)

    def _at_least_spread(self, noise: Noise) -> Noise:
        """The noise, never below the run-to-run rounding of J seen at θ (`Evaluator.probe`)."""
        return dataclasses.replace(noise, sigma=max(noise.sigma, self.evaluator.spread))

    def _points(self, direction: np.ndarray, ts: np.ndarray) -> np.ndarray:
        """J(θ + t·direction) for each t, in one call of the evaluator (batched or parallel)."""
        if self.evaluator.backend is None:
            return np.array([self.evaluator.along(direction, float(t)) for t in ts])
        return self.evaluator.many_along(np.broadcast_to(direction, (ts.size, direction.size)), ts)

    def _loss_at_theta(self) -> float:
        """J(θ), probed; a non-finite J with non-finite params blames the params."""
        try:
            return self.evaluator.probe()
        except NonFiniteError:
            bad = np.flatnonzero(~self.finite)
            if not bad.size:
                raise
            first = int(bad[0])
            raise StructureError(
                f"{self.layout.component_name(first)} is {self.theta[first]} ({bad.size} "
                f"{'entry' if bad.size == 1 else 'entries'} of params not finite) and so is the loss; "
                f"a gradient check needs a finite loss: look at how the params were initialised or trained"
            ) from None

    @property
    def checkable(self) -> np.ndarray:
        """Flat indices of the components a check may perturb: the finite ones."""
        return np.flatnonzero(self.finite)

    @property
    def relative_noise(self) -> float:
        """The loss's noise relative to |J(θ)|: along the quietest tensor (not a staircase) once
        the noise along every tensor with components to check is known, else along all of θ."""
        return self.reported_noise / abs(self.loss_value) if self.loss_value else 0.0

    @property
    def reported_noise(self) -> float:
        """σ as the report states it (see `relative_noise`)."""
        wanted = {k for k, t in enumerate(self.layout.tensors) if self.finite[t.slice].any()}
        if len(self.layout.tensors) == 1 or not wanted or not wanted <= set(self._tensor_noise):
            return self.noise
        smooth = {k for k in wanted if not self.staircase(k)} or wanted  # a staircase's σ is its stairs
        return min(self._tensor_noise[k].sigma for k in smooth)

    def tensor_noise(self, k: int) -> Noise:
        """The noise along tensor k alone, measured once: only when the noise along all of θ is
        above float64's (a noisy or jumping tensor may have spoiled it); else, and with a single
        tensor, the noise along θ."""
        if len(self.layout.tensors) == 1 or self._noise.sigma <= NOISY_LOSS * abs(self.loss_value):
            return self._noise
        if k not in self._tensor_noise:
            where = self.layout.tensors[k].slice
            candidates = where.start + np.flatnonzero(self.finite[where])
            rng = np.random.default_rng((self.options.seed, TENSOR_NOISE_STREAM, k))
            noise = measure(self._points, self.theta, self.loss_value, rng, candidates)
            self._tensor_noise[k] = self._at_least_spread(noise)
        return self._tensor_noise[k]

    def component_noise(self, components: np.ndarray) -> np.ndarray:
        """σ for each of ``components``: the noise along the tensor it belongs to; on a
        staircase, for a component that moves J between the stairs, J's own rounding."""
        ids = self.layout.tensor_ids()[components]
        by_tensor = {int(k): self.tensor_noise(int(k)).sigma for k in np.unique(ids)}
        sigma = np.array([by_tensor[int(k)] for k in ids], dtype=np.float64)
        between = self._on_staircase(components) & ~self._on_a_stair(components)
        sigma[between] = resolution(self.loss_value, self.evaluator.spread)
        return sigma

    def _on_staircase(self, components: np.ndarray) -> np.ndarray:
        """Which components belong to a tensor along which the loss is a staircase."""
        ids = self.layout.tensor_ids()[components]
        stairs = {int(k): self.staircase(int(k)) for k in np.unique(ids)}
        return np.array([stairs[int(k)] for k in ids], dtype=bool)

    def _on_a_stair(self, components: np.ndarray) -> np.ndarray:
        """Which components leave J where it is at the finest spacing (`on_a_stair`), measured
        once each, and only on staircases (elsewhere False)."""
        mask = self._on_staircase(components)
        unknown = [int(i) for i in components[mask] if int(i) not in self._stair]
        if unknown:
            at = np.array(unknown, dtype=np.int64)
            flat = on_a_stair(self.evaluator, at, self.spacing[at], self.evaluator.spread)
            self._stair.update(zip(unknown, flat.tolist(), strict=True))
        return np.array([mask[k] and self._stair[int(i)] for k, i in enumerate(components)], dtype=bool)

    def staircase(self, k: int) -> bool:
        """Is the loss piecewise constant along tensor k at the noise probe's finest spacing?"""
        return piecewise_constant(self.tensor_noise(k))

    def along_tensors(self) -> AlongTensors:
        """The noise along the single tensors measured so far, for the diagnosis."""
        scale = abs(self.loss_value) or 1.0
        measured = self._tensor_noise or ({0: self._noise} if len(self.layout.tensors) == 1 else {})
        return AlongTensors(
            relative={k: noise.sigma / scale for k, noise in measured.items()},
            staircases={k: noise.jump for k, noise in measured.items() if self.staircase(k)},
        )

    @functools.cached_property
    def spacing(self) -> np.ndarray:
        """Per component, the gap to the next number of its own dtype (its ulp at θᵢ)."""
        gaps = [np.spacing(np.abs(self.theta[t.slice]).astype(t.dtype)) for t in self.layout.tensors]
        return np.concatenate(gaps).astype(np.float64)

    def steps(self, method: str, eps: Eps, components: np.ndarray) -> np.ndarray:
        """The step of each of ``components`` for ``method``, from the noise along its tensor."""
        relative = self.component_noise(components) / abs(self.loss_value) if self.loss_value else 0.0
        return component_steps(self.theta[components], self.spacing[components], method, eps, relative)

    def gradient(self, grad: Grad) -> Gradient:
        """The analytic gradient (``grad`` or ``grad(params)``) matched to the params."""
        if callable(grad):
            if self.options.reseed is not None:
                self.options.reseed()
            grad = grad(self.layout.unflatten(self.theta))
        values, dtypes, names = match_gradient(self.layout, grad)
        eps = np.array([np.finfo(d).eps for d in dtypes])
        return Gradient(values, names, analytic_allowance(values, self.layout.tensor_ids(), eps))

    def derivatives(
        self,
        components: np.ndarray,
        method: str,
        eps: Eps,
        is_suspicious: Callable[[np.ndarray, np.ndarray, np.ndarray], np.ndarray],
    ) -> Estimates:
        """Numerical derivatives of ``components`` with their error estimates (`estimate`)."""
        evaluator = self.evaluator
        if method == "complex":
            evaluator = Evaluator(
                evaluator.loss,
                self.layout,
                self.theta,
                reseed=evaluator.reseed,
                complex_step=True,
                backend=evaluator.backend,
                progress=evaluator.progress,
            )
        result = estimate(
            evaluator,
            components,
            method=method,
            steps=self.steps(method, eps, components),
            nominal=eps != "auto",
            sigma=self.component_noise(components),
            j0=self.loss_value,
            is_suspicious=is_suspicious,
        )
        evaluator.assert_unchanged()
        if evaluator is not self.evaluator:
            self.evaluator.count += evaluator.count
        return result

    def compare(
        self, gradient: Gradient, components: np.ndarray, method: str = "central", eps: Eps = "auto"
    ) -> tuple[Evidence, Estimates]:
        """The per-component check of ``components``: evidence, and the estimates behind it."""
        analytic, allowance = gradient.values, gradient.allowance

        def is_suspicious(comps: np.ndarray, numerical: np.ndarray, error: np.ndarray) -> np.ndarray:
            return flag(analytic[comps], numerical, error + allowance[comps])

        found = self.derivatives(components, method, eps, is_suspicious)
        tolerance = found.error_estimate + allowance[components]
        zero = np.abs(analytic[components]) <= allowance[components]
        jump = found.jump | (self._on_a_stair(components) & zero)  # a stair's zero cannot be judged
        left_out = found.kink | jump
        evidence = Evidence(
            components=components,
            analytic=analytic[components],
            numerical=found.numerical,
            tolerance=tolerance,
            flagged=flag(analytic[components], found.numerical, tolerance) & ~left_out,
            kink=left_out,
            jump=jump,
        )
        return evidence, found
