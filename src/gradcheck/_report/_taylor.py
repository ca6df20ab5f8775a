"""`TaylorReport`: the Taylor test's result joined to its renderings (text, JSON, HTML)."""

from __future__ import annotations

from dataclasses import asdict, fields
from typing import Any

import numpy as np

from .._errors import GradcheckError, GradientMismatch
from ._display import InlineHtml
from ._json import dumps, finding_from_dict, number
from ._taylor_html import render_taylor_fragment, title
from ._taylor_model import TaylorData, TaylorDirection, TaylorSettings
from ._taylor_text import render_taylor_summary, render_taylor_text

KIND = "taylor"
SCHEMA_VERSION = 1
ARRAYS = ("steps", "zeroth", "first", "second", "floor")
NUMBERS = ("slope", "curvature", "rate", "gradient_rate", "zeroth_rate", "detection_limit")


class TaylorReport(InlineHtml, TaylorData):
    """What a Taylor test found: ``passed``, ``rates``, and every direction's ladder.

    ``str(report)`` is the rate table and one direction's ladder; ``to_html`` (and a Jupyter
    notebook, inline) draws the remainders against h on log-log axes.
    """

    def __str__(self) -> str:
        return render_taylor_text(self)

    def summary(self) -> str:
        """The verdict and the findings in a few lines."""
        return render_taylor_summary(self)

    def raise_for_failure(self) -> TaylorReport:
        """Raise `GradientMismatch` with the summary if the test failed; else return self."""
        if not self.passed:
            raise GradientMismatch(self.summary(), self)
        return self

    def _html_fragment(self) -> str:
        return render_taylor_fragment(self)

    def _html_title(self) -> str:
        return title(self)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict (``kind: "taylor"``, schema 1): every ladder in full."""
        return {
            "kind": KIND,
            "schema": SCHEMA_VERSION,
            "passed": self.passed,
            "expected": self.expected,
            "rates": list(self.rates),
            "detection_limit": self.detection_limit,
            "settings": asdict(self.settings),
            "findings": [asdict(f) for f in self.findings],
            "directions": [_direction_dict(d) for d in self.directions],
        }

    def to_json(self) -> str:
        """Strict JSON of `to_dict` (non-finite numbers as "Infinity", "-Infinity", "NaN")."""
        return dumps(self.to_dict())

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> TaylorReport:
        """The report a `to_dict` (or parsed `to_json`) holds."""
        if data.get("kind") != KIND or data.get("schema") != SCHEMA_VERSION:
            raise GradcheckError(
                f"kind={data.get('kind')!r}, schema={data.get('schema')!r}: this is not a Taylor "
                f"report of schema {SCHEMA_VERSION}; write it again with this version of gradcheck"
            )
        settings = dict(data["settings"])
        for key in ("loss_value", "noise", "seconds", "first_step"):
            settings[key] = number(settings[key])
        findings = tuple(finding_from_dict(f) for f in data["findings"])
        return cls(
            passed=bool(data["passed"]),
            directions=tuple(_direction_from(d) for d in data["directions"]),
            findings=findings,
            settings=TaylorSettings(**settings),
        )


def _direction_dict(d: TaylorDirection) -> dict[str, Any]:
    data: dict[str, Any] = {f.name: getattr(d, f.name) for f in fields(d)}
    data["window"] = list(d.window)
    data["relative_limit"] = d.relative_limit
    return data


def _direction_from(data: dict[str, Any]) -> TaylorDirection:
    values = {f.name: data[f.name] for f in fields(TaylorDirection)}
    for key in ARRAYS:
        if values[key] is not None:
            values[key] = np.array([number(v) for v in values[key]])
    for key in NUMBERS:
        if values[key] is not None:
            values[key] = number(values[key])
    values["window"] = tuple(values["window"])
    return TaylorDirection(**values)
