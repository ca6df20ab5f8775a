"""The JSON form of a report (schema 1, docs/json-schema.md): strictly valid JSON, and back.

JSON has no infinity or NaN, and a report can hold both (an infinite detection limit when no
error is detectable, an infinite significance when the estimated error is zero). They are
written as the strings ``"Infinity"``, ``"-Infinity"`` and ``"NaN"``, which Python's ``float``
and JavaScript's ``Number`` both read back; every other number stays a JSON number.
"""

from __future__ import annotations

import json
import math
from dataclasses import asdict
from typing import Any, Optional

import numpy as np

from .._compare import SAFETY
from .._errors import GradcheckError
from .._tree import Layout, Tensor
from ._model import Component, Finding, ReportData, Settings, TensorRow

SCHEMA_VERSION = 1
NON_FINITE = {math.inf: "Infinity", -math.inf: "-Infinity"}


def _encode(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _encode(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_encode(v) for v in value]
    if isinstance(value, np.ndarray):
        return _encode(value.tolist())
    if isinstance(value, np.generic):
        return _encode(value.item())
    if isinstance(value, float) and not math.isfinite(value):
        return "NaN" if math.isnan(value) else NON_FINITE[value]
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    return str(value)


def dumps(data: dict[str, Any]) -> str:
    """Strict JSON (no bare NaN or Infinity) for a report's dict."""
    return json.dumps(_encode(data), indent=2, allow_nan=False, ensure_ascii=False)


def number(value: Any) -> float:
    """A float written by `dumps`: a JSON number or one of the non-finite strings."""
    return float(value)


def to_dict(report: ReportData, max_components: Optional[int] = None) -> dict[str, Any]:
    """A JSON-ready dict of ``report`` (schema 1); ``max_components`` keeps only the worst N."""
    positions = np.arange(report.components.size)
    if max_components is not None and positions.size > max_components:
        positions = report.worst_positions(max_components)
    return {
        "schema": SCHEMA_VERSION,
        "passed": report.passed,
        "difference": report.difference,
        "band": report.band,
        "detection_limit": report.detection_limit,
        "safety_factor": SAFETY,
        "settings": asdict(report.settings),
        "tensors": [asdict(row) for row in report.tensors],
        "findings": [asdict(f) for f in report.findings],
        "components_included": "all" if positions.size == report.components.size else "worst",
        "components": [_component_dict(report.component(int(p))) for p in positions],
    }


def _component_dict(component: Component) -> dict[str, Any]:
    data = asdict(component)
    data["error"] = component.error
    return data


def _settings(data: dict[str, Any]) -> Settings:
    values = dict(data)
    for key in ("loss_value", "noise", "seconds"):
        values[key] = number(values[key])
    return Settings(**values)


def _layout(tensors: list[dict[str, Any]], dtype: str) -> Layout:
    built, offset = [], 0
    for row in tensors:
        tensor = Tensor((row["name"],), row["name"], tuple(row["shape"]), np.dtype(dtype), offset)
        built.append(tensor)
        offset += tensor.size
    return Layout(tuple(built), {t.name: t for t in built})


def finding_from_dict(f: dict[str, Any]) -> Finding:
    """A `Finding` as `to_dict` wrote it."""
    value = None if f["value"] is None else number(f["value"])
    return Finding(f["kind"], f["tensor"], f["message"], tuple(f["components"]), value)


def fields_from_dict(data: dict[str, Any]) -> dict[str, Any]:
    """The fields of the report a `to_dict` (or parsed JSON) holds, to build it again.

    The layout keeps names, shapes and offsets (not the params' nesting); the per-component
    arrays hold the components the file holds (all, or the worst N).
    """
    if data.get("schema") != SCHEMA_VERSION:
        raise GradcheckError(
            f"schema={data.get('schema')!r}: this version of gradcheck reads report schema "
            f"{SCHEMA_VERSION}; write the report again with this version"
        )
    settings = _settings(data["settings"])
    rows = tuple(
        TensorRow(
            **{
                **row,
                "shape": tuple(row["shape"]),
                **{
                    k: number(row[k])
                    for k in ("difference", "max_abs_error", "detection_limit", "entry_limit", "scale_limit")
                    if k in row
                },
            }
        )
        for row in data["tensors"]
    )
    findings = tuple(finding_from_dict(f) for f in data["findings"])
    components = data["components"]
    column = lambda key, kind: np.array([kind(c[key]) for c in components], dtype=kind)  # noqa: E731
    return dict(
        passed=bool(data["passed"]),
        difference=number(data["difference"]),
        tensors=rows,
        findings=findings,
        settings=settings,
        detection_limit=number(data["detection_limit"]),
        layout=_layout(data["tensors"], settings.dtype),
        components=np.array([c["index"] for c in components], dtype=np.int64),
        analytic=column("analytic", float),
        numerical=column("numerical", float),
        estimate=column("estimate", float),
        flagged=column("flagged", bool),
        kink=column("kink", bool),
    )
