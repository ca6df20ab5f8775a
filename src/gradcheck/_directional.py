"""Directional derivatives judged like single components: one error bound, never a tolerance.

A test moves θ along u = signs ⊙ s on a block of components, where sᵢ = max(|θᵢ|, 1) is the
scale the per-component steps use, and compares u·g (analytic) with the central difference
D(t) = (J(θ + t·u) − J(θ − t·u)) / 2t. A single wrong entry δⱼ in the block shifts u·g by
±sⱼ·δⱼ whatever the block's size. The error of the comparison has four parts:

- round-off σ/t (σ the loss's measured noise; Σ|w| = 1 for central differences);
- truncation, from a second step t/2 (Richardson: D(t) − D(t/2) ≈ 3·err(t/2) at order 2);
- the error of u·g itself: each gᵢ carries ε·max(|gᵢ|, rms) (`analytic_allowance`), entering
  with the independent signs of u, so as √Σ(uᵢaᵢ)²; the float64 dot product adds at most
  ⌈log₂ k⌉·ε₆₄·Σ|uᵢgᵢ| (pairwise summation, Higham, Accuracy and Stability §4.2);
- the parameters' own rounding: θᵢ + t·uᵢ is stored in the tensor's dtype, so the step taken
  is Δ = fl(θ + t·u) − θ, not t·u; every analytic value below uses Δ, never u.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from ._compare import SAFETY, norm
from ._evaluate import Evaluator
from ._finite_differences import curvatures_disagree
from ._stencils import FLOAT64_EPS
from ._steps import StepRule, largest_directional_step
from ._tree import round_to_dtypes

# Offsets (in units of the step t) of a refined test: central differences at t and t/2, and
# the five points J(0), J(±t/2), J(±t) the kink test reads.
FIRST = (1.0, -1.0)
SECOND = (0.5, -0.5)
# The pilot trusts its truncation measurement when D(t) − D(t/2) exceeds its own round-off
# (σ/t + 2σ/t) this many times; below that it is noise and says nothing about curvature.
PILOT_SIGNAL = 10.0
# Directions held in memory at once: 2²² float64 values (32 MB) bounds the batch at n = 10⁶.
BATCH_VALUES = 2**22


def evaluate_along(evaluator: Evaluator, pairs: Sequence[tuple[np.ndarray, float]]) -> np.ndarray:
    """J(θ + t·d) for every (d, t): the one place directional tests evaluate the loss.

    In process through `Evaluator.along` (no (k, n) stack of directions in memory), or through
    the evaluator's batched or parallel backend with `Evaluator.many_along`.
    """
    if evaluator.backend is None or not pairs:
        return np.array([evaluator.along(direction, t) for direction, t in pairs])
    return evaluator.many_along(np.stack([d for d, _ in pairs]), np.array([t for _, t in pairs]))


@dataclass(frozen=True)
class Line:
    """A request: test the block (sorted flat indices into θ) along ``signs`` at step t.

    ``signs`` holds ±1 (int8) for each component of the block. ``curvature`` C models the
    central difference's truncation as C·t² (from the pilot); it bounds the one-sided
    derivatives' truncation when a kink is tested.
    """

    block: np.ndarray
    signs: np.ndarray
    step: float
    curvature: float

    @functools.cached_property
    def where(self) -> slice | np.ndarray:
        """The block as a slice when it is contiguous (the usual case): views, not copies."""
        b = self.block
        if b.size and int(b[-1]) - int(b[0]) + 1 == b.size:
            return slice(int(b[0]), int(b[-1]) + 1)
        return b


@dataclass(frozen=True)
class Result:
    """One directional test: u·g and D, their estimated error, and how it went."""

    analytic: float
    numerical: float
    roundoff: float
    truncation: float
    analytic_error: float
    step: float
    size: int
    refined: bool
    kink: bool  # the one-sided derivatives disagree beyond their errors
    one_sided: bool  # ... and the analytic value matches one of them
    one_sided_error: float
    line: Line = field(repr=False)
    values: dict[float, float] = field(repr=False)  # J(θ + c·t·u) by offset c: to judge again

    @property
    def error(self) -> float:
        return self.roundoff + self.truncation + self.analytic_error

    @property
    def residual(self) -> float:
        return self.analytic - self.numerical

    @property
    def bug_error(self) -> float:
        """The error a wrong entry would have been measured against (one side on a kink)."""
        return self.one_sided_error if self.kink and self.one_sided else self.error

    @property
    def significant(self) -> bool:
        return abs(self.residual) > SAFETY * self.error

    @property
    def state(self) -> str:
        """``pass``, ``fail`` (a wrong gradient) or ``kink`` (split it: inconclusive here)."""
        if not self.significant or (self.kink and self.one_sided):
            return "pass"
        return "kink" if self.kink else "fail"


def kink(j0: float, jp: float, jm: float, jp2: float, jm2: float, t: float, sigma: float) -> bool:
    """Does the derivative along the line jump within [−t, t]?

    Either the one-sided curvatures differ (a kink between t/2 and t on one side: the
    per-component rule), or a slope jump b shows once the curvature is eliminated: the symmetric
    difference S(h) = (J(h) − 2J(0) + J(−h))/h = b + h·J'' + O(h³), so 2·S(t/2) − S(t) = b + O(t³).
    (The per-component rule compares S(t/2) with S(t) directly, which misses b when h·J''
    dominates, as it does along dense directions.)
    """
    half = t / 2
    if curvatures_disagree(j0, jp, jm, jp2, jm2, t, sigma):
        return True
    jump = 2 * (jp2 - 2 * j0 + jm2) / half - (jp - 2 * j0 + jm) / t
    return abs(jump) > SAFETY * 20 * sigma / t  # noise gains: 2·4/(t/2) + 4/t = 20/t


class Lines:
    """Directional tests at θ against a gradient g (corrected in place as entries are located)."""

    def __init__(
        self, evaluator: Evaluator, gradient: np.ndarray, allowance: np.ndarray, sigma: float, j0: float
    ) -> None:
        self.evaluator = evaluator
        self.theta = evaluator.theta
        self.scale = np.maximum(np.abs(self.theta), 1.0)
        self.gradient = gradient.copy()
        self.allowance = allowance.copy()
        self.sigma = sigma
        self.j0 = j0
        self.relative_noise = sigma / abs(j0) if j0 else 0.0
        self.layout = evaluator.layout

    def correct(self, components: np.ndarray, values: np.ndarray, errors: np.ndarray) -> None:
        """Use measured values (and their errors) for entries found wrong, in later tests."""
        self.gradient[components] = values
        self.allowance[components] = errors

    def _u(self, line: Line) -> np.ndarray:
        return line.signs * self.scale[line.where]

    def _direction(self, line: Line) -> np.ndarray:
        direction = np.zeros(self.theta.size)
        direction[line.where] = self._u(line)
        return direction

    def _analytic_error(self, line: Line) -> float:
        u = np.abs(self._u(line))
        rounding = norm(u * self.allowance[line.where])
        summation = (
            math.ceil(math.log2(max(line.block.size, 2)))
            * FLOAT64_EPS
            * float(u @ np.abs(self.gradient[line.where]))
        )
        return rounding + summation

    def run(self, lines: Sequence[Line], *, always_refine: bool) -> list[Result]:
        """Test every line: at t, then at t/2 when ``always_refine`` or the first pass is suspicious."""
        results: list[Result] = []
        per_batch = max(1, BATCH_VALUES // max(self.theta.size, 1))
        for start in range(0, len(lines), per_batch):
            results += self._run_batch(lines[start : start + per_batch], always_refine)
        return results

    def _run_batch(self, lines: Sequence[Line], always_refine: bool) -> list[Result]:
        directions = [self._direction(line) for line in lines]
        values: list[dict[float, float]] = [{} for _ in lines]
        self._evaluate(
            lines, directions, values, range(len(lines)), FIRST + (SECOND if always_refine else ())
        )
        analytic_errors = [self._analytic_error(line) for line in lines]
        if not always_refine:
            first = [
                self._first_pass(line, v, e)
                for line, v, e in zip(lines, values, analytic_errors, strict=True)
            ]
            suspicious = [k for k, r in enumerate(first) if r.significant]
            self._evaluate(lines, directions, values, suspicious, SECOND)
        return [
            self._refined(line, v, e) if len(v) == 4 else self._first_pass(line, v, e)
            for line, v, e in zip(lines, values, analytic_errors, strict=True)
        ]

    def _evaluate(
        self,
        lines: Sequence[Line],
        directions: list[np.ndarray],
        values: list[dict[float, float]],
        which: Sequence[int],
        offsets: tuple[float, ...],
    ) -> None:
        pairs = [(k, c) for k in which for c in offsets]
        found = evaluate_along(self.evaluator, [(directions[k], c * lines[k].step) for k, c in pairs])
        for (k, c), value in zip(pairs, found.tolist(), strict=True):
            values[k][c] = value

    def _projections(self, line: Line, offsets: Sequence[float]) -> dict[float, float]:
        """Δ(c·t)·g for each offset, where Δ = fl(θ + c·t·u) − θ is the perturbation the
        evaluator really applies (rounded to each tensor's dtype): J's change to first order."""
        theta, u, g = self.theta[line.where], self._u(line), self.gradient[line.where]
        projections = {}
        for c in offsets:
            x = round_to_dtypes(self.layout, theta + (c * line.step) * u, line.block)
            projections[c] = float((x - theta) @ g)
        return projections

    def _first_pass(self, line: Line, v: dict[float, float], analytic_error: float) -> Result:
        t = line.step
        a = self._projections(line, FIRST)
        return Result(
            analytic=(a[1.0] - a[-1.0]) / (2 * t),
            numerical=(v[1.0] - v[-1.0]) / (2 * t),
            roundoff=self.sigma / t,
            truncation=0.0,
            analytic_error=analytic_error,
            step=t,
            size=int(line.block.size),
            refined=False,
            kink=False,
            one_sided=False,
            one_sided_error=math.inf,
            line=line,
            values=v,
        )

    def _refined(self, line: Line, v: dict[float, float], analytic_error: float) -> Result:
        t, sigma, j0 = line.step, self.sigma, self.j0
        a = self._projections(line, FIRST + SECOND)
        residual_t = (a[1.0] - a[-1.0] - v[1.0] + v[-1.0]) / (2 * t)
        analytic = (a[0.5] - a[-0.5]) / t
        numerical = (v[0.5] - v[-0.5]) / t
        crossed = kink(j0, v[1.0], v[-1.0], v[0.5], v[-0.5], t, sigma)
        one_sided, one_sided_error = False, math.inf
        if crossed:
            # Second-order one-sided derivatives on each side (noise gain 8/t; truncation half
            # the central one's, C·t²/2); a correct gradient matches the side θ lies on.
            right = ((4 * v[0.5] - v[1.0] - 3 * j0) - (4 * a[0.5] - a[1.0])) / t
            left = ((3 * j0 + v[-1.0] - 4 * v[-0.5]) - (a[-1.0] - 4 * a[-0.5])) / t
            one_sided_error = 8 * sigma / t + line.curvature * t**2 / 2 + analytic_error
            one_sided = min(abs(right), abs(left)) <= SAFETY * one_sided_error
        return Result(
            analytic=analytic,
            numerical=numerical,
            roundoff=2 * sigma / t,
            truncation=abs(residual_t - (analytic - numerical)) / 3,
            analytic_error=analytic_error,
            step=t,
            size=int(line.block.size),
            refined=True,
            kink=crossed,
            one_sided=one_sided,
            one_sided_error=one_sided_error,
            line=line,
            values=v,
        )

    def rejudge(self, results: Sequence[Result]) -> list[Result]:
        """The same tests (same loss values) judged against the gradient as corrected now."""
        out = []
        for r in results:
            error = self._analytic_error(r.line)
            out.append(
                self._refined(r.line, r.values, error)
                if r.refined
                else self._first_pass(r.line, r.values, error)
            )
        return out

    def pilot(self, block: np.ndarray, pattern: np.ndarray) -> StepRule:
        """Measure the truncation along one block direction and derive the steps of all blocks."""
        t = largest_directional_step(self.relative_noise)
        result = self.run([Line(block, pattern[block], t, 0.0)], always_refine=True)[0]
        difference = 3 * result.truncation  # |D(t) − D(t/2)|, measured on residuals
        noise = 3 * self.sigma / t  # round-off of D(t) − D(t/2)
        measured = difference > PILOT_SIGNAL * noise
        # D(t) − D(t/2) = (3/4)·C·t² for a truncation C·t²; below the noise level C is bounded.
        curvature = max(difference, PILOT_SIGNAL * noise) / (0.75 * t**2)
        return StepRule(int(block.size), curvature, self.sigma, t, measured)


def line(rule: StepRule, block: np.ndarray, pattern: np.ndarray) -> Line:
    """The test of ``block`` along the signs ``pattern`` (a ±1 vector over all of θ), at the
    step ``rule`` gives a block of its size."""
    k = int(block.size)
    return Line(block, pattern[block], rule.step(k), rule.curvature(k))
