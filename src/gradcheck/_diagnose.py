"""Turn a comparison into findings a person can act on.

Bug findings are made per tensor with flagged components, from the first pattern of
`_patterns` that explains every one of its components (transpose, sign, missing
regularization, zero, scale); when none does, a `wrong_components` finding says where the wrong
entries sit. A tensor without flagged components gets no bug finding, so a correct gradient
gets none.
"""

from __future__ import annotations

import dataclasses
import math
import re

import numpy as np

from . import _patterns
from ._compare import significance
from ._finite_differences import SAFETY
from ._patterns import View
from ._report import Finding, Report
from ._tree import Layout, component_name

# float32 arithmetic leaves a loss noisy at ≥ 1e-8 of its value (ε₃₂ ≈ 1.2e-7, averaged by
# sums); float64 at ~1e-16 (ε₆₄), 1e-12 at worst after heavy cancellation. 1e-10 sits between
# them with two orders of margin each way, so only precision that really limits the check is told.
NOISY_LOSS = 1e-10
EXAMPLES = 3  # entries named in a message: enough to show a pattern, short enough to read


def kink_findings(layout: Layout, components: np.ndarray, kink: np.ndarray) -> list[Finding]:
    """One finding per tensor with components on a kink (ReLU, max, abs) within the step."""
    findings = []
    ids = layout.tensor_ids()[components]
    for position, tensor in enumerate(layout.tensors):
        hits = components[kink & (ids == position)]
        if hits.size == 0:
            continue
        names = tuple(tensor.component_name(int(i) - tensor.offset) for i in hits[:EXAMPLES])
        findings.append(
            Finding(
                "kink",
                tensor.name,
                f"{hits.size} component(s) of {tensor.name} sit on a kink (ReLU, max, abs or "
                f"max-pool tie) within the finite-difference step, e.g. {', '.join(names)}; "
                f"their one-sided derivatives differ, so they are left out of the verdict",
                names,
                float(hits.size),
            )
        )
    return findings


def precision_finding(noise: float, loss_value: float, detection_limit: float) -> list[Finding]:
    """A finding when the loss's round-off noise limits what the check can see."""
    relative = noise / abs(loss_value) if loss_value else 0.0
    if relative <= NOISY_LOSS:
        return []
    return [
        Finding(
            "precision",
            None,
            f"the loss carries round-off noise of {relative:.1e} relative to its value (float64 "
            f"carries 1e-16, float32 1e-7), so this check can only detect gradient errors above "
            f"{detection_limit:.1e} relative; run the check in float64 if your code allows it",
            (),
            detection_limit,
        )
    ]


# A name whose last part is b, b1, b_out, bias... is taken for a bias (the course's b1, b2).
BIAS_NAME = re.compile(r"(^|\.)(b\d*|b_\w+|bias\w*)$", re.IGNORECASE)


def with_bug_findings(report: Report, theta: np.ndarray) -> Report:
    """The report with bug findings for its flagged tensors placed before its other findings."""
    bugs = tuple(bug_findings(report, theta))
    return dataclasses.replace(report, findings=bugs + report.findings) if bugs else report


def bug_findings(report: Report, theta: np.ndarray) -> list[Finding]:
    """One finding for every tensor with flagged components (none when the gradient is right)."""
    return [tensor_finding(view) for view in _views(report, theta) if view.flagged.any()]


def _views(report: Report, theta: np.ndarray) -> list[View]:
    ids = report.layout.tensor_ids()[report.components]
    # An estimate of exactly 0 (a loss of exactly 0 everywhere) would make every fit divide by 0.
    estimate = np.maximum(report.estimate, np.finfo(np.float64).tiny)
    views = []
    for position, tensor in enumerate(report.layout.tensors):
        mine = (ids == position) & ~report.kink
        views.append(
            View(
                name=tensor.name,
                shape=tensor.shape,
                local=report.components[mine] - tensor.offset,
                analytic=report.analytic[mine],
                numerical=report.numerical[mine],
                estimate=estimate[mine],
                theta=theta[report.components[mine]],
                flagged=report.flagged[mine],
            )
        )
    return views


