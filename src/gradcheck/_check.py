"""The front door: `check`, `assert_gradients` and `numerical_gradient`."""

from __future__ import annotations

import functools
import math
import time
from collections.abc import Callable
from concurrent.futures import Executor
from typing import Any, Optional, Union

import numpy as np

from . import _diagnose, _options, _plan, _strategy
from ._budget import SLOW_SECONDS, warn_if_slow
from ._certify_report import directional_check
from ._compare import analytic_allowance, flag, relative_difference, significance
from ._detection import sure_error
from ._errors import OptionError
from ._evaluate import Evaluator, Loss
from ._finite_differences import SAFETY, Estimates, estimate
from ._noise import measure_noise
from ._report import Report, Settings, TensorRow
from ._speed import Speed
from ._stencils import METHODS, STENCILS, auto_steps
from ._tree import Layout, flatten, match_gradient

Grad = Union[Any, Callable[[Any], Any]]

# Perturbed values are rounded to each parameter's dtype, so a step must span several of its
# ulps: forward differences on float32 params chose 2^-27 (below float32's 6e-8 spacing at 0.7),
# the rounded step was 0 and the derivative NaN (found by tests/test_properties.py). Eight ulps
# keep h/4, Richardson's finest step, at two ulps. A power of two, like the steps.
MIN_STEP_ULPS = 8
Eps = Union[str, float]


def _validate(
    method: Any, eps: Any, seed: Any, *, loss: Any = None, reseed: Any = None, warn_slow: Any = None
) -> None:
    """Check the options every entry point shares, before the loss is ever called."""
    if loss is not None:
        _options.function("loss", loss, signature="params -> float")
    _options.choice("method", method, METHODS)
    _options.positive("eps", eps, keywords=("auto",))
    _options.count("seed", seed, minimum=0)
    _options.function("reseed", reseed, optional=True, signature="() -> None")
    if warn_slow is not None:
        _options.positive("warn_slow", warn_slow, example="60 (seconds), or None")


class _Problem:
    """θ, the evaluator and the measured noise of one loss at one point."""

    def __init__(
        self, loss: Loss, params: Any, reseed: Optional[Callable[[], Any]], seed: int, speed: Speed
    ) -> None:
        self.theta, self.layout = flatten(params)
        self.speed = speed
        self._steps: dict[tuple[str, Eps], np.ndarray] = {}
        self.evaluator = Evaluator(
            loss,
            self.layout,
            self.theta,
            reseed=reseed,
            backend=speed.backend(),
            progress=speed.progress_bar(),
        )
        self.loss_value = self.evaluator.probe()
        self.noise = measure_noise(
            self.evaluator.along, self.theta, self.loss_value, np.random.default_rng(seed)
        )

    def steps(self, method: str, eps: Eps) -> np.ndarray:
        """Each component's step for ``method`` (computed once per method and eps)."""
        key = (method, eps)
        if key not in self._steps:
            if eps != "auto":
                self._steps[key] = np.full(self.theta.size, float(eps))
            else:
                relative = self.noise / abs(self.loss_value) if self.loss_value else 0.0
                steps = auto_steps(self.theta, STENCILS.get(method, STENCILS["central"]).order, relative)
                self._steps[key] = np.maximum(steps, MIN_STEP_ULPS * self.spacing)
        return self._steps[key]

    @functools.cached_property
    def spacing(self) -> np.ndarray:
        """Per component, the gap to the next number of its own dtype (its ulp at θᵢ)."""
        gaps = [np.spacing(np.abs(self.theta[t.slice]).astype(t.dtype)) for t in self.layout.tensors]
        return np.concatenate(gaps).astype(np.float64)

    @functools.cached_property
    def round_to(self) -> np.ndarray:
        """Per component, the NumPy scalar type its perturbed values are rounded to."""
        types = np.array([t.dtype.type for t in self.layout.tensors], dtype=object)
        return types[self.layout.tensor_ids()]

    def estimate(
        self,
        method: str,
        eps: Eps,
        components: np.ndarray,
        is_suspicious: Callable[[np.ndarray, np.ndarray, np.ndarray], np.ndarray],
    ) -> Estimates:
        evaluator = self.evaluator
        if method == "complex":
            evaluator = Evaluator(
                self.evaluator.loss,
                self.layout,
                self.theta,
                reseed=self.evaluator.reseed,
                complex_step=True,
                backend=self.evaluator.backend,
                progress=self.evaluator.progress,
            )
        result = estimate(
            evaluator,
            components,
            method=method,
            steps=self.steps(method, eps),
            nominal=eps != "auto",
            sigma=self.noise,
            j0=self.loss_value,
            round_to=self.round_to,
            is_suspicious=is_suspicious,
        )
        evaluator.assert_unchanged()
        if evaluator is not self.evaluator:
            self.evaluator.count += evaluator.count
        return result


