"""What a strategy established: the one value every strategy returns and the diagnosis reads.

Evidence from single components (the full check, a sample, certify's leaves) sits in
`Evidence`; evidence from directional tests (a tensor explained as a whole, failing directions,
blocks not narrowed down) sits beside it. `TensorVerdict` holds what each strategy knows best
about a tensor: how much of it was covered, how many entries are wrong, and the smallest error
the run was sure to catch. Rows, settings, findings and the `Report` are built from this value
once (`_assemble`, `_diagnose`).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Optional

import numpy as np

from ._compare import SAFETY
from ._directional import Result
from ._fits import Projections, floor


@dataclass(frozen=True)
class Evidence:
    """Components checked one by one (sorted flat indices into θ) and how each one went."""

    components: np.ndarray
    analytic: np.ndarray
    numerical: np.ndarray
    tolerance: np.ndarray  # estimated error of the comparison: numerical error + analytic rounding
    flagged: np.ndarray
    kink: np.ndarray  # left out of the verdict: a kink or a jump within the step
    jump: np.ndarray  # ... because the loss jumps there (a discontinuity)

    @staticmethod
    def join(parts: Sequence[Evidence]) -> Evidence:
        """One `Evidence` of several, sorted by component."""
        if not parts:
            empty = np.zeros(0)
            none = np.zeros(0, dtype=bool)
            return Evidence(np.zeros(0, dtype=np.int64), empty, empty, empty, none, none, none)
        joined = {
            name: np.concatenate([getattr(p, name) for p in parts]) for name in Evidence.__dataclass_fields__
        }
        order = np.argsort(joined["components"], kind="stable")
        return Evidence(**{name: values[order] for name, values in joined.items()})

    def where(self, mask: np.ndarray) -> Evidence:
        """The components selected by ``mask``."""
        return Evidence(**{name: getattr(self, name)[mask] for name in Evidence.__dataclass_fields__})


@dataclass(frozen=True)
class TensorVerdict:
    """One tensor as the strategy saw it."""

    checked: int  # entries covered (one by one, or by every directional test)
    wrong: int  # entries found wrong (all of them for a tensor wrong as a whole; ≥ 1 if unlocated)
    entry_limit: float  # smallest error of a single entry sure to be caught (absolute)
    detection_limit: float  # the same, relative to the tensor's gradient
    scale_limit: float = math.nan  # smallest constant factor error of the whole tensor sure to be caught


@dataclass(frozen=True)
class Region:
    """A block of one tensor that directional tests pin down as wrong, with the tests that do."""

    tensor: int
    components: np.ndarray  # sorted flat indices into θ
    tests: Optional[Projections] = None  # the halves' failing tests, when they fail alike


@dataclass(frozen=True)
class Outcome:
    """What one strategy found, before diagnosis and rendering."""

    strategy: str  # "full", "sample", "certify" or "directions"
    reason: str  # why this strategy ran
    passed: bool
    difference: float  # the seeds' relative difference over what was compared
    evidence: Evidence
    tensors: tuple[TensorVerdict, ...]
    directional: dict[int, Projections] = field(default_factory=dict)  # tensors explained along directions
    failing: dict[int, list[Result]] = field(default_factory=dict)  # directions=K: failing tests by tensor
    unresolved: tuple[np.ndarray, ...] = ()  # failing blocks not narrowed down to entries
    regions: tuple[Region, ...] = ()  # blocks located as wrong as a whole (regression)
    tolerated: dict[int, float] = field(default_factory=dict)  # tensors rtol accepts: their relative error
    screened: int = 0  # directional tests in the last screen
    kink_tests: int = 0  # directional tests that crossed a kink and agreed with one side
    miss_probability: float = 0.0
    # The per-component evidence holds entries a search located (certify), not a fair view of
    # their tensors (every entry, or a random sample): no tensor-wide claim can rest on it.
    located: bool = False
    sampled: bool = False  # only a sample of the components was checked (what coverage tells)
    method: str = "central"
    eps: object = "auto"

    @property
    def detection_limit(self) -> float:
        """The weakest tensor's relative detection limit (what the whole run guarantees)."""
        finite = [t.detection_limit for t in self.tensors if math.isfinite(t.detection_limit)]
        return max(finite) if finite else math.inf


def projections(
    evidence: Evidence, name: str, shape: tuple[int, ...], offset: int, theta: np.ndarray
) -> Projections:
    """A tensor's kink-free per-component evidence as the fits see it (``evidence`` holds only its
    components)."""
    keep = ~evidence.kink
    comps = evidence.components[keep]
    return Projections(
        name=name,
        shape=shape,
        analytic=evidence.analytic[keep],
        numerical=evidence.numerical[keep],
        estimate=floor(evidence.tolerance[keep]),
        theta=theta[comps],
        flagged=evidence.flagged[keep],
        local=comps - offset,
    )


def directional(
    name: str,
    shape: tuple[int, ...],
    results: Sequence[Result],
    theta: np.ndarray,
    swapped: Optional[tuple[int, int]] = None,
) -> Projections:
    """A tensor's evidence from directional tests as the fits see them: u·g and the measured
    derivative along each direction u, their errors (never zero), u·θ (``theta``) and which fail."""
    return Projections(
        name=name,
        shape=shape,
        analytic=np.array([r.analytic for r in results]),
        numerical=np.array([r.numerical for r in results]),
        estimate=floor(np.array([r.error for r in results])),
        theta=np.asarray(theta, dtype=np.float64),
        flagged=np.array([abs(r.residual) > SAFETY * r.error for r in results], dtype=bool),
        swapped=swapped,
    )
