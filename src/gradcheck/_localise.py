"""Follow failing directional tests down to the entries, tensors or blocks that fail.

A failing (or kinked) screen pattern is split by tensor. A failing tensor is matched against
the tensor-wide patterns with FIT_PATTERNS directional tests of its own, or checked per
component when small; otherwise it is bisected with the same signs (the halves' residuals add
up to the parent's, so a failing block has a failing half) down to LEAF components, which get
the per-component check. What it pins down goes into a `Screening`, which certify turns into the
common `Outcome`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Optional

import numpy as np

from . import _diagnose
from ._directional import Line, Lines, Result, line
from ._fits import Projections, equal_axes
from ._outcome import Evidence, directional, projections
from ._probe import Gradient, Probe
from ._steps import StepRule

# Tests of a failing tensor's own for the tensor-wide fit: five degrees of freedom left after
# fitting one constant, and a wrong_components bug fits by chance with probability ~2^-6.
FIT_PATTERNS = 6
# Blocks this small get the per-component check: 2 evaluations per entry cost about what four
# more bisection levels would, and give each entry's own numerical value.
LEAF = 8
# A failing tensor this small is checked per component at once (≤ 64 evaluations, the price of
# a tensor-wide fit's six refined tests plus a little).
SMALL_TENSOR = 32
# When neither half of a failing block fails (errors near the limit split between the halves),
# a block up to this size is checked per component (≤ 256 evaluations); larger ones are reported.
FALLBACK = 128
# Components checked one by one before bisection stops and reports the blocks still failing:
# a bug spread over a large tensor in no pattern we know must not turn into a full check.
COMPONENT_BUDGET = 4096
# Axis swaps tried on a failing tensor (FIT_PATTERNS × 4 evaluations each): a matrix has one
# pair of equal axes, a conv kernel two (spatial, channels); a tensor with more is rare, and the
# swaps past the third are left to the bisection.
MAX_SWAPS = 3


@dataclass
class Screening:
    """What certify saw: the last screen, and the entries and tensors it pinned down."""

    rule: StepRule
    screen: list[Result]
    first_screen: list[Result]  # against the user's gradient, before any correction
    active: np.ndarray  # components the last screen covered
    checked: list[Evidence] = field(default_factory=list)  # per-component checks along the way
    explained_entrywise: set[int] = field(default_factory=set)  # tensors one pattern explains, entry by entry
    directional: dict[int, Projections] = field(default_factory=dict)  # ... or along directions
    unresolved: list[np.ndarray] = field(default_factory=list)
    failing_tensors: dict[int, list[Result]] = field(default_factory=dict)  # directions=K only
    used: set[int] = field(default_factory=set)  # screen tests that guided a localisation
    kink_tests: int = 0  # directional tests that crossed a kink and agreed with one side

    @property
    def independent(self) -> list[Result]:
        """The last screen's conclusive tests that the localisation did not depend on."""
        return [r for k, r in enumerate(self.screen) if r.state != "kink" and k not in self.used]


