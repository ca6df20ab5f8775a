"""`Report`: the frozen result of a check joined to its renderings (text, JSON, HTML, Jupyter)."""

from __future__ import annotations

from typing import Any, Optional

from .._errors import GradientMismatch
from ._display import InlineHtml
from ._html import page_title, render_fragment
from ._json import dumps, fields_from_dict, to_dict
from ._model import ReportData
from ._text import render_summary, render_text


class Report(InlineHtml, ReportData):
    """Everything a gradient check found. ``str(report)`` is a readable table; in a Jupyter
    notebook the report shows inline as the page `to_html` writes (verdict, findings, tables,
    heatmaps).

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

    def _html_fragment(self) -> str:
        return render_fragment(self)

    def _html_title(self) -> str:
        return page_title(self)