def tensor_finding(view: View) -> Finding:
    """The one finding that explains a tensor's flagged components (its most specific pattern)."""
    if _patterns.is_transpose(view):
        return _finding(
            "transpose",
            view,
            f"the analytic gradient of {view.name} is the transpose of the numerical one "
            f"({view.shape[0]}×{view.shape[1]} is square, so the shape check cannot catch it): "
            f"return its transpose (swap the operands of the product that computes it)",
            None,
        )
    fitted = _patterns.scale(view)
    if fitted is not None and not (_informative(view) >= 2 or _is_sign(fitted) or _telling(fitted)):
        fitted = None
    if fitted is not None and _is_sign(fitted):
        return _sign(view, fitted)
    # One component fits any λ; two or more nonzero parameters put the pattern to a test.
    lam = _patterns.regularization(view) if np.count_nonzero(view.theta) >= 2 else None
    if lam is not None:  # when g' is itself ∝ θ, a zero or scaled g fits too: the λ says more
        return _regularization(view, lam, fitted)
    if _patterns.is_zero(view):
        return _zero(view)
    if fitted is not None:
        return _scale(view, fitted)
    return _wrong_components(view)


def _informative(view: View) -> int:
    """How many components carry evidence for a scale fit (analytic clearly nonzero)."""
    return int(np.sum(np.abs(view.analytic) > SAFETY * view.estimate))


def _is_sign(fitted: _patterns.Scale) -> bool:
    spread = SAFETY * fitted.error
    return spread < 0.5 and abs(fitted.factor + 1.0) <= spread


def _telling(fitted: _patterns.Scale) -> bool:
    return bool(_patterns.likely_cause(abs(fitted.factor), fitted.error))


def _times(c: float) -> str:
    """4.00× for a factor far from 1, 1.00012× when it is close (so it never reads 1.00×)."""
    digits = 2 if abs(abs(c) - 1) >= 0.01 else 6
    return f"{c:.{digits}f}×" if 0.01 <= abs(c) < 1000 else f"{c:.3g}×"


def _zero(view: View) -> Finding:
    wrong = view.flagged
    largest = int(np.argmax(np.where(wrong, np.abs(view.numerical), -1.0)))
    reach = f"{abs(view.numerical[largest]):.2e} at {_name(view, largest)}"
    if not np.any(view.analytic):
        text = (
            f"the analytic gradient of {view.name} is zero everywhere ({view.local.size} checked "
            f"entries) while the numerical one reaches {reach}: was it left at np.zeros or never returned?"
        )
    else:
        text = (
            f"the analytic gradient of {view.name} is zero at {_where(view, wrong)}, where the "
            f"numerical one is not (up to {reach}): is it masked out or never accumulated?"
        )
    return _finding("zero_gradient", view, text, float(wrong.sum()))


def _sign(view: View, fitted: _patterns.Scale) -> Finding:
    return _finding(
        "sign",
        view,
        f"the analytic gradient of {view.name} has the wrong sign: it is {fitted.factor:.2f}× "
        f"the numerical one over all {view.local.size} checked entries; look for a subtraction "
        f"the wrong way round (y − a instead of a − y) or a minus sign too many",
        fitted.factor,
    )


def _scale(view: View, fitted: _patterns.Scale) -> Finding:
    c = fitted.factor
    cause = _patterns.likely_cause(abs(c), fitted.error)
    flipped = " (and the wrong sign)" if c < 0 else ""
    return _finding(
        "scale",
        view,
        f"the analytic gradient of {view.name} is {_times(c)} the numerical one{flipped}, a "
        f"constant factor over all {view.local.size} checked entries" + (f"; {cause}" if cause else ""),
        c,
    )


