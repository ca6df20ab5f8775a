"""The result of a gradient check: one frozen value that every renderer reads."""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Optional, Union

import numpy as np

from ._compare import seed_band, significance
from ._errors import GradientMismatch
from ._files import write_atomic
from ._finite_differences import SAFETY
from ._html import render_html
from ._json import SCHEMA_VERSION, dumps, report_from_dict
from ._tree import Layout


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


def _frozen(array: np.ndarray) -> np.ndarray:
    array = np.array(array, copy=True)
    array.setflags(write=False)
    return array


@dataclass(frozen=True, eq=False)
class Report:
    """Everything a gradient check found. ``str(report)`` is a readable table.

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

    def _worst_positions(self, k: int) -> np.ndarray:
        ratio = significance(self.analytic, self.numerical, self.estimate)
        ratio = np.where(self.kink, -1.0, ratio)  # kinks are excluded from the verdict
        return np.argsort(-ratio, kind="stable")[:k]

    def worst(self, k: int = 5) -> list[Component]:
        """The k components whose discrepancy is largest relative to its estimated error."""
        return [self.component(int(p)) for p in self._worst_positions(k)]

    @property
    def wrong_tensors(self) -> list[str]:
        """Parameter names whose gradient has wrong components."""
        return [row.name for row in self.tensors if not row.passed]

    @property
    def wrong_gradients(self) -> list[str]:
        """The same, named as the gradient was given (``dW2``)."""
        return [row.label for row in self.tensors if not row.passed]

    def summary(self, k: int = 5) -> str:
        """A few lines for logs and assertion messages: verdict, findings, worst components."""
        from ._render import render_summary

        return render_summary(self, k)

    def __str__(self) -> str:
        from ._render import render_text

        return render_text(self)

    def raise_for_failure(self) -> Report:
        """Raise `GradientMismatch` with the summary if the check failed; else return self."""
        if not self.passed:
            raise GradientMismatch(self.summary(), self)
        return self

    def to_dict(self, *, max_components: Optional[int] = None) -> dict[str, Any]:
        """A JSON-ready dict (schema version 1); ``max_components`` keeps only the worst N."""
        positions = np.arange(self.components.size)
        if max_components is not None and positions.size > max_components:
            positions = self._worst_positions(max_components)
        return {
            "schema": SCHEMA_VERSION,
            "passed": self.passed,
            "difference": self.difference,
            "band": self.band,
            "detection_limit": self.detection_limit,
            "safety_factor": SAFETY,
            "settings": asdict(self.settings),
            "tensors": [asdict(row) for row in self.tensors],
            "findings": [asdict(f) for f in self.findings],
            "components_included": "all" if positions.size == self.components.size else "worst",
            "components": [_component_dict(self.component(int(p))) for p in positions],
        }

    def to_json(self, **kwargs: Any) -> str:
        """Strict JSON of `to_dict` (non-finite numbers as "Infinity", "-Infinity", "NaN")."""
        return dumps(self.to_dict(**kwargs))

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Report:
        """The report a `to_dict` (or parsed `to_json`) holds, to render or summarise again."""
        return report_from_dict(data)

    def to_html(self, path: Union[str, Path]) -> None:
        """Write a self-contained web page: verdict, findings, tables and a heatmap per tensor."""
        write_atomic(path, render_html(self))


def _component_dict(component: Component) -> dict[str, Any]:
    data = asdict(component)
    data["error"] = component.error
    return data
