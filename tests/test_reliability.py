"""Every bad input gets a clear error naming what is wrong, and the caller's data survives it.

The cases are also the table in ``docs/reliability.md``: ``docs/make_reliability_table.py``
runs them and writes it, and ``test_the_docs_table_is_current`` fails when it is stale.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path
from typing import Any, Optional, Union

import numpy as np
import pytest

import gradcheck as gc

W = np.arange(6.0).reshape(2, 3) / 7
GRAD = {"W": 2 * W}
Inputs = tuple[Callable[[Any], Any], Any, Any, dict[str, Any]]


def square(p: Any) -> float:
    return float(np.sum(p["W"] ** 2))


def never(p: Any) -> float:
    raise AssertionError("options must be rejected before the loss is called")


def readonly(array: np.ndarray) -> np.ndarray:
    array = array.copy()
    array.setflags(write=False)
    return array


def torch_tensor(array: np.ndarray, grad: bool = True) -> Any:
    import torch

    return torch.tensor(array, requires_grad=grad)


@dataclass(frozen=True)
class Case:
    """One bad (or awkward) input and what gradcheck must answer."""

    group: str
    what: str
    inputs: Callable[[], Inputs]  # fresh (loss, params, grad, options) for every run
    expect: Union[type[BaseException], str]  # an error class, or "passes" / "fails"
    match: str = ""  # a regular expression the message must contain
    cause: Optional[type[BaseException]] = None  # the chained exception, when there is one
    needs: tuple[str, ...] = field(default=())  # optional packages the case imports


def case(
    group: str,
    what: str,
    loss: Any,
    params: Any = None,
    grad: Any = None,
    *,
    expect: Union[type[BaseException], str],
    match: str = "",
    cause: Optional[type[BaseException]] = None,
    needs: tuple[str, ...] = (),
    fresh: bool = False,
    **options: Any,
) -> Case:
    """A case; params default to ``{"W": W}`` and grad to its right gradient.

    ``fresh``: ``loss`` is a factory called for every run (for losses with state); a callable
    ``params`` is a factory too (for tensors of optional packages).
    """

    def inputs() -> Inputs:
        p = params() if callable(params) else {"W": W} if params is None else params
        return (loss() if fresh else loss), p, GRAD if grad is None else grad, options

    return Case(group, what, inputs, expect, match, cause, needs)


def nan_beyond(p: Any) -> float:
    """log(W[0, 1]) with W[0, 1] = 5e-5: finite near θ, NaN one step of 1e-4 below it."""
    with np.errstate(invalid="ignore"):
        return float(np.sum(p["W"] ** 2) + np.log(p["W"][0, 1]))


def raises_below(p: Any) -> float:
    """Raises once W[1, 2] is 1e-5 below θ: beyond the noise probe, within a step of 1e-4."""
    if p["W"][1, 2] < W[1, 2] - 1e-5:
        raise ValueError("math domain error")
    return square(p)


def in_place(p: Any) -> float:
    p["W"] *= 1.5
    return square(p)


def replaces(p: Any) -> float:
    value = square(p)
    p["W"] = p["W"] * 1.0
    return value


class LateWriter:
    """Writes into its params on its 25th call only (after the probe has looked)."""

    def __init__(self) -> None:
        self.calls = 0

    def __call__(self, p: Any) -> float:
        self.calls += 1
        if self.calls == 25:
            p["W"][0, 0] += 1.0
        return square(p)


def noisy() -> Callable[[Any], float]:
    rng = np.random.default_rng(0)
    return lambda p: square(p) + 1e-3 * float(rng.random())


def torch_loss(p: Any) -> Any:
    return (torch_tensor(p["W"]) ** 2).sum()


SMALL_W = np.array([[1.0, 5e-5]])
BASE = np.arange(8.0)
FORTRAN = np.asfortranarray(np.arange(12.0).reshape(3, 4) / 5)

CASES = [
    # --- what the loss returns
    case(
        "loss returns",
        "a vector",
        lambda p: p["W"] ** 2,
        expect=gc.LossValueError,
        match=r"shape \(2, 3\) at θ",
    ),
    case("loss returns", "a string", lambda p: "0.5", expect=gc.LossValueError, match="the string '0.5'"),
    case("loss returns", "None", lambda p: None, expect=gc.LossValueError, match="forget `return cost`"),
    case(
        "loss returns",
        "the course's (cost, cache) tuple",
        lambda p: (square(p), {"A1": p["W"]}),
        expect=gc.LossValueError,
        match=r"forward\(X, Y, p\)\[0\]",
    ),
    case("loss returns", "a dict", lambda p: {"loss": square(p)}, expect=gc.LossValueError, match="'loss'"),
    case("loss returns", "NaN at θ", lambda p: float("nan"), expect=gc.NonFiniteError, match="nan at θ"),
    case("loss returns", "inf at θ", lambda p: np.inf, expect=gc.NonFiniteError, match="inf at θ"),
    case(
        "loss returns",
        "NaN only one step away (log near 0, eps=1e-4)",
        nan_beyond,
        params={"W": SMALL_W},
        grad={"W": 2 * SMALL_W + np.array([[0.0, 1 / 5e-5]])},
        eps=1e-4,
        expect=gc.NonFiniteError,
        match=r"when W\[0, 1\] is moved by -0.0001 \(from 5e-05",
    ),
    case("loss returns", "an integer", lambda p: 3, expect=gc.LossValueError, match="integer"),
    case("loss returns", "a boolean", lambda p: True, expect=gc.LossValueError, match="boolean"),
    case("loss returns", "a complex number", lambda p: 1 + 2j, expect=gc.LossValueError, match="complex"),
    case("loss returns", "a float32 scalar", lambda p: np.float32(square(p)), expect="passes"),
    case("loss returns", "a (1, 1) array", lambda p: np.array([[square(p)]]), expect="passes"),
    case("loss returns", "a Fraction", lambda p: Fraction(1, 3), grad={"W": 0 * W}, expect="passes"),
    case("loss returns", "a torch tensor that requires grad", torch_loss, expect="passes", needs=("torch",)),
    # --- what the loss does
    case(
        "loss raises or misbehaves",
        "raises at θ",
        lambda p: 1 / 0,
        expect=gc.LossRaisedError,
        match="ZeroDivisionError.*at θ",
        cause=ZeroDivisionError,
    ),
    case(
        "loss raises or misbehaves",
        "raises only at a perturbed point (eps=1e-4)",
        raises_below,
        eps=1e-4,
        expect=gc.LossRaisedError,
        match=r"when W\[1, 2\] is moved by -0.0001",
        cause=ValueError,
    ),
    case("loss raises or misbehaves", "is not callable", 3.0, expect=gc.OptionError, match="loss=3.0"),
    case(
        "loss raises or misbehaves",
        "writes into its params (W *= 1.5)",
        in_place,
        expect=gc.MutatedParamsError,
        match="your arrays are untouched",
    ),
    case(
        "loss raises or misbehaves",
        "writes into its params on its 25th call only",
        LateWriter,
        fresh=True,
        expect=gc.MutatedParamsError,
        match=r"W\[0, 0\]",
    ),
    case(
        "loss raises or misbehaves",
        "replaces an array in its params dict",
        replaces,
        expect=gc.MutatedParamsError,
        match="replaced W",
    ),
    case(
        "loss raises or misbehaves",
        "is random (dropout left on)",
        noisy,
        fresh=True,
        expect=gc.NondeterministicLossError,
        match="reseed=",
    ),
    # --- params
    case("params", "an empty dict", square, params={}, grad={}, expect=gc.StructureError, match="no arrays"),
    case(
        "params",
        "an empty array",
        square,
        params={"W": np.zeros((0, 3))},
        grad={"W": np.zeros((0, 3))},
        expect="passes",
        match="nothing was checked",
    ),
    case(
        "params",
        "an integer array",
        square,
        params={"W": np.arange(6)},
        expect=gc.StructureError,
        match="astype",
    ),
    case("params", "a boolean array", square, params={"W": W > 0.3}, expect=gc.StructureError, match="mask"),
    case(
        "params",
        "an object array",
        square,
        params={"W": np.array([1.0, None])},
        expect=gc.StructureError,
        match="dtype object",
    ),
    case(
        "params",
        "a complex array (checked as W.real and W.imag)",
        lambda p: float(np.sum(np.abs(p["W"]) ** 2)),
        params={"W": W + 1j},
        grad={"W": 2 * (W + 1j)},
        expect="passes",
    ),
    case(
        "params",
        "a complex array with its gradient's conjugate (JAX's convention)",
        lambda p: float(np.sum(np.abs(p["W"]) ** 2)),
        params={"W": W + 1j},
        grad={"W": 2 * (W - 1j)},
        expect="fails",
        match=r"WRONG in W\.imag",
    ),
    case(
        "params",
        "an array holding -inf where the loss stays finite (a mask)",
        lambda p: float(np.sum(np.exp(p["W"]))),
        params={"W": np.where(W == W[1, 1], -np.inf, W)},
        grad={"W": np.exp(np.where(W == W[1, 1], -np.inf, W))},
        expect="passes",
    ),
    case("params", "the Python int 3", square, params={"W": 3}, expect=gc.StructureError, match="write 3.0"),
    case("params", "a string", square, params={"W": "W1"}, expect=gc.StructureError, match="string"),
    case(
        "params",
        "an array holding NaN",
        square,
        params={"W": np.array([1.0, np.nan])},
        expect=gc.StructureError,
        match=r"W\[1\] is nan",
    ),
    case(
        "params",
        "a torch tensor that requires grad",
        square,
        params=lambda: {"W": torch_tensor(W)},
        expect=gc.StructureError,
        match="detach",
        needs=("torch",),
    ),
    case(
        "params",
        "a non-contiguous view (Fortran order, every other column)",
        square,
        params={"W": FORTRAN[:, ::2]},
        grad={"W": 2 * FORTRAN[:, ::2]},
        expect="passes",
    ),
    case("params", "a read-only array", square, params={"W": readonly(W)}, expect="passes"),
    case(
        "params",
        "a 0-d array",
        lambda p: float(p["s"] ** 2),
        params={"s": np.array(1.5)},
        grad={"s": np.array(3.0)},
        expect="passes",
    ),
    case(
        "params",
        "a Python float",
        lambda p: float(p["s"] ** 2),
        params={"s": 1.5},
        grad={"s": 3.0},
        expect="passes",
    ),
    case(
        "params",
        "a None leaf (a layer without bias)",
        lambda p: square(p) + (0.0 if p["b"] is None else 1.0),
        params={"W": W, "b": None},
        expect="passes",
    ),
    case(
        "params",
        "the same array twice",
        square,
        params={"W": W, "V": W},
        grad={"W": 2 * W, "V": 0 * W},
        expect=gc.StructureError,
        match="W and V are the same array",
    ),
    case(
        "params",
        "overlapping views of one array",
        lambda p: float(np.sum(p["a"]) + np.sum(p["b"])),
        params={"a": BASE[:5], "b": BASE[3:]},
        grad={"a": np.ones(5), "b": np.ones(5)},
        expect=gc.StructureError,
        match="overlapping views",
    ),
    case(
        "params",
        "interleaved views that do not overlap (x[::2], x[1::2])",
        lambda p: float(np.sum(p["even"]) + np.sum(p["odd"] ** 2)),
        params={"even": BASE[::2], "odd": BASE[1::2]},
        grad={"even": np.ones(4), "odd": 2 * BASE[1::2]},
        expect="passes",
    ),
    # --- grad
    case(
        "grad",
        "a shape that broadcasts: (3,) for (2, 3)",
        square,
        grad={"W": 2 * W[0]},
        expect=gc.StructureError,
        match="broadcast",
    ),
    case(
        "grad",
        "a bias gradient of shape (3,) for (3, 1)",
        lambda p: float(np.sum(p["b"] ** 2)),
        params={"b": np.ones((3, 1))},
        grad={"b": 2 * np.ones(3)},
        expect=gc.StructureError,
        match=r"reshape\(\(3, 1\)\)",
    ),
    case("grad", "transposed", square, grad={"W": 2 * W.T}, expect=gc.StructureError, match="transpose"),
    case("grad", "a missing key", square, grad={"dZ1": W}, expect=gc.StructureError, match="keys: 'dZ1'"),
    case(
        "grad",
        "a misspelt key (dw1 for W1)",
        lambda p: float(np.sum(p["W1"] ** 2)),
        params={"W1": W},
        grad={"dw1": 2 * W, "db1": W},
        expect=gc.StructureError,
        match="did you mean 'dw1'",
    ),
    case(
        "grad",
        "a list when params is a dict",
        square,
        grad=[2 * W],
        expect=gc.StructureError,
        match=r"dict\(zip\(params, grad\)\)",
    ),
    case("grad", "None for a tensor", square, grad={"W": None}, expect=gc.StructureError, match="zeros_like"),
    case("grad", "an integer array", square, grad={"W": np.zeros((2, 3), int)}, expect=gc.StructureError),
    case(
        "grad",
        "a NaN entry",
        square,
        grad={"W": np.where(W == W[1, 1], np.nan, 2 * W)},
        expect="fails",
        match=r"WRONG in W",
    ),
    # --- options
    case(
        "options",
        "method='centrl'",
        never,
        method="centrl",
        expect=gc.OptionError,
        match="did you mean 'central'",
    ),
    case("options", "eps=-1e-6", never, eps=-1e-6, expect=gc.OptionError, match=r"eps=-1e-06 \(type=float\)"),
    case("options", "eps='small'", never, eps="small", expect=gc.OptionError, match="'auto' or a positive"),
    case("options", "eps=nan", never, eps=float("nan"), expect=gc.OptionError, match="finite"),
    case("options", "seed=-1", never, seed=-1, expect=gc.OptionError, match="integer ≥ 0"),
    case("options", "seed=1.5", never, seed=1.5, expect=gc.OptionError, match="type=float"),
    case("options", "reseed=42", never, reseed=42, expect=gc.OptionError, match="not callable"),
    case("options", "warn_slow=0", never, warn_slow=0, expect=gc.OptionError, match="warn_slow=0"),
]


def snapshot(tree: Any) -> Any:
    """Everything about the caller's data that must survive: structure, bytes, dtype, flags."""
    if isinstance(tree, dict):
        return {key: snapshot(value) for key, value in tree.items()}
    if isinstance(tree, (list, tuple)):
        return type(tree).__name__, [snapshot(value) for value in tree]
    if hasattr(tree, "detach"):  # a torch tensor
        return "tensor", tree.detach().numpy().tobytes(), tree.requires_grad
    if isinstance(tree, np.ndarray):
        return tree.tobytes(), tree.dtype.str, tree.shape, tree.strides, tree.flags.writeable
    return repr(tree)


