"""Render a Report for people: a rich table for the terminal, a few lines for test logs.

Text is laid out for where it goes: a terminal's (or a notebook's) width, ``COLUMNS`` when it
is set, and otherwise — a pipe, a CI log, ``| less`` — unwrapped, so that a log holds whole
sentences and whole tables.
"""

from __future__ import annotations

import io
import math
import os
import sys
from typing import IO, Optional

from rich.console import Console, Group, RenderableType
from rich.measure import Measurement
from rich.table import Table
from rich.text import Text

from .._compare import SAFETY, band_legend
from ._model import ReportData as Report

BAND_STYLE = {"fine": "green", "inspect": "yellow", "worry": "red"}
# The width of "unwrapped" text: rich needs a number, and no sentence or table of a report comes
# near it (a table is as wide as its content, never padded to the console's width).
UNWRAPPED = 10_000


def output_width(file: Optional[IO[str]] = None) -> int:
    """Columns for text written to ``file`` (stdout by default).

    ``COLUMNS`` when it is set; else the width of the terminal or notebook the text goes to;
    else (a pipe or a file) `UNWRAPPED`.
    """
    columns = os.environ.get("COLUMNS", "")
    if columns.isdigit() and int(columns) > 0:
        return int(columns)
    probe = Console(file=file or sys.stdout)
    return probe.width if probe.is_terminal or probe.is_jupyter else UNWRAPPED


def sized_console(file: Optional[IO[str]] = None) -> Console:
    """A rich Console for ``file`` (stdout by default) whose width is `output_width`."""
    stream = file or sys.stdout
    return Console(file=stream, width=output_width(stream))


# The precision of a plain NumPy check in float64: not worth a line of its own.
PLAIN_FLOAT64 = "the params are float64"


def _verdict(report: Report) -> Text:
    checked = report.settings.checked
    strict = report.wrong_gradients
    if report.passed and not any(row.checked for row in report.tensors):
        text = Text("✔ nothing was checked: no entry could be perturbed (see findings)", style="bold yellow")
    elif report.passed and strict:  # rtol accepted what the strict check finds
        text = Text(
            f"✔ {checked} are correct within rtol={report.settings.rtol:g} (strictly wrong in {', '.join(strict)})",
            style="bold green",
        )
    elif report.passed:
        text = Text(f"✔ {checked} are correct", style="bold green")
    else:
        wrong = ", ".join(report.wrong_gradients)
        where = f" in {wrong}" if wrong else " (see findings)"  # e.g. a backward that is not linear
        text = Text(f"✘ {checked} are WRONG{where}", style="bold red")
    return text


def _headline(report: Report) -> Group:
    s = report.settings
    band = report.band
    lines = [
        _verdict(report),
        Text.assemble(
            "difference ||g − g'||/(||g|| + ||g'||) = ",
            (f"{report.difference:.3e}", BAND_STYLE[band]),
            f"  (seed bands: {band_legend()} → {band}{'; ' + report.band_note if report.band_note else ''})",
        ),
        Text(
            f"{_how(report)}, {s.strategy} check, "
            f"{s.evaluations} {_evaluated(s.checked)} in {s.seconds:.2f} s; "
            f"{_value(s.checked)} {s.loss_value:.6g} with noise σ={s.noise:.2e}; "
            f"detects relative errors above {report.detection_limit:.1e}"
        ),
    ]
    if s.precision_reason and s.precision_reason != PLAIN_FLOAT64:
        lines.append(Text(f"precision: {s.precision} ({s.precision_reason})"))
    if s.strategy in ("regression", "reference") or _screened(report):
        lines.append(Text(_scale_guarantee(report)))
    elif s.strategy != "full":
        lines.append(Text(_directional_guarantee(report)))
    return Group(*lines)


# What one evaluation is, and what the value the noise belongs to is, for each kind of check.
_EVALUATED = {"Hessian-vector products": "gradient evaluations", "JVPs": "evaluations of f"}
_VALUE = {"Hessian-vector products": "u·g", "JVPs": "largest |output|"}


def _evaluated(checked: str) -> str:
    return _EVALUATED.get(checked, "loss evaluations")


def _value(checked: str) -> str:
    return _VALUE.get(checked, "loss")


