"""One HTML rendering, two places: a web page of its own, and inline in a Jupyter notebook.

A report type renders its content once, as a *fragment*: one root element carrying its own
scoped stylesheet (every rule under the root's class, so it cannot restyle the notebook around
it) and, optionally, a script that only adds to what is already readable. `InlineHtml` turns
that fragment into both displays:

- ``to_html(path)`` writes the fragment wrapped in a minimal page (`page`), and
- ``_repr_html_()`` hands the same fragment to Jupyter, which shows it inline,

while ``_repr_pretty_`` gives IPython's plain-text displays (a terminal, a notebook frontend
that shows no HTML) the object's ``str``. A new report type gets all three by subclassing
`InlineHtml` and defining ``_html_fragment`` and ``_html_title``. List `InlineHtml` before a
dataclass base: IPython takes the first ``_repr_pretty_`` or ``__repr__`` along the MRO, and a
dataclass defines ``__repr__``.
"""

from __future__ import annotations

import hashlib
import html
from pathlib import Path
from typing import Any, Union

from .._files import write_atomic


class InlineHtml:
    """Mixin: a page (``to_html``) and an inline notebook display from one HTML fragment."""

    def _html_fragment(self) -> str:
        """The content: one root element with its scoped stylesheet (see the module docstring)."""
        raise NotImplementedError

    def _html_title(self) -> str:
        """The page's title (plain text)."""
        raise NotImplementedError

    def _repr_html_(self) -> str:
        return self._html_fragment()

    def _repr_pretty_(self, printer: Any, cycle: bool) -> None:
        printer.text(str(self))

    def to_html(self, path: Union[str, Path]) -> None:
        """Write one self-contained web page (no network, no external files), whole or not at all.

        Args:
            path: the file to write.
        """
        write_atomic(path, page(self._html_title(), self._html_fragment()))


def page(title: str, fragment: str) -> str:
    """A minimal standalone page around a fragment: the fragment brings its own style."""
    return f"""<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{html.escape(title)}</title>
<style>body {{ margin: 0; }}</style>
</head>
<body>
{fragment}
</body>
</html>
"""


def fragment_id(*parts: object) -> str:
    """An id for a fragment's root, stable for the same content and distinct between reports.

    A notebook holds many reports in one document: their anchors must not collide, and a
    re-executed notebook should save the same output for the same report.
    """
    digest = hashlib.sha1("\x1f".join(map(str, parts)).encode("utf-8")).hexdigest()
    return f"gc-{digest[:12]}"
