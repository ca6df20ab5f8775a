"""Run certify or the directions=K check and turn what it saw into the common `Report`.

The per-component arrays of the report hold the components checked one by one on the way
(located entries and their neighbours in a leaf, small failing tensors). Each tensor row says,
beyond the full check's columns, the smallest single-entry error the screen was sure to catch
(``entry_limit``); ``flagged`` counts entries found wrong, every entry of a tensor that is wrong
as a whole, and 1 ("at least one") for a failure that was not narrowed down to entries.
"""

from __future__ import annotations

import math
import time
from typing import TYPE_CHECKING, Optional

import numpy as np

from . import _diagnose
from ._certify import PATTERNS, Outcome, certify
from ._compare import relative_difference, significance
from ._directional import Result
from ._finite_differences import SAFETY
from ._patterns import View
from ._report import Finding, Report, Settings, TensorRow
from ._tensor_fit import describe_entries
from ._tree import Tensor

if TYPE_CHECKING:
    from ._check import _Problem
    from ._strategy import Choice

EXAMPLES = 3  # entries named in a message, as in _diagnose


def _bug_error(result: Result, outcome: Outcome) -> float:
    """The error a wrong block would have faced: its refined error, or for a first-pass-only
    test the refinement's round-off 2σ/t plus the pilot's truncation model C·(t/2)²."""
    if result.refined:
        return result.bug_error
    t = result.step
    return 2 * result.roundoff + outcome.rule.curvature(result.size) * t**2 / 4 + result.analytic_error


def _conclusive(outcome: Outcome) -> list[Result]:
    """The last screen's tests that judged something (not a kink left unresolved)."""
    return [r for r in outcome.screen if r.state != "kink"]


def _screen_limit(outcome: Outcome) -> float:
    """SAFETY × the largest bug error of the last screen: |sⱼ·δⱼ| above it is always caught."""
    errors = [_bug_error(r, outcome) for r in _conclusive(outcome)]
    return SAFETY * max(errors) if errors else math.inf


def _located_finding(name: str, shape: tuple[int, ...], offset: int, rows: dict[str, np.ndarray]) -> Finding:
    names = rows["names"]
    shown = ", ".join(
        f"{n} (analytic {a:.6e}, numerical {d:.6e})"
        for n, a, d in zip(
            names[:EXAMPLES], rows["analytic"][:EXAMPLES], rows["numerical"][:EXAMPLES], strict=False
        )
    )
    where = describe_entries(name, shape, rows["components"] - offset)
    count = len(names)
    more = f" and {count - EXAMPLES} more" if count > EXAMPLES else ""
    return Finding(
        "wrong_components",
        name,
        f"{count} entr{'y' if count == 1 else 'ies'} of {name} {'is' if count == 1 else 'are'} wrong"
        f"{' (' + where + ')' if where else ''}: {shown}{more}",
        tuple(str(n) for n in names),
        float(count),
    )


def _unresolved(problem: _Problem, outcome: Outcome) -> dict[Optional[str], list[np.ndarray]]:
    """Blocks that fail but were not narrowed down, by tensor (None: a block spanning several)."""
    layout = problem.layout
    groups: dict[Optional[str], list[np.ndarray]] = {}
    for block in outcome.unresolved:
        first, last = layout.tensor_of(int(block[0])), layout.tensor_of(int(block[-1]))
        groups.setdefault(first.name if first is last else None, []).append(block)
    return groups


def _whole_tensor_view(
    problem: _Problem, tensor: Tensor, arrays: dict[str, np.ndarray], analytic: np.ndarray, mine: np.ndarray
) -> Optional[View]:
    """The tensor as the per-component patterns see it, if each of its entries was checked one by one."""
    comps = arrays["components"][mine]
    if np.unique(comps).size != tensor.size:
        return None
    keep = ~arrays["kink"][mine]
    comps = comps[keep]
    return View(
        name=tensor.name,
        shape=tensor.shape,
        local=comps - tensor.offset,
        analytic=analytic[comps],
        numerical=arrays["numerical"][mine][keep],
        # An estimate of exactly 0 would make every fit divide by 0 (as in _diagnose._views).
        estimate=np.maximum(arrays["tolerance"][mine][keep], np.finfo(np.float64).tiny),
        theta=problem.theta[comps],
        flagged=arrays["flagged"][mine][keep],
    )


