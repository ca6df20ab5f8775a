"""The gradcheck pytest plugin: a ``gradcheck`` fixture, ``--gradcheck-method`` and ``--gradcheck-html-dir``.

pytest loads it in every session through the ``pytest11`` entry point, so it lives outside the
``gradcheck`` package and imports nothing but pytest: gradcheck and NumPy load the first time
a test uses the fixture.

Example:
    def test_my_layer(gradcheck):
        gradcheck.assert_gradients(loss, params, grad)
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any, Optional

import pytest


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("gradcheck", "gradient checks (the gradcheck fixture)")
    group.addoption(
        "--gradcheck-method",
        metavar="METHOD",
        help="finite-difference method for checks made through the gradcheck fixture "
        "(forward, central, central4, richardson, complex; default central)",
    )
    group.addoption(
        "--gradcheck-html-dir",
        metavar="DIR",
        type=Path,
        help="write an HTML report for every failing check made through the gradcheck fixture",
    )


def pytest_report_header(config: pytest.Config) -> Optional[str]:
    method, folder = config.getoption("gradcheck_method"), config.getoption("gradcheck_html_dir")
    if method is None and folder is None:
        return None
    return f"gradcheck: method={method or 'central'}, HTML reports of failing checks in {folder or '(none)'}"


class GradcheckFixture:
    """`gradcheck.check` and `gradcheck.assert_gradients` with the session's options.

    A failing check writes ``<test id>.html`` into ``--gradcheck-html-dir`` (when given), and the
    assertion message ends with its path; ``reports`` lists the files written.
    """

    def __init__(self, test_id: str, method: Optional[str], html_dir: Optional[Path]) -> None:
        self._name = re.sub(r"[^\w.-]+", "_", test_id).strip("_") or "check"
        self._method = method
        self._html_dir = html_dir
        self.reports: list[Path] = []

    def check(self, loss: Any, params: Any, grad: Any, **options: Any) -> Any:
        """`gradcheck.check`, with ``method`` from ``--gradcheck-method`` unless given here."""
        import gradcheck

        if self._method is not None:
            options.setdefault("method", self._method)
        report = gradcheck.check(loss, params, grad, **options)
        if not report.passed and self._html_dir is not None:
            self._html_dir.mkdir(parents=True, exist_ok=True)
            suffix = f"-{len(self.reports) + 1}" if self.reports else ""
            path = self._html_dir / f"{self._name}{suffix}.html"
            report.to_html(path)
            self.reports.append(path)
        return report

    def assert_gradients(self, loss: Any, params: Any, grad: Any, **options: Any) -> Any:
        """Like `check`, but raise `gradcheck.GradientMismatch` with a short summary on failure."""
        __tracebackhide__ = True
        import gradcheck

        written = len(self.reports)
        report = self.check(loss, params, grad, **options)
        if not report.passed:
            where = f"\nHTML report: {self.reports[-1]}" if len(self.reports) > written else ""
            raise gradcheck.GradientMismatch(report.summary() + where, report)
        return report


@pytest.fixture
def gradcheck(request: pytest.FixtureRequest) -> GradcheckFixture:
    """Gradient checks with the session's ``--gradcheck-*`` options (see `GradcheckFixture`)."""
    config = request.config
    return GradcheckFixture(
        request.node.nodeid, config.getoption("gradcheck_method"), config.getoption("gradcheck_html_dir")
    )
