"""One `Report` of several checks of the same code: reverse mode, forward mode, second order.

An adapter that checks a function's derivatives in several modes and orders returns one report.
Each part keeps its rows, findings and components; its tensor names get the part's prefix
(``fwd:W``, ``hvp:W``; the reverse-mode part keeps the plain names), so every row, finding and
component still says which check it comes from. The verdict fails when any part fails.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Sequence

import numpy as np

from ._report._model import Finding, TensorRow
from ._report._report import Report
from ._tree import Layout, Tensor

CHECKED = "derivatives"
# The per-component arrays of a report, the flat indices first.
ReportArrays = ("components", "analytic", "numerical", "estimate", "flagged", "kink")


def _renamed(prefix: str, name: str) -> str:
    return f"{prefix}{name}"


def _rows(prefix: str, report: Report) -> list[TensorRow]:
    return [
        dataclasses.replace(
            row,
            name=_renamed(prefix, row.name),
            gradient=None if row.gradient is None else _renamed(prefix, row.gradient),
            worst=None if row.worst is None else _renamed(prefix, row.worst),
        )
        for row in report.tensors
    ]


def _findings(prefix: str, report: Report) -> list[Finding]:
    return [
        dataclasses.replace(
            f,
            tensor=None if f.tensor is None else _renamed(prefix, f.tensor),
            components=tuple(_renamed(prefix, c) for c in f.components),
        )
        for f in report.findings
    ]


def merge(parts: Sequence[tuple[str, Report]], notes: Sequence[Finding] = ()) -> Report:
    """The reports of ``parts`` ((prefix, report) pairs, the first one the main check) as one.

    ``notes`` are findings about the whole run that fail nothing (a mode the code does not
    support). Settings are the first part's, with every part's evaluations and time added.
    """
    first = parts[0][1]
    rows: list[TensorRow] = []
    findings: list[Finding] = []
    tensors: list[Tensor] = []
    arrays: dict[str, list[np.ndarray]] = {k: [] for k in ReportArrays}
    offset = 0
    for prefix, report in parts:
        rows += _rows(prefix, report)
        # What the parts share (an input's unchecked entries, the loss's noise) is said once.
        said = {(f.kind, f.message) for f in findings}
        findings += [f for f in _findings(prefix, report) if (f.kind, f.message) not in said]
        for t in report.layout.tensors:
            name = _renamed(prefix, t.name)
            tensors.append(Tensor((name,), name, t.shape, t.dtype, offset + t.offset))
        arrays["components"].append(report.components + offset)
        for key in ReportArrays[1:]:
            arrays[key].append(getattr(report, key))
        offset += report.layout.size
    settings = dataclasses.replace(
        first.settings,
        evaluations=sum(r.settings.evaluations for _, r in parts),
        seconds=sum(r.settings.seconds for _, r in parts),
        checked=CHECKED if len(parts) > 1 else first.settings.checked,
    )
    limits = [r.detection_limit for _, r in parts if math.isfinite(r.detection_limit)]
    return Report(
        passed=all(r.passed for _, r in parts),
        difference=max(r.difference for _, r in parts),
        tensors=tuple(rows),
        findings=tuple(findings) + tuple(notes),
        settings=settings,
        detection_limit=max(limits) if limits else math.inf,
        layout=Layout(tuple(tensors), {t.name: t for t in tensors}),
        **{key: np.concatenate(values) for key, values in arrays.items()},
    )
