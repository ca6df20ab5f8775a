"""The front door: `check`, `assert_gradients` and `numerical_gradient`.

A check is four short steps: probe the loss (θ, J(θ), its noise), run a strategy (every
component, or certify's directional tests), diagnose the outcome, assemble the report.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from concurrent.futures import Executor
from typing import Any, Optional

import numpy as np

from . import _assemble, _certify, _diagnose, _full, _options
from ._evaluate import Loss, warn_if_slow
from ._options import SLOW_SECONDS, Eps, Options
from ._outcome import Outcome
from ._probe import Grad, Gradient, Probe
from ._report._report import Report
from ._strategy import Choice, choose

# Each strategy turns a probe and the analytic gradient into an Outcome.
STRATEGIES = {"full": _full.run, "certify": _certify.run, "directions": _certify.run}


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
    )
    start = time.perf_counter()
    probe = Probe(loss, params, options)
    choice = choose_for(probe, start)
    gradient = probe.gradient(grad)
    outcome = examine(probe, gradient, choice)
    findings = _diagnose.findings(
        outcome, probe.layout, probe.pattern, probe.relative_noise, probe.noise_map.along_tensors()
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
    choice = choose(options, planned, per_evaluation / options.parallelism)
    if choice.name == "full" and options.batched_loss is None:  # single calls time a batched loss poorly
        warn_if_slow(
            probe.evaluator.durations, options.method, planned // options.parallelism, options.warn_slow
        )
    return choice


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
