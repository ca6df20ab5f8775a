"""``gradcheck demo --train``: the seeds' "check at initialisation and again after some training".

The course's network is trained by gradient descent from a small random initialisation while a
`Monitor` checks a sample of its gradient every few steps. A bug such as σ′(z3) taken as σ′(0)
is exact while z3 ≈ 0 and passes at initialisation; it is caught once training has moved z3.
"""

from __future__ import annotations

from typing import Any, Optional

import numpy as np
from rich.console import Console

from . import _demo
from ._errors import MonitorFailure
from ._monitor import Monitor
from ._report._report import Report
from ._report._text import print_report

# The course's initialize_parameters_deep draws weights as randn · 0.01 and biases as zeros.
WEIGHT_SCALE = 0.01
# Large for a course network, but its three examples need it to leave the plateau that small
# weights start on (the cost sits at 0.6365 for ~80 steps) within 100 steps; measured.
LEARNING_RATE = 2.0
# Of the network's 47 components: 3 of W1, b1, W2 each, all of b2, W3 and b3 (see _plan).
COMPONENTS = 16


def initial_parameters() -> dict[str, np.ndarray]:
    """The course test case's weights scaled to a small initialisation, biases zero."""
    _, _, parameters = _demo.test_case()
    return {k: WEIGHT_SCALE * v if k.startswith("W") else np.zeros_like(v) for k, v in parameters.items()}


def _row(step: int, cost: float, z3: float, report: Report) -> str:
    verdict = "✔ passed" if report.passed else "✘ WRONG in " + ", ".join(report.wrong_gradients)
    return f"{step:>5}  {cost:8.4f}  {z3:9.1e}  {report.difference:10.1e}  {report.band:<8} {verdict}"


def run(bugs: tuple[str, ...], steps: int, every: int, console: Console) -> tuple[bool, Optional[Report]]:
    """Train for ``steps`` steps with a Monitor; return (all checks passed, the last report)."""
    x, y, _ = _demo.test_case()
    params = initial_parameters()

    def loss(p: Any) -> float:
        return float(_demo.forward(x, y, p)[0])

    def grad(p: Any) -> Any:
        return _demo.backward(x, y, _demo.forward(x, y, p)[1], bugs)

    monitor = Monitor(loss, grad, every=every, components=COMPONENTS, on_failure="raise")
    console.print(
        f"Training the course's network from weights {WEIGHT_SCALE}·randn and zero biases by "
        f"gradient descent (learning rate {LEARNING_RATE}, {steps} steps)"
        f"{' with bug ' + ', '.join(bugs) if bugs else ''}; gc.Monitor checks {COMPONENTS} "
        f"sampled components at step 0 and every {every} steps.\n",
        highlight=False,
    )
    console.print(" step      cost    max|z3|  difference  band     verdict", highlight=False)
    report = None
    for step in range(steps + 1):
        cost, cache = _demo.forward(x, y, params)
        z3 = float(np.max(np.abs(cache[8])))
        try:
            checked = monitor.step(params)
        except MonitorFailure as failure:
            assert isinstance(failure.report, Report)
            console.print(_row(step, cost, z3, failure.report), highlight=False)
            console.print()
            print_report(failure.report, console)
            console.print(f"\n{_story(monitor, failure)}", highlight=False)
            return False, failure.report
        if checked is not None:
            report = checked
            console.print(_row(step, cost, z3, report), highlight=False)
        gradients = grad(params)
        params = {k: v - LEARNING_RATE * gradients["d" + k] for k, v in params.items()}
    console.print(
        f"\n✔ all {len(monitor.history)} checks passed (steps 0–{monitor.history[-1].step}). "
        f"Try --bug sigmoid-at-0 for a bug that only shows after training.",
        highlight=False,
    )
    return True, report


def _story(monitor: Monitor, failure: MonitorFailure) -> str:
    passed = [r.step for r in monitor.history if r.passed]
    if not passed:
        return "✘ the gradient is wrong from the start: a full `gradcheck demo --bug ...` shows it too."
    return (
        f"✘ the bug passed the check{'s' if len(passed) > 1 else ''} at step "
        f"{', '.join(map(str, passed))} and was caught at step {failure.step}, once training had "
        f"moved the parameters: check at initialisation and again after some training (the seeds' "
        f"advice), or let gc.Monitor do it."
    )
