"""Build the `Report` from an outcome and its findings: the rows, the settings, the arrays."""

from __future__ import annotations

import math
import time

import numpy as np

from . import _precision
from ._compare import ranking, relative_difference
from ._outcome import Outcome
from ._probe import Gradient, Probe
from ._report._model import Finding, Settings, TensorRow
from ._report._report import Report
from ._tree import Layout


def report(
    probe: Probe,
    gradient: Gradient,
    outcome: Outcome,
    findings: list[Finding],
    start: float,
    checked: str = "gradients",
) -> Report:
    """The report of one check (``start``: when it began, by `time.perf_counter`; ``checked``:
    what the verdict names, `Settings.checked`)."""
    layout, evidence = probe.layout, outcome.evidence
    settings = Settings(
        method=outcome.method,
        eps=outcome.eps,
        strategy=outcome.strategy,
        seed=probe.options.seed,
        dtype=str(_precision.widest(t.dtype for t in layout.tensors)),
        loss_value=probe.loss_value,
        noise=probe.noise_map.reported(),
        evaluations=probe.evaluator.count,
        seconds=time.perf_counter() - start,
        strategy_reason=outcome.reason,
        directions=outcome.screened,
        miss_probability=outcome.miss_probability,
        checked=checked,
        precision=probe.precision[0],
        precision_reason=probe.precision[1],
        rtol=probe.options.rtol,
    )
    return Report(
        passed=outcome.passed,
        difference=outcome.difference,
        tensors=rows(probe.layout, gradient.names, outcome),
        findings=tuple(findings),
        settings=settings,
        detection_limit=outcome.detection_limit,
        layout=layout,
        components=evidence.components,
        analytic=evidence.analytic,
        numerical=evidence.numerical,
        estimate=evidence.tolerance,
        flagged=evidence.flagged,
        kink=evidence.kink,
    )


def rows(layout: Layout, names: tuple[str, ...], outcome: Outcome) -> tuple[TensorRow, ...]:
    """One row per tensor: what its checked components show, and what the strategy established
    (``names``: the gradient's own name of each tensor, ``dW2`` for ``W2``)."""
    evidence = outcome.evidence
    ids = layout.tensor_ids()[evidence.components]
    built = []
    for k, (tensor, verdict) in enumerate(zip(layout.tensors, outcome.tensors, strict=True)):
        mine = ids == k
        comps, a, d = evidence.components[mine], evidence.analytic[mine], evidence.numerical[mine]
        nothing = math.nan if tensor.size else 0.0  # nothing checked of a tensor that has entries
        worst = None
        if comps.size:
            at = int(comps[np.argmax(ranking(a, d, evidence.tolerance[mine], evidence.kink[mine]))])
            worst = tensor.component_name(at - tensor.offset)
        built.append(
            TensorRow(
                name=tensor.name,
                gradient=names[k] if names[k] != tensor.name else None,
                shape=tensor.shape,
                difference=relative_difference(a, d) if comps.size else nothing,
                max_abs_error=float(np.max(np.abs(a - d))) if comps.size else nothing,
                worst=worst,
                checked=verdict.checked,
                flagged=verdict.wrong,
                kinks=int(evidence.kink[mine].sum()),
                detection_limit=verdict.detection_limit,
                entry_limit=verdict.entry_limit,
                scale_limit=verdict.scale_limit,
            )
        )
    return tuple(built)