def run(c: Case) -> tuple[str, str, Optional[BaseException]]:
    """(outcome, message, error) of one case; asserts the caller's params are unchanged."""
    loss, params, grad, options = c.inputs()
    before = snapshot(params)
    error: Optional[BaseException] = None
    try:
        report = gc.check(loss, params, grad, **options)
    except gc.GradcheckError as raised:
        error = raised
        outcome, message = type(raised).__name__, str(raised)
    else:
        outcome = "passes" if report.passed else "fails"
        message = report.summary().splitlines()[0]
    assert snapshot(params) == before, f"{c.what}: the caller's params changed"
    return outcome, message, error


def _skip_missing(c: Case) -> None:
    for package in c.needs:
        pytest.importorskip(package)


@pytest.mark.parametrize("c", CASES, ids=[f"{c.group}: {c.what}" for c in CASES])
def test_bad_input_gets_a_clear_answer(c: Case) -> None:
    _skip_missing(c)
    outcome, message, error = run(c)
    expected = c.expect if isinstance(c.expect, str) else c.expect.__name__
    assert outcome == expected, message
    assert re.search(c.match, message), message
    if c.cause is not None:
        assert isinstance(error.__cause__, c.cause)


def test_the_cases_cover_each_group_with_distinct_descriptions() -> None:
    assert len({(c.group, c.what) for c in CASES}) == len(CASES)


