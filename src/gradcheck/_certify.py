"""Certify every component in a few dozen evaluations: random-sign screens, then localisation.

Screen: PATTERNS directional tests over every component, each along independent random signs
(scaled like the per-component steps, see `_directional`). A single wrong entry shows in every
one of them at its full size. Several wrong entries can cancel in one pattern, but only with
probability ≤ 1/2 when one of them is above the detection limit L (Erdős 1945 on the
Littlewood–Offord problem: at most C(m, ⌊m/2⌋) ≤ 2^m / 2 of the sign patterns of m numbers of
size ≥ L put their sum in an interval of length 2L, whatever is added to it); so they pass all
PATTERNS independent patterns with probability ≤ 2^-PATTERNS.

Localise (`_localise`): what fails is followed down to entries, tensors or blocks. Located
entries are corrected with their measured values and the screen is repeated on fresh signs,
until it passes or MAX_ROUNDS are spent. ``directions=K`` is the screen alone: K tests, split by
tensor when they fail.
"""

from __future__ import annotations

import math

import numpy as np

from ._compare import SAFETY, relative_difference
from ._directional import Lines, Result, line
from ._localise import Localiser, Screening, signs
from ._outcome import Evidence, Outcome, TensorVerdict
from ._probe import Gradient, Probe
from ._strategy import Choice

# 2^-21 ≈ 4.8e-7: the chance that several wrong entries cancel in every pattern stays ≤ 1e-6,
# also after one localisation has used up one pattern (2^-20 ≈ 9.5e-7).
PATTERNS = 21
# Screens after the first, each on fresh signs with the entries found so far corrected.
MAX_ROUNDS = 4
# Keeps the signs independent of the random direction that measured the noise (same seed).
SIGN_STREAM = 7


def run(probe: Probe, gradient: Gradient, choice: Choice) -> Outcome:
    """Certify (``choice.name == "certify"``) or the directions=K check, as an `Outcome`."""
    localise = choice.name == "certify"
    screening = screen(
        probe, gradient, patterns=PATTERNS if localise else choice.directions, localise=localise
    )
    evidence = Evidence.join(screening.checked)
    tensors = _verdicts(probe, gradient, screening, evidence)
    first = screening.first_screen
    return Outcome(
        strategy=choice.name,
        reason=choice.reason,
        passed=not any(t.wrong for t in tensors)
        and not screening.unresolved
        and all(r.state != "fail" for r in screening.screen),
        difference=relative_difference([r.analytic for r in first], [r.numerical for r in first])
        if first
        else 0.0,
        evidence=evidence,
        tensors=tensors,
        directional=screening.directional,
        located=True,
        failing=screening.failing_tensors,
        unresolved=tuple(screening.unresolved),
        screened=len(screening.screen),
        kink_tests=screening.kink_tests,
        miss_probability=0.5 ** len(screening.independent) if screening.screen else 0.0,
    )


def screen(probe: Probe, gradient: Gradient, *, patterns: int = PATTERNS, localise: bool = True) -> Screening:
    """Screen every component with ``patterns`` random-sign tests; localise what fails.

    After a localisation that only corrected entries, the same screen is judged again against
    the corrected gradient (no new evaluations); the pattern that guided the localisation no
    longer counts towards the miss probability. When tensors or kinks leave the screen, a fresh
    screen runs on what remains. Without ``localise`` (the ``directions=K`` check) the screen
    runs once, each test refined only when suspicious, and failures are only split by tensor.
    """
    rng = np.random.default_rng((probe.options.seed, SIGN_STREAM))
    n = probe.theta.size
    lines = Lines(probe.evaluator, gradient.values, gradient.allowance, probe.noise, probe.loss_value)
    active = probe.checkable
    rule = lines.pilot(active, signs(rng, n))
    screening = Screening(rule=rule, screen=[], first_screen=[], active=active)
    localiser = Localiser(probe, gradient, lines, screening, rng)
    pats = [signs(rng, n) for _ in range(patterns)]
    screening.screen = screening.first_screen = localiser.run(
        [line(rule, active, p) for p in pats], always_refine=localise
    )
    if not localise:
        localiser.tensors(
            active, [p for p, r in zip(pats, screening.screen, strict=True) if r.state == "fail"]
        )
        return screening
    for _ in range(MAX_ROUNDS):
        failing = [k for k, r in enumerate(screening.screen) if r.state != "pass"]
        if not failing:
            return screening
        guide = min(failing, key=lambda k: k in screening.used)  # a pattern not used before, if any
        localiser.pattern(active, pats[guide])
        screening.used.add(guide)
        if localiser.exhausted:
            break
        remaining = _remaining(probe, screening, active)
        if remaining.size == active.size:
            screening.screen = lines.rejudge(screening.screen)
            continue
        active = screening.active = remaining
        screening.used = set()
        if active.size == 0:  # every tensor explained as a whole (or on kinks)
            screening.screen = []
            return screening
        pats = [signs(rng, n) for _ in range(patterns)]
        screening.screen = localiser.run([line(rule, active, p) for p in pats], always_refine=True)
    if any(r.state != "pass" for r in screening.screen) and not screening.unresolved:
        screening.unresolved.append(active)
    return screening


