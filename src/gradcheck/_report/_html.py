"""Render a Report as one self-contained HTML fragment: the web page's body and the notebook's output.

The verdict and the seeds' difference on its band come first, then the findings, a table per
tensor, a heatmap per tensor (inline SVG, see `_heatmap_svg`) and the worst components: all
readable with no script and no network. The inline script only adds hover details from the
inline JSON. Every string that comes from the user's code — tensor names, messages — goes
through `html.escape`, and the inline JSON cannot close its ``<script>`` element, so a tensor
named ``<script>`` is shown as text and never run.
"""

from __future__ import annotations

import html
import itertools
import json
import math
from importlib import resources
from typing import Any

import numpy as np

from .._compare import BANDS, SAFETY, band_legend, seed_band
from .._version import __version__
from ._display import fragment_id
from ._heatmap import UNCHECKED, Grid, grids
from ._heatmap_svg import KINK_FILL, UNCHECKED_FILL, heatmap_svg, legend_svg
from ._json import SCHEMA_VERSION
from ._model import ReportData as Report

# The band gauge spans 1e-16 (float64 round-off) to 1 (nothing in common), in decades.
GAUGE_DECADES = (-16, 0)
WORST = 10  # rows of the worst-components table: a screenful, never the whole gradient
BAND_FILL = {"fine": "#2e9d4f", "inspect": "#e0a800", "worry": "#d64541"}  # the stylesheet's too


def _e(value: Any) -> str:
    return html.escape(str(value), quote=True)


def _num(value: float, spec: str) -> str:
    if math.isnan(value):
        return "–"
    if math.isinf(value):
        return "∞" if value > 0 else "−∞"
    return format(value, spec)


def _asset(name: str) -> str:
    return resources.files("gradcheck._report").joinpath(name).read_text(encoding="utf-8")


def _verdict(report: Report) -> str:
    checked = sum(row.checked for row in report.tensors)
    wrong = sum(row.flagged for row in report.tensors)
    what = report.settings.checked[:1].upper() + report.settings.checked[1:]
    if report.passed and not checked:
        title = "✔ Nothing was checked"
        detail = "No entry of the params could be perturbed (see the findings)."
    elif report.passed:
        title = f"✔ {what} are correct"
        detail = (
            f"All {checked} checked components agree with finite differences within "
            f"{SAFETY:g}× their estimated numerical error."
        )
    else:
        title = f"✘ {what} are wrong in {', '.join(report.wrong_gradients)}"
        detail = (
            f"{wrong} of {checked} checked components disagree with finite differences by more "
            f"than {SAFETY:g}× their estimated numerical error."
        )
    return f'<h1>{_e(title)}</h1>\n<p class="detail">{_e(detail)}</p>'


def _gauge(report: Report) -> str:
    """An SVG scale of log₁₀(difference) with the seeds' three bands and a marker."""
    low, high = GAUGE_DECADES
    width, left = 600, 18
    x = lambda decade: left + (decade - low) / (high - low) * width  # noqa: E731
    limits = [low, *(math.log10(limit) for limit, _ in BANDS), high]  # n + 1 edges of n bands
    names = [label for _, label in BANDS] + ["worry"]
    font = 'font-family="system-ui, sans-serif" text-anchor="middle"'
    parts = [  # colours as attributes, like the heatmaps': they show without the stylesheet
        f'<rect fill="{BAND_FILL[name]}" x="{x(a):.1f}" y="18" width="{x(b) - x(a):.1f}" height="14"/>'
        f'<text fill="#ffffff" font-size="10" font-weight="600" {font} '
        f'x="{(x(a) + x(b)) / 2:.1f}" y="29">{name}</text>'
        for (a, b), name in zip(itertools.pairwise(limits), names, strict=True)
    ]
    for decade in (low, -12, -7, -5, -3, high):
        parts.append(
            f'<text fill="#66707a" font-size="10" {font} x="{x(decade):.1f}" y="46">1e{decade}</text>'
        )
    where = math.log10(report.difference) if report.difference > 0 else low
    marker = x(min(max(where, low), high))
    parts.append(f'<path class="marker" d="M{marker:.1f} 16 l-6 -10 h12 z" fill="#1d2329"/>')
    return (
        f'<svg class="gauge" viewBox="0 0 {width + 2 * left} 50" width="{width + 2 * left}" '
        f'height="50" role="img" aria-label="difference on the seeds\' bands">{"".join(parts)}</svg>'
    )


