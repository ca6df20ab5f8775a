"""Render a Taylor test for the terminal: the verdict, the rate table, and one direction's ladder."""

from __future__ import annotations

import math
from typing import Optional

from rich.console import RenderableType
from rich.table import Table
from rich.text import Text

from .. import _rates
from ._taylor_model import TaylorData, TaylorDirection
from ._text import plain_text


def _rate(value: float) -> str:
    return f"{value:.2f}" if math.isfinite(value) else "—"


def _verdict(report: TaylorData) -> Text:
    rates = ", ".join(_rate(r) for r in report.rates)
    if report.passed:
        return Text(
            f"✔ Taylor test passed: rates {rates} (expected {report.expected}) along "
            f"{len(report.directions)} direction(s)",
            style="bold green",
        )
    failing = [str(k) for k, d in enumerate(report.directions, start=1) if not d.passed]
    return Text(
        f"✘ Taylor test FAILED along direction {', '.join(failing)}: rates {rates}, expected {report.expected}",
        style="bold red",
    )


def _headline(report: TaylorData) -> Text:
    s = report.settings
    which = "the given direction" if s.given else "random directions of ±1 × each tensor's rms"
    limit = f"; detects errors above {report.detection_limit:.1e} relative" if report.passed else ""
    return Text(
        f"loss {s.loss_value:.6g} with noise σ={s.noise:.2e}; {which}; steps h from {s.first_step:g} "
        f"halved down to the round-off floor; {s.evaluations} loss evaluations in {s.seconds:.2f} s{limit}"
    )


def _rate_table(report: TaylorData) -> Table:
    hessian = report.directions[0].second is not None
    table = Table(show_edge=False, header_style="bold", pad_edge=False, title="rates of the remainders")
    columns = ["direction", "g·δ", *(["δ·H·δ"] if hessian else []), "J − J₀", "− h·g·δ"]
    columns += [*(["− ½h²δHδ"] if hessian else []), "window h", "floor", "detects", ""]
    for column in columns:
        table.add_column(column, justify="left" if column in ("direction", "") else "right", no_wrap=True)
    for k, d in enumerate(report.directions, start=1):
        start, stop = d.window
        window = f"{d.steps[start]:.1e} … {d.steps[stop - 1]:.1e}" if stop > start else "—"
        cells = [str(k), f"{d.slope:.3e}", *([f"{d.curvature:.3e}"] if hessian else [])]
        cells += [_rate(d.zeroth_rate), _rate(d.gradient_rate), *([_rate(d.rate)] if hessian else [])]
        verdict = "✔" if d.passed else "✘ WRONG"
        if d.passed and d.inconclusive:
            verdict = "✔ (at the floor)"
        cells += [
            window,
            f"{float(d.floor.min()):.1e}",
            f"{d.relative_limit:.0e}" if d.passed else "—",
            verdict,
        ]
        table.add_row(*cells, style=None if d.passed else "red")
    return table


def ladder_table(direction: TaylorDirection, number: int) -> Table:
    """Every step of one direction: the remainders, the floor, and the checked one's local rate."""
    d = direction
    table = Table(
        show_edge=False, header_style="bold", pad_edge=False, title=f"direction {number}, step by step"
    )
    headers = ["h", "|J − J₀|", "|… − h·g·δ|", *(["|… − ½h²δHδ|"] if d.second is not None else [])]
    for column in [*headers, "floor", "rate", ""]:
        table.add_column(column, justify="right", no_wrap=True)
    local = _rates.local_rates(d.steps, d.checked)
    usable = _rates.usable(d.checked, d.floor)
    start, stop = d.window
    for k, h in enumerate(d.steps.tolist()):
        values = [d.zeroth[k], d.first[k], *([d.second[k]] if d.second is not None else [])]
        rate = _rate(float(local[k - 1])) if k and usable[k] and usable[k - 1] else ""
        mark = "window" if start <= k < stop else ("" if usable[k] else "below floor")
        table.add_row(
            f"{h:.2e}", *(f"{abs(v):.3e}" for v in values), f"{d.floor[k]:.1e}", rate, mark,
            style="bold" if start <= k < stop else ("dim" if not usable[k] else None),
        )  # fmt: skip
    return table


def parts(report: TaylorData) -> list[RenderableType]:
    shown_parts: list[RenderableType] = [_verdict(report), _headline(report), Text(""), _rate_table(report)]
    if report.findings:
        shown_parts += [Text(""), Text("findings", style="bold")]
        shown_parts += [Text(f"• [{f.kind}] {f.message}") for f in report.findings]
    shown = next((k for k, d in enumerate(report.directions) if not d.passed), 0)
    shown_parts += [Text(""), ladder_table(report.directions[shown], shown + 1)]
    return shown_parts


def render_taylor_text(report: TaylorData, width: Optional[int] = None) -> str:
    """The Taylor test as plain text (no colour codes), sized like every report (`output_width`)."""
    return plain_text(parts(report), width)


def render_taylor_summary(report: TaylorData) -> str:
    """The verdict and the findings in a few lines (for logs and assertion messages)."""
    return "\n".join([_verdict(report).plain, *(f"  [{f.kind}] {f.message}" for f in report.findings)])
