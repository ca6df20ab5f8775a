"""Gradients approximate by design: their relative error per tensor, and what ``rtol`` accepts.

Implicit differentiation through a solver with a tolerance, a smoothed problem or an ODE adjoint
gives a gradient that is right to the solver's accuracy, not to the last bit: a correct one
differs from the exact gradient by, say, 4e-8 relative, spread evenly over every input. The
strict check rightly sees that; ``rtol=`` states the error the user accepts. A tensor is accepted
when its measured relative error ‖g − g'‖₂ / ‖g'‖₂ (over its checked entries, or over its random
directions, whose projections have the same expected ratio) is within ``rtol``; the verdict then
passes, and the report still shows everything the strict check saw. A wrong block that was only
located, not measured, is never accepted.
"""

from __future__ import annotations

import dataclasses
import math

import numpy as np

from ._compare import norm
from ._outcome import Outcome
from ._tree import Layout


def tensor_errors(outcome: Outcome, layout: Layout) -> dict[int, float]:
    """Each tensor's measured relative error (inf when it was only located, nan when unmeasured)."""
    errors: dict[int, float] = {}
    ids = layout.tensor_ids()[outcome.evidence.components]
    located = {region.tensor for region in outcome.regions} | {
        layout.tensors.index(layout.tensor_of(int(block[0]))) for block in outcome.unresolved
    }
    for k in range(len(layout.tensors)):
        if k in located:
            errors[k] = math.inf
        elif k in outcome.directional:
            p = outcome.directional[k]
            errors[k] = _ratio(p.analytic, p.numerical)
        elif k in outcome.failing:
            results = outcome.failing[k]
            errors[k] = _ratio(
                np.array([r.analytic for r in results]), np.array([r.numerical for r in results])
            )
        elif np.any(ids == k):
            mine = outcome.evidence.where(ids == k)
            errors[k] = _ratio(mine.analytic[~mine.kink], mine.numerical[~mine.kink])
        else:
            errors[k] = math.nan
    return errors


def _ratio(analytic: np.ndarray, numerical: np.ndarray) -> float:
    """‖a − n‖₂ / ‖n‖₂, scaled (inf when n is zero and a is not)."""
    below = norm(numerical)
    above = norm(analytic - numerical)
    if below == 0:
        return 0.0 if above == 0 else math.inf
    return above / below


def accept(outcome: Outcome, layout: Layout, rtol: float) -> Outcome:
    """``outcome`` with the tensors whose error is within ``rtol`` accepted (``tolerated``) and the
    verdict taken again without them; the tensors' own counts keep what the strict check saw."""
    if rtol <= 0 or outcome.passed:
        return outcome
    errors = tensor_errors(outcome, layout)
    tolerated = {
        k: errors[k] for k, verdict in enumerate(outcome.tensors) if verdict.wrong and errors[k] <= rtol
    }
    if not tolerated:
        return outcome
    passed = all(verdict.wrong == 0 or k in tolerated for k, verdict in enumerate(outcome.tensors))
    return dataclasses.replace(outcome, passed=passed, tolerated=tolerated)
