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

from . import _precision
from ._compare import analytic_allowance, flag
from ._errors import ComplexStepError, NonFiniteError, StructureError
from ._evaluate import Evaluator, Loss, Progress, backend_for
from ._finite_differences import Estimates, estimate
from ._noise import NOISY_LOSS
from ._noise_map import NoiseMap
from ._options import Eps, Options
from ._outcome import Evidence
from ._steps import component_steps
from ._tree import flatten, match_gradient

Grad = Union[Any, Callable[[Any], Any]]
# Rounding J to the coarsest format checked (bfloat16, ε = 7.8e-3) leaves noise of ε/√12 ≈ 2.3e-3
# of J, and sums of a few such values a few times that: a noise above 1e-2 of J is not J's own
# rounding but J near 0 (terms that cancel), whatever grid its values sit on.
ROUNDED_J = 1e-2


@dataclass(frozen=True)
class Gradient:
    """The analytic gradient, flat in θ's order, with each tensor's name and the rounding it carries."""

    values: np.ndarray
    names: tuple[str, ...]  # the gradient's own names (``dW1`` for ``W1``)
    allowance: np.ndarray  # rounding of each entry (`analytic_allowance`)
    eps: np.ndarray  # machine epsilon of each tensor's gradient dtype


class Probe:
    """θ, the evaluator and the measured noise of one loss at one point."""

    def __init__(self, loss: Loss, params: Any, options: Options) -> None:
        self.theta, self.layout = flatten(params)
        # The vector a missing term λ·x follows: θ for a gradient (a regulariser's λθ); an HVP's
        # own direction u for a Hessian-vector product (the λu of a λI).
        self.pattern = self.theta
        if options.precision == "float64":  # float64 copies, perturbed on float64's grid
            self.layout = self.layout.retyped(lambda tensor: np.float64)
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
            native=options.precision == "native",
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
    def precision(self) -> tuple[str, str]:
        """(the precision the loss was evaluated in, why), as the report states them."""
        precision = self.options.precision
        dtypes = sorted({str(t.dtype) for t in self.layout.tensors})
        if precision == "float64" or dtypes == ["float64"]:
            why = "precision='float64' asked for" if precision == "float64" else "the params are float64"
            return "float64", why
        if precision == "native":
            return (
                f"native {'/'.join(dtypes)}",
                "precision='native' asked for: the loss gets each tensor in its own dtype",
            )
        return (
            f"native {'/'.join(dtypes)}",
            "NumPy params keep their own dtype's values (in float64 arrays); precision='float64' "
            "checks them as float64, precision='native' passes arrays of their own dtype",
        )

    @property
    def relative_noise(self) -> float:
        """The loss's noise as the report states it (`NoiseMap.reported`), relative to |J(θ)|."""
        return self.noise_map.reported() / abs(self.loss_value) if self.loss_value else 0.0

    @property
    def rounding_noise(self) -> float:
        """The loss's round-off noise relative to |J(θ)|, as its quietest smooth tensor sees it:
        what limits a derivative in the precision the loss computes in. A loss that jumps along
        one tensor (labels of ±1, a staircase such as round) is not noisy there but discontinuous,
        which the full check handles component by component (`_noise_map`, `_discontinuity`)."""
        if self.relative_noise <= NOISY_LOSS:
            return self.relative_noise
        # A float64 loss near 0 (a minimum, a sum that cancels) is noisy relative to its tiny value
        # without computing in low precision: only a loss that shows its precision is checked as
        # low-precision code: params of a narrower dtype, or values on a coarse grid whose noise is
        # what rounding J itself to a narrow format leaves (at most ROUNDED_J of J).
        narrow = any(t.dtype != np.float64 for t in self.layout.tensors)
        rounded = self.noise_map.along_theta.rounded and self.relative_noise <= ROUNDED_J
        if not (narrow or rounded):
            return 0.0
        smooth = [
            self.noise_map.tensor(k).sigma
            for k, tensor in enumerate(self.layout.tensors)
            if self.finite[tensor.slice].any() and not self.noise_map.staircase(k)
        ]
        return min(smooth) / abs(self.loss_value) if smooth and self.loss_value else 0.0

    @functools.cached_property
    def spacing(self) -> np.ndarray:
        """Per component, the gap to the next number of its tensor's dtype at θᵢ. (A narrower grid
        the loss casts to inside is found later, `_grid`, and rounds the points instead.)"""
        tensors = self.layout.tensors
        gaps = [np.spacing(np.abs(self.theta[t.slice]).astype(t.dtype)) for t in tensors]
        return np.concatenate(gaps).astype(np.float64)

    def steps(self, method: str, eps: Eps, components: np.ndarray) -> np.ndarray:
        """The step of each of ``components`` for ``method``, from the noise along its tensor."""
        relative = self.noise_map.components(components) / abs(self.loss_value) if self.loss_value else 0.0
        return component_steps(self.theta[components], self.spacing[components], method, eps, relative)

    def gradient(self, grad: Grad) -> Gradient:
        """The analytic gradient (``grad`` or ``grad(params)``) matched to the params."""
        values, dtypes, names = (
            self.gradient_at(grad, self.theta) if callable(grad) else match_gradient(self.layout, grad)
        )
        eps = np.array([_precision.eps(d) for d in dtypes])
        return Gradient(values, names, analytic_allowance(values, self.layout.tensor_ids(), eps), eps)

    def gradient_at(
        self, grad: Callable[[Any], Any], point: np.ndarray
    ) -> tuple[np.ndarray, tuple[np.dtype, ...], tuple[str, ...]]:
        """``grad`` at the flat ``point`` (reseeded first), matched to the params: values, dtypes, names."""
        if self.options.reseed is not None:
            self.options.reseed()
        return match_gradient(self.layout, grad(self.layout.unflatten(point)))

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
                native=evaluator.native,
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