def _regularization(view: View, lam: float, fitted: _patterns.Scale | None) -> Finding:
    also = ""
    if not np.any(view.analytic):
        also = f" (the analytic gradient is zero: all of {view.name}'s gradient is this term)"
    elif fitted is not None:
        also = f" (equivalently, the analytic gradient is {_times(fitted.factor)} the numerical one)"
    if lam > 0:
        text = (
            f"the error in {view.name}'s gradient is proportional to {view.name} itself: "
            f"numerical − analytic ≈ λ·{view.name} with λ = {lam:.4g}{also}; the analytic "
            f"gradient misses a regularization term (remember regularization: the gradient of "
            f"(λ/2)·||W||² is λ·W)"
        )
    else:
        text = (
            f"the error in {view.name}'s gradient is proportional to {view.name} itself: "
            f"analytic − numerical ≈ λ·{view.name} with λ = {-lam:.4g}{also}; the analytic "
            f"gradient has a regularization term the loss lacks (or counts it twice)"
        )
    return _finding("missing_regularization", view, text, lam)


def _wrong_components(view: View) -> Finding:
    wrong = view.flagged
    partial = _patterns.scale(view, wrong)
    there = f"; there analytic ≈ {_times(partial.factor)} numerical" if partial is not None else ""
    total = math.prod(view.shape)
    if total == 1:
        lead = f"the only entry of {view.name} is wrong"
    elif wrong.sum() == total:
        lead = f"{_where(view, wrong)} is wrong, with no constant factor, sign, transpose or regularization pattern"
    else:
        lead = f"only some entries of {view.name} are wrong: {_where(view, wrong)}"
    return _finding("wrong_components", view, f"{lead}{there}; worst: {_examples(view)}", float(wrong.sum()))


def _where(view: View, wrong: np.ndarray) -> str:
    """Where the wrong entries sit: one entry, a row, a column, a slice, or how many of all."""
    local = view.local[wrong]
    total = math.prod(view.shape)
    if local.size == 1:
        return f"one entry, {_component(view, int(local[0]))}"
    if local.size == total:
        kind = "the bias " if BIAS_NAME.search(view.name) else ""
        return f"every entry of {kind}{view.name}"
    coords = np.array(np.unravel_index(local, view.shape))
    axes = [axis for axis, n in enumerate(view.shape) if n > 1]
    shared = [axis for axis in axes if np.all(coords[axis] == coords[axis][0])]
    if shared:
        picked = [str(int(coords[axis][0])) if axis in shared else ":" for axis in range(len(view.shape))]
        text = f"{view.name}[{', '.join(picked)}]"
        entries = math.prod(n for axis, n in enumerate(view.shape) if axis not in shared)
        count = f"{local.size} of its {entries} entries"
        if len(view.shape) == 2 and shared == [0]:
            return f"row {picked[0]} ({text}, {count})"
        if len(view.shape) == 2 and shared == [1]:
            return f"column {picked[1]} ({text}, {count})"
        return f"the slice {text} ({count})"
    return f"{local.size} of the {total} entries of {view.name}"


def _worst(view: View) -> np.ndarray:
    """Positions of the most significant wrong components (at most EXAMPLES)."""
    wrong = np.flatnonzero(view.flagged)
    ratio = significance(view.analytic[wrong], view.numerical[wrong], view.estimate[wrong])
    return wrong[np.argsort(-ratio, kind="stable")[:EXAMPLES]]


def _examples(view: View) -> str:
    return "; ".join(
        f"{_name(view, k)} analytic {view.analytic[k]:.4g}, numerical {view.numerical[k]:.4g}"
        for k in _worst(view).tolist()
    )


def _component(view: View, local: int) -> str:
    return component_name(view.name, view.shape, local)


def _name(view: View, position: int) -> str:
    return _component(view, int(view.local[position]))


def _finding(kind: str, view: View, message: str, value: float | None) -> Finding:
    names = tuple(_name(view, k) for k in _worst(view).tolist())
    return Finding(kind, view.name, message, names, value)
