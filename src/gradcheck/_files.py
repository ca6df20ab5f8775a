"""Write report files so that they are complete or absent, never half-written."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Union

from ._errors import OutputError


def write_atomic(path: Union[str, Path], text: str) -> None:
    """Write ``text`` to a temporary file beside ``path``, then rename it into place.

    On any failure (a full disk, Ctrl-C) the temporary file is removed and ``path`` is as it was.

    Raises:
        OutputError: the file cannot be written (the OSError is chained).
    """
    path = Path(path)
    try:
        handle, temporary = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    except OSError as error:
        raise OutputError(
            f"cannot write {str(path)!r}: no file can be created in {str(path.parent)!r} "
            f"({error.strerror}); does the folder exist, and may you write there?"
        ) from error
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as file:
            file.write(text)
        # mkstemp makes the file private (0600); a report is an ordinary file, readable by all.
        os.chmod(temporary, 0o644)
        os.replace(temporary, path)
    except BaseException as error:
        Path(temporary).unlink(missing_ok=True)
        if isinstance(error, OSError):
            raise OutputError(f"cannot write {str(path)!r}: {error}; the file was left as it was") from error
        raise
