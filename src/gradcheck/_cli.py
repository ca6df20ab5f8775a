"""The command line: ``gradcheck demo`` and ``gradcheck run`` (and more as they come). Thin by design."""

from __future__ import annotations

import argparse
import sys
import traceback
from collections.abc import Sequence
from typing import Optional

from rich.console import Console

from . import _cli_run, _demo, _demo_train
from ._check import check
from ._cli_run import _eps
from ._errors import GradcheckError
from ._report._text import print_report, sized_console

EXIT_OK, EXIT_WRONG, EXIT_USAGE = 0, 1, 2


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # type: ignore[override]
        self.print_usage(sys.stderr)
        self.exit(EXIT_USAGE, f"gradcheck: error: {message}\n")


def _parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="gradcheck", description="Is this gradient right? Where and how is it wrong?")
    commands = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)
    demo = commands.add_parser("demo", help="check the course's three-layer NumPy network")
    demo.add_argument(
        "--bug",
        action="append",
        default=[],
        metavar="NAME",
        help="plant a bug in the backward pass (repeatable); see --list-bugs",
    )
    demo.add_argument("--list-bugs", action="store_true", help="list the bugs --bug can plant")
    _cli_run.add_output_options(demo)
    demo.add_argument("--eps", default="auto", help="'auto' (default) or a fixed step such as 1e-7")
    demo.add_argument("--method", default="central", help="finite-difference method")
    demo.add_argument(
        "--train", action="store_true", help="train the network and check along the way (gc.Monitor)"
    )
    demo.add_argument("--steps", type=int, default=200, metavar="N", help="training steps (--train)")
    demo.add_argument("--every", type=int, default=20, metavar="N", help="steps between checks (--train)")
    _cli_run.add_parser(commands)
    return parser


def _demo_command(args: argparse.Namespace, console: Console) -> int:
    if args.list_bugs:
        for name, description in _demo.BUGS.items():
            console.print(f"{name:10s} {description}")
        return EXIT_OK
    unknown = [b for b in args.bug if b not in _demo.BUGS]
    if unknown:
        raise GradcheckError(f"--bug {unknown[0]!r} is not a known bug; choose from {', '.join(_demo.BUGS)}")
    _cli_run.check_outputs(args)
    if args.train:
        return _train_command(args, console)
    loss, params, grads = _demo.problem(tuple(args.bug))
    console.print(
        "Checking the course's network LINEAR→RELU→LINEAR→RELU→LINEAR→SIGMOID "
        f"(X 4×3, W1 5×4, W2 3×5, W3 1×3){' with bug ' + ', '.join(args.bug) if args.bug else ''}\n"
    )
    report = check(loss, params, grads, eps=_eps(args.eps), method=args.method)
    print_report(report, console)
    _cli_run.write_outputs(report, args, console)
    return EXIT_OK if report.passed else EXIT_WRONG


def _train_command(args: argparse.Namespace, console: Console) -> int:
    if args.steps < 0:
        raise GradcheckError(f"--steps {args.steps}: pass the number of training steps (0 or more)")
    passed, report = _demo_train.run(tuple(args.bug), args.steps, args.every, console)
    if report is not None:
        _cli_run.write_outputs(report, args, console)
    return EXIT_OK if passed else EXIT_WRONG


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Run the command line; return the exit code (0 right, 1 wrong, 2 bad usage or input)."""
    args = _parser().parse_args(argv)
    console = sized_console()
    try:
        if args.command == "run":
            return EXIT_OK if _cli_run.run_command(args, console) else EXIT_WRONG
        return _demo_command(args, console)
    except GradcheckError as error:
        if getattr(args, "debug", False):
            traceback.print_exception(error)
        message = " ".join(str(error).split())  # one line, whatever the loss's message held
        print(f"gradcheck: error: {message}", file=sys.stderr)
        return EXIT_USAGE