def _remaining(probe: Probe, screening: Screening, active: np.ndarray) -> np.ndarray:
    """The components still to screen: not in a tensor explained as a whole, not on a kink."""
    keep = np.ones(probe.theta.size, dtype=bool)
    for k in screening.explained_entrywise | set(screening.directional):
        keep[probe.layout.tensors[k].slice] = False
    for evidence in screening.checked:
        keep[evidence.components[evidence.kink]] = False
    return active[keep[active]]


def _bug_error(result: Result, rule_curvature: float) -> float:
    """The error a wrong block would have faced: its refined error, or for a first-pass-only
    test the refinement's round-off 2σ/t plus the pilot's truncation model C·(t/2)²."""
    if result.refined:
        return result.bug_error
    t = result.step
    return 2 * result.roundoff + rule_curvature * t**2 / 4 + result.analytic_error


def _screen_limit(screening: Screening) -> float:
    """SAFETY × the largest bug error of the last screen: |sⱼ·δⱼ| above it is always caught."""
    conclusive = [r for r in screening.screen if r.state != "kink"]
    errors = [_bug_error(r, screening.rule.curvature(r.size)) for r in conclusive]
    return SAFETY * max(errors) if errors else math.inf


def _verdicts(
    probe: Probe, gradient: Gradient, screening: Screening, evidence: Evidence
) -> tuple[TensorVerdict, ...]:
    """Per tensor: entries covered, entries wrong, and the single-entry limit of the last screen
    (in units of the entry's scale max(|θᵢ|, 1), so the smallest scale covered binds)."""
    layout = probe.layout
    limit = _screen_limit(screening)
    unresolved = {
        layout.tensor_of(int(b[0])).name
        for b in screening.unresolved
        if layout.tensor_of(int(b[0])) is layout.tensor_of(int(b[-1]))
    }
    scale = np.maximum(np.abs(probe.theta), 1.0)
    ids_checked = layout.tensor_ids()[evidence.components]
    ids_active = layout.tensor_ids()[screening.active]
    verdicts = []
    for k, tensor in enumerate(layout.tensors):
        comps = evidence.components[ids_checked == k]
        covered = screening.active[ids_active == k]
        entry = limit / float(np.min(scale[covered])) if covered.size else math.inf
        typical = float(np.median(np.abs(gradient.values[tensor.slice]))) if tensor.size else 0.0
        wrong = int(evidence.flagged[ids_checked == k].sum())
        checked = int(covered.size + np.count_nonzero(~np.isin(comps, covered, assume_unique=True)))
        if k in screening.directional:  # wrong as a whole, every entry in the tests that say so
            wrong = checked = tensor.size
        elif k in screening.failing_tensors or tensor.name in unresolved:
            wrong = max(wrong, 1)
        verdicts.append(
            TensorVerdict(
                checked=checked,
                wrong=wrong,
                entry_limit=entry,
                detection_limit=entry / typical if typical > 0 else math.inf,
            )
        )
    return tuple(verdicts)
