"""Eager validation of arguments: every message names ``name=value (type=...)`` and what is valid.

Checked before the first loss evaluation, so a typo costs nothing. Other options reuse these
helpers (``choice`` for names, ``count`` for counts such as workers or components).
"""

from __future__ import annotations

import difflib
import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from ._errors import OptionError


def shown(name: str, value: Any) -> str:
    """``method='centrl' (type=str)``: how every option error starts."""
    text = repr(value)
    if len(text) > 60:
        text = text[:57] + "..."
    return f"{name}={text} (type={type(value).__name__})"


def choice(name: str, value: Any, choices: Sequence[str]) -> None:
    """Require ``value`` to be one of the strings ``choices``; suggest the closest."""
    if isinstance(value, str) and value in choices:
        return
    close = difflib.get_close_matches(str(value), choices, n=1) if isinstance(value, str) else []
    hint = f"; did you mean {close[0]!r}?" if close else ""
    raise OptionError(
        f"{shown(name, value)} is not valid; choose one of {', '.join(map(repr, choices))}{hint}"
    )


def _is_real(value: Any) -> bool:
    return isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(
        value, (bool, np.bool_)
    )


def positive(name: str, value: Any, *, keywords: Sequence[str] = (), example: str = "1e-7") -> None:
    """Require a finite number > 0 (or one of the strings ``keywords``)."""
    if isinstance(value, str) and value in keywords:
        return
    if _is_real(value) and math.isfinite(value) and value > 0:
        return
    either = " or ".join([*map(repr, keywords), f"a positive finite number such as {example}"])
    raise OptionError(f"{shown(name, value)} is not valid; pass {either}")


def count(name: str, value: Any, *, minimum: int = 1) -> None:
    """Require an integer ≥ ``minimum`` (not a bool, not a float)."""
    if isinstance(value, (int, np.integer)) and not isinstance(value, (bool, np.bool_)) and value >= minimum:
        return
    raise OptionError(f"{shown(name, value)} is not valid; pass an integer ≥ {minimum}")


def function(name: str, value: Any, *, optional: bool = False, signature: str = "") -> None:
    """Require a callable (or None when ``optional``)."""
    if callable(value) or (optional and value is None):
        return
    none = " or None" if optional else ""
    raise OptionError(f"{shown(name, value)} is not callable; pass a function {signature}{none}".rstrip())
