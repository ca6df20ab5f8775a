"""A kernel against its reference: the reference's float64 gradient is the truth, and a correct
kernel may differ from it only by what rounding in the kernel's precision explains, measured.

Kernel authors test a fused bfloat16 kernel against a plain implementation with per-dtype
``atol``/``rtol`` guessed once and tuned whenever a test flakes. Here nothing is guessed: the
reference itself, run in the kernel's precision, shows how far a correct implementation in that
precision lands from the truth. Per tensor that gives a relative level ρ, and each entry an
allowance ρ·max(|tᵢ|, rms of the tensor's truth) (with at least the unit roundoff of the kernel's
dtype, the rounding of storing the result): an entry of the kernel's gradient is wrong when it
misses the truth by more than SAFETY times that. A constant factor over the tensor adds up over
all its entries and is caught far below that: the kernel's fitted factor must stay within SAFETY
standard errors plus the reference's own factor in that precision plus one unit roundoff.

Every entry is compared, so the findings (scale, sign, transpose, a row, single entries) are the
full check's, word for word.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from ._compare import SAFETY, analytic_allowance, flag, relative_difference
from ._fits import fit, floor
from ._outcome import Evidence, Outcome, TensorVerdict, projections
from ._probe import Gradient, Probe


@dataclass(frozen=True)
class Reference:
    """The reference's gradient at the same point: in float64 (the truth), and computed in the
    kernel's precision (what rounding alone does to a correct implementation). Flat, θ's order."""

    truth: np.ndarray
    rounded: np.ndarray


def run(probe: Probe, gradient: Gradient, reference: Reference, reason: str) -> Outcome:
    """Compare every entry of the kernel's gradient with the truth, against the measured rounding."""
    layout = probe.layout
    ids = layout.tensor_ids()
    truth, kernel = reference.truth, gradient.values
    unit = analytic_allowance(truth, ids, np.ones(len(layout.tensors)))  # max(|tᵢ|, rms)
    levels = np.array([_level(reference, unit, t.slice) for t in layout.tensors])
    tolerance = np.maximum(levels[ids] * unit, 0.5 * gradient.eps[ids] * np.abs(truth))
    tolerance = floor(tolerance)
    flagged = flag(kernel, truth, tolerance)
    evidence = Evidence(
        components=np.arange(layout.size),
        analytic=kernel,
        numerical=truth,
        tolerance=tolerance,
        flagged=flagged,
        kink=np.zeros(layout.size, dtype=bool),
        jump=np.zeros(layout.size, dtype=bool),
    )
    verdicts, explained = [], {}
    for k, tensor in enumerate(layout.tensors):
        where = tensor.slice
        factor, limit = _coherent(reference, kernel, tolerance, gradient.eps[k], where)
        wrong = int(flagged[where].sum())
        if wrong == 0 and abs(factor) > limit:  # a factor no single entry shows
            wrong = tensor.size
            explained[k] = projections(
                evidence.where(ids == k), tensor.name, tensor.shape, tensor.offset, probe.theta
            )
        entry = SAFETY * float(np.max(tolerance[where], initial=0.0))
        typical = float(np.median(np.abs(truth[where]))) if tensor.size else 0.0
        verdicts.append(
            TensorVerdict(
                checked=tensor.size,
                wrong=wrong,
                entry_limit=entry,
                detection_limit=entry / typical if typical > 0 else math.inf,
                scale_limit=limit,
            )
        )
    return Outcome(
        strategy="reference",
        reason=reason,
        passed=not any(v.wrong for v in verdicts),
        difference=relative_difference(kernel, truth),
        evidence=evidence,
        tensors=tuple(verdicts),
        directional=explained,
    )


def _level(reference: Reference, unit: np.ndarray, where: slice) -> float:
    """ρ: the rms of the reference's rounding in the kernel's precision over the rms of its units."""
    error, scale = reference.rounded[where] - reference.truth[where], unit[where]
    if error.size == 0 or not np.any(scale > 0):
        return 0.0
    big = float(np.max(scale))
    return float(np.sqrt(np.mean((error / big) ** 2)) / np.sqrt(np.mean((scale / big) ** 2)))


def _coherent(
    reference: Reference, kernel: np.ndarray, tolerance: np.ndarray, eps: float, where: slice
) -> tuple[float, float]:
    """(c, limit): the kernel's constant factor over the tensor (kernel ≈ (1 + c)·truth) and the
    largest a correct kernel shows: SAFETY standard errors, plus the reference's own factor in
    this precision, plus one unit roundoff (a rounded constant)."""
    truth = reference.truth[where]
    c, c_error = fit(truth, kernel[where] - truth, tolerance[where])
    own, _ = fit(truth, reference.rounded[where] - truth, tolerance[where])
    if not math.isfinite(c):
        return 0.0, math.inf
    return c, SAFETY * c_error + (abs(own) if math.isfinite(own) else 0.0) + 0.5 * eps
