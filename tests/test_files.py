"""Report files are complete or absent: never half-written, never a traceback for a bad path."""

from __future__ import annotations

import errno
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

import gradcheck as gc
from gradcheck import _files
from gradcheck._cli import main
from gradcheck._files import write_atomic

OLD = '{"old": "report"}'
NEW = json.dumps({"new": list(range(2000))})


class FailingHalfway:
    """A file whose write stores half the text, then fails like a full disk (or Ctrl-C)."""

    def __init__(self, file: Any, error: BaseException) -> None:
        self.file, self.error = file, error

    def __enter__(self) -> FailingHalfway:
        return self

    def __exit__(self, *exc: object) -> None:
        self.file.close()

    def write(self, text: str) -> None:
        self.file.write(text[: len(text) // 2])
        self.file.flush()
        raise self.error


def break_writes(monkeypatch: pytest.MonkeyPatch, error: BaseException) -> None:
    real_fdopen = os.fdopen
    monkeypatch.setattr(_files.os, "fdopen", lambda *a, **k: FailingHalfway(real_fdopen(*a, **k), error))


def test_write_replaces_the_file_completely(tmp_path: Path) -> None:
    target = tmp_path / "report.json"
    target.write_text(OLD)
    write_atomic(target, NEW)
    assert json.loads(target.read_text()) == json.loads(NEW)
    assert os.listdir(tmp_path) == ["report.json"]


@pytest.mark.parametrize("exists", [True, False])
def test_a_disk_full_midway_leaves_the_old_file_or_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, exists: bool
) -> None:
    target = tmp_path / "report.json"
    if exists:
        target.write_text(OLD)
    break_writes(monkeypatch, OSError(errno.ENOSPC, "No space left on device"))
    with pytest.raises(gc.OutputError, match="No space left on device.*left as it was") as raised:
        write_atomic(target, NEW)
    assert isinstance(raised.value.__cause__, OSError)
    assert os.listdir(tmp_path) == (["report.json"] if exists else [])
    if exists:
        assert target.read_text() == OLD


def test_ctrl_c_midway_propagates_and_leaves_the_old_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    target = tmp_path / "report.json"
    target.write_text(OLD)
    break_writes(monkeypatch, KeyboardInterrupt())
    with pytest.raises(KeyboardInterrupt):
        write_atomic(target, NEW)
    assert target.read_text() == OLD
    assert os.listdir(tmp_path) == ["report.json"]


def test_a_failing_rename_leaves_no_temporary_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(source: str, destination: str) -> None:
        raise PermissionError(errno.EACCES, "Permission denied")

    monkeypatch.setattr(_files.os, "replace", refuse)
    with pytest.raises(gc.OutputError, match="Permission denied"):
        write_atomic(tmp_path / "report.json", NEW)
    assert os.listdir(tmp_path) == []


def test_a_missing_folder_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(gc.OutputError, match="no file can be created in .*missing.*does the folder exist"):
        write_atomic(tmp_path / "missing" / "report.json", NEW)


def test_cli_writes_complete_json(tmp_path: Path) -> None:
    target = tmp_path / "report.json"
    assert main(["demo", "--json", str(target)]) == 0
    assert json.loads(target.read_text())["passed"] is True


def test_cli_reports_an_unwritable_json_path_in_one_line(tmp_path: Path) -> None:
    target = tmp_path / "missing" / "report.json"
    result = subprocess.run(
        [sys.executable, "-m", "gradcheck", "demo", "--json", str(target)],
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONPATH": str(Path(gc.__file__).parents[1])},
        check=False,
    )
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    assert result.stderr.startswith("gradcheck: error: cannot write")
    assert not target.parent.exists()
    assert result.stderr.count("\n") == 1  # one line, however narrow the terminal
