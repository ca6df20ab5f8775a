"""Turn an outcome into findings a person can act on: one precedence, one set of fits, one wording.

A tensor with wrong components gets one bug finding: the first pattern of `_fits` that
explains all of its evidence, in the order transpose, sign, missing regularization, zero,
scale, (for a Hessian-vector product) an error on the diagonal, (for a JVP) a missing
activation derivative; when none does,
``wrong_components`` says where the wrong entries sit. The subject names the zero pattern:
``zero_gradient``, ``zero_second_derivative`` (an HVP) or ``zero_derivative`` (a JVP). The evidence may
be components checked one by one or directional tests (certify), and the precedence and words
are the same for both. A tensor without wrong components gets no bug finding, so a correct
gradient gets none. The imaginary part of a complex parameter with the wrong sign while its
real part is right is one ``conjugate`` finding. Then come what the check left out or could not
see: kinks, precision, coverage.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from typing import Optional

import numpy as np

from . import _plan, _tolerance, _wording
from ._compare import BANDS
from ._complex import complex_base
from ._directional import Result
from ._fits import (
    MIN_PROJECTIONS,
    Projections,
    Scale,
    diagonal_share,
    factor_cause,
    informative,
    is_sign,
    is_zero,
    missing_activation,
    regularization,
    scale,
    transposed_axes,
)
from ._noise import NOISY_LOSS, AlongTensors
from ._outcome import Outcome, Region, projections
from ._report._model import Finding
from ._tree import Layout

# Round-off differs between directions with the magnitudes the arithmetic passes through, by a few
# orders at most; a loss a thousand times noisier along one tensor than along the quietest jumps
# there, or computes that tensor's part coarsely (in float32 in a float64 loss).
NOISIER = 1e3
# The bug findings one tensor can get; an approximate gradient replaces them all.
BUG_KINDS = ("scale", "sign", "transpose", "missing_regularization", "zero_gradient", "wrong_components")
# "Spread evenly": at least a quarter of every tensor's checked entries are flagged (a coding bug
# in one term touches some entries or all of one tensor, not a share of every tensor's).
SPREAD = 0.25
# "Small": every tensor's relative error below the seeds' worry band (1e-3); above it an error
# spread over every input is more likely a wrong term than a solver's tolerance.
APPROXIMATE = BANDS[-1][0]


@dataclass(frozen=True)
class Explanation:
    """The pattern that explains a tensor's evidence, with what was fitted."""

    kind: str
    fitted: Optional[Scale] = None  # the factor (scale, sign; the partial one of wrong_components)
    lam: Optional[float] = None  # missing_regularization
    axes: Optional[tuple[int, int]] = None  # transpose
    activation: Optional[str] = None  # activation: whose derivative a JVP misses

    whole: bool = True  # did the evidence view the whole tensor?

    @property
    def tensor_wide(self) -> bool:
        """Does one pattern explain the whole tensor (anything but a few wrong entries)?"""
        return self.whole and self.kind != "wrong_components"


def explain(p: Projections, *, whole: bool = True) -> Explanation:
    """The most specific pattern that explains every comparison of one tensor.

    ``whole=False`` says the evidence is not a fair view of the whole tensor (the entries certify
    located, while the rest of the tensor passed its directional tests): then only where the
    wrong entries are, and whether they are zero, can be said.
    """
    if not whole:
        kind = "zero_gradient" if is_zero(p) else "wrong_components"
        return Explanation(kind, fitted=scale(p, p.flagged), whole=False)
    if p.local is None and len(p) < MIN_PROJECTIONS:
        return Explanation("wrong_components")
    axes = transposed_axes(p)
    if axes is not None:
        return Explanation("transpose", axes=axes)
    fitted = scale(p)
    if fitted is not None and not (informative(p) >= 2 or is_sign(fitted) or _telling(fitted)):
        fitted = None
    if fitted is not None and is_sign(fitted):
        return Explanation("sign", fitted=fitted)
    # One comparison fits any λ; two or more nonzero parameters put the pattern to a test.
    lam = regularization(p) if np.count_nonzero(p.theta) >= 2 else None
    if lam is not None:  # when g' is itself ∝ θ, a zero or scaled g fits too: the λ says more
        return Explanation("missing_regularization", fitted=fitted, lam=lam)
    if is_zero(p):
        return Explanation("zero_gradient")
    if fitted is not None:
        return Explanation("scale", fitted=fitted)
    share = diagonal_share(p)
    if share is not None:
        return Explanation("diagonal", fitted=share)
    activation = missing_activation(p)
    if activation is not None:
        return Explanation("activation", activation=activation)
    return Explanation("wrong_components", fitted=scale(p, p.flagged))


def _telling(fitted: Scale) -> bool:
    return factor_cause(abs(fitted.factor), fitted.error) is not None


