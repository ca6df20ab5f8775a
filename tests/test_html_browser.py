"""The HTML report in a real headless Chromium: heatmaps drawn, no console errors, a screenshot.

Skipped only when Chromium or its driver is not installed; `make test` installs both when run
as root (as CI does) and then sets GRADCHECK_REQUIRE_BROWSER=1, which turns a skip into a failure.
"""

import os
import shutil
import tempfile
from pathlib import Path

import numpy as np
import pytest

import gradcheck as gc

ARTIFACTS = Path(__file__).resolve().parents[1] / "test-artifacts"
HOSTILE = "<script>alert(1)</script>"
FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
)


def _find(name):
    return shutil.which(name) or next((p for p in (f"/usr/bin/{name}",) if os.path.exists(p)), None)


@pytest.fixture(scope="module")
def browser():
    chromium, driver_path = _find("chromium") or _find("chromium-browser"), _find("chromedriver")
    try:
        from selenium import webdriver
        from selenium.webdriver.chrome.service import Service
    except ImportError:
        chromium = None
    if not (chromium and driver_path):
        reason = (
            "headless Chromium is not available (need selenium and the Debian packages chromium "
            "and chromium-driver; `make test` as root installs them)"
        )
        if os.environ.get("GRADCHECK_REQUIRE_BROWSER"):
            pytest.fail(reason)
        pytest.skip(reason)
    options = webdriver.ChromeOptions()
    for flag in FLAGS:
        options.add_argument(flag)
    profile = tempfile.mkdtemp(prefix="gradcheck-chromium-")
    options.add_argument(f"--user-data-dir={profile}")
    options.add_argument("--window-size=1280,1000")
    options.binary_location = chromium
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(service=Service(driver_path), options=options)
    yield driver
    driver.quit()
    shutil.rmtree(profile, ignore_errors=True)


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


def test_the_report_renders_in_chromium(browser, tmp_path):
    report = gc.check(*_mixed_problem())
    assert report.wrong_tensors == ["W1", HOSTILE, "conv"]
    page = tmp_path / "report.html"
    report.to_html(page)
    browser.get(page.as_uri())

    drawn = browser.execute_script(
        """return [...document.querySelectorAll('canvas.heatmap')].map((c) => {
             const pixels = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
             let painted = 0;
             for (let k = 3; k < pixels.length; k += 4) painted += pixels[k] > 0;
             return [c.dataset.drawn, c.width, painted];
           });"""
    )
    assert len(drawn) == 5
    for flag, width, painted in drawn:
        assert flag == "true" and width > 0 and painted > 0

    heading = browser.find_element("css selector", "h1").text
    assert heading == f"✘ Gradients are wrong in W1, {HOSTILE}, conv"  # shown as text, never run
    assert browser.execute_script("return window.__attacked === undefined && !document.querySelector('img')")

    tips = browser.execute_script(
        """const canvas = document.querySelector('canvas[data-tensor="2"]'), tip = document.getElementById('tip');
           const box = canvas.getBoundingClientRect(), seen = new Set();
           for (let x = box.left + 1; x < box.right; x += 3)
             for (let y = box.top + 1; y < box.bottom; y += 3) {
               canvas.dispatchEvent(new MouseEvent('mousemove', {clientX: x, clientY: y}));
               if (!tip.hidden) seen.add(tip.textContent.split('\\n')[0]);
             }
           return [...seen];"""
    )
    assert "conv[1, 0, 2, 2]  WRONG" in tips and len(tips) == 4 * 2 * 3 * 3

    errors = [entry for entry in browser.get_log("browser") if entry["level"] in ("SEVERE", "WARNING")]
    assert errors == []

    browser.execute_script("document.getElementById('tip').hidden = true")
    ARTIFACTS.mkdir(exist_ok=True)
    height = browser.execute_script("return document.documentElement.scrollHeight")
    browser.set_window_size(1280, height + 120)
    assert browser.save_screenshot(str(ARTIFACTS / "html-report.png"))
