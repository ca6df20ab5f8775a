"""The full check: every component (or a seeded sample of them), one by one.

Each component's numerical derivative is judged against its own error estimate (`Probe.compare`);
the detection limit of each tensor is the smallest error that check would flag for sure
(`_detection`), relative to each entry's own derivative.
"""

from __future__ import annotations

import math
from typing import Optional

import numpy as np

from . import _plan
from ._compare import SAFETY, relative_difference
from ._detection import sure_error
from ._outcome import Evidence, Outcome, TensorVerdict
from ._probe import Gradient, Probe
from ._strategy import Choice


def run(probe: Probe, gradient: Gradient, choice: Choice, sample: Optional[np.ndarray] = None) -> Outcome:
    """Check every component (or the ``components=K`` sample, or the components ``sample``
    where the analytic gradient is known) and return the `Outcome`."""
    options = probe.options
    method, eps = options.method, options.eps
    if sample is None:
        sample = _plan.select(probe.layout, options.components, options.seed, gradient.values)
    sampled = sample.size < probe.layout.size
    sample = sample[probe.finite[sample]]  # a non-finite entry has no derivative to check
    evidence, found = probe.compare(gradient, sample, method, eps)
    seen = np.where(evidence.flagged, 0.0, np.abs(evidence.analytic - evidence.numerical))
    bug_tolerance = sure_error(method, eps != "auto", found, evidence.tolerance, seen) / SAFETY
    return Outcome(
        strategy="sample" if sampled else "full",
        reason=f"components={options.components} asked for"
        if sampled and options.components
        else choice.reason,
        passed=not evidence.flagged.any(),
        difference=relative_difference(evidence.analytic, evidence.numerical),
        evidence=evidence,
        tensors=_verdicts(probe, evidence, bug_tolerance),
        sampled=sampled,
        method=method,
        eps=eps,
    )


def _verdicts(probe: Probe, evidence: Evidence, bug_tolerance: np.ndarray) -> tuple[TensorVerdict, ...]:
    """Per tensor: the entries checked and wrong, the largest error that could have passed
    (absolute), and the smallest relative error caught in every checked entry."""
    ids = probe.layout.tensor_ids()[evidence.components]
    verdicts = []
    for k in range(len(probe.layout.tensors)):
        mine = ids == k
        a, bug = np.abs(evidence.analytic[mine]), bug_tolerance[mine]
        with np.errstate(divide="ignore", invalid="ignore"):
            limits = SAFETY * bug / a
        verdicts.append(
            TensorVerdict(
                checked=int(mine.sum()),
                wrong=int(evidence.flagged[mine].sum()),
                entry_limit=SAFETY * float(np.max(bug[~evidence.kink[mine]], initial=0.0)),
                detection_limit=float(np.min(limits[a > 0])) if np.any(a > 0) else math.inf,
            )
        )
    return tuple(verdicts)
