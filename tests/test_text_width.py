"""Text for where it goes: a terminal's width, COLUMNS when set, unwrapped in a pipe or a log."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

import gradcheck

SRC = str(Path(gradcheck.__file__).parents[1])
FINDING = (
    "• [scale] the analytic gradient of W2 is 2.00× the numerical one, a constant factor over all 15 "
    "checked entries; a factor 2: is there a ½ in the loss (½x², whose derivative is x) that the "
    "gradient drops, a term added twice, or a batch of m = 2 without the 1/m?"
)
HEADER = "tensor ┃ shape ┃ difference ┃ worst    ┃ checked ┃ wrong ┃ kinks ┃ detects"


def _env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("COLUMNS", "LINES")}
    return {**env, "PYTHONPATH": SRC, **extra}


def _demo(**env: str) -> str:
    command = [sys.executable, "-m", "gradcheck", "demo", "--bug", "dW2x2"]
    return subprocess.run(command, capture_output=True, text=True, env=_env(**env)).stdout


def test_a_pipe_gets_whole_sentences_and_whole_tables():
    lines = _demo().splitlines()
    assert FINDING in lines and HEADER in lines
    assert "…" not in "\n".join(lines)


def test_columns_wraps_sentences_but_never_cuts_a_table():
    out = _demo(COLUMNS="60")
    tables = "┃", "│", "━", "most significant discrepancies"  # rules, and a title centred over a table
    sentences = [line for line in out.splitlines() if not any(mark in line for mark in tables)]
    assert max(map(len, sentences)) <= 60 and FINDING not in out.splitlines()
    assert HEADER in out.splitlines() and "…" not in out


def test_str_of_a_report_in_a_pipe_is_unwrapped():
    code = "from gradcheck import _demo, check; print(check(*_demo.problem(('dW2x2',))))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=_env()).stdout
    assert FINDING in out.splitlines()


@pytest.mark.skipif(sys.platform == "win32", reason="needs a pseudo-terminal")
def test_a_terminal_gets_its_own_width():
    import fcntl
    import pty
    import struct
    import termios

    leader, follower = pty.openpty()
    fcntl.ioctl(follower, termios.TIOCSWINSZ, struct.pack("HHHH", 40, 72, 0, 0))
    command = [sys.executable, "-m", "gradcheck", "demo", "--bug", "dW2x2"]
    process = subprocess.Popen(command, stdout=follower, stderr=follower, env=_env(NO_COLOR="1"))
    os.close(follower)
    chunks = []
    while True:
        try:
            chunk = os.read(leader, 65536)
        except OSError:  # the child closed the terminal
            break
        if not chunk:
            break
        chunks.append(chunk)
    process.wait(timeout=60)
    os.close(leader)
    out = b"".join(chunks).decode("utf-8", "replace").replace("\r\n", "\n")
    sentences = [line for line in out.splitlines() if line.startswith(("•", "difference", "central"))]
    assert sentences and max(map(len, sentences)) <= 72
