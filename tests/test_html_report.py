"""The HTML report: self-contained, escaped, and heatmaps whose layout makes wrong entries stand out."""

import dataclasses
import math

import numpy as np
import pytest

import gradcheck as gc
from gradcheck import _demo
from gradcheck._report._heatmap import KINK, UNCHECKED, matrix_shape, significance, tensor_grid
from gradcheck._tree import flatten

HOSTILE = "<script>alert(1)</script>"


def synthetic_report(params, wrong):
    """A Report over ``params`` where the flat components in ``wrong`` are 100× off (no loss runs)."""
    theta, layout = flatten(params)
    analytic = np.cos(np.arange(theta.size, dtype=float))
    numerical = analytic.copy()
    numerical[wrong] += 1.0
    estimate = np.full(theta.size, 0.01)
    flagged = np.abs(analytic - numerical) > 8 * estimate
    rows = tuple(
        gc.TensorRow(t.name, t.shape, 0.0, 0.0, None, t.size, int(flagged[t.slice].sum()), 0, 1e-8)
        for t in layout.tensors
    )
    settings = gc.Settings("central", "auto", "full", 0, "float64", 1.0, 1e-16, 2 * theta.size, 0.1)
    return gc.Report(
        passed=not flagged.any(), difference=0.5, tensors=rows, findings=(), settings=settings,
        detection_limit=1e-8, layout=layout, components=np.arange(theta.size), analytic=analytic,
        numerical=numerical, estimate=estimate, flagged=flagged, kink=np.zeros(theta.size, bool),
    )  # fmt: skip


@pytest.mark.parametrize(
    "shape, expected",
    [
        ((), (1, 1)),
        ((7,), (1, 7)),
        ((1000,), (32, 32)),
        ((3, 5), (3, 5)),
        ((8, 3, 3, 3), (8, 27)),
        ((0, 4), (0, 4)),
    ],
)
def test_tensors_are_shown_as_matrices(shape, expected):
    assert matrix_shape(shape) == expected


def test_a_wrong_column_survives_pooling_of_a_large_matrix():
    report = synthetic_report({"W": np.zeros((300, 500))}, wrong=np.arange(300) * 500 + 123)
    grid = tensor_grid(report, 0, significance(report))
    assert grid.block == (3, 3) and (grid.rows, grid.columns) == (100, 167)
    hot = grid.significance > 8
    assert hot[:, 41].all() and hot.sum() == 100  # column 123 lies in block column 123 // 3
    assert set(grid.index[:, 41] % 500) == {123}  # each block points at its wrong component


def test_a_single_wrong_entry_of_a_long_vector_is_one_cell():
    report = synthetic_report({"v": np.zeros(1000)}, wrong=[777])
    grid = tensor_grid(report, 0, significance(report))
    assert (grid.rows, grid.columns) == (32, 32) and grid.present.sum() == 1000
    (r,), (c,) = np.nonzero(grid.significance > 8)
    assert grid.index[r, c] == 777 and r * 32 + c == 777


def test_unchecked_and_kink_components_are_marked():
    report = synthetic_report({"w": np.zeros((2, 2))}, wrong=[])
    report = dataclasses.replace(report, components=np.array([0, 3]), analytic=report.analytic[[0, 3]],
        numerical=report.numerical[[0, 3]], estimate=report.estimate[[0, 3]],
        flagged=np.zeros(2, bool), kink=np.array([False, True]))  # fmt: skip
    grid = tensor_grid(report, 0, significance(report))
    assert grid.significance[0, 1] == grid.significance[1, 0] == UNCHECKED
    assert grid.significance[1, 1] == KINK and grid.index[1, 1] == 3


def test_user_strings_are_escaped_everywhere():
    report = synthetic_report({HOSTILE: np.zeros((2, 3))}, wrong=[4])
    message = '</li></script><img src=x onerror="alert(2)"> & more'
    report = dataclasses.replace(report, findings=(gc.Finding("scale", HOSTILE, message),))
    page = report._repr_html_()
    assert HOSTILE not in page and "<img" not in page and 'onerror="' not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "&lt;/li&gt;&lt;/script&gt;&lt;img src=x onerror=&quot;alert(2)&quot;&gt; &amp; more" in page
    assert page.count("<script") == 2 and page.count("</script>") == 2  # only our own two
    assert "\\u003cscript\\u003ealert(1)\\u003c/script\\u003e" in page  # the name in the heatmap data


def test_the_page_is_self_contained_and_leads_with_the_verdict(tmp_path):
    report = gc.check(*_demo.problem(("dW2x2",)))
    report.to_html(tmp_path / "r.html")
    page = (tmp_path / "r.html").read_text()
    assert "http://" not in page and "https://" not in page and " src=" not in page
    assert "<link" not in page and "@import" not in page
    assert page.index("Gradients are wrong in dW2") < page.index("Findings" if report.findings else "Tensors")
    assert page.index("1.734e-01") < page.index("<h2>Tensors")
    assert page.count('<svg class="heatmap"') == 6
    assert "W2[2, 0]" in page and "9.158017e-01" in page  # a worst component with both values
    marker = float(page.split('class="marker" d="M')[1].split()[0])  # on the gauge from 1e-16 to 1
    assert math.isclose(marker, 18 + (16 + math.log10(report.difference)) / 16 * 600, abs_tol=0.1)