def _findings(
    problem: _Problem, outcome: Outcome, arrays: dict[str, np.ndarray], analytic: np.ndarray
) -> list[Finding]:
    layout = problem.layout
    findings: list[Finding] = []
    ids = layout.tensor_ids()[arrays["components"]]
    for k, tensor in enumerate(layout.tensors):
        if k in outcome.tensor_findings:
            findings.append(outcome.tensor_findings[k])
            continue
        wrong = arrays["flagged"] & (ids == k)
        whole = _whole_tensor_view(problem, tensor, arrays, analytic, ids == k)
        if wrong.any() and whole is not None:  # every entry checked: the full check's patterns apply
            findings.append(_diagnose.tensor_finding(whole))
            continue
        if wrong.any():
            comps = arrays["components"][wrong]
            rows = {
                "components": comps,
                "names": np.array([tensor.component_name(int(c) - tensor.offset) for c in comps]),
                "analytic": analytic[comps],
                "numerical": arrays["numerical"][wrong],
            }
            findings.append(_located_finding(tensor.name, tensor.shape, tensor.offset, rows))
        if k in outcome.failing_tensors:
            results = outcome.failing_tensors[k]
            worst = max(results, key=lambda r: abs(r.residual) / r.error)
            findings.append(
                Finding(
                    "wrong_components",
                    tensor.name,
                    f"the gradient of {tensor.name} disagrees with the loss along {len(results)} of "
                    f"{len(outcome.screen)} random directions (worst: analytic {worst.analytic:.6e}, "
                    f"numerical {worst.numerical:.6e}, {abs(worst.residual) / worst.error:.0f}× its "
                    f"error); directions cannot say which entries: run strategy='certify' to locate them",
                    (),
                    float(len(results)),
                )
            )
    for name, blocks in _unresolved(problem, outcome).items():
        entries = np.unique(np.concatenate(blocks))
        first, last = layout.component_name(int(entries[0])), layout.component_name(int(entries[-1]))
        findings.append(
            Finding(
                "wrong_components",
                name,
                f"directional tests fail on {entries.size} entries between {first} and {last} that "
                f"were not narrowed down further; check them with strategy='full'",
                (first, last),
                float(entries.size),
            )
        )
    findings += _diagnose.kink_findings(layout, arrays["components"], arrays["kink"])
    if outcome.kink_tests:
        findings.append(
            Finding(
                "kink",
                None,
                f"{outcome.kink_tests} directional test(s) crossed a kink (ReLU, max, abs); the analytic "
                f"gradient matched the one-sided derivative on θ's side, so they count as passed",
                (),
                float(outcome.kink_tests),
            )
        )
    return findings


def _rows(
    problem: _Problem,
    outcome: Outcome,
    arrays: dict[str, np.ndarray],
    analytic: np.ndarray,
    grad_names: tuple[str, ...],
) -> list[TensorRow]:
    layout = problem.layout
    limit = _screen_limit(outcome)
    unresolved = _unresolved(problem, outcome)
    scale = np.maximum(np.abs(problem.theta), 1.0)
    ids_checked = layout.tensor_ids()[arrays["components"]]
    ids_active = layout.tensor_ids()[outcome.active]
    rows = []
    for k, tensor in enumerate(layout.tensors):
        mine = ids_checked == k
        comps = arrays["components"][mine]
        a, d = analytic[comps], arrays["numerical"][mine]
        covered = outcome.active[ids_active == k]
        entry = limit / float(np.min(scale[covered])) if covered.size else math.inf
        typical = float(np.median(np.abs(analytic[tensor.slice])))
        flagged = int(arrays["flagged"][mine].sum())
        if k in outcome.tensor_findings:
            flagged = tensor.size
        elif k in outcome.failing_tensors or tensor.name in unresolved:
            flagged = max(flagged, 1)
        ratio = np.where(arrays["kink"][mine], -1.0, significance(a, d, arrays["tolerance"][mine]))
        rows.append(
            TensorRow(
                name=tensor.name,
                gradient=grad_names[k] if grad_names[k] != tensor.name else None,
                shape=tensor.shape,
                difference=relative_difference(a, d) if comps.size else math.nan,
                max_abs_error=float(np.max(np.abs(a - d))) if comps.size else math.nan,
                worst=tensor.component_name(int(comps[np.argmax(ratio)]) - tensor.offset)
                if comps.size
                else None,
                checked=int(covered.size + np.count_nonzero(~np.isin(comps, covered, assume_unique=True))),
                flagged=flagged,
                kinks=int(arrays["kink"][mine].sum()),
                detection_limit=entry / typical if typical > 0 else math.inf,
                entry_limit=entry,
            )
        )
    return rows


def directional_check(
    problem: _Problem,
    analytic: np.ndarray,
    allowance: np.ndarray,
    choice: Choice,
    *,
    seed: int,
    start: float,
    grad_names: tuple[str, ...],
) -> Report:
    """Run certify (``choice.name == "certify"``) or the directions=K check; return the Report."""
    localise = choice.name == "certify"
    patterns = PATTERNS if localise else choice.directions
    outcome = certify(problem, analytic, allowance, seed=seed, patterns=patterns, localise=localise)
    arrays = outcome.checked.arrays()
    rows = _rows(problem, outcome, arrays, analytic, grad_names)
    findings = _findings(problem, outcome, arrays, analytic)
    finite = [r.detection_limit for r in rows if math.isfinite(r.detection_limit)]
    detection_limit = max(finite) if finite else math.inf
    findings += _diagnose.precision_finding(problem.noise, problem.loss_value, detection_limit)
    screen = outcome.screen
    first = outcome.first_screen
    passed = (
        not any(r.flagged for r in rows) and not outcome.unresolved and all(r.state != "fail" for r in screen)
    )
    settings = Settings(
        method="central",
        eps="auto",
        strategy=choice.name,
        seed=seed,
        dtype=str(max((t.dtype for t in problem.layout.tensors), key=lambda d: np.finfo(d).bits)),
        loss_value=problem.loss_value,
        noise=problem.noise,
        evaluations=problem.evaluator.count,
        seconds=time.perf_counter() - start,
        strategy_reason=choice.reason,
        directions=len(screen),
        miss_probability=0.5 ** len(outcome.independent) if screen else 0.0,
    )
    return Report(
        passed=passed,
        difference=relative_difference([r.analytic for r in first], [r.numerical for r in first])
        if first
        else 0.0,
        tensors=tuple(rows),
        findings=tuple(findings),
        settings=settings,
        detection_limit=detection_limit,
        layout=problem.layout,
        components=arrays["components"],
        analytic=analytic[arrays["components"]],
        numerical=arrays["numerical"],
        estimate=arrays["tolerance"],
        flagged=arrays["flagged"],
        kink=arrays["kink"],
    )
