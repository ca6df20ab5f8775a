"""Everything a strategy needs before it spends evaluations: θ, the evaluator, J(θ), its noise.

`Probe` flattens the params, proves the loss deterministic and side-effect free (two
evaluations at θ), measures the loss's round-off noise σ, and owns the steps. `Gradient` is the
analytic side: the user's gradient matched to the params, with the rounding it carries.
`compare` is the per-component check every strategy uses: numerical derivatives of some
components, each judged against its own error estimate.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Union

import numpy as np

from ._compare import analytic_allowance, flag
from ._evaluate import Evaluator, Loss, Progress, backend_for
from ._finite_differences import Estimates, estimate
from ._noise import measure_noise
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
        self._steps: dict[tuple[str, Eps], np.ndarray] = {}
        self.evaluator = Evaluator(
            loss,
            self.layout,
            self.theta,
            reseed=options.reseed,
            backend=backend_for(options),
            progress=Progress(enabled=options.progress),
        )
        self.loss_value = self.evaluator.probe()
        self.noise = measure_noise(
            self.evaluator.along, self.theta, self.loss_value, np.random.default_rng(options.seed)
        )

    @property
    def relative_noise(self) -> float:
        return self.noise / abs(self.loss_value) if self.loss_value else 0.0

    @functools.cached_property
    def spacing(self) -> np.ndarray:
        """Per component, the gap to the next number of its own dtype (its ulp at θᵢ)."""
        gaps = [np.spacing(np.abs(self.theta[t.slice]).astype(t.dtype)) for t in self.layout.tensors]
        return np.concatenate(gaps).astype(np.float64)

    def steps(self, method: str, eps: Eps) -> np.ndarray:
        """Each component's step for ``method`` (computed once per method and eps)."""
        key = (method, eps)
        if key not in self._steps:
            self._steps[key] = component_steps(self.theta, self.spacing, method, eps, self.relative_noise)
        return self._steps[key]

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
            steps=self.steps(method, eps),
            nominal=eps != "auto",
            sigma=self.noise,
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
        flagged = flag(analytic[components], found.numerical, tolerance) & ~found.kink
        evidence = Evidence(
            components=components,
            analytic=analytic[components],
            numerical=found.numerical,
            tolerance=tolerance,
            flagged=flagged,
            kink=found.kink,
        )
        return evidence, found