def _headline(report: Report) -> str:
    band = report.band
    note = f'<br><span class="muted">{_e(report.band_note)}</span>' if report.band_note else ""
    return (
        f'<header class="{"pass" if report.passed else "fail"}">\n{_verdict(report)}\n'
        f'<div class="difference"><p>Seeds\' difference ‖g − g′‖ / (‖g‖ + ‖g′‖) = '
        f'<b class="band-text-{band}">{_num(report.difference, ".3e")}</b> → <b class="band-text-{band}">'
        f'{band}</b> <span class="muted">({_e(band_legend())})</span>{note}</p>'
        f"{_gauge(report)}</div>\n</header>"
    )


def _findings(report: Report) -> str:
    if not report.findings:
        return ""
    items = "".join(
        f'<li><span class="kind">{_e(f.kind)}</span>'
        f"{f' <code>{_e(f.tensor)}</code>' if f.tensor else ''} {_e(f.message)}</li>"
        for f in report.findings
    )
    return f'<section><h2>Findings</h2><ul class="findings">{items}</ul></section>'


def _table(headers: list[str], rows: list[tuple[str, list[str]]], left: tuple[int, ...] = (0,)) -> str:
    """A table; ``rows`` are (css class, cells of trusted HTML); columns in ``left`` align left."""
    align = lambda k: ' class="left"' if k in left else ""  # noqa: E731
    head = "".join(f"<th{align(k)}>{h}</th>" for k, h in enumerate(headers))
    body = "".join(
        f'<tr class="{cls}">' + "".join(f"<td{align(k)}>{c}</td>" for k, c in enumerate(cells)) + "</tr>"
        for cls, cells in rows
    )
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _shape(shape: tuple[int, ...]) -> str:
    return "×".join(map(str, shape)) or "scalar"


def _tensor_table(report: Report, root: str) -> str:
    rows = [
        (
            "" if row.passed else "wrong",
            [
                f'<a href="#{root}-tensor-{k}"><code>{_e(row.name)}</code></a>',
                _shape(row.shape),
                f'<span class="band-text-{seed_band(row.difference)}">{_num(row.difference, ".1e")}</span>',
                f"<code>{_e(row.worst or '')}</code>",
                str(row.checked),
                str(row.flagged),
                str(row.kinks),
                _num(row.detection_limit, ".0e"),
            ],
        )
        for k, row in enumerate(report.tensors)
    ]
    headers = ["tensor", "shape", "difference", "worst component", "checked", "wrong", "kinks", "detects"]
    return f"<section><h2>Tensors</h2>{_table(headers, rows, left=(0, 3))}</section>"


def _grid_data(grid: Grid, name: str) -> dict[str, Any]:
    def short(values: np.ndarray, digits: int) -> list[Any]:
        return [
            None if not math.isfinite(v) else float(f"{v:.{digits}g}") for v in values.reshape(-1).tolist()
        ]

    sig = grid.significance.reshape(-1)
    return {
        "name": name,
        "shape": list(grid.shape),
        "rows": grid.rows,
        "columns": grid.columns,
        "block": list(grid.block),
        # Significance: null for a cell without checked components, 1e300 for "infinitely" wrong.
        "s": [None if v == UNCHECKED else min(float(f"{v:.3g}"), 1e300) for v in sig.tolist()],
        "i": grid.index.reshape(-1).tolist(),
        "p": grid.present.reshape(-1).astype(int).tolist(),
        "a": short(grid.analytic, 7),
        "n": short(grid.numerical, 7),
    }


