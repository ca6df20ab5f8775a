"""Render a Report for people: a rich table for the terminal, a few lines for test logs."""

from __future__ import annotations

import io
import math
from typing import Optional

from rich.console import Console, Group, RenderableType
from rich.table import Table
from rich.text import Text

from .._compare import SAFETY, band_legend
from ._model import ReportData as Report

BAND_STYLE = {"fine": "green", "inspect": "yellow", "worry": "red"}


def _verdict(report: Report) -> Text:
    if report.passed and not any(row.checked for row in report.tensors):
        text = Text("✔ nothing was checked: no entry could be perturbed (see findings)", style="bold yellow")
    elif report.passed:
        text = Text("✔ gradients are correct", style="bold green")
    else:
        wrong = ", ".join(report.wrong_gradients)
        where = f" in {wrong}" if wrong else " (see findings)"  # e.g. a backward that is not linear
        text = Text(f"✘ gradients are WRONG{where}", style="bold red")
    return text


def _headline(report: Report) -> Group:
    s = report.settings
    band = report.band
    lines = [
        _verdict(report),
        Text.assemble(
            "difference ||g − g'||/(||g|| + ||g'||) = ",
            (f"{report.difference:.3e}", BAND_STYLE[band]),
            f"  (seed bands: {band_legend()} → {band})",
        ),
        Text(
            f"{s.method} differences, eps={s.eps}, {s.strategy} check, "
            f"{s.evaluations} loss evaluations in {s.seconds:.2f} s; "
            f"loss {s.loss_value:.6g} with noise σ={s.noise:.2e}; "
            f"detects relative errors above {report.detection_limit:.1e}"
        ),
    ]
    if s.strategy != "full":
        lines.append(Text(_directional_guarantee(report)))
    return Group(*lines)


def _directional_guarantee(report: Report) -> str:
    """What a certify or directions=K run guarantees, in one sentence, and why it ran."""
    s = report.settings
    limits = [row.entry_limit for row in report.tensors if math.isfinite(row.entry_limit)]
    caught = (
        f"any single entry wrong by more than {max(limits):.1e} would have been caught "
        f"({report.detection_limit:.1e} of its tensor's median |g|)"
        if limits
        else "no entry was screened"
    )
    return (
        f"{s.strategy}: {s.directions} random-sign directions through every component; {caught}, "
        f"and several wrong entries cancel in all of them with probability ≤ {s.miss_probability:.1e} "
        f"({s.strategy_reason})"
    )


def _tensor_table(report: Report) -> Table:
    table = Table(show_edge=False, header_style="bold", pad_edge=False)
    for column in ("tensor", "shape", "difference", "worst", "checked", "wrong", "kinks", "detects"):
        left = column in ("tensor", "worst")
        table.add_column(column, justify="left" if left else "right", no_wrap=True)
    for row in report.tensors:
        table.add_row(
            row.name,
            "×".join(map(str, row.shape)) or "scalar",
            f"{row.difference:.1e}" if math.isfinite(row.difference) else "—",
            row.worst or "",
            str(row.checked),
            str(row.flagged),
            str(row.kinks),
            f"{row.detection_limit:.0e}",
            style=None if row.passed else "red",
        )
    return table


def _worst_table(report: Report, k: int) -> Table:
    table = Table(
        show_edge=False, header_style="bold", pad_edge=False, title="most significant discrepancies"
    )
    for column in ("component", "analytic", "numerical", "error", "allowed", ""):
        table.add_column(column, justify="left" if column == "component" else "right", no_wrap=True)
    for c in report.worst(k):
        note = "WRONG" if c.flagged else ("kink" if c.kink else "ok")
        table.add_row(
            c.name,
            f"{c.analytic: .6e}",
            f"{c.numerical: .6e}",
            f"{c.error: .2e}",
            f"{c.estimate * SAFETY:.1e}",
            note,
            style="red" if c.flagged else None,
        )
    return table


def _findings(report: Report) -> list[Text]:
    return [Text(f"• [{f.kind}] {f.message}") for f in report.findings]


def renderable(report: Report, k: int = 5) -> Group:
    parts: list[RenderableType] = [_headline(report), Text(""), _tensor_table(report)]
    if report.findings:
        parts += [Text(""), Text("findings", style="bold"), *_findings(report)]
    if report.components.size:
        parts += [Text(""), _worst_table(report, k)]
    return Group(*parts)


def _to_string(thing: object, width: int) -> str:
    console = Console(width=width, record=True, color_system=None, force_terminal=False, file=io.StringIO())
    console.print(thing)
    return console.export_text().rstrip() + "\n"


def render_text(report: Report, width: int = 110) -> str:
    """The full report as plain text (no colour codes)."""
    return _to_string(renderable(report), width)


def render_summary(report: Report, k: int = 5) -> str:
    """Verdict, findings and the worst components in a few lines (for assertion messages)."""
    lines = [_verdict(report).plain + f" (difference {report.difference:.3e}, {report.band})"]
    lines += [
        f"  {row.label}: {row.flagged} of {row.checked} components wrong (difference {row.difference:.1e})"
        for row in report.tensors
        if not row.passed
    ]
    lines += [f"  [{f.kind}] {f.message}" for f in report.findings]
    for c in report.worst(k):
        if c.flagged:
            lines.append(
                f"  {c.name}: analytic {c.analytic:.6e}, numerical {c.numerical:.6e} "
                f"(error {c.error:.2e}, numerical error ≈ {c.estimate:.1e})"
            )
    return "\n".join(lines)


def print_report(report: Report, console: Optional[Console] = None) -> None:
    (console or Console()).print(renderable(report))
