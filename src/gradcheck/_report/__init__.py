"""Reports: the frozen result of a check (`_model`) and its renderings (text, JSON, HTML).

```
_model   ReportData, TensorRow, Finding, Component, Settings: data only, no renderer
_text    the terminal table (rich) and the short summary for assertion messages
_json    strict JSON (schema 1) and back
_html    one self-contained page, with a heatmap per tensor (_heatmap)
_taylor  TaylorReport: the Taylor test's model (_taylor_model) and renderings (_taylor_text,
         _taylor_html: the remainders against h on log-log axes, `render_taylor_html`)
```

`Report` joins the value to its renderings; it is what every check returns.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Optional, Union

from .._errors import GradientMismatch
from .._files import write_atomic
from ._html import render_html
from ._json import dumps, fields_from_dict, to_dict
from ._model import Component, Finding, ReportData, Settings, TensorRow
from ._taylor import TaylorReport
from ._taylor_html import render_taylor_html
from ._taylor_model import TaylorDirection, TaylorSettings
from ._text import render_summary, render_text

__all__ = [
    "Component",
    "Finding",
    "Report",
    "ReportData",
    "Settings",
    "TaylorDirection",
    "TaylorReport",
    "TaylorSettings",
    "TensorRow",
    "render_taylor_html",
]


class Report(ReportData):
    """Everything a gradient check found. ``str(report)`` is a readable table.

    Per-component arrays cover the checked components (``components`` holds their flat indices
    into θ, in the order of the seeds' flattening).
    """

    def summary(self, k: int = 5) -> str:
        """A few lines for logs and assertion messages: verdict, findings, worst components."""
        return render_summary(self, k)

    def __str__(self) -> str:
        return render_text(self)

    def raise_for_failure(self) -> Report:
        """Raise `GradientMismatch` with the summary if the check failed; else return self."""
        if not self.passed:
            raise GradientMismatch(self.summary(), self)
        return self

    def to_dict(self, *, max_components: Optional[int] = None) -> dict[str, Any]:
        """A JSON-ready dict (schema version 1); ``max_components`` keeps only the worst N."""
        return to_dict(self, max_components)

    def to_json(self, **kwargs: Any) -> str:
        """Strict JSON of `to_dict` (non-finite numbers as "Infinity", "-Infinity", "NaN")."""
        return dumps(self.to_dict(**kwargs))

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Report:
        """The report a `to_dict` (or parsed `to_json`) holds, to render or summarise again."""
        return cls(**fields_from_dict(data))

    def to_html(self, path: Union[str, Path]) -> None:
        """Write a self-contained web page: verdict, findings, tables and a heatmap per tensor."""
        write_atomic(path, render_html(self))
