"""Check a loss's gradient in every mode a framework computes it: reverse and forward.

Reverse mode (backpropagation) and forward mode (one JVP per direction) compute the same
gradient by different code: a custom rule can be right in one and wrong in the other (a
``torch.autograd.Function``'s ``backward`` and ``jvp``, a ``jax.custom_jvp``). Both are compared
with the *same* finite differences: one probe (J(θ), its noise, the steps), one choice of
strategy, and a cache of every loss value, so the second mode pays only for the points its own
refinement adds. A mode the code does not support is said in a ``not_checked`` finding instead
of failing the check; ``order=2`` adds the second derivative through `check_hvp`'s machinery.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Optional

import numpy as np

from . import _plan, _wording
from ._check import choose_for, judge, on_the_loss_grid
from ._combine import merge
from ._errors import LossRaisedError, OptionError
from ._evaluate._batched import CHUNK_BYTES
from ._evaluate._cached import Cached
from ._evaluate._evaluator import Loss
from ._options import Options
from ._probe import Probe
from ._report._model import Finding
from ._report._report import Report
from ._strategy import Choice
from ._tree import Layout

# Each mode's rows are named with a prefix (reverse mode keeps the plain names), and its
# findings speak of what it checks.
PREFIX = {"rev": "", "fwd": "fwd:", "hvp": "hvp:"}
SUBJECT = {"rev": "gradient", "fwd": "forward"}
WHAT = {"rev": "reverse mode", "fwd": "forward mode", "hvp": "the second derivative (order=2)"}


# Forward mode and second derivatives are checked on float64 copies on the host: a check that
# ran natively (a bfloat16 kernel, a model on a GPU) says so instead of checking them.
NATIVE = (
    "forward mode and second derivatives are checked in float64 on the host only, and this check "
    "ran in the code's own precision or on its own device; precision='float64' checks them where "
    "the code computes in float64"
)


# Forward mode assembles a gradient from one JVP per component (n forward passes, batched):
# up to this many components all of them, as the full check would check them (≤ 2,000 loss
# evaluations); beyond, a seeded sample of this many, stated in a coverage finding.
FORWARD_COMPONENTS = 1000
# Basis tangents per vmapped call of the forward-mode gradient: 256 rows of activations stay
# small for the models a float64 check handles (10⁴ parameters take 40 calls); fewer when their
# stack, a copy of θ per tangent, would pass CHUNK_BYTES (a 5-million-entry input: one per call).
TANGENTS_PER_CALL = 256


def tangents_per_call(size: int) -> int:
    """Basis tangents per call for θ of ``size`` components (float64)."""
    return max(1, min(TANGENTS_PER_CALL, CHUNK_BYTES // (8 * max(size, 1))))


@dataclass(frozen=True)
class Mode:
    """One way the framework computes the gradient, or why it cannot."""

    name: str  # "rev" or "fwd"
    gradient: Any = None  # the gradient at θ (a value) or a function of the params; None: unsupported
    unsupported: str = ""  # why not, and what would make it work
    sample: Optional[np.ndarray] = None  # the components where ``gradient`` is known (None: all)
    raised: bool = False  # the mode is supported but raised at these inputs: a failing finding

    @property
    def supported(self) -> bool:
        return self.gradient is not None


def forward_sample(layout: Layout, options: dict[str, Any]) -> Optional[np.ndarray]:
    """The components forward mode computes: None (all) up to FORWARD_COMPONENTS or with
    strategy="full", else a seeded sample covering every tensor (`_plan.select`)."""
    if layout.size <= FORWARD_COMPONENTS or options.get("strategy") == "full":
        return None
    return _plan.select(layout, FORWARD_COMPONENTS, int(options.get("seed", 0)))


def local_rows(layout: Layout, sample: Optional[np.ndarray]) -> dict[str, np.ndarray]:
    """Per tensor name, the flat entries forward mode computes (all, or those in ``sample``)."""
    rows = {}
    for tensor in layout.tensors:
        inside = np.arange(tensor.offset, tensor.offset + tensor.size) if sample is None else sample
        rows[tensor.name] = (
            inside[(inside >= tensor.offset) & (inside < tensor.offset + tensor.size)] - tensor.offset
        )
    return rows


def unsupported(name: str, error: BaseException, hint: str) -> Mode:
    """A mode that raised when first tried: the framework's words and the fix."""
    message = str(error).split("\n")[0].strip()
    return Mode(name, None, f"{type(error).__name__}: {message} ({hint})")


def raised(name: str, error: BaseException) -> Mode:
    """A mode the code supports whose rule raised at these inputs (a jvp returning a tangent of
    the wrong shape): the framework's words, and a failed check."""
    message = str(error).split("\n")[0].strip()
    return Mode(name, None, f"{type(error).__name__}: {message}", raised=True)


def check(
    loss: Loss,
    params: Any,
    modes: Sequence[Mode],
    options: Options,
    second_order: Optional[Callable[[], Report | Finding]] = None,
) -> Report:
    """One report of ``loss``'s gradient in each supported mode (same finite differences), and
    of ``second_order()`` when given (a report, or the finding that says why it cannot run)."""
    if not any(mode.supported for mode in modes):
        reasons = "; ".join(f"{WHAT[m.name]}: {m.unsupported}" for m in modes)
        failure = LossRaisedError if any(m.raised for m in modes) else OptionError
        raise failure(f"modes={tuple(m.name for m in modes)!r} leaves nothing to check ({reasons})")
    parts = _first_order(loss, params, [m for m in modes if m.supported], options)
    notes = [
        (_wording.mode_raised if m.raised else _wording.not_checked)(WHAT[m.name], m.unsupported)
        for m in modes
        if not m.supported
    ]
    if second_order is not None:
        found = second_order()
        if isinstance(found, Report):
            parts.append((PREFIX["hvp"], found))
        else:
            notes.append(found)
    merged = merge(parts, notes)
    return dataclasses.replace(merged, passed=merged.passed and not any(m.raised for m in modes))


def _first_order(
    loss: Loss, params: Any, modes: Sequence[Mode], options: Options
) -> list[tuple[str, Report]]:
    """Each mode's report, all from one probe whose evaluations are cached."""
    start = time.perf_counter()
    probe = Probe(loss, params, options)
    probe.evaluator.backend = Cached(probe.evaluator.backend)
    parts = []
    count, clock = 0, start
    with on_the_loss_grid(probe):
        choice = choose_for(probe, start)
        for mode in modes:
            if mode.sample is None:
                report = judge(probe, mode.gradient, choice, start, subject=SUBJECT[mode.name])
            else:
                reason = (
                    f"forward mode needs one JVP per component: a seeded sample of {mode.sample.size} "
                    f"of {probe.layout.size} (strategy='full' computes them all)"
                )
                report = judge(
                    probe, mode.gradient, Choice("full", reason), start, sample=mode.sample, subject="forward"
                )
                findings = [
                    _wording.forward_coverage(f) if f.kind == "coverage" else f for f in report.findings
                ]
                report = dataclasses.replace(report, findings=tuple(findings))
            now = time.perf_counter()
            own = dataclasses.replace(
                report.settings, evaluations=probe.evaluator.count - count, seconds=now - clock
            )
            parts.append((PREFIX[mode.name], dataclasses.replace(report, settings=own)))
            count, clock = probe.evaluator.count, now
    return parts
