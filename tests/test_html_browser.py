"""The HTML report in a real headless Chromium: heatmaps drawn, hover details, no console errors, a screenshot."""

import numpy as np

import gradcheck as gc

from ._browser import ARTIFACTS, browser  # noqa: F401  (the fixture)

HOSTILE = "<script>alert(1)</script>"


def _mixed_problem():
    """Tensors of every rank, one named like an attack, with a wrong row, column and entry."""
    rng = np.random.default_rng(0)
    params = {
        "W1": rng.normal(size=(12, 20)),
        HOSTILE: rng.normal(size=(6, 4)),
        "conv": rng.normal(size=(4, 2, 3, 3)),
        "v": rng.normal(size=150),
        "scale": np.array(1.5),
    }
    weights = {k: rng.normal(size=np.shape(v)) for k, v in params.items()}
    loss = lambda p: float(sum(np.sum(np.sin(p[k]) * weights[k]) for k in p))  # noqa: E731
    grad = {k: np.cos(v) * weights[k] for k, v in params.items()}
    grad["W1"][:, 7] *= 1.05  # a wrong column
    grad[HOSTILE][2] = 0.0  # a wrong row
    grad["conv"][1, 0, 2, 2] += 0.1  # one wrong entry
    return loss, params, grad


def test_the_report_renders_in_chromium(browser, tmp_path):  # noqa: F811
    report = gc.check(*_mixed_problem())
    assert report.wrong_tensors == ["W1", HOSTILE, "conv"]
    page = tmp_path / "report.html"
    report.to_html(page)
    browser.get(page.as_uri())

    drawn = browser.execute_script(
        """return [...document.querySelectorAll('svg.heatmap')].map((svg) => {
             const box = svg.getBoundingClientRect();
             return [svg.dataset.hover, box.width, svg.querySelectorAll('path[fill]').length];
           });"""
    )
    assert len(drawn) == 5
    for hover, width, painted in drawn:
        assert hover == "true" and width > 0 and painted > 0

    heading = browser.find_element("css selector", "h1").text
    assert heading == f"✘ Gradients are wrong in W1, {HOSTILE}, conv"  # shown as text, never run
    assert browser.execute_script("return window.__attacked === undefined && !document.querySelector('img')")

    tips = browser.execute_script(
        """const svg = document.querySelector('svg[data-tensor="2"]'), tip = document.querySelector('.gradcheck .tip');
           const box = svg.getBoundingClientRect(), seen = new Set();
           for (let x = box.left + 1; x < box.right; x += 3)
             for (let y = box.top + 1; y < box.bottom; y += 3) {
               svg.dispatchEvent(new MouseEvent('mousemove', {clientX: x, clientY: y}));
               if (!tip.hidden) seen.add(tip.textContent.split('\\n')[0]);
             }
           return [...seen];"""
    )
    assert "conv[1, 0, 2, 2]  WRONG" in tips and len(tips) == 4 * 2 * 3 * 3

    errors = [entry for entry in browser.get_log("browser") if entry["level"] in ("SEVERE", "WARNING")]
    assert errors == []

    browser.execute_script("document.querySelector('.gradcheck .tip').hidden = true")
    ARTIFACTS.mkdir(exist_ok=True)
    height = browser.execute_script("return document.documentElement.scrollHeight")
    browser.set_window_size(1280, height + 120)
    assert browser.save_screenshot(str(ARTIFACTS / "html-report.png"))