def _heatmaps(report: Report, root: str) -> tuple[str, list[dict[str, Any]]]:
    cards, data = [], []
    for k, (row, grid) in enumerate(zip(report.tensors, grids(report), strict=True)):
        data.append(_grid_data(grid, row.name))
        shown = f"shown as {grid.layout[0]}×{grid.layout[1]}" if grid.layout != tuple(grid.shape) else ""
        pooled = (
            f"each cell the worst of a {grid.block[0]}×{grid.block[1]} block" if grid.block != (1, 1) else ""
        )
        note = "; ".join(filter(None, [shown, pooled]))
        status = "wrong" if not row.passed else "ok"
        label = f"heatmap of {_e(row.name)}: {row.flagged} of {row.checked} checked components wrong"
        cards.append(
            f'<figure class="card {status}" id="{root}-tensor-{k}"><figcaption><code>{_e(row.name)}</code> '
            f'<span class="muted">{_shape(row.shape)}</span> '
            f'<span class="status-{status}">{row.flagged} wrong</span>'
            f"{f'<br><small>{_e(note)}</small>' if note else ''}</figcaption>"
            f"{heatmap_svg(grid, label, k)}</figure>"
        )
    legend = (
        f'<div class="legend">{legend_svg()}'
        "<span>|analytic − numerical| / estimated numerical error: "
        f"≤ 1 within noise · {SAFETY:g} threshold · above is wrong</span>"
        f'<span class="swatch" style="background: {KINK_FILL}"></span><span>kink</span>'
        f'<span class="swatch" style="background: {UNCHECKED_FILL}"></span><span>not checked</span></div>'
    )
    section = (
        f'<section><h2>Where the errors are</h2>{legend}<div class="cards">{"".join(cards)}</div>'
        '<p class="muted hover-hint">Hover a cell to see its component.</p></section>'
    )
    return section, data


def _worst_table(report: Report) -> str:
    rows = []
    for c in report.worst(WORST):
        verdict = "WRONG" if c.flagged else ("kink" if c.kink else "ok")
        rows.append(
            (
                "wrong" if c.flagged else "",
                [
                    f"<code>{_e(c.name)}</code>",
                    _num(c.analytic, " .6e"),
                    _num(c.numerical, " .6e"),
                    _num(c.error, " .2e"),
                    _num(c.estimate * SAFETY, ".1e"),
                    verdict,
                ],
            )
        )
    headers = ["component", "analytic", "numerical", "error", "allowed", "verdict"]
    return f"<section><h2>Most significant discrepancies</h2>{_table(headers, rows)}</section>"


def _settings(report: Report) -> str:
    s = report.settings
    items = [
        ("method", s.method),
        ("step", s.eps),
        ("strategy", s.strategy),
        ("seed", s.seed),
        ("dtype", s.dtype),
        ("loss", _num(s.loss_value, ".6g")),
        ("loss noise σ", _num(s.noise, ".2e")),
        ("loss evaluations", s.evaluations),
        ("time", f"{s.seconds:.2f} s"),
        ("detects relative errors above", _num(report.detection_limit, ".1e")),
    ]
    body = "".join(f"<dt>{_e(k)}</dt><dd>{_e(v)}</dd>" for k, v in items)
    return f'<section><h2>How it was checked</h2><dl class="settings">{body}</dl></section>'


def _script_json(data: Any) -> str:
    """JSON that is safe inside <script>: no '<', '>' or '&' can end the element."""
    text = json.dumps(data, allow_nan=False, separators=(",", ":"))
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


def scoped_style(root: str, *extra: str) -> str:
    """The stylesheet (and ``extra`` rules, written under ``.gradcheck`` too) with every rule
    prefixed by the root's id: an id outranks the class rules a notebook styles its outputs
    with, so the report looks the same inside one."""
    return "\n".join([_asset("page.css"), *extra]).replace(".gradcheck", f"#{root}.gradcheck")


def page_title(report: Report) -> str:
    """The page's title: the verdict in a few words."""
    return f"gradcheck: {report.settings.checked} " + (
        "correct" if report.passed else f"wrong in {', '.join(report.wrong_gradients)}"
    )


def render_fragment(report: Report) -> str:
    """The report as one ``<div class="gradcheck">`` with its own scoped style and script."""
    settings = report.settings
    root = fragment_id(report.difference, report.tensors, report.findings, settings)
    heatmaps, data = _heatmaps(report, root)
    payload = {"safety": SAFETY, "tensors": data}
    return f"""<div class="gradcheck" id="{root}">
<style>
{scoped_style(root)}
</style>
{_headline(report)}
<main>
{_findings(report)}
{_tensor_table(report, root)}
{heatmaps}
{_worst_table(report)}
{_settings(report)}
</main>
<footer>gradcheck {_e(__version__)} · report schema {SCHEMA_VERSION} · {SAFETY:g}× safety factor</footer>
<div class="tip" hidden></div>
<script type="application/json" class="gradcheck-data">{_script_json(payload)}</script>
<script>
{_asset("page.js")}
</script>
</div>"""