def tensor_finding(p: Projections, *, whole: bool = True) -> Finding:
    """The one finding that explains a tensor's wrong components (its most specific pattern)."""
    found = explain(p, whole=whole)
    if found.kind == "transpose":
        assert found.axes is not None
        return _wording.transpose(p, found.axes)
    if found.kind == "sign":
        assert found.fitted is not None
        return _wording.sign(p, found.fitted)
    if found.kind == "missing_regularization":
        assert found.lam is not None
        return _wording.regularization(p, found.lam, found.fitted)
    if found.kind == "zero_gradient":
        return _wording.zero(p, whole=found.whole)
    if found.kind == "scale":
        assert found.fitted is not None
        return _wording.scale(p, found.fitted)
    if found.kind == "diagonal":
        assert found.fitted is not None
        return _wording.diagonal(p, found.fitted)
    if found.kind == "activation":
        assert found.activation is not None
        return _wording.activation(p, found.activation)
    return _wording.wrong_components(p, found.fitted)


def findings(
    outcome: Outcome,
    layout: Layout,
    theta: np.ndarray,
    relative_noise: float,
    along: Optional[AlongTensors] = None,
    *,
    subject: str = "gradient",
    diagonal: Optional[np.ndarray] = None,
    outputs: Optional[np.ndarray] = None,
) -> list[Finding]:
    """Every finding of a check: bug findings by tensor, then what the check could not see.

    ``theta`` is the pattern of a missing term (the probe's ``pattern``); ``along`` holds the
    noise along single tensors, when it was measured (full checks); ``subject`` says what was
    checked (`Projections.subject`); ``diagonal`` holds an HVP's measured diagonal pattern (NaN
    where not measured) and ``outputs`` a JVP's output value at each component.
    """
    along = along or AlongTensors()
    found = _approximate(
        _conjugates(_bugs(outcome, layout, theta, subject, diagonal, outputs)), outcome, layout
    )
    found += _unresolved(outcome, layout)
    found += _regions(outcome.regions, layout)
    found += _left_out(outcome, layout, theta, along)
    return found + _limits(outcome, layout, relative_noise, along)


def _bugs(
    outcome: Outcome,
    layout: Layout,
    theta: np.ndarray,
    subject: str,
    diagonal: Optional[np.ndarray],
    outputs: Optional[np.ndarray],
) -> list[Finding]:
    """One bug finding per tensor with wrong components (and one per tensor failing directions)."""
    found: list[Finding] = []
    evidence = outcome.evidence
    ids = layout.tensor_ids()[evidence.components]
    for k, tensor in enumerate(layout.tensors):
        if k in outcome.directional:
            found.append(tensor_finding(dataclasses.replace(outcome.directional[k], subject=subject)))
            continue
        mine = evidence.where(ids == k)
        if mine.flagged.any():
            # A sample is a fair view of its tensor; the entries a search located are not.
            whole = not outcome.located or np.unique(mine.components).size == tensor.size
            kept = mine.components[~mine.kink]
            view = dataclasses.replace(
                projections(mine, tensor.name, tensor.shape, tensor.offset, theta),
                subject=subject,
                diagonal=None if diagonal is None else diagonal[kept],
                output=None if outputs is None else outputs[kept],
            )
            found.append(tensor_finding(view, whole=whole))
        if k in outcome.failing:
            found.append(_failing(tensor.name, outcome.failing[k], outcome.screened))
    return found


def _failing(name: str, results: list[Result], screened: int) -> Finding:
    """A tensor that fails random directions no localisation followed (directions=K)."""
    worst = max(results, key=lambda r: abs(r.residual) / r.error)
    ratio = abs(worst.residual) / worst.error
    return _wording.failing_directions(name, len(results), screened, worst.analytic, worst.numerical, ratio)


def _left_out(outcome: Outcome, layout: Layout, theta: np.ndarray, along: AlongTensors) -> list[Finding]:
    """What the verdict left out: kinks, jumps, entries that could not be perturbed."""
    evidence = outcome.evidence
    found = _wording.kinks(layout, evidence.components, evidence.kink & ~evidence.jump)
    found += _discontinuities(outcome, layout, along)
    found += _unchecked(layout, theta)
    if outcome.kink_tests:
        found.append(_wording.directional_kinks(outcome.kink_tests))
    return found


def _limits(outcome: Outcome, layout: Layout, relative_noise: float, along: AlongTensors) -> list[Finding]:
    """What the check could not see: the precision's limit, a noisier tensor, a sample's
    coverage, and the error rtol= accepted."""
    found = []
    checked = set(np.unique(layout.tensor_ids()[outcome.evidence.components]).tolist())
    all_stairs = bool(checked) and checked <= set(along.staircases)  # their σ is the stairs, no round-off
    scale_limits = [t.scale_limit for t in outcome.tensors if math.isfinite(t.scale_limit)]
    if scale_limits:  # regression screens ran: tensor-wide errors were seen far below single entries
        reference = outcome.strategy == "reference"
        found.append(
            _wording.low_precision(relative_noise, max(scale_limits), outcome.detection_limit, reference)
        )
    elif relative_noise > NOISY_LOSS and not all_stairs:
        found.append(_wording.precision(relative_noise, outcome.detection_limit))
    for k, noise in along.relative.items():
        if noise > max(NOISY_LOSS, NOISIER * relative_noise) and k not in along.staircases:
            found.append(_wording.noisier(layout.tensors[k].name, noise, relative_noise))
    if outcome.sampled:
        found += _plan.coverage_finding(layout, outcome.evidence.components)
    if outcome.tolerated:
        found.append(_wording.tolerated({layout.tensors[k].name: e for k, e in outcome.tolerated.items()}))
    return found


