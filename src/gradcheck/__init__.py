"""gradcheck: is this gradient right? And when it is not, where and how is it wrong."""

from ._check import assert_gradients, check, numerical_gradient
from ._compare import relative_difference
from ._errors import (
    BatchedLossError,
    ComplexStepError,
    GradcheckError,
    GradcheckWarning,
    GradientMismatch,
    LossError,
    LossRaisedError,
    LossValueError,
    MonitorFailure,
    MutatedParamsError,
    NondeterministicLossError,
    NonFiniteError,
    OptionError,
    OutputError,
    ProblemError,
    SlowCheckWarning,
    StructureError,
    WorkerError,
)
from ._hvp import check_hvp
from ._jvp import check_jvp
from ._monitor import Monitor
from ._problem import Problem
from ._report._model import Component, Finding, Settings, TensorRow
from ._report._report import Report
from ._report._taylor import TaylorReport
from ._taylor import taylor_test
from ._version import __version__ as __version__
from ._vjp import check_vjp

__all__ = [
    "Component",
    "BatchedLossError",
    "ComplexStepError",
    "Finding",
    "GradcheckError",
    "GradcheckWarning",
    "GradientMismatch",
    "LossError",
    "LossRaisedError",
    "LossValueError",
    "Monitor",
    "MonitorFailure",
    "MutatedParamsError",
    "NonFiniteError",
    "NondeterministicLossError",
    "OptionError",
    "OutputError",
    "Problem",
    "ProblemError",
    "Report",
    "Settings",
    "SlowCheckWarning",
    "StructureError",
    "TaylorReport",
    "TensorRow",
    "WorkerError",
    "assert_gradients",
    "check",
    "check_hvp",
    "check_jvp",
    "check_vjp",
    "numerical_gradient",
    "relative_difference",
    "taylor_test",
]

for _name in __all__:
    _obj = globals()[_name]
    if isinstance(_obj, type):
        _obj.__module__ = "gradcheck"
del _name, _obj
