"""Render a Taylor test as one self-contained web page: the remainders against h on log-log axes.

The plot people in this field look at: for each direction, |J(θ + hδ) − J(θ)| (rate 1), the
gradient's remainder (rate 2 when right) and, with an HVP, the Hessian's (rate 3), against the
step h, with reference slopes through the fitted window and the round-off floor shaded. Drawn
as inline SVG (every point has a tooltip), styled by the report's own CSS: no script, no
network. Every string that comes from the user goes through `html.escape`.
"""

from __future__ import annotations

import math
from typing import Optional

import numpy as np

from .. import _rates
from .._version import __version__
from ._display import fragment_id
from ._html import _e, _num, _table, scoped_style
from ._taylor_model import TaylorData, TaylorDirection

WIDTH, HEIGHT = 560, 340
LEFT, RIGHT, TOP, BOTTOM = 64, 16, 14, 44  # margins of the plotting area, in px
SERIES = (  # (attribute, label, css class)
    ("zeroth", "|J(θ+hδ) − J(θ)|", "r0"),
    ("first", "|… − h·g·δ|", "r1"),
    ("second", "|… − ½h²·δ·H·δ|", "r2"),
)
# The plots' rules, under the report's root like the page's own (see `scoped_style`).
STYLE = """
.gradcheck .plots { display: flex; flex-wrap: wrap; gap: 14px;}
.gradcheck .plot { background: var(--paper); border: 1px solid var(--line); border-radius: 6px; padding: 8px 10px; margin: 0;}
.gradcheck .plot.wrong { border-color: #e7a29b; box-shadow: 0 0 0 2px #fbdcd8;}
.gradcheck .plot svg { display: block; max-width: 100%; height: auto; font: 11px system-ui, sans-serif;}
.gradcheck .axis { stroke: #9aa3ab; stroke-width: 1; fill: none;}
.gradcheck .grid { stroke: #eef0f2; stroke-width: 1;}
.gradcheck .tick { fill: var(--muted);}
.gradcheck .noise { fill: #f1f3f5;}
.gradcheck .floor { stroke: #aab2ba; stroke-dasharray: 3 3; fill: none;}
.gradcheck .r0 { stroke: #9aa3ab; fill: #9aa3ab;}
.gradcheck .r1 { stroke: #2f6fb3; fill: #2f6fb3;}
.gradcheck .r2 { stroke: #1a7f37; fill: #1a7f37;}
.gradcheck .series { fill: none; stroke-width: 1.6;}
.gradcheck .dot { stroke: none;}
.gradcheck .window { stroke: #1d2329; stroke-width: 1.5;}
.gradcheck .slope { stroke: #1d2329; stroke-dasharray: 6 4; stroke-width: 1; fill: none;}
.gradcheck .slope-wrong { stroke: var(--worry);}
.gradcheck .label { fill: var(--ink);}
.gradcheck .label-wrong { fill: var(--worry);}
.gradcheck .key { margin-right: 10px; white-space: nowrap;}
.gradcheck .key svg { display: inline; vertical-align: middle;}
"""


class _Axes:
    """log₁₀ h and log₁₀ |R| mapped to the plotting area."""

    def __init__(self, steps: np.ndarray, values: list[np.ndarray]) -> None:
        xs = np.log10(steps)
        positive = np.concatenate([v[np.isfinite(v) & (v > 0)] for v in values])
        ys = np.log10(positive) if positive.size else np.array([-16.0, 0.0])
        self.x0, self.x1 = float(xs.min()), float(xs.max())
        self.y0, self.y1 = math.floor(float(ys.min())), math.ceil(float(ys.max()))
        if self.y1 == self.y0:
            self.y1 += 1

    def x(self, h: float) -> float:
        span = (self.x1 - self.x0) or 1.0
        return LEFT + (WIDTH - LEFT - RIGHT) * (math.log10(h) - self.x0) / span

    def y(self, value: float) -> float:
        return TOP + (HEIGHT - TOP - BOTTOM) * (self.y1 - math.log10(value)) / (self.y1 - self.y0)


