"""Certify every component in a few dozen evaluations: random-sign screens, then bisection.

Screen: PATTERNS directional tests over every component, each along independent random signs
(scaled like the per-component steps, see `_directional`). A single wrong entry shows in every
one of them at its full size. Several wrong entries can cancel in one pattern, but only with
probability ≤ 1/2 when one of them is above the detection limit L (Erdős 1945 on the
Littlewood–Offord problem: at most C(m, ⌊m/2⌋) ≤ 2^m / 2 of the sign patterns of m numbers of
size ≥ L put their sum in an interval of length 2L, whatever is added to it); so they pass all
PATTERNS independent patterns with probability ≤ 2^-PATTERNS.

Localise: a failing (or kinked) pattern is split by tensor. A failing tensor is matched against
the tensor-wide patterns (`_tensor_fit`) with FIT_PATTERNS tests of its own, or checked per
component when small; otherwise it is bisected with the same signs (the halves' residuals add
up to the parent's, so a failing block has a failing half) down to LEAF components, which get
the per-component check. Located entries are corrected with their measured values and the
screen is repeated on fresh signs, until it passes or MAX_ROUNDS are spent.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Optional

import numpy as np

from ._compare import flag
from ._directional import Line, Lines, Result, StepRule
from ._report import Finding
from ._tensor_fit import Projections, tensor_finding

if TYPE_CHECKING:
    from ._check import _Problem

# 2^-21 ≈ 4.8e-7: the chance that several wrong entries cancel in every pattern stays ≤ 1e-6,
# also after one localisation has used up one pattern (2^-20 ≈ 9.5e-7).
PATTERNS = 21
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
# Screens after the first, each on fresh signs with the entries found so far corrected.
MAX_ROUNDS = 4
# Keeps the signs independent of the random direction that measured the noise (same seed).
SIGN_STREAM = 7


@dataclass
class Checked:
    """Per-component checks done along the way (leaves, small tensors), in order."""

    components: list[np.ndarray] = field(default_factory=list)
    numerical: list[np.ndarray] = field(default_factory=list)
    tolerance: list[np.ndarray] = field(default_factory=list)
    bug_tolerance: list[np.ndarray] = field(default_factory=list)
    flagged: list[np.ndarray] = field(default_factory=list)
    kink: list[np.ndarray] = field(default_factory=list)

    def arrays(self) -> dict[str, np.ndarray]:
        """One array per field, sorted by component."""
        if not self.components:
            empty = np.zeros(0)
            return {
                "components": np.zeros(0, dtype=np.int64),
                "numerical": empty,
                "tolerance": empty,
                "bug_tolerance": empty,
                "flagged": np.zeros(0, dtype=bool),
                "kink": np.zeros(0, dtype=bool),
            }
        joined = {name: np.concatenate(getattr(self, name)) for name in self.__dataclass_fields__}
        order = np.argsort(joined["components"], kind="stable")
        return {name: values[order] for name, values in joined.items()}


@dataclass
class Outcome:
    """What certify saw: the last screen, the entries and tensors it pinned down."""

    rule: StepRule
    screen: list[Result]
    first_screen: list[Result]  # against the user's gradient, before any correction
    active: np.ndarray  # components the last screen covered
    checked: Checked = field(default_factory=Checked)
    tensor_findings: dict[int, Finding] = field(default_factory=dict)
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


class _Localiser:
    """Follows failing patterns down to entries, tensors, or blocks it cannot resolve."""

    def __init__(self, problem: _Problem, lines: Lines, outcome: Outcome, rng: np.random.Generator) -> None:
        self.problem = problem
        self.lines = lines
        self.rule = outcome.rule
        self.outcome = outcome
        self.rng = rng
        self.analytic = lines.gradient.copy()  # the user's gradient, before any correction
        self.allowance = lines.allowance.copy()
        self.checked = 0  # components checked one by one so far

    def run(self, lines: list[Line], *, always_refine: bool) -> list[Result]:
        results = self.lines.run(lines, always_refine=always_refine)
        self.outcome.kink_tests += sum(r.kink and r.significant and r.state == "pass" for r in results)
        return results

    def split(self, active: np.ndarray, pattern: np.ndarray) -> list[tuple[int, np.ndarray, Result]]:
        """Test each tensor's part of ``active`` along ``pattern``: (tensor, block, result)."""
        layout = self.problem.layout
        bounds = np.searchsorted(active, [t.offset for t in layout.tensors] + [layout.size])
        parts = [(k, active[bounds[k] : bounds[k + 1]]) for k in range(len(layout.tensors))]
        parts = [(k, block) for k, block in parts if block.size]
        results = self.run([self.rule.line(block, pattern) for _, block in parts], always_refine=False)
        return [(k, block, result) for (k, block), result in zip(parts, results, strict=True)]

    def tensors(self, active: np.ndarray, failing: list[np.ndarray]) -> None:
        """Name the tensors each failing pattern fails on (where the directions=K check stops)."""
        for pattern in failing:
            for k, _, result in self.split(active, pattern):
                if result.state == "fail":
                    self.outcome.failing_tensors.setdefault(k, []).append(result)

    def pattern(self, active: np.ndarray, pattern: np.ndarray) -> None:
        """Split one failing pattern by tensor and resolve each tensor that fails along it."""
        layout = self.problem.layout
        for k, block, result in self.split(active, pattern):
            if result.state == "pass":
                continue
            if layout.tensors[k].size <= SMALL_TENSOR:
                self.components(block, tensor=k)
            else:
                self.bisect(block, pattern, (k, result))

    def fit(self, k: int, block: np.ndarray, pattern: np.ndarray, first: Result) -> bool:
        """Explain a failing tensor by one tensor-wide pattern, from tests of its own."""
        patterns = [pattern] + [signs(self.rng, self.problem.theta.size) for _ in range(FIT_PATTERNS - 1)]
        results = [first] + self.run([self.rule.line(block, p) for p in patterns[1:]], always_refine=True)
        kept = [(r, p) for r, p in zip(results, patterns, strict=True) if r.refined and not r.kink]
        u_theta = self.lines.scale[block] * self.problem.theta[block]
        projections = Projections(
            analytic=np.array([r.analytic for r, _ in kept]),
            numerical=np.array([r.numerical for r, _ in kept]),
            numerical_error=np.array([r.roundoff + r.truncation for r, _ in kept]),
            analytic_error=np.array([r.analytic_error for r, _ in kept]),
            theta=np.array([float(p[block] @ u_theta) for _, p in kept]),
        )
        finding = tensor_finding(self.problem.layout.tensors[k].name, projections)
        if finding is not None:
            self.outcome.tensor_findings[k] = finding
        return finding is not None

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
        if self.checked >= COMPONENT_BUDGET:
            self.outcome.unresolved.append(block)
            return
        halves = np.array_split(block, 2)
        results = self.run([self.rule.line(h, pattern) for h in halves], always_refine=False)
        failing = [h for h, r in zip(halves, results, strict=True) if r.state != "pass"]
        if tensor is not None and len(failing) == 2 and tensor[1].state == "fail":
            if self.fit(tensor[0], block, pattern, tensor[1]):
                return
        if not failing:
            if block.size <= FALLBACK:
                self.components(block)
            else:
                self.outcome.unresolved.append(block)
        for half in failing:
            self.bisect(half, pattern)

    def components(self, block: np.ndarray, tensor: Optional[int] = None) -> None:
        """The per-component check of ``block``; with ``tensor``, also its tensor-wide fit."""
        analytic, allowance = self.analytic, self.allowance

        def is_suspicious(comps: np.ndarray, numerical: np.ndarray, error: np.ndarray) -> np.ndarray:
            return flag(analytic[comps], numerical, error + allowance[comps])

        found = self.problem.estimate("central", "auto", block, is_suspicious)
        self.checked += block.size
        tolerance = found.error_estimate + allowance[block]
        flagged = flag(analytic[block], found.numerical, tolerance) & ~found.kink
        checked = self.outcome.checked
        checked.components.append(block)
        checked.numerical.append(found.numerical)
        checked.tolerance.append(tolerance)
        checked.bug_tolerance.append(np.where(found.refined, tolerance, tolerance + found.roundoff))
        checked.flagged.append(flagged)
        checked.kink.append(found.kink)
        self.lines.correct(block[flagged], found.numerical[flagged], tolerance[flagged])
        if tensor is not None and flagged.any():
            usable = ~found.kink
            projections = Projections(
                analytic=analytic[block][usable],
                numerical=found.numerical[usable],
                numerical_error=found.error_estimate[usable],
                analytic_error=allowance[block][usable],
                theta=self.problem.theta[block][usable],
            )
            finding = tensor_finding(self.problem.layout.tensors[tensor].name, projections)
            if finding is not None:
                self.outcome.tensor_findings[tensor] = finding