def _discontinuities(outcome: Outcome, layout: Layout, along: AlongTensors) -> list[Finding]:
    """Components left out because the loss jumps: along a staircase, or once inside the step."""
    evidence = outcome.evidence
    ids = layout.tensor_ids()[evidence.components]
    found = []
    for k, tensor in enumerate(layout.tensors):
        mine = evidence.where((ids == k) & evidence.jump)
        if not mine.components.size:
            continue
        if k in along.staircases:
            rise = float(np.max(np.abs(mine.numerical)))
            found.append(_wording.staircase(tensor.name, mine.components.size, along.staircases[k], rise))
        else:
            names = tuple(tensor.component_name(int(i) - tensor.offset) for i in mine.components)
            found.append(_wording.jumps(tensor.name, names))
    return found


def _unchecked(layout: Layout, theta: np.ndarray) -> list[Finding]:
    """Tensors with entries no check could perturb: non-finite ones, or no entries at all."""
    found = []
    for tensor in layout.tensors:
        values = theta[tensor.slice]
        bad = np.flatnonzero(~np.isfinite(values))
        if tensor.size == 0 or bad.size:
            found.append(_wording.unchecked(tensor.name, tensor.shape, bad, values[bad]))
    return found


def _conjugates(found: list[Finding]) -> list[Finding]:
    """A complex parameter whose imaginary part has the wrong sign and whose real part is right:
    its gradient is the conjugate of the right one (one ``conjugate`` finding)."""
    wrong = {f.tensor for f in found}
    return [
        _wording.conjugate(f, base)
        if f.kind == "sign" and (base := complex_base(f.tensor or "")) and f"{base}.real" not in wrong
        else f
        for f in found
    ]


def _approximate(found: list[Finding], outcome: Outcome, layout: Layout) -> list[Finding]:
    """The bug findings, or one `approximate` finding in place of them when every tensor is
    wrong by a small error spread over most of its entries with no pattern: what a gradient
    that is approximate by design looks like, not a coding bug."""
    bugs = [f for f in found if f.kind in BUG_KINDS]
    sized = [k for k, t in enumerate(layout.tensors) if t.size]
    if not bugs or any(f.kind != "wrong_components" for f in bugs) or outcome.directional or outcome.failing:
        return found
    errors = _tolerance.tensor_errors(outcome, layout)
    ids = layout.tensor_ids()[outcome.evidence.components]
    for k in sized:
        flagged = outcome.evidence.flagged[ids == k]
        spread = flagged.size and flagged.mean() >= SPREAD
        if not (spread and errors[k] < APPROXIMATE):
            return found
    others = [f for f in found if f.kind not in BUG_KINDS]
    return [_wording.approximate({layout.tensors[k].name: errors[k] for k in sized}), *others]


def _regions(regions: tuple[Region, ...], layout: Layout) -> list[Finding]:
    """Blocks located as wrong by directional tests, one finding per tensor and pattern: zero
    there, or wrong (with the factor of the first block that shows one)."""
    groups: dict[tuple[int, bool], list[tuple[Region, Optional[Explanation]]]] = {}
    for region in regions:
        found = explain(region.tests, whole=False) if region.tests is not None else None
        zero = found is not None and found.kind == "zero_gradient"
        groups.setdefault((region.tensor, zero), []).append((region, found))
    findings = []
    for (k, zero), members in groups.items():
        tensor = layout.tensors[k]
        local = np.unique(np.concatenate([region.components for region, _ in members])) - tensor.offset
        fitted = next((found.fitted for _, found in members if found is not None and found.fitted), None)
        findings.append(_wording.region(tensor.name, tensor.shape, local, zero, fitted))
    return findings


def _unresolved(outcome: Outcome, layout: Layout) -> list[Finding]:
    """Blocks that fail but were not narrowed down, one finding per tensor (None: several)."""
    groups: dict[Optional[str], list[np.ndarray]] = {}
    for block in outcome.unresolved:
        first, last = layout.tensor_of(int(block[0])), layout.tensor_of(int(block[-1]))
        groups.setdefault(first.name if first is last else None, []).append(block)
    found = []
    for name, blocks in groups.items():
        entries = np.unique(np.concatenate(blocks))
        first_name, last_name = (
            layout.component_name(int(entries[0])),
            layout.component_name(int(entries[-1])),
        )
        found.append(_wording.unresolved(name, int(entries.size), first_name, last_name))
    return found