def _how(report: Report) -> str:
    """How the numerical side was obtained."""
    s = report.settings
    if s.strategy == "regression":
        return "directional regressions over 2×16 steps"
    if s.strategy == "reference":
        return "reference gradients (float64, and in the kernel's precision)"
    return f"{s.method} differences, eps={s.eps}"


def _screened(report: Report) -> bool:
    """Did regression screens run on top of the full check (a float32 loss)?"""
    return any(math.isfinite(row.scale_limit) for row in report.tensors)


def _scale_guarantee(report: Report) -> str:
    """What a regression, screened or reference check guarantees, in one sentence, and why it ran."""
    s = report.settings
    scales = [row.scale_limit for row in report.tensors if math.isfinite(row.scale_limit)]
    scale = f"a constant factor off by more than {max(scales):.1e} in any tensor" if scales else "no factor"
    entries = [row.entry_limit for row in report.tensors if math.isfinite(row.entry_limit)]
    entry = f"any single entry wrong by more than {max(entries):.1e}" if entries else "no single entry"
    if s.strategy == "reference":
        how = "every entry against the reference's float64 gradient"
    else:
        how = f"{s.directions} random-sign directions per tensor"
    return (
        f"{how}: {scale}, and {entry} ({report.detection_limit:.1e} of its tensor's median |g|), "
        f"would have been caught ({s.strategy_reason})"
    )


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
    factors = _screened(report)  # the constant factor each tensor's directions caught
    columns = ("tensor", "shape", "difference", "worst", "checked", "wrong", "kinks", "detects")
    for column in columns + (("factor",) if factors else ()):
        left = column in ("tensor", "worst")
        table.add_column(column, justify="left" if left else "right", no_wrap=True)
    for row in report.tensors:
        cells = [
            row.name,
            "×".join(map(str, row.shape)) or "scalar",
            f"{row.difference:.1e}" if math.isfinite(row.difference) else "—",
            row.worst or "",
            str(row.checked),
            str(row.flagged),
            str(row.kinks),
            f"{row.detection_limit:.0e}",
        ]
        if factors:
            cells.append(f"{row.scale_limit:.0e}" if math.isfinite(row.scale_limit) else "—")
        table.add_row(*cells, style=None if row.passed else "red")
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


def _parts(report: Report, k: int) -> list[RenderableType]:
    parts: list[RenderableType] = [_headline(report), Text(""), _tensor_table(report)]
    if report.findings:
        parts += [Text(""), Text("findings", style="bold"), *_findings(report)]
    if report.components.size:
        parts += [Text(""), _worst_table(report, k)]
    return parts


def print_report(report: Report, console: Console, k: int = 5) -> None:
    """Print the report: sentences wrap at the console's width, tables are never cut."""
    print_parts(_parts(report, k), console)


def print_parts(parts: list[RenderableType], console: Console) -> None:
    """Print a report's parts: sentences wrap at the console's width, tables are never cut.

    A table wider than the console keeps its width (the terminal wraps its lines) rather than
    lose the ends of its headers and numbers.
    """
    unbounded = console.options.update_width(UNWRAPPED)
    for part in parts:
        natural = Measurement.get(console, unbounded, part).maximum if isinstance(part, Table) else 0
        if natural <= console.width:
            console.print(part)
            continue
        width, console.width = console.width, natural  # print() never goes past console.width
        try:
            console.print(part)
        finally:
            console.width = width


def render_text(report: Report, width: Optional[int] = None) -> str:
    """The full report as plain text (no colour codes), ``width`` columns wide (`output_width`)."""
    return plain_text(_parts(report, 5), width)


def plain_text(parts: list[RenderableType], width: Optional[int] = None) -> str:
    """A report's parts as plain text (no colour codes), ``width`` columns wide (`output_width`)."""
    console = Console(  # never Jupyter's display: this console writes only to its string
        width=width or output_width(),
        record=True,
        color_system=None,
        force_terminal=False,
        force_jupyter=False,
        file=io.StringIO(),
    )
    print_parts(parts, console)
    return console.export_text().rstrip() + "\n"


def render_summary(report: Report, k: int = 5) -> str:
    """Verdict, findings and the worst components in a few lines (for assertion messages)."""
    lines = [_verdict(report).plain + f" (difference {report.difference:.3e}, {report.band})"]
    lines += [
        f"  {row.label}: {row.flagged} of {row.checked} components wrong"
        + (f" (difference {row.difference:.1e})" if math.isfinite(row.difference) else "")
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