def _remaining(problem: _Problem, outcome: Outcome, active: np.ndarray) -> np.ndarray:
    """The components still to screen: not in a tensor explained as a whole, not on a kink."""
    keep = np.ones(problem.theta.size, dtype=bool)
    for k in outcome.tensor_findings:
        keep[problem.layout.tensors[k].slice] = False
    for components, kink in zip(outcome.checked.components, outcome.checked.kink, strict=True):
        keep[components[kink]] = False
    return active[keep[active]]


def certify(
    problem: _Problem,
    analytic: np.ndarray,
    allowance: np.ndarray,
    *,
    seed: int,
    patterns: int = PATTERNS,
    localise: bool = True,
) -> Outcome:
    """Screen every component with ``patterns`` random-sign tests; localise what fails.

    After a localisation that only corrected entries, the same screen is judged again against
    the corrected gradient (no new evaluations); the pattern that guided the localisation no
    longer counts towards the miss probability. When tensors or kinks leave the screen, a fresh
    screen runs on what remains. Without ``localise`` (the ``directions=K`` check) the screen
    runs once, each test refined only when suspicious, and failures are only split by tensor.
    """
    rng = np.random.default_rng((seed, SIGN_STREAM))
    n = problem.theta.size
    lines = Lines(problem.evaluator, analytic, allowance, problem.noise, problem.loss_value)
    active = np.arange(n)
    rule = lines.pilot(active, signs(rng, n))
    outcome = Outcome(rule=rule, screen=[], first_screen=[], active=active)
    localiser = _Localiser(problem, lines, outcome, rng)
    pats = [signs(rng, n) for _ in range(patterns)]
    outcome.screen = outcome.first_screen = localiser.run(
        [rule.line(active, p) for p in pats], always_refine=localise
    )
    if not localise:
        localiser.tensors(active, [p for p, r in zip(pats, outcome.screen, strict=True) if r.state == "fail"])
        return outcome
    for _ in range(MAX_ROUNDS):
        failing = [k for k, r in enumerate(outcome.screen) if r.state != "pass"]
        if not failing:
            return outcome
        guide = min(failing, key=lambda k: k in outcome.used)  # a pattern not used before, if any
        localiser.pattern(active, pats[guide])
        outcome.used.add(guide)
        if localiser.checked >= COMPONENT_BUDGET:
            break
        remaining = _remaining(problem, outcome, active)
        if remaining.size == active.size:
            outcome.screen = lines.rejudge(outcome.screen)
            continue
        active = outcome.active = remaining
        outcome.used = set()
        if active.size == 0:  # every tensor explained as a whole (or on kinks)
            outcome.screen = []
            return outcome
        pats = [signs(rng, n) for _ in range(patterns)]
        outcome.screen = localiser.run([rule.line(active, p) for p in pats], always_refine=True)
    if any(r.state != "pass" for r in outcome.screen) and not outcome.unresolved:
        outcome.unresolved.append(active)
    return outcome