def _frame(axes: _Axes) -> list[str]:
    parts = []
    step = max(1, round((axes.y1 - axes.y0) / 8))
    for decade in range(axes.y0, axes.y1 + 1, step):
        y = axes.y(10.0**decade)
        parts.append(f'<line class="grid" x1="{LEFT}" x2="{WIDTH - RIGHT}" y1="{y:.1f}" y2="{y:.1f}"/>')
        parts.append(f'<text class="tick" x="{LEFT - 6}" y="{y + 4:.1f}" text-anchor="end">1e{decade}</text>')
    for decade in range(math.ceil(axes.x0), math.floor(axes.x1) + 1):
        x = axes.x(10.0**decade)
        parts.append(f'<line class="grid" x1="{x:.1f}" x2="{x:.1f}" y1="{TOP}" y2="{HEIGHT - BOTTOM}"/>')
        parts.append(
            f'<text class="tick" x="{x:.1f}" y="{HEIGHT - BOTTOM + 16}" text-anchor="middle">1e{decade}</text>'
        )
    bottom, right = HEIGHT - BOTTOM, WIDTH - RIGHT
    parts.append(f'<path class="axis" d="M{LEFT} {TOP} V{bottom} H{right}"/>')
    parts.append(
        f'<text class="tick" x="{(LEFT + right) / 2:.0f}" y="{HEIGHT - 8}" text-anchor="middle">step h</text>'
    )
    return parts


def _noise(axes: _Axes, d: TaylorDirection) -> list[str]:
    """The floor (dashed) and the region below USABLE × floor, where rates are not read (shaded)."""
    top = [
        (axes.x(h), axes.y(min(max(_rates.USABLE * f, 10.0**axes.y0), 10.0**axes.y1)))
        for h, f in zip(d.steps, d.floor, strict=True)
    ]
    bottom = HEIGHT - BOTTOM
    area = " ".join(f"{x:.1f},{y:.1f}" for x, y in top)
    parts = [
        f'<polygon class="noise" points="{top[0][0]:.1f},{bottom} {area} {top[-1][0]:.1f},{bottom}"><title>below {_rates.USABLE:g}× the round-off floor: rates are not read here</title></polygon>'
    ]
    floor = [(axes.x(h), axes.y(f)) for h, f in zip(d.steps, d.floor, strict=True) if f >= 10.0**axes.y0]
    if len(floor) > 1:
        parts.append(
            f'<polyline class="floor" points="{" ".join(f"{x:.1f},{y:.1f}" for x, y in floor)}"><title>round-off floor</title></polyline>'
        )
    return parts


def _series(axes: _Axes, d: TaylorDirection) -> list[str]:
    parts = []
    checked = "second" if d.second is not None else "first"
    start, stop = d.window
    for attribute, label, css in SERIES:
        values: Optional[np.ndarray] = getattr(d, attribute)
        if values is None:
            continue
        points = [
            (k, h, abs(v))
            for k, (h, v) in enumerate(zip(d.steps.tolist(), values.tolist(), strict=True))
            if math.isfinite(v) and v != 0
        ]
        line = " ".join(f"{axes.x(h):.1f},{axes.y(v):.1f}" for _, h, v in points)
        parts.append(f'<polyline class="series {css}" points="{line}"/>')
        for k, h, v in points:
            ring = ' class="window"' if attribute == checked and start <= k < stop else ""
            parts.append(
                f'<circle class="dot {css}" cx="{axes.x(h):.1f}" cy="{axes.y(v):.1f}" r="{3.2 if ring else 2.2}">'
                f"<title>{_e(label)} = {v:.3e} at h = {h:.3e}</title></circle>"
                + (
                    f'<circle{ring} cx="{axes.x(h):.1f}" cy="{axes.y(v):.1f}" r="5" fill="none"/>'
                    if ring
                    else ""
                )
            )
    return parts


def _slopes(axes: _Axes, d: TaylorDirection) -> list[str]:
    """Reference lines through the window's middle: the expected rate, and one less (wrong),
    drawn from the window towards larger steps and labelled there."""
    start, stop = d.window
    if stop <= start:
        return []
    middle = (start + stop - 1) // 2
    h, value = float(d.steps[middle]), abs(float(d.checked[middle]))
    powers = {1: "¹", 2: "²", 3: "³"}
    parts = []
    for rate, css in ((d.expected, "slope"), (d.expected - 1, "slope slope-wrong")):
        ends = [min(float(d.steps[stop - 1]), 10.0**axes.x1), min(float(d.steps[start]) * 64, 10.0**axes.x1)]
        pts = [(axes.x(e), axes.y(value * (e / h) ** rate)) for e in ends]
        parts.append(
            f'<line class="{css}" x1="{pts[0][0]:.1f}" y1="{pts[0][1]:.1f}" x2="{pts[1][0]:.1f}" y2="{pts[1][1]:.1f}"/>'
        )
        text = f"h{powers[rate]}: {'right' if rate == d.expected else 'wrong'}"
        label = "label" if rate == d.expected else "label-wrong"
        parts.append(
            f'<text class="{label}" x="{pts[1][0] - 4:.1f}" y="{pts[1][1] - 6:.1f}" text-anchor="end">{text}</text>'
        )
    return parts


