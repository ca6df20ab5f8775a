"""gradcheck: is this gradient right? And when it is not, where and how is it wrong."""

from ._check import assert_gradients, check, numerical_gradient
from ._compare import relative_difference
from ._errors import (
    BatchedLossError,
    ComplexStepError,
    GradcheckError,
    GradientMismatch,
    LossError,
    LossRaisedError,
    LossValueError,
    MutatedParamsError,
    NondeterministicLossError,
    NonFiniteError,
    OptionError,
    StructureError,
    WorkerError,
)
from ._report import Component, Finding, Report, Settings, TensorRow

__version__ = "0.1.0"

__all__ = [
    "Component",
    "BatchedLossError",
    "ComplexStepError",
    "Finding",
    "GradcheckError",
    "GradientMismatch",
    "LossError",
    "LossRaisedError",
    "LossValueError",
    "MutatedParamsError",
    "NonFiniteError",
    "NondeterministicLossError",
    "OptionError",
    "Report",
    "Settings",
    "StructureError",
    "TensorRow",
    "WorkerError",
    "assert_gradients",
    "check",
    "numerical_gradient",
    "relative_difference",
]

for _name in __all__:
    _obj = globals()[_name]
    if isinstance(_obj, type):
        _obj.__module__ = "gradcheck"
del _name, _obj
