"""The documentation site builds with zero warnings, and a broken link or a stale API reference fails it.

``make docs`` runs the same ``mkdocs build --strict``; mkdocs.yml turns every link, anchor and
nav check into a warning, and strict mode turns every warning into a failure.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

import gradcheck

pytest.importorskip("mkdocs", reason="the docs extra is not installed (make test installs it)")

ROOT = Path(__file__).resolve().parents[1]


def _build(root: Path, site: Path) -> subprocess.CompletedProcess[str]:
    # NO_MKDOCS_2_WARNING: Material's notice about its own end of life, printed on every build.
    env = {**os.environ, "NO_MKDOCS_2_WARNING": "1"}
    command = [sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(site)]
    return subprocess.run(command, cwd=root, env=env, capture_output=True, text=True, timeout=300)


def _copy(tmp_path: Path) -> Path:
    """The repository's docs and config in a scratch folder, to break on purpose."""
    root = tmp_path / "repo"
    shutil.copytree(ROOT / "docs", root / "docs")
    shutil.copy(ROOT / "mkdocs.yml", root)
    (root / "src").symlink_to(ROOT / "src")
    return root


def test_the_site_builds_with_zero_warnings_and_needs_no_network(tmp_path):
    result = _build(ROOT, tmp_path / "site")
    assert result.returncode == 0, result.stderr
    assert "WARNING" not in result.stderr
    pages = {p.relative_to(tmp_path / "site").as_posix() for p in (tmp_path / "site").rglob("index.html")}
    assert {
        "index.html",
        "api/index.html",
        "workflows/notebook/index.html",
        "reliability/index.html",
    } <= pages
    api = (tmp_path / "site" / "api" / "index.html").read_text(encoding="utf-8")
    assert 'id="gradcheck.check"' in api and 'id="gradcheck.Report.to_html"' in api
    for page in (tmp_path / "site").rglob("*.html"):
        remote = re.findall(
            r'<(?:script|link|img)\b[^>]*(?:src|href)="(https?:[^"]+)"', page.read_text("utf-8")
        )
        assert remote == [], f"{page} loads {remote}"


def test_every_public_name_is_in_the_api_reference():
    api = (ROOT / "docs" / "api.md").read_text(encoding="utf-8")
    documented = set(re.findall(r"^::: gradcheck\.(\w+)$", api, flags=re.M))
    assert set(gradcheck.__all__) - documented == set(), "add them to docs/api.md"


@pytest.mark.parametrize(
    "page, text, complaint",
    [
        ("findings.md", "\nSee [the schema](json-schema.md#no-such-anchor).\n", "no-such-anchor"),
        ("report.md", "\nSee [the old page](reading.md).\n", "reading.md"),
        ("api.md", "\n::: gradcheck.check_everything\n", "check_everything"),
    ],
)
def test_a_broken_link_or_a_stale_reference_fails_the_build(tmp_path, page, text, complaint):
    root = _copy(tmp_path)
    with open(root / "docs" / page, "a", encoding="utf-8") as file:
        file.write(text)
    result = _build(root, tmp_path / "site")
    assert result.returncode != 0 and complaint in result.stderr
