"""The report inline in Jupyter: the page's own fragment, scoped, readable with no script."""

from __future__ import annotations

import dataclasses
import re

import numpy as np
import pytest

import gradcheck as gc
from gradcheck import _demo
from gradcheck._compare import SAFETY
from gradcheck._report._display import InlineHtml
from gradcheck._report._heatmap import UNCHECKED, significance, tensor_grid
from gradcheck._report._heatmap_svg import KINK_FILL, UNCHECKED_FILL, colour, heatmap_svg

from .test_html_report import synthetic_report


@pytest.fixture(scope="module")
def buggy():
    return gc.check(*_demo.problem(("dW2x2", "db1-4m")))


def _without_scripts(html: str) -> str:
    return re.sub(r"<script\b.*?</script>", "", html, flags=re.S)


def test_the_notebook_shows_the_same_fragment_the_page_holds(buggy, tmp_path):
    buggy.to_html(tmp_path / "r.html")
    page = (tmp_path / "r.html").read_text(encoding="utf-8")
    fragment = buggy._repr_html_()
    assert fragment.startswith('<div class="gradcheck" id="gc-') and fragment in page
    assert (
        page.startswith("<!doctype html>") and "<title>gradcheck: gradients wrong in db1, dW2</title>" in page
    )


def test_every_style_rule_is_scoped_to_the_reports_root(buggy):
    fragment = buggy._repr_html_()
    root = re.match(r'<div class="gradcheck" id="([^"]+)"', fragment)[1]
    style = re.search(r"<style>(.*?)</style>", fragment, flags=re.S)[1]
    style = re.sub(r"/\*.*?\*/", "", style, flags=re.S)
    selectors = [s.strip() for rule in re.findall(r"([^{}]+)\{", style) for s in rule.split(",")]
    assert len(selectors) > 40
    assert [s for s in selectors if not s.startswith(f"#{root}.gradcheck")] == []


def test_the_verdict_and_the_heatmaps_need_no_script(buggy):
    static = _without_scripts(buggy._repr_html_())
    assert "<h1>✘ Gradients are wrong in db1, dW2</h1>" in static
    assert "the analytic gradient of b1 is 4.00×" in static
    assert static.count('<svg class="heatmap"') == 6 and "<canvas" not in static


def _cells(svg: str, fill: str) -> set[tuple[int, int]]:
    """(row, column) of the cells the SVG paints in ``fill``, from its rectangles."""
    cell, left, top = (int(re.search(f'data-{k}="([0-9]+)"', svg)[1]) for k in ("cell", "left", "top"))
    painted = set()
    for path in re.findall(rf'<path fill="{fill}" d="([^"]+)"', svg):
        for x, y, w in re.findall(r"M(\d+) (\d+)h(\d+)v", path):
            r, c = (int(y) - top) // cell, (int(x) - left) // cell
            painted |= {(r, c + k) for k in range(int(w) // cell)}
    return painted


def test_the_heatmap_paints_exactly_the_wrong_entries_in_the_wrong_colours():
    report = synthetic_report({"W": np.zeros((6, 9))}, wrong=[1 * 9 + 2, 4 * 9 + 7, 5 * 9 + 0])
    grid = tensor_grid(report, 0, significance(report))
    svg = heatmap_svg(grid, "W", 0)
    wrong = {colour(s) for s in grid.significance.ravel() if s > SAFETY}
    assert set().union(*(_cells(svg, fill) for fill in wrong)) == {(1, 2), (4, 7), (5, 0)}
    assert sum(len(_cells(svg, f)) for f in set(re.findall(r'<path fill="(#\w+)"', svg))) == 54


def test_colours_keep_the_ranges_apart():
    calm = {colour(s) for s in (0.0, 1e-3, 0.1, 1.0)}
    border = {colour(s) for s in (1.5, 4.0, SAFETY)}
    wrong = {colour(s) for s in (SAFETY * 1.01, 1e3, 1e9, np.inf)}
    assert calm.isdisjoint(border) and border.isdisjoint(wrong) and calm.isdisjoint(wrong)
    assert KINK_FILL not in calm | border | wrong and UNCHECKED_FILL not in calm | border | wrong | {
        KINK_FILL
    }
    assert colour(1e3) != colour(1e6)  # wrong by 10² and by 10⁵ look different


def test_unchecked_cells_are_grey_and_a_pooled_grid_stays_small():
    report = synthetic_report({"W": np.zeros((300, 500))}, wrong=[123])
    sample = report.components[::7]
    report = dataclasses.replace(report, components=sample, analytic=report.analytic[sample],
        numerical=report.numerical[sample], estimate=report.estimate[sample],
        flagged=report.flagged[sample], kink=report.kink[sample])  # fmt: skip
    grid = tensor_grid(report, 0, significance(report))
    assert (grid.significance == UNCHECKED).any()
    svg = heatmap_svg(grid, "W", 0)
    assert f'fill="{UNCHECKED_FILL}"' in svg
    assert len(svg) < 40 * grid.rows * grid.columns  # runs of one colour merge into one rectangle


def test_reports_in_one_notebook_have_distinct_roots_and_anchors(buggy):
    fixed = gc.check(*_demo.problem())
    roots = [re.match(r'<div class="gradcheck" id="([^"]+)"', r._repr_html_())[1] for r in (buggy, fixed)]
    assert roots[0] != roots[1]
    assert (
        f'href="#{roots[1]}-tensor-0"' in fixed._repr_html_()
        and f'id="{roots[1]}-tensor-0"' in fixed._repr_html_()
    )


def test_ipython_shows_the_text_report_as_plain_text(buggy):
    class Printer:
        def __init__(self):
            self.texts = []

        def text(self, value):
            self.texts.append(value)

    printer = Printer()
    buggy._repr_pretty_(printer, cycle=False)
    assert printer.texts == [str(buggy)] and printer.texts[0].startswith("✘ gradients are WRONG in db1, dW2")


def test_any_report_type_gets_a_page_and_an_inline_display(tmp_path):
    class Note(InlineHtml):
        def _html_fragment(self):
            return '<div class="note">all <b>fine</b></div>'

        def _html_title(self):
            return "a <note>"

        def __str__(self):
            return "all fine"

    Note().to_html(tmp_path / "note.html")
    page = (tmp_path / "note.html").read_text()
    assert "<title>a &lt;note&gt;</title>" in page and Note()._repr_html_() in page


def test_the_taylor_report_shows_inline_like_its_page(tmp_path):
    loss, params, grads = _demo.problem()
    report = gc.taylor_test(loss, params, grads)
    report.to_html(tmp_path / "t.html")
    page = (tmp_path / "t.html").read_text(encoding="utf-8")
    fragment = report._repr_html_()
    assert fragment.startswith('<div class="gradcheck" id="gc-') and fragment in page
    assert "<title>gradcheck: Taylor test passed</title>" in page
    assert "<svg" in _without_scripts(fragment) and "Taylor test passed" in fragment
    root = re.search(r'id="(gc-[0-9a-f]+)"', fragment).group(1)
    rules = re.findall(r"^([^{}\n]+)\{", re.search(r"<style>(.*?)</style>", fragment, re.S).group(1), re.M)
    assert rules and all(s.strip().startswith(f"#{root}.gradcheck") for r in rules for s in r.split(","))
