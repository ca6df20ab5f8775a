"""The front door: `check`, `assert_gradients` and `numerical_gradient`.

A check is four short steps: probe the loss (θ, J(θ), its noise), run a strategy (every
component, or certify's directional tests), diagnose the outcome, assemble the report.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from concurrent.futures import Executor
from contextlib import contextmanager
from typing import Any, Optional

import numpy as np

from . import (
    _analytic_noise,
    _assemble,
    _certify,
    _diagnose,
    _full,
    _options,
    _precision,
    _reference,
    _regression,
    _tolerance,
)
from ._evaluate import Loss, warn_if_slow
from ._grid import effective_layout
from ._options import SLOW_SECONDS, Eps, Options
from ._outcome import Outcome
from ._probe import Grad, Gradient, Probe
from ._report._report import Report
from ._strategy import Choice, choose
from ._tree import match_gradient

# Each strategy returns the same Outcome (directions=K is certify's screen alone).
STRATEGIES = {
    "full": _full.run,
    "certify": _certify.run,
    "directions": _certify.run,
    "regression": _regression.run,
}


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
    precision: str = "auto",
    rtol: float = 0.0,
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
        precision: ``"auto"`` (default): each tensor keeps its own dtype's values (the loss gets
            float64 arrays); ``"float64"``: float32 or bfloat16 params are checked as float64
            copies; ``"native"``: the loss gets arrays of each tensor's own dtype. A loss that
            computes in low precision (float32, bfloat16, float16: its measured noise says so)
            gets directional regressions that reach that precision's limit.
        rtol: the relative error you accept in a gradient that is approximate by design (a
            solver's tolerance): the verdict passes when every tensor's error is within it,
            and the report still shows what the strict check saw. 0 (default): strict.

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
    _options.function("loss", loss, signature="params -> float")
    options = Options(
        method=method,
        eps=eps,
        seed=seed,
        reseed=reseed,
        strategy=strategy,
        components=components,
        directions=directions,
        batched_loss=batched_loss,
        workers=workers,
        executor=executor,
        progress=progress,
        warn_slow=warn_slow,
        precision=precision,
        rtol=rtol,
    )
    start = time.perf_counter()
    probe = Probe(loss, params, options)
    with on_the_loss_grid(probe):
        return judge(probe, grad, choose_for(probe, start), start)


@contextmanager
def on_the_loss_grid(probe: Probe) -> Iterator[None]:
    """Round every point where the loss rounds: a loss computed in low precision may read its
    params on a coarser grid than their dtype (it casts them down inside)."""
    noisy = probe.rounding_noise > _diagnose.NOISY_LOSS
    seed = probe.options.seed
    grids = effective_layout(probe.evaluator, probe.loss_value, probe.noise, seed) if noisy else probe.layout
    with probe.evaluator.rounding_to(grids):
        yield


def judge(
    probe: Probe,
    grad: Grad,
    choice: Choice,
    start: float,
    *,
    sample: Optional[np.ndarray] = None,
    subject: str = "gradient",
) -> Report:
    """One analytic gradient against the probe's loss: the strategy (on ``sample`` only, when
    given), the regression screens it asks for, the accepted tolerance, the findings (about
    ``subject``: a gradient, a forward-mode one...) and the report."""
    gradient = probe.gradient(grad)
    if callable(grad) and _analytic_noise.needed(probe, gradient):
        gradient = _analytic_noise.measured(probe, grad, gradient)
    outcome = (
        examine(probe, gradient, choice) if sample is None else _full.run(probe, gradient, choice, sample)
    )
    if choice.screens:
        outcome = _regression.with_screens(probe, gradient, outcome)
    outcome = _tolerance.accept(outcome, probe.layout, probe.options.rtol)
    along = probe.noise_map.along_tensors()
    findings = _diagnose.findings(
        outcome, probe.layout, probe.pattern, probe.relative_noise, along, subject=subject
    )
    return _assemble.report(probe, gradient, outcome, findings, start)


def examine(probe: Probe, gradient: Gradient, choice: Choice) -> Outcome:
    """Run the chosen strategy on one analytic gradient: the step every check shares."""
    return STRATEGIES[choice.name](probe, gradient, choice)


def choose_for(probe: Probe, start: float) -> Choice:
    """The strategy for this probe, timed on its evaluations so far; warn if it will be slow."""
    options = probe.options
    size = probe.layout.size
    planned = size if options.components is None else min(options.components, size)
    per_evaluation = (time.perf_counter() - start) / max(probe.evaluator.count, 1)
    coarse = any(_precision.coarse(t.dtype) for t in probe.evaluator.layout.tensors)
    choice = choose(options, planned, per_evaluation / options.parallelism, probe.rounding_noise, coarse)
    if choice.name == "full" and options.batched_loss is None:  # single calls time a batched loss poorly
        warn_if_slow(
            probe.evaluator.durations, options.method, planned // options.parallelism, options.warn_slow
        )
    return choice


def check_against(loss: Loss, params: Any, grad: Grad, truth: Any, rounded: Any, **options: Any) -> Report:
    """The adapters' kernel-against-reference check (`_reference`): ``grad`` (the kernel's
    gradient) against ``truth`` (the reference's, in float64) with the allowance ``rounded``
    (the reference's, in the kernel's precision) shows. The loss is the kernel's: its value and
    noise are reported, no finite difference is taken."""
    settings = Options(**options)
    start = time.perf_counter()
    probe = Probe(loss, params, settings)
    gradient = probe.gradient(grad)
    reference = _reference.Reference(
        match_gradient(probe.layout, truth)[0], match_gradient(probe.layout, rounded)[0]
    )
    reason = (
        "reference= given: the reference's float64 gradient is the truth; its gradient in the "
        "kernel's precision measures the rounding allowed"
    )
    outcome = _reference.run(probe, gradient, reference, reason)
    outcome = _tolerance.accept(outcome, probe.layout, settings.rtol)
    findings = _diagnose.findings(outcome, probe.layout, probe.theta, probe.relative_noise)
    return _assemble.report(probe, gradient, outcome, findings, start)


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
    _options.function("loss", loss, signature="params -> float")
    options = Options(
        method=method,
        eps=eps,
        seed=seed,
        batched_loss=batched_loss,
        workers=workers,
        executor=executor,
        progress=progress,
        warn_slow=warn_slow,
    )
    probe = Probe(loss, params, options)
    size = probe.layout.size
    if batched_loss is None:
        warn_if_slow(probe.evaluator.durations, method, size // options.parallelism, warn_slow)
    nothing = lambda comps, numerical, error: np.zeros(comps.size, dtype=bool)  # noqa: E731
    found = probe.derivatives(np.arange(size), method, eps, nothing)
    return probe.layout.unflatten(found.numerical, dtype=np.float64)
