"""Errors raised by gradcheck.

Every message says what went wrong, where (tensor name, component, step), by how much,
and one hint for the fix.

```
GradcheckError
├── StructureError              params and grad do not line up (key, shape, dtype)
├── OptionError (ValueError)    an option has an invalid value
├── OutputError (OSError)       a report file cannot be written (nothing half-written is left)
├── ProblemError                a Problem or a problem file for `gradcheck run` is unusable
├── LossError                   the loss misbehaved
│   ├── LossValueError          the loss returned something that is not a real scalar
│   ├── NonFiniteError          NaN or inf at θ or at a perturbed point
│   ├── LossRaisedError         the loss raised; the original exception is chained
│   ├── NondeterministicLossError   two evaluations at the same θ differ
│   ├── MutatedParamsError      the loss wrote into the params it was given
│   ├── ComplexStepError        method="complex" on a loss that rejects complex input
│   └── BatchedLossError        batched_loss returned the wrong shape or disagrees with loss
├── WorkerError                 a loss cannot be sent to worker processes, or a worker died
└── GradientMismatch (AssertionError)   raised by assert_gradients / raise_for_failure
    └── MonitorFailure                  a Monitor's check failed during training

GradcheckWarning (UserWarning)          what Monitor(on_failure="warn") warns with
SlowCheckWarning (UserWarning)          the check is estimated to take long (it still runs)
```
"""

from __future__ import annotations


class GradcheckError(Exception):
    """Base class of every error gradcheck raises on purpose."""


class StructureError(GradcheckError):
    """The params or the gradient are not a structure of float arrays that line up."""


class OptionError(GradcheckError, ValueError):
    """An option has a value gradcheck cannot use."""


class OutputError(GradcheckError, OSError):
    """A report file could not be written; the target is unchanged."""


class ProblemError(GradcheckError):
    """A `Problem`, or the file ``gradcheck run`` loads it from, cannot be used."""


class LossError(GradcheckError):
    """The loss function did something a gradient check cannot work with."""


class LossValueError(LossError):
    """The loss returned something that is not a real scalar."""


class NonFiniteError(LossError):
    """The loss returned NaN or infinity."""


class LossRaisedError(LossError):
    """The loss raised an exception (chained as ``__cause__``)."""


class NondeterministicLossError(LossError):
    """The loss gave different values for the same parameters."""


class MutatedParamsError(LossError):
    """The loss modified the parameter arrays it was given."""


class ComplexStepError(LossError):
    """``method="complex"`` was asked for, but the loss does not accept complex input."""


class BatchedLossError(LossError):
    """``batched_loss`` returned the wrong shape, or values that disagree with ``loss``."""


class WorkerError(GradcheckError):
    """Parallel evaluation failed: the loss cannot be pickled, or a worker process died."""


class GradientMismatch(GradcheckError, AssertionError):
    """The analytic gradient disagrees with the numerical one; the message is the summary."""

    def __init__(self, message: str, report: object = None) -> None:
        super().__init__(message)
        self.report = report


class MonitorFailure(GradientMismatch):
    """A `Monitor` check failed during training; ``step`` says when, ``report`` what."""

    def __init__(self, message: str, report: object = None, step: int = 0) -> None:
        super().__init__(message, report)
        self.step = step


class GradcheckWarning(UserWarning):
    """A gradient check failed where the caller asked for a warning instead of an error."""


class SlowCheckWarning(UserWarning):
    """The check is estimated to take longer than ``warn_slow`` seconds (it still runs).

    Turn it into an error with ``warnings.simplefilter("error", gc.SlowCheckWarning)``.
    """
