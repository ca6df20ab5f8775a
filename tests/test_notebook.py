"""The notebook tutorial, executed top to bottom in a real Jupyter kernel, and the report inline.

``examples/course_network.ipynb`` is committed without outputs; here it runs in a fresh
``python3`` kernel (nbclient + ipykernel) and the tests read what a person would see in the
saved outputs: the inline report with its heatmaps, the text report beside it, the fixed
network passing. The rendered notebook (nbconvert's JupyterLab template) is then opened in
headless Chromium: the report must not restyle the notebook around it, and a screenshot of the
cell is kept in test-artifacts/.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from ._browser import ARTIFACTS, browser  # noqa: F401  (the fixture)

nbformat = pytest.importorskip("nbformat")
nbclient = pytest.importorskip("nbclient")

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"
NOTEBOOK = EXAMPLES / "course_network.ipynb"
TIMEOUT = 120  # seconds per cell: the slowest runs a full check of 47 components (~0.1 s)


def _execute(notebook, cwd: Path):
    client = nbclient.NotebookClient(
        notebook, timeout=TIMEOUT, kernel_name="python3", resources={"metadata": {"path": str(cwd)}}
    )
    client.execute()
    return notebook


@pytest.fixture(scope="module")
def executed():
    return _execute(nbformat.read(NOTEBOOK, as_version=4), EXAMPLES)


def _result(notebook, marker: str) -> dict:
    """The data of the execute_result of the code cell whose source contains ``marker``."""
    (cell,) = [c for c in notebook.cells if c.cell_type == "code" and marker in c.source]
    (output,) = [o for o in cell.outputs if o.output_type == "execute_result"]
    return output["data"]


def _printed(notebook, marker: str) -> str:
    (cell,) = [c for c in notebook.cells if c.cell_type == "code" and marker in c.source]
    return "".join(o.get("text", "") for o in cell.outputs if o.output_type == "stream")


def test_the_committed_notebook_has_no_outputs():
    notebook = nbformat.read(NOTEBOOK, as_version=4)
    nbformat.validate(notebook)
    code = [c for c in notebook.cells if c.cell_type == "code"]
    assert code and all(c.outputs == [] and c.execution_count is None for c in code)


def test_the_buggy_network_shows_the_report_inline_with_its_heatmaps(executed):
    data = _result(executed, "report = gc.check(loss, parameters, gradients)")
    page = data["text/html"]
    assert page.startswith('<div class="gradcheck"')
    assert "✘ Gradients are wrong in db1, dW2" in page
    assert page.count('<svg class="heatmap"') == 6 and page.count("4 wrong</span>") == 2
    assert "4.00× the numerical one" in page and "2.00× the numerical one" in page
    assert "<canvas" not in page and "http" not in page.replace('href="#', "")  # nothing to fetch
    text = data["text/plain"]  # what a frontend without HTML shows: the text report, not a repr
    assert text.startswith("✘ gradients are WRONG in db1, dW2") and "• [scale]" in text


def test_the_findings_cell_names_both_bugs(executed):
    assert _result(executed, "for f in report.findings")["text/plain"] == (
        "[('scale', 'b1', 4.0), ('scale', 'W2', 2.0)]"
    )


def test_the_fixed_network_passes_and_matches_the_seeds_to_the_last_digit(executed):
    assert "✔ Gradients are correct" in _result(executed, "fixed = gc.check(")["text/html"]
    assert "eps=1e-7: 1.1890913024229996e-07" in _printed(executed, "eps=1e-7")
    assert _printed(executed, "report.summary(k=2)").startswith("✘ gradients are WRONG in db1, dW2")


def test_the_progress_bar_shows_in_a_notebook(tmp_path):
    """A check projected to take over ~2 s draws rich's bar in an ipywidgets output."""
    slow = nbformat.v4.new_notebook(
        cells=[
            nbformat.v4.new_code_cell(
                "import time, numpy as np, gradcheck as gc\n"
                "def loss(w):\n"
                "    time.sleep(0.02)\n"  # ~150 evaluations: about 3 s, over the bar's 2 s
                "    return float(np.sum(w ** 2))\n"
                "report = gc.check(loss, np.ones(60), lambda w: 2 * w)\n"
                "report.passed"
            )
        ]
    )
    (cell,) = _execute(slow, tmp_path).cells
    kinds = [o.output_type for o in cell.outputs]
    widgets = [o for o in cell.outputs if "application/vnd.jupyter.widget-view+json" in o.get("data", {})]
    assert widgets, kinds
    assert not [o for o in cell.outputs if o.output_type == "stream" and o.name == "stderr"]
    assert cell.outputs[-1]["data"]["text/plain"] == "True"


# Computed styles that a stray stylesheet would change (not sizes: those follow the content).
STYLES = (
    "font-family font-size font-weight line-height color background-color text-align box-sizing "
    "margin-top margin-left padding-top padding-left border-top-width border-top-color display"
).split()
OUTSIDE_STYLES = """
    return [...document.querySelectorAll('body, body *')]
      .filter((el) => !el.closest('.gradcheck'))
      .map((el) => { const cs = getComputedStyle(el); return arguments[0].map((p) => cs.getPropertyValue(p)).join('|'); });
"""


def test_the_rendered_cell_in_chromium(executed, browser, tmp_path):  # noqa: F811
    from nbconvert import HTMLExporter

    body, _ = HTMLExporter(template_name="lab").from_notebook_node(executed)
    page = tmp_path / "course_network.html"
    page.write_text(body, encoding="utf-8")
    browser.get(page.as_uri())

    reports = browser.find_elements("css selector", ".jp-OutputArea-output .gradcheck")
    assert len(reports) == 2  # the buggy and the fixed network
    buggy = reports[0]
    assert buggy.find_element("css selector", "h1").text == "✘ Gradients are wrong in db1, dW2"
    sizes = [
        (svg.size["width"], svg.size["height"]) for svg in buggy.find_elements("css selector", "svg.heatmap")
    ]
    assert len(sizes) == 6 and all(w > 0 and h > 0 for w, h in sizes)
    assert buggy.get_attribute("data-enhanced") is not None  # the hover script ran, once per report

    # The report's stylesheet is scoped: removing it changes nothing outside the report.
    with_report = browser.execute_script(OUTSIDE_STYLES, STYLES)
    browser.execute_script("document.querySelectorAll('.gradcheck style').forEach((s) => s.remove())")
    assert browser.execute_script(OUTSIDE_STYLES, STYLES) == with_report
    # ... and without its stylesheet (a sanitising viewer may drop it) the report still reads.
    buggy = browser.find_elements("css selector", ".jp-OutputArea-output .gradcheck")[0]
    assert buggy.find_element("css selector", "h1").text == "✘ Gradients are wrong in db1, dW2"
    assert all(svg.size["width"] > 0 for svg in buggy.find_elements("css selector", "svg.heatmap"))
    browser.get(page.as_uri())

    ARTIFACTS.mkdir(exist_ok=True)
    browser.set_window_size(
        1100, browser.execute_script("return document.documentElement.scrollHeight") + 100
    )
    cell = browser.find_elements("css selector", ".jp-OutputArea-output .gradcheck")[0]
    cell = cell.find_element("xpath", "ancestor::div[contains(concat(' ', @class, ' '), ' jp-Cell ')][1]")
    assert cell.screenshot(str(ARTIFACTS / "notebook-report.png"))
    assert "report = gc.check(loss, parameters, gradients)" in cell.text  # the code, then its report