def signs(rng: np.random.Generator, n: int) -> np.ndarray:
    """A random ±1 pattern over all of θ (int8: 1 byte per component), from n random bits."""
    bits = np.unpackbits(np.frombuffer(rng.bytes((n + 7) // 8), dtype=np.uint8))[:n]
    return (bits.astype(np.int8) * 2 - 1).astype(np.int8)


class Localiser:
    """Follows failing patterns down to entries, tensors, or blocks it cannot resolve."""

    def __init__(
        self, probe: Probe, gradient: Gradient, lines: Lines, screening: Screening, rng: np.random.Generator
    ) -> None:
        self.probe = probe
        self.gradient = gradient  # the user's gradient, never corrected
        self.lines = lines
        self.rule = screening.rule
        self.screening = screening
        self.rng = rng
        self.checked = 0  # components checked one by one so far

    @property
    def exhausted(self) -> bool:
        """Has the component budget been spent?"""
        return self.checked >= COMPONENT_BUDGET

    def run(self, lines: list[Line], *, always_refine: bool) -> list[Result]:
        results = self.lines.run(lines, always_refine=always_refine)
        self.screening.kink_tests += sum(r.kink and r.significant and r.state == "pass" for r in results)
        return results

    def split(self, active: np.ndarray, pattern: np.ndarray) -> list[tuple[int, np.ndarray, Result]]:
        """Test each tensor's part of ``active`` along ``pattern``: (tensor, block, result)."""
        layout = self.probe.layout
        bounds = np.searchsorted(active, [t.offset for t in layout.tensors] + [layout.size])
        parts = [(k, active[bounds[k] : bounds[k + 1]]) for k in range(len(layout.tensors))]
        parts = [(k, block) for k, block in parts if block.size]
        results = self.run([line(self.rule, block, pattern) for _, block in parts], always_refine=False)
        return [(k, block, result) for (k, block), result in zip(parts, results, strict=True)]

    def tensors(self, active: np.ndarray, failing: list[np.ndarray]) -> None:
        """Name the tensors each failing pattern fails on (where the directions=K check stops)."""
        for pattern in failing:
            for k, _, result in self.split(active, pattern):
                if result.state == "fail":
                    self.screening.failing_tensors.setdefault(k, []).append(result)

    def pattern(self, active: np.ndarray, pattern: np.ndarray) -> None:
        """Split one failing pattern by tensor and resolve each tensor that fails along it."""
        layout = self.probe.layout
        for k, block, result in self.split(active, pattern):
            if result.state == "pass":
                continue
            if layout.tensors[k].size <= SMALL_TENSOR:
                self.components(block, tensor=k)
            else:
                self.bisect(block, pattern, (k, result))

    def fit(self, k: int, block: np.ndarray, pattern: np.ndarray, first: Result) -> bool:
        """Explain a failing tensor by one tensor-wide pattern, from tests of its own."""
        patterns = [pattern] + [signs(self.rng, self.probe.theta.size) for _ in range(FIT_PATTERNS - 1)]
        results = [first] + self.run([line(self.rule, block, p) for p in patterns[1:]], always_refine=True)
        evidence = self._projections(k, block, results, patterns)
        if _diagnose.explain(evidence).tensor_wide:
            self.screening.directional[k] = evidence
            return True
        for axes in equal_axes(evidence.shape)[:MAX_SWAPS]:
            swapped = self._swap(k, block, axes)
            if swapped is not None:
                self.screening.directional[k] = swapped
                return True
        return False

    def _swap(self, k: int, block: np.ndarray, axes: tuple[int, int]) -> Optional[Projections]:
        """Directional tests of tensor k against its gradient with ``axes`` swapped, if they all
        agree: a transposed gradient of any size, in FIT_PATTERNS tests."""
        tensor = self.probe.layout.tensors[k]
        if block.size != tensor.size:  # entries left the screen (kinks): the swap has no partner
            return None

        def swap(values: np.ndarray) -> np.ndarray:
            out = values.copy()
            out[tensor.slice] = np.swapaxes(values[tensor.slice].reshape(tensor.shape), *axes).reshape(-1)
            return out

        lines = Lines(
            self.probe.evaluator,
            swap(self.lines.gradient),
            swap(self.lines.allowance),
            self.probe.noise,
            self.probe.loss_value,
        )
        patterns = [signs(self.rng, self.probe.theta.size) for _ in range(FIT_PATTERNS)]
        results = lines.run([line(self.rule, block, p) for p in patterns], always_refine=True)
        evidence = self._projections(k, block, results, patterns, swapped=axes)
        return evidence if _diagnose.explain(evidence).kind == "transpose" else None

    def _projections(
        self,
        k: int,
        block: np.ndarray,
        results: list[Result],
        patterns: list[np.ndarray],
        swapped: Optional[tuple[int, int]] = None,
    ) -> Projections:
        """Tensor k's evidence from refined directional tests (kinked ones left out)."""
        kept = [(r, p) for r, p in zip(results, patterns, strict=True) if r.refined and not r.kink]
        u_theta = self.lines.scale[block] * self.probe.pattern[block]
        tensor = self.probe.layout.tensors[k]
        theta = np.array([float(p[block] @ u_theta) for _, p in kept])
        return directional(tensor.name, tensor.shape, [r for r, _ in kept], theta, swapped)

    def bisect(
        self, block: np.ndarray, pattern: np.ndarray, tensor: Optional[tuple[int, Result]] = None
    ) -> None:
        """Halve a failing block along the same signs until LEAF, then check it per component.

        ``tensor`` = (its index, its failing test) marks a whole tensor's block: when both of its
        halves fail, a tensor-wide pattern is likely and is tried first.
        """
        if block.size <= LEAF:
            self.components(block)
            return
        if self.exhausted:
            self.screening.unresolved.append(block)
            return
        halves = np.array_split(block, 2)
        results = self.run([line(self.rule, h, pattern) for h in halves], always_refine=False)
        failing = [h for h, r in zip(halves, results, strict=True) if r.state != "pass"]
        if tensor is not None and len(failing) == 2 and tensor[1].state == "fail":
            if self.fit(tensor[0], block, pattern, tensor[1]):
                return
        if not failing:
            if block.size <= FALLBACK:
                self.components(block)
            else:
                self.screening.unresolved.append(block)
        for half in failing:
            self.bisect(half, pattern)

    def components(self, block: np.ndarray, tensor: Optional[int] = None) -> None:
        """The per-component check of ``block``; with ``tensor``, also its tensor-wide fit."""
        evidence, found = self.probe.compare(self.gradient, block)
        self.checked += block.size
        self.screening.checked.append(evidence)
        flagged = evidence.flagged
        self.lines.correct(block[flagged], found.numerical[flagged], evidence.tolerance[flagged])
        if tensor is not None and flagged.any():
            t = self.probe.layout.tensors[tensor]
            evidence_t = projections(evidence, t.name, t.shape, t.offset, self.probe.pattern)
            if _diagnose.explain(evidence_t, whole=block.size == t.size).tensor_wide:
                self.screening.explained_entrywise.add(tensor)