def _analytic(
    grad: Grad, problem: _Problem, reseed: Optional[Callable[[], Any]]
) -> tuple[np.ndarray, tuple[np.dtype, ...], tuple[str, ...]]:
    if callable(grad):
        if reseed is not None:
            reseed()
        grad = grad(problem.layout.unflatten(problem.theta))
    return match_gradient(problem.layout, grad)


def check(
    loss: Loss,
    params: Any,
    grad: Grad,
    *,
    method: str = "central",
    eps: Eps = "auto",
    seed: int = 0,
    reseed: Optional[Callable[[], Any]] = None,
    strategy: str = "auto",
    components: Optional[int] = None,
    directions: Optional[int] = None,
    batched_loss: Optional[Callable[[Any], Any]] = None,
    workers: Optional[int] = None,
    executor: Optional[Executor] = None,
    progress: bool = True,
    warn_slow: Optional[float] = SLOW_SECONDS,
) -> Report:
    """Check an analytic gradient against finite differences, component by component.

    Args:
        loss: ``loss(params) -> float``; called with copies, never with your arrays.
        params: one float array, or a list / tuple / dict (nested allowed) of float arrays.
        grad: the analytic gradient with the structure of ``params`` (a dict may name ``W1``'s
            gradient ``dW1``; extra keys are ignored), or a callable ``grad(params)``.
        method: ``"central"`` (default), ``"forward"``, ``"central4"``, ``"richardson"`` or
            ``"complex"`` (the loss must accept complex params).
        eps: ``"auto"`` picks each component's step from the loss's measured noise and |θᵢ|;
            a number fixes the step (``1e-7`` reproduces the seeds' recipe exactly).
        seed: makes every random choice repeatable: the direction that measures the loss's
            noise, the ``components`` sample and certify's sign patterns.
        reseed: called before every loss evaluation and before ``grad``: reset your random
            generator here to check a network with dropout.
        strategy: ``"full"`` checks every component (2 evaluations each); ``"certify"`` covers
            every component with random-sign directional tests and locates what fails, in a
            few hundred evaluations whatever the size, with a stated detection limit;
            ``"auto"`` (default) runs full where it takes a few seconds at most, else certify.
        components: check a seeded random sample of this many components instead of all of
            them (every tensor gets some, small ones entirely); a ``coverage`` finding says
            how much went unchecked. ``None`` (default) checks every component.
        directions: check K random-sign directions only (2 evaluations each) and report the
            smallest error that could have been missed; says which tensor fails, not which entry.
        batched_loss: ``batched_loss(rows) -> losses``: the loss of each row of a (k, n) stack
            of flat parameter vectors (in the order of the flattened params); used for the
            finite-difference points, in chunks of bounded memory.
        workers: evaluate on this many processes (the loss must be picklable).
        executor: evaluate on any ``concurrent.futures.Executor``, e.g. a Dask client's
            ``client.get_executor()``. Every way of evaluating gives the serial run's values.
        progress: show a progress bar with the time left when a check takes more than ~2 s
            (only on a terminal).
        warn_slow: emit a `SlowCheckWarning` when the check, timed on its first loss calls, is
            estimated to take longer than this many seconds (default 60); None never warns.

    Returns:
        A `Report`; ``report.passed`` is the verdict.

    Raises:
        StructureError: params and grad do not line up.
        LossError: the loss raised, returned a non-scalar or non-finite value, is not
            deterministic, or wrote into its params.

    Example:
        >>> import numpy as np, gradcheck as gc
        >>> report = gc.check(lambda p: np.sum(p**3), np.array([1.0, 2.0]), lambda p: 3 * p**2)
        >>> report.passed
        True
    """
    _validate(method, eps, seed, loss=loss, reseed=reseed, warn_slow=warn_slow)
    _plan.validate_components(components)
    _strategy.validate(strategy, directions, method, eps)
    if components is not None and (directions is not None or strategy == "certify"):
        raise OptionError(
            f"components={components} samples the per-component check; it cannot be combined with "
            f"{'directions=' + str(directions) if directions is not None else 'strategy=' + repr(strategy)}: "
            f"pass one of them"
        )
    speed = Speed(batched_loss, workers, executor, progress)
    start = time.perf_counter()
    problem = _Problem(loss, params, reseed, seed, speed)
    planned = problem.layout.size if components is None else min(components, problem.layout.size)
    per_evaluation = (time.perf_counter() - start) / max(problem.evaluator.count, 1)
    choice = _strategy.choose(strategy, directions, planned, per_evaluation / speed.parallelism, method, eps)
    if choice.name == "full" and batched_loss is None:  # single calls time a batched loss poorly
        warn_if_slow(problem.evaluator.durations, method, planned // speed.parallelism, warn_slow)
    analytic, grad_dtypes, grad_names = _analytic(grad, problem, reseed)
    layout = problem.layout
    ids = layout.tensor_ids()
    allowance = analytic_allowance(analytic, ids, np.array([np.finfo(d).eps for d in grad_dtypes]))
    if choice.name != "full":
        return directional_check(
            problem, analytic, allowance, choice, seed=seed, start=start, grad_names=grad_names
        )
    sample = _plan.select(layout, components, seed, analytic)

    def is_suspicious(comps: np.ndarray, numerical: np.ndarray, error: np.ndarray) -> np.ndarray:
        return flag(analytic[comps], numerical, error + allowance[comps])

    found = problem.estimate(method, eps, sample, is_suspicious)
    tolerance = found.error_estimate + allowance[sample]
    flagged = flag(analytic[sample], found.numerical, tolerance) & ~found.kink
    seen = np.where(flagged, 0.0, np.abs(analytic[sample] - found.numerical))
    # _tensor_rows turns SAFETY·bug_tolerance into each tensor's detection limit.
    bug_tolerance = sure_error(method, eps != "auto", found, tolerance, seen) / SAFETY
    rows = _tensor_rows(
        layout,
        sample,
        analytic[sample],
        found.numerical,
        tolerance,
        bug_tolerance,
        flagged,
        found.kink,
        grad_names,
    )
    finite_limits = [r.detection_limit for r in rows if math.isfinite(r.detection_limit)]
    detection_limit = max(finite_limits) if finite_limits else math.inf
    settings = Settings(
        method=method,
        eps=eps,
        strategy="full" if sample.size == layout.size else "sample",
        seed=seed,
        dtype=str(max((t.dtype for t in layout.tensors), key=lambda d: np.finfo(d).bits)),
        loss_value=problem.loss_value,
        noise=problem.noise,
        evaluations=problem.evaluator.count,
        seconds=time.perf_counter() - start,
        strategy_reason=choice.reason if sample.size == layout.size else f"components={components} asked for",
    )
    findings = _diagnose.kink_findings(layout, sample, found.kink)
    findings += _diagnose.precision_finding(problem.noise, problem.loss_value, detection_limit)
    findings += _plan.coverage_finding(layout, sample)
    report = Report(
        passed=not flagged.any(),
        difference=relative_difference(analytic[sample], found.numerical),
        tensors=tuple(rows),
        findings=tuple(findings),
        settings=settings,
        detection_limit=detection_limit,
        layout=layout,
        components=sample,
        analytic=analytic[sample],
        numerical=found.numerical,
        estimate=tolerance,
        flagged=flagged,
        kink=found.kink,
    )
    return _diagnose.with_bug_findings(report, problem.theta)


def _tensor_rows(
    layout: Layout,
    components: np.ndarray,
    analytic: np.ndarray,
    numerical: np.ndarray,
    tolerance: np.ndarray,
    bug_tolerance: np.ndarray,
    flagged: np.ndarray,
    kink: np.ndarray,
    grad_names: tuple[str, ...],
) -> list[TensorRow]:
    ids = layout.tensor_ids()[components]
    rows = []
    for position, tensor in enumerate(layout.tensors):
        mine = ids == position
        a, d, tol = analytic[mine], numerical[mine], tolerance[mine]
        bug_tol = bug_tolerance[mine]
        error = np.abs(a - d)
        ratio = np.where(kink[mine], -1.0, significance(a, d, tol))  # kinks are not in the verdict
        with np.errstate(divide="ignore", invalid="ignore"):
            limits = SAFETY * bug_tol / np.abs(a)
        worst = None
        if a.size:
            at = int(components[mine][int(np.argmax(ratio))])
            worst = tensor.component_name(at - tensor.offset)
        rows.append(
            TensorRow(
                name=tensor.name,
                gradient=grad_names[position] if grad_names[position] != tensor.name else None,
                shape=tensor.shape,
                difference=relative_difference(a, d),
                max_abs_error=float(error.max()) if a.size else 0.0,
                worst=worst,
                checked=int(a.size),
                flagged=int(flagged[mine].sum()),
                kinks=int(kink[mine].sum()),
                detection_limit=float(np.min(limits[np.abs(a) > 0])) if np.any(np.abs(a) > 0) else math.inf,
                entry_limit=SAFETY * float(np.max(bug_tol[~kink[mine]], initial=0.0)),
            )
        )
    return rows


def assert_gradients(loss: Loss, params: Any, grad: Grad, **options: Any) -> Report:
    """Like `check`, but raise `GradientMismatch` (an AssertionError) with the summary on failure."""
    return check(loss, params, grad, **options).raise_for_failure()


def numerical_gradient(
    loss: Loss,
    params: Any,
    *,
    method: str = "central",
    eps: Eps = "auto",
    seed: int = 0,
    batched_loss: Optional[Callable[[Any], Any]] = None,
    workers: Optional[int] = None,
    executor: Optional[Executor] = None,
    progress: bool = True,
    warn_slow: Optional[float] = SLOW_SECONDS,
) -> Any:
    """The finite-difference gradient of ``loss`` with the structure of ``params``.

    Example:
        >>> import numpy as np, gradcheck as gc
        >>> g = gc.numerical_gradient(lambda p: float(p["w"] @ p["w"]), {"w": np.array([1.0, -2.0])})
        >>> np.round(g["w"], 6)
        array([ 2., -4.])
    """
    _validate(method, eps, seed, loss=loss, warn_slow=warn_slow)
    speed = Speed(batched_loss, workers, executor, progress)
    problem = _Problem(loss, params, None, seed, speed)
    if batched_loss is None:
        warn_if_slow(problem.evaluator.durations, method, problem.layout.size // speed.parallelism, warn_slow)
    components = np.arange(problem.layout.size)
    nothing = lambda comps, numerical, error: np.zeros(comps.size, dtype=bool)  # noqa: E731
    found = problem.estimate(method, eps, components, nothing)
    return problem.layout.unflatten(found.numerical, dtype=np.float64)
