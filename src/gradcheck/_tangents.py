"""Derivatives of a function with many outputs along one tangent, each output with its own error.

Along a tangent v the central differences D(t) = (F(θ + tv) − F(θ − tv)) / 2t and D(t/2) give
every output's directional derivative at once (4 evaluations of F). Each output k is judged
against its own error estimate, as a single component of `check` is:

- round-off 2σₖ/t, from the output's own measured noise σₖ (`_noise.measure_output_noise`);
- truncation |(a − D)(t) − (a − D)(t/2)| / 3 (Richardson, order 2), on the residuals;
- the rounding of the analytic JVP itself (`analytic_allowance`, per output tensor).

Every step is the realised one, Δ = fl(θ + c·t·v) − θ in the inputs' dtypes, and the analytic
side is the rule at the realised tangents (a JVP is linear), so float32 inputs compare exactly
what was evaluated. Outputs whose derivative jumps inside the step (a ReLU, max or abs kink,
`_directional.kink`) are left out of the verdict.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from ._compare import SAFETY, analytic_allowance, flag
from ._directional import kink
from ._tree import Layout, round_to_dtypes

OFFSETS = (1.0, -1.0, 0.5, -0.5)


@dataclass(frozen=True)
class Along:
    """Every output's derivative along one tangent: the analytic value and the numerical one."""

    analytic: np.ndarray
    numerical: np.ndarray
    tolerance: np.ndarray  # estimated error of the comparison (before SAFETY)
    flagged: np.ndarray
    kink: np.ndarray


@dataclass(frozen=True)
class Function:
    """What the comparisons need: F at a flat point, the rule at a flat tangent, and where."""

    outputs: Callable[[np.ndarray], np.ndarray]  # flat inputs → flat outputs (float64)
    rule: Callable[[np.ndarray], np.ndarray]  # flat tangent → flat analytic JVP
    inputs: Layout
    theta: np.ndarray
    y0: np.ndarray
    sigma: np.ndarray  # per output
    output_ids: np.ndarray  # per output, its tensor
    rule_eps: np.ndarray  # per output tensor, ε of the rule's dtype


def spacing(inputs: Layout, theta: np.ndarray) -> np.ndarray:
    """Per component, the gap to the next number of its own dtype (its ulp at θᵢ)."""
    gaps = [np.spacing(np.abs(theta[t.slice]).astype(t.dtype)) for t in inputs.tensors]
    return np.concatenate(gaps).astype(np.float64)


def exact(inputs: Layout, theta: np.ndarray, tangent: np.ndarray, t: float) -> np.ndarray:
    """The tangent snapped so that θ ± t·v and θ ± t·v/2 are exact in each input's dtype.

    Each step t·vᵢ becomes a multiple of two units in the last place of θᵢ, so the four points
    are representable (unless one crosses a power of two) and the realised steps are exactly
    ±t·v and ±t·v/2: the kink test's offsets hold, and D(t) and D(t/2) differentiate along the
    same direction (a float32 input rounded 3 % of a step otherwise, which the truncation
    estimate and the kink test took for curvature).
    """
    unit = 2 * spacing(inputs, theta)
    with np.errstate(over="ignore"):
        units = t * tangent / unit
    # Beyond 2⁵² units (θᵢ = 0, or a step far above its ulp) rounding moves the step by less than
    # float64 resolves: it is kept as it is.
    coarse = np.abs(units) < 2.0**52
    return np.where(coarse, np.round(np.where(coarse, units, 0.0)) * unit, t * tangent) / t


def along(fn: Function, tangent: np.ndarray, t: float) -> Along:
    """Compare the rule with central differences of F along ``tangent`` at steps t and t/2."""
    tangent = exact(fn.inputs, fn.theta, tangent, t)
    points = {c: round_to_dtypes(fn.inputs, fn.theta + (c * t) * tangent) for c in OFFSETS}
    values = {c: fn.outputs(x) for c, x in points.items()}
    realised = {c: x - fn.theta for c, x in points.items()}
    analytic_t = fn.rule((realised[1.0] - realised[-1.0]) / (2 * t))
    analytic = fn.rule((realised[0.5] - realised[-0.5]) / t)
    numerical_t = (values[1.0] - values[-1.0]) / (2 * t)
    numerical = (values[0.5] - values[-0.5]) / t
    truncation = np.abs((analytic_t - numerical_t) - (analytic - numerical)) / 3
    tolerance = 2 * fn.sigma / t + truncation + analytic_allowance(analytic, fn.output_ids, fn.rule_eps)
    suspicious = flag(analytic, numerical, tolerance)
    kinked = np.zeros(fn.y0.size, dtype=bool)
    for k in np.flatnonzero(suspicious).tolist():
        jp, jm, jp2, jm2 = (float(values[c][k]) for c in OFFSETS)
        kinked[k] = kink(float(fn.y0[k]), jp, jm, jp2, jm2, t, float(fn.sigma[k]))
    return Along(analytic, numerical, tolerance, suspicious & ~kinked, kinked)


def sure_error(result: Along) -> np.ndarray:
    """Per output, the error in the analytic value this comparison flags for sure: SAFETY times
    its tolerance plus the discrepancy it already shows."""
    return SAFETY * result.tolerance + np.where(
        result.flagged, 0.0, np.abs(result.analytic - result.numerical)
    )