def _legend(d: TaylorDirection) -> str:
    keys = []
    for attribute, label, css in SERIES:
        if getattr(d, attribute) is not None:
            swatch = (
                f'<svg width="22" height="8"><line class="series {css}" x1="1" y1="4" x2="21" y2="4"/></svg>'
            )
            keys.append(f'<span class="key">{swatch} {_e(label)}</span>')
    return "".join(keys)


def plot(d: TaylorDirection, number: int) -> str:
    """One direction's remainders against h, as an inline SVG figure."""
    values = [v for v in (d.zeroth, d.first, d.second, d.floor) if v is not None]
    axes = _Axes(d.steps, [np.abs(v) for v in values])
    body = _frame(axes) + _noise(axes, d) + _series(axes, d) + _slopes(axes, d)
    status = "" if d.passed else " wrong"
    caption = (
        f"<b>direction {number}</b>: rate {_num(d.rate, '.2f')} (expected {d.expected}) "
        f"{'✔' if d.passed else '✘'}<br><small>{_legend(d)}</small>"
    )
    return (
        f'<figure class="plot{status}"><figcaption>{caption}</figcaption>'
        f'<svg viewBox="0 0 {WIDTH} {HEIGHT}" width="{WIDTH}" height="{HEIGHT}" role="img" '
        f'aria-label="remainders of direction {number} against the step h, log-log">{"".join(body)}</svg></figure>'
    )


def _rate_table(report: TaylorData) -> str:
    hessian = report.directions[0].second is not None
    rows = []
    for k, d in enumerate(report.directions, start=1):
        start, stop = d.window
        cells = [str(k), _num(d.slope, ".3e"), *([_num(d.curvature or 0.0, ".3e")] if hessian else [])]
        cells += [
            _num(d.zeroth_rate, ".2f"),
            _num(d.gradient_rate, ".2f"),
            *([_num(d.rate, ".2f")] if hessian else []),
        ]
        window = f"{d.steps[start]:.1e} … {d.steps[stop - 1]:.1e}" if stop > start else "—"
        cells += [
            window,
            _num(float(d.floor.min()), ".1e"),
            _num(d.relative_limit, ".0e") if d.passed else "—",
            "✔" if d.passed else "✘ wrong",
        ]
        rows.append(("" if d.passed else "wrong", cells))
    headers = ["direction", "g·δ", *(["δ·H·δ"] if hessian else []), "rate |J−J₀|", "rate −h·g·δ"]
    headers += [*(["rate −½h²δHδ"] if hessian else []), "window h", "floor", "detects", "verdict"]
    return f"<section><h2>Rates</h2>{_table(headers, rows)}</section>"


def title(report: TaylorData) -> str:
    """The page's title: the verdict in a few words."""
    return f"gradcheck: Taylor test {'passed' if report.passed else 'FAILED'}"


def render_taylor_fragment(report: TaylorData) -> str:
    """The Taylor test as one ``<div class="gradcheck">`` with its own scoped style: the page
    `TaylorReport.to_html` writes and what a notebook shows inline."""
    s = report.settings
    verdict = "passed" if report.passed else "FAILED"
    rates = ", ".join(_num(r, ".2f") for r in report.rates)
    detail = (
        f"Rates {rates} (expected {report.expected}); loss {s.loss_value:.6g} with noise σ = {s.noise:.2e}; "
        f"{s.evaluations} loss evaluations in {s.seconds:.2f} s"
        + (f"; detects errors above {report.detection_limit:.1e} relative." if report.passed else ".")
    )
    findings = "".join(
        f'<li><span class="kind">{_e(f.kind)}</span> {_e(f.message)}</li>' for f in report.findings
    )
    plots = "".join(plot(d, k) for k, d in enumerate(report.directions, start=1))
    root = fragment_id("taylor", report.rates, report.findings, s)
    return f"""<div class="gradcheck" id="{root}">
<style>
{scoped_style(root, STYLE)}
</style>
<header class="{"pass" if report.passed else "fail"}">
<h1>{"✔" if report.passed else "✘"} Taylor test {verdict}</h1>
<p class="detail">{_e(detail)}</p>
</header>
<main>
{f'<section><h2>Findings</h2><ul class="findings">{findings}</ul></section>' if findings else ""}
{_rate_table(report)}
<section><h2>Remainders against the step h</h2>
<p class="muted">A right gradient's remainder falls as h² (with the HVP's term, as h³) until it meets the
round-off floor (dashed; rates are read only above the shaded region). Ringed: the asymptotic window the rate is fitted on.</p>
<div class="plots">{plots}</div></section>
</main>
<footer>gradcheck {_e(__version__)} · Taylor test · steps from h = {s.first_step:g}, halved</footer>
</div>"""