# --- the table in docs/reliability.md

DOC = Path(__file__).resolve().parents[1] / "docs" / "reliability.md"

HEADER = """# Reliability: what every bad input gets

gradcheck runs on code that is, by definition, suspected to be broken. Each row below is a
test case in `tests/test_reliability.py`: the input tried, what gradcheck answered (an error
class, or the verdict of a check that must work), and the message, verbatim. In every case the
caller's arrays are bit-identical afterwards (the test compares their bytes, dtype, strides
and flags). This file is generated: `PYTHONPATH=src python docs/make_reliability_table.py`;
a test fails when it is out of date.

Not in this table: options added by other parts of the project (`components=`, `workers=`)
are validated with the same helpers (`gradcheck._options`); a `KeyboardInterrupt` (real
SIGINT in `tests/test_interrupts.py`) always propagates and leaves the caller's arrays intact;
report files are written atomically (`tests/test_files.py`).
"""


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def table() -> str:
    """docs/reliability.md, built by running every case."""
    lines = [HEADER]
    group = None
    for c in CASES:
        if c.group != group:
            group = c.group
            lines += ["", f"## {group}", "", "| input | gets | message |", "|---|---|---|"]
        outcome, message, _ = run(c)
        gets = f"`{outcome}`" if outcome not in ("passes", "fails") else f"check {outcome}"
        lines.append(f"| {_cell(c.what)} | {gets} | {_cell(message)} |")
    return "\n".join(lines) + "\n"


def test_the_docs_table_is_current() -> None:
    for c in CASES:
        _skip_missing(c)
    assert DOC.read_text(encoding="utf-8") == table(), (
        "docs/reliability.md is stale: run PYTHONPATH=src python docs/make_reliability_table.py"
    )
