"""``gradcheck run FILE.py[:NAME]``: load a problem from a file, check it, print and save the report."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any, Optional, Union

from rich.console import Console

from ._check import check
from ._errors import GradcheckError, ProblemError
from ._files import write_atomic
from ._problem import Problem, framework_of, load_problem
from ._report._report import Report
from ._report._text import print_report

# Options passed to `check` when given on the command line.
PASS_THROUGH = ("strategy", "components", "directions", "workers", "precision", "rtol")
# A component is ~290 bytes of JSON: beyond 100,000 (~29 MB) the file keeps the worst ones
# (and says so in "components_included").
MAX_JSON_COMPONENTS = 100_000


def add_parser(commands: Any) -> None:
    """Register ``run`` on the CLI's subcommands."""
    run = commands.add_parser(
        "run",
        help="check the problem a Python file defines",
        description="Import FILE, call NAME() (default: problem) and check the gradient it returns: "
        "gradcheck.Problem(loss=..., params=..., grad=...) or a dict with those keys. "
        "Exit status 0 right, 1 wrong, 2 bad input or usage.",
    )
    run.add_argument("problem", metavar="FILE.py[:NAME]", help="the file and the function to call")
    run.add_argument("--method", default="central", help="finite-difference method (default central)")
    run.add_argument("--eps", default="auto", help="'auto' (default) or a fixed step such as 1e-7")
    run.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    run.add_argument(
        "--strategy",
        choices=("auto", "full", "certify", "regression"),
        help="full, certify, regression (low precision) or auto (the default)",
    )
    run.add_argument(
        "--precision",
        choices=("auto", "float64", "native"),
        help="the dtype the loss is evaluated in: auto (default), float64 copies, or each tensor's own",
    )
    run.add_argument(
        "--rtol",
        type=float,
        metavar="R",
        help="accept gradients within this relative error (approximate by design)",
    )
    for name, text in (
        ("components", "check a random sample of K components"),
        ("directions", "check K random directions"),
        ("workers", "evaluate the loss in N processes"),
    ):
        run.add_argument(f"--{name}", type=_number, metavar="K" if name != "workers" else "N", help=text)
    add_output_options(run)
    run.add_argument("--debug", action="store_true", help="show tracebacks of errors")


def add_output_options(parser: argparse.ArgumentParser) -> None:
    """``--json FILE`` and ``--html FILE``, for every command that ends with a report."""
    parser.add_argument("--json", type=Path, metavar="FILE", help="write the report as JSON")
    parser.add_argument(
        "--html", type=Path, metavar="FILE", help="write the report as a self-contained web page"
    )


def _number(text: str) -> Union[int, float, str]:
    for kind in (int, float):
        try:
            return kind(text)
        except ValueError:
            pass
    return text


def _eps(text: str) -> Union[str, float]:
    if text == "auto":
        return text
    try:
        return float(text)
    except ValueError:
        raise GradcheckError(f"--eps {text!r}: pass 'auto' or a number such as 1e-7") from None


def _options(args: argparse.Namespace) -> dict[str, Any]:
    options: dict[str, Any] = {"method": args.method, "eps": _eps(args.eps), "seed": args.seed}
    for name in PASS_THROUGH:
        value = getattr(args, name)
        if value is not None:
            options[name] = value
    return options


def check_outputs(args: argparse.Namespace) -> None:
    """Fail before any check runs when ``--json`` or ``--html`` names a folder that does not exist."""
    for path in (args.json, args.html):
        if path is not None and not (path.parent if str(path.parent) else Path(".")).is_dir():
            raise GradcheckError(f"cannot write {path}: the folder {path.parent} does not exist")


def write_outputs(report: Report, args: argparse.Namespace, console: Console) -> None:
    """Write the files ``--json`` and ``--html`` ask for, each whole or not at all, and say so."""
    if args.json:
        write_atomic(args.json, report.to_json(max_components=MAX_JSON_COMPONENTS))
        console.print(f"wrote {args.json}", markup=False, highlight=False)
    if args.html:
        report.to_html(args.html)
        console.print(f"wrote {args.html}", markup=False, highlight=False)


def _check_problem(problem: Problem, framework: Optional[str], options: dict[str, Any]) -> Report:
    """Check a NumPy problem with `check`, a PyTorch or JAX one through its adapter."""
    if framework == "PyTorch":
        from . import torch as adapter
    elif framework == "JAX":
        from . import jax as adapter  # type: ignore[no-redef]
    else:
        return check(problem.loss, problem.params, problem.grad, reseed=problem.reseed, **options)
    if problem.reseed is not None:
        raise ProblemError(
            f"reseed= is for NumPy losses; the {framework} adapter fixes the framework's own "
            f"random generator per evaluation (leave reseed out)"
        )
    return adapter.check(problem.loss, problem.params, grad=problem.grad, **options)


def run_command(args: argparse.Namespace, console: Console) -> bool:
    """Check the problem ``args.problem`` names; return whether its gradient is right."""
    options = _options(args)
    check_outputs(args)
    problem = load_problem(args.problem)
    framework = framework_of(problem)
    if framework is None and problem.grad is None:
        raise ProblemError(
            f"{args.problem}: grad=None, but NumPy params have no autodiff to compare with; "
            f"return the analytic gradient (None is for PyTorch or JAX params)"
        )
    console.print(f"Checking {args.problem}\n", markup=False, highlight=False)
    try:
        report = _check_problem(problem, framework, options)
    except GradcheckError:
        raise
    except Exception as error:  # a bug in the problem (e.g. grad(params) raised): still one line
        raise GradcheckError(
            f"checking {args.problem} failed with {type(error).__name__}: {error}"
        ) from error
    print_report(report, console)
    write_outputs(report, args, console)
    return report.passed
