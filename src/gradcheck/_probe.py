"""Everything a strategy needs before it spends evaluations: θ, the evaluator, J(θ), its noise.

`Probe` flattens the params, proves the loss deterministic and side-effect free (two
evaluations at θ), measures the loss's round-off noise σ (`NoiseMap`: along θ, along a tensor,
below a staircase's stairs), and owns the steps. Non-finite entries of θ are never perturbed:
their derivative is undefined, and they are reported as unchecked. `Gradient` is the analytic side:
the user's gradient matched to the params, with the rounding it carries. `compare` is the
per-component check every strategy uses: numerical derivatives of some components, each judged
against its own error estimate.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Union

import numpy as np

from ._compare import analytic_allowance, flag
from ._errors import ComplexStepError, NonFiniteError, StructureError
from ._evaluate import Evaluator, Loss, Progress, backend_for
from ._finite_differences import Estimates, estimate
from ._noise_map import NoiseMap
from ._options import Eps, Options
from ._outcome import Evidence
from ._steps import component_steps
from ._tree import flatten, match_gradient

Grad = Union[Any, Callable[[Any], Any]]


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
        # The vector a missing term λ·x follows: θ for a gradient (a regulariser's λθ); an HVP's
        # own direction u for a Hessian-vector product (the λu of a λI).
        self.pattern = self.theta
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
        self.noise_map = NoiseMap(self.evaluator, self.loss_value, self.finite, self.spacing, options.seed)
        self.noise = self.noise_map.along_theta.sigma  # what certify's directional tests use

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
        """The loss's noise as the report states it (`NoiseMap.reported`), relative to |J(θ)|."""
        return self.noise_map.reported() / abs(self.loss_value) if self.loss_value else 0.0

    @functools.cached_property
    def spacing(self) -> np.ndarray:
        """Per component, the gap to the next number of its own dtype (its ulp at θᵢ)."""
        gaps = [np.spacing(np.abs(self.theta[t.slice]).astype(t.dtype)) for t in self.layout.tensors]
        return np.concatenate(gaps).astype(np.float64)

    def steps(self, method: str, eps: Eps, components: np.ndarray) -> np.ndarray:
        """The step of each of ``components`` for ``method``, from the noise along its tensor."""
        relative = self.noise_map.components(components) / abs(self.loss_value) if self.loss_value else 0.0
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
            sigma=self.noise_map.components(components),
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
        jump = found.jump | (self.noise_map.on_a_stair(components) & zero)  # a stair's zero cannot be judged
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
