"""The result of a gradient check: one frozen value that every renderer reads.

This module imports no renderer: the text, JSON and HTML renderings import it, and `Report`
(in this package's ``__init__``) joins the value to its renderings.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Optional

import numpy as np

from .._compare import ranking, seed_band, significance
from .._tree import Layout


@dataclass(frozen=True)
class TensorRow:
    """How one parameter tensor fared."""

    name: str
    shape: tuple[int, ...]
    difference: float  # the seeds' relative difference over this tensor's checked components
    max_abs_error: float
    worst: Optional[str]  # name of the component with the most significant discrepancy
    checked: int
    flagged: int
    kinks: int
    detection_limit: float  # smallest relative error of this tensor's gradient sure to be caught
    gradient: Optional[str] = None  # the gradient's own name where it differs (``dW2`` for ``W2``)
    # Smallest absolute error of any single entry of this tensor sure to be caught (nan: not
    # computed). Full check: SAFETY × the largest per-component error; certify and directions:
    # SAFETY × the largest error of the last screen's tests, for any entry of the tensor, and
    # ``detection_limit`` is then this limit divided by the tensor's median |g|.
    entry_limit: float = math.nan
    # Regression check: the smallest constant relative factor over the whole tensor sure to be
    # caught (its directions add up coherently, so far below the entry limit); nan otherwise.
    scale_limit: float = math.nan

    @property
    def passed(self) -> bool:
        return self.flagged == 0

    @property
    def label(self) -> str:
        """``dW2`` when the gradient was given as ``dW2``, else the parameter's name."""
        return self.gradient or self.name


@dataclass(frozen=True)
class Component:
    """One checked component: both derivatives, their difference and its allowed size."""

    index: int
    name: str
    tensor: str
    analytic: float
    numerical: float
    estimate: float  # estimated numerical error of ``numerical`` (round-off + truncation + analytic rounding)
    flagged: bool
    kink: bool

    @property
    def error(self) -> float:
        return self.analytic - self.numerical

    @property
    def significance(self) -> float:
        """|error| in units of the estimated numerical error (flagged above SAFETY)."""
        return float(significance(self.analytic, self.numerical, self.estimate))


@dataclass(frozen=True)
class Finding:
    """Something a person can act on: a bug pattern, a kink, a precision limit."""

    kind: str
    tensor: Optional[str]
    message: str
    components: tuple[str, ...] = ()
    value: Optional[float] = None


@dataclass(frozen=True)
class Settings:
    """How the check was run."""

    method: str
    eps: Any  # "auto" or the fixed step
    strategy: str
    seed: int
    dtype: str  # the params' widest floating dtype
    loss_value: float
    noise: float  # measured round-off noise σ of one loss evaluation
    evaluations: int
    seconds: float
    strategy_reason: str = ""  # why this strategy ran ("auto: ...", or that it was asked for)
    directions: int = 0  # random-sign directional tests in the last screen (certify, directions=K)
    # Chance that several wrong entries above the detection limit cancelled in every one of
    # those directions (0 for the full check, which looks at every component).
    miss_probability: float = 0.0
    # What was checked, as the verdict names it: "gradients", "Hessian-vector products", "JVPs"
    # or "derivatives" (several modes or orders in one report).
    checked: str = "gradients"
    precision: str = "float64"  # what the loss was evaluated in: "float64" or "native bfloat16"...
    precision_reason: str = ""  # why ("the function returned bfloat16 for float64 inputs")
    rtol: float = 0.0  # the relative error accepted (rtol=); 0: the strict check decided


def _frozen(array: np.ndarray) -> np.ndarray:
    array = np.array(array, copy=True)
    array.setflags(write=False)
    return array


@dataclass(frozen=True, eq=False)
class ReportData:
    """Everything a gradient check found, as data (see `Report` for its renderings).

    Per-component arrays cover the checked components (``components`` holds their flat indices
    into θ, in the order of the seeds' flattening).
    """

    passed: bool
    difference: float
    tensors: tuple[TensorRow, ...]
    findings: tuple[Finding, ...]
    settings: Settings
    detection_limit: float
    layout: Layout = field(repr=False)
    components: np.ndarray = field(repr=False)
    analytic: np.ndarray = field(repr=False)
    numerical: np.ndarray = field(repr=False)
    estimate: np.ndarray = field(repr=False)
    flagged: np.ndarray = field(repr=False)
    kink: np.ndarray = field(repr=False)

    def __post_init__(self) -> None:
        for name in ("components", "analytic", "numerical", "estimate", "flagged", "kink"):
            object.__setattr__(self, name, _frozen(getattr(self, name)))

    @property
    def band(self) -> str:
        """Where the seeds' rule of thumb puts ``difference``: fine, inspect or worry."""
        return seed_band(self.difference)

    @property
    def band_note(self) -> str:
        """Why the verdict and the seeds' band disagree, when they do (else ""): the bands are a
        rule of thumb for float64 over the whole gradient, the verdict weighs each difference."""
        if self.passed and self.band != "fine":
            return (
                "the bands are a float64 rule of thumb: here each difference was weighed against its "
                "own measured error (the loss's precision, an accepted rtol)"
            )
        if not self.passed and self.band == "fine":
            return "a few wrong components hide in a small overall difference: the verdict weighs each one"
        return ""

    @property
    def error(self) -> np.ndarray:
        return self.analytic - self.numerical

    def component(self, position: int) -> Component:
        index = int(self.components[position])
        tensor = self.layout.tensor_of(index)
        return Component(
            index=index,
            name=tensor.component_name(index - tensor.offset),
            tensor=tensor.name,
            analytic=float(self.analytic[position]),
            numerical=float(self.numerical[position]),
            estimate=float(self.estimate[position]),
            flagged=bool(self.flagged[position]),
            kink=bool(self.kink[position]),
        )

    def worst_positions(self, k: int) -> np.ndarray:
        """Positions (into the per-component arrays) of the k most significant discrepancies."""
        ratio = ranking(self.analytic, self.numerical, self.estimate, self.kink)
        return np.argsort(-ratio, kind="stable")[:k]

    def worst(self, k: int = 5) -> list[Component]:
        """The k components whose discrepancy is largest relative to its estimated error."""
        return [self.component(int(p)) for p in self.worst_positions(k)]

    @property
    def wrong_tensors(self) -> list[str]:
        """Parameter names whose gradient has wrong components."""
        return [row.name for row in self.tensors if not row.passed]

    @property
    def wrong_gradients(self) -> list[str]:
        """The same, named as the gradient was given (``dW2``)."""
        return [row.label for row in self.tensors if not row.passed]
