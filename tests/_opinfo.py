"""PyTorch's operator database (OpInfo) driven the way PyTorch's own test_ops drives gradcheck.

For every operator of ``op_db`` with autograd in float64 on the CPU, each sample becomes a
function of the sample's tensors that require grad: it puts them back into the sample (input,
args, kwargs, tensor lists), calls ``op.gradcheck_wrapper(op.get_op(), ...)`` and passes the
output through ``sample.output_process_fn_grad`` (PyTorch's ``TestGradients._check_helper``).
`ours` runs ``gradcheck.torch.check_function`` on it, `theirs` ``torch.autograd.gradcheck``
through PyTorch's testing wrapper (fast mode and batched gradients unless the operator says
otherwise) with the sample's ``gradcheck_nondet_tol``, ``gradcheck_fast_mode``,
``check_batched_grad`` and ``check_undefined_grad=True``, as test_ops does; ``fast=False``
asks for the slow mode a user of ``torch.autograd.gradcheck`` gets by default. Used by tests/test_opinfo.py and
benchmarks/opinfo.py; needs the ``expecttest`` package (the ``test`` extra).
"""

from __future__ import annotations

import itertools
import time
import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any, Optional

import torch
from torch.autograd.gradcheck import GradcheckError

import gradcheck as gc
import gradcheck.torch as gt

with warnings.catch_warnings():
    warnings.simplefilter("ignore")  # beta-feature and deprecation warnings of the database itself
    from torch.testing._internal.common_methods_invocations import op_db
    from torch.testing._internal.common_utils import gradcheck as testing_gradcheck
    from torch.testing._internal.common_utils import is_iterable_of_tensors


@dataclass(frozen=True)
class Sample:
    """One OpInfo sample as a function of the tensors gradcheck differentiates."""

    op: Any
    name: str  # the operator, with its variant: ``linalg.norm.subgradients_at_zero``
    index: int
    fn: Callable[..., Any]
    inputs: tuple[Any, ...]

    @property
    def id(self) -> str:
        return f"{self.name}[{self.index}]"


@dataclass(frozen=True)
class Result:
    """``pass``, ``fail`` (a gradient found wrong), ``error`` (an exception: a clear
    `gradcheck.GradcheckError` for ours) or ``crash`` (any other exception from ours), with the
    message and the seconds it took."""

    kind: str
    message: str
    seconds: float


def op_name(op: Any) -> str:
    return op.name + (f".{op.variant_test_name}" if op.variant_test_name else "")


def operators(dtype: Any = torch.float64) -> list[Any]:
    """The operators test_ops checks in ``dtype`` on the CPU: autograd, and a backward in it."""
    return [op for op in op_db if op.supports_autograd and dtype in op.supported_backward_dtypes("cpu")]


def samples(
    per_op: Optional[int] = None, names: Optional[set[str]] = None, dtype: Any = torch.float64
) -> Iterator[Sample]:
    """Every sample in ``dtype`` (the first ``per_op`` of each operator) as a `Sample`."""
    for op in operators(dtype):
        name = op_name(op)
        if names is not None and name not in names:
            continue
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            drawn = itertools.islice(op.sample_inputs("cpu", dtype, requires_grad=True), per_op)
            for index, sample in enumerate(drawn):
                fn, inputs = _function(op, sample)
                yield Sample(op, name, index, fn, inputs)


def _all_args(sample: Any) -> list[Any]:
    first = list(sample.input) if is_iterable_of_tensors(sample.input) else [sample.input]
    return [*first, *sample.args, *sample.kwargs.values()]


def _function(op: Any, sample: Any) -> tuple[Callable[..., Any], tuple[Any, ...]]:
    """(fn, inputs): fn of the tensors that require grad, the sample's other values closed over."""
    inputs = tuple(x for x in _all_args(sample) if isinstance(x, torch.Tensor) and x.requires_grad)
    variant = op.get_op()

    def recompose(values: list[Any], part: Any) -> Any:
        if is_iterable_of_tensors(part):
            return [values.pop(0) if isinstance(x, torch.Tensor) and x.requires_grad else x for x in part]
        if isinstance(part, torch.Tensor) and part.requires_grad:
            return values.pop(0)
        return part

    def fn(*tensors: Any) -> Any:
        values = list(tensors)
        first = recompose(values, sample.input)
        args = [recompose(values, x) for x in sample.args]
        kwargs = {key: recompose(values, x) for key, x in sample.kwargs.items()}
        output = op.gradcheck_wrapper(variant, first, *args, **kwargs)
        if sample.output_process_fn_grad is not None:
            return sample.output_process_fn_grad(output)
        return output

    return fn, inputs


def _timed(
    run: Callable[[], tuple[bool, str]], caught: type[BaseException], as_kind: str, other: str
) -> Result:
    """Run a check: ``pass``/``fail`` from its verdict, ``as_kind`` for a ``caught`` exception
    and ``other`` for any other one."""
    start = time.perf_counter()
    try:
        passed, message = run()
        kind = "pass" if passed else "fail"
    except caught as error:
        kind, message = as_kind, f"{type(error).__name__}: {error}"
    except Exception as error:  # the point is to see every other exception
        kind, message = other, f"{type(error).__name__}: {error}"
    return Result(kind, message, time.perf_counter() - start)


def ours(sample: Sample) -> Result:
    """gradcheck.torch.check_function on the sample, as a new user would call it."""

    def run() -> tuple[bool, str]:
        report = gt.check_function(sample.fn, *sample.inputs, progress=False, warn_slow=None)
        return report.passed, "" if report.passed else report.summary()

    return _timed(run, gc.GradcheckError, "error", "crash")


def theirs(sample: Sample, fast: bool = True) -> Result:
    """torch.autograd.gradcheck on the sample, with the options and wrapper test_ops uses."""
    op = sample.op

    def run() -> tuple[bool, str]:
        passed = testing_gradcheck(
            sample.fn,
            sample.inputs,
            check_batched_grad=op.check_batched_grad,
            check_grad_dtypes=True,
            nondet_tol=op.gradcheck_nondet_tol,
            fast_mode=op.gradcheck_fast_mode if fast else False,
            check_undefined_grad=True,
        )
        return passed, ""

    return _timed(run, GradcheckError, "fail", "error")  # it raises GradcheckError when wrong
