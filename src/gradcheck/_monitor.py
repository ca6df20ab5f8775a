"""Check gradients during training: at the first step, then every N steps, cheaply.

The seeds advise checking "at random initialization; perhaps again after some training",
because some bugs hide while the weights are small (tanh′ ≈ 1 is exact at 0). A `Monitor` does
that inside the training loop with a sampled check, so the advice costs a few dozen loss
evaluations every N steps and nothing in between.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from typing import Any, NamedTuple, Optional

from . import _options
from ._check import check
from ._errors import GradcheckWarning, MonitorFailure
from ._evaluate import Loss
from ._options import Eps, Options
from ._report._model import Finding
from ._report._report import Report


class Record(NamedTuple):
    """One check of a `Monitor`: when, how far apart the gradients were, and what was found."""

    step: int
    difference: float
    passed: bool
    findings: tuple[Finding, ...]
    report: Report


class Monitor:
    """Check ``grad`` against ``loss`` at the first step of training and every ``every`` steps.

    Args:
        loss: ``loss(params) -> float``.
        grad: ``grad(params)``, the analytic gradient with the structure of params.
        every: training steps between checks (the first step is always checked).
        components: components sampled per check (see `check`); ``None`` checks all.
            Each check samples afresh (its seed is ``seed + step``), so coverage grows.
        on_failure: ``"raise"`` a `MonitorFailure` or ``"warn"`` with a `GradcheckWarning`
            at the first failing check.
        seed: as in `check`; each check uses ``seed + step``.
        method: as in `check`.
        eps: as in `check`.
        reseed: as in `check` (for a network with dropout).

    Example:
        >>> import numpy as np, gradcheck as gc
        >>> monitor = gc.Monitor(lambda p: float(np.sum(p**2)), lambda p: 2 * p, every=10)
        >>> w = np.ones(3)
        >>> for _ in range(25):
        ...     _ = monitor.step(w)
        ...     w = w - 0.1 * 2 * w
        >>> [record.step for record in monitor.history], monitor.passed
        ([0, 10, 20], True)
    """

    def __init__(
        self,
        loss: Loss,
        grad: Callable[[Any], Any],
        *,
        every: int = 100,
        components: Optional[int] = 64,
        on_failure: str = "raise",
        seed: int = 0,
        method: str = "central",
        eps: Eps = "auto",
        reseed: Optional[Callable[[], Any]] = None,
    ) -> None:
        _options.monitor(loss, grad, every, on_failure)
        Options(method=method, eps=eps, seed=seed, reseed=reseed, components=components)
        self.loss, self.grad = loss, grad
        self.every, self.components, self.on_failure = int(every), components, on_failure
        self.seed, self.method, self.eps, self.reseed = seed, method, eps, reseed
        self.steps = 0
        self._history: list[Record] = []

    @property
    def history(self) -> tuple[Record, ...]:
        """Every check so far, oldest first."""
        return tuple(self._history)

    @property
    def passed(self) -> bool:
        """True while no check has failed."""
        return all(record.passed for record in self._history)

    def step(self, params: Any) -> Optional[Report]:
        """Count one training step; on a check step check ``params`` and return the report.

        A step that is not a check step costs a counter increment: params are not read.

        Raises:
            MonitorFailure: the check failed and ``on_failure="raise"``.
        """
        step = self.steps
        self.steps += 1
        if step % self.every:
            return None
        report = check(
            self.loss,
            params,
            self.grad,
            method=self.method,
            eps=self.eps,
            seed=self.seed + step,
            components=self.components,
            reseed=self.reseed,
        )
        first_failure = self.passed and not report.passed
        self._history.append(Record(step, report.difference, report.passed, report.findings, report))
        if first_failure:
            self._fail(step, report)
        return report

    def _fail(self, step: int, report: Report) -> None:
        passed = [record.step for record in self._history if record.passed]
        if passed:
            steps = f"step {passed[0]}" if len(passed) == 1 else f"steps {passed[0]}–{passed[-1]}"
            when = (
                f"after passing {len(passed)} check(s) ({steps}): the bug "
                f"shows only now that training has moved the weights, which is why the seeds "
                f"say to check again after some training"
            )
        else:
            when = "at the first check"
        message = f"gradient check failed at training step {step}, {when}\n{report.summary()}"
        if self.on_failure == "raise":
            raise MonitorFailure(message, report, step)
        warnings.warn(message, GradcheckWarning, stacklevel=3)
