"""The check for losses computed in low precision: regression along random directions, per tensor.

In float32, bfloat16 or float16 a central difference per component drowns in round-off, and a
wrong factor of a few per cent passes. Directions first, localisation after, as certify does,
but each directional test is a regression over many step sizes (`_linefit`), and each tensor
gets its own DIRECTIONS distinct random-sign directions:

- **screen**: the half-width T of a tensor's lines is chosen on its first direction, swept at
  every half-width in one batch (`_pilot`). Every direction is swept twice, over [−T, T] and a
  shorter range; the noise σ is the probe's or the lines' own (their differences, or their
  halves' fits where a kink at θ spoils those), and the two slopes' difference calibrates it
  (κ: rounding sawtooths and kinks crossed lean slopes without showing in residuals).
- **verdict**: a direction fails when its slope error exceeds SAFETY × its error (κσ over the
  sweep, the misfit beyond the noise, the analytic side's measured rounding); a line that breaks
  at θ passes when u·g lies between its one-sided slopes. A tensor also fails when its
  directions *together* show a constant factor: the weighted fit of the residuals on u·g gives c
  with an error √P times smaller than one direction's (grown by Birge's ratio when the lines
  scatter more than their errors say), and c beyond SAFETY × that error + ROUNDED_CONSTANTS unit
  roundoffs of the tensor's precision is wrong. This is what catches a 3e-4 factor in float32
  code or 5 % in bfloat16, far below what any single entry could show.
- **localisation**: a failing tensor is explained as a whole by `_diagnose.explain` on its
  directions (scale, sign, zero, missing regularization; a transpose is the same evaluations
  judged against the swapped gradient). Otherwise a small tensor gets a regression per entry
  and a larger one is bisected along its most significant failing direction, at row boundaries:
  halves that are both zero are reported as a zero region (a masked row), single entries with
  their values, what the budget leaves as a block.

`with_screens` adds the same screens to a float32 full check: the full check's findings stand
where it flagged, the screens explain tensor-wide errors no single entry showed.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field
from typing import Optional

import numpy as np

from . import _diagnose, _precision
from ._compare import SAFETY, relative_difference
from ._directional import Line, Result
from ._fits import Projections, equal_axes, fit, floor
from ._linefit import (
    ADEQUATE,
    FIRST_STEP,
    SECOND_RANGE,
    SECOND_RANGE_COARSE,
    SHRINK,
    TRIES,
    Fit,
    LineTests,
    Measurement,
    Sides,
    Sweep,
    combine,
)
from ._localise import signs
from ._outcome import Evidence, Outcome, Region, TensorVerdict, directional
from ._probe import Gradient, Probe
from ._strategy import Choice
from ._tree import Layout

# Directions per tensor: a single wrong entry above the entry limit fails every one of them, and
# several cancel in all 16 with probability ≤ 2⁻¹⁶ ≈ 1.5e-5 (Littlewood–Offord, as in certify);
# 15 degrees of freedom remain for the tensor-wide fits after one constant.
DIRECTIONS = 16
# A failing tensor this small gets a regression per entry (≤ 32 × 32 evaluations): each entry's
# own values, and the fits of `_diagnose` on them, rather than bisection.
SMALL_TENSOR = 32
# Bisection tests per failing tensor (two per level, 32 evaluations each): enough to follow a
# single wrong entry through 2²⁴ components, or a few of them; what is left is reported as a block.
TEST_BUDGET = 48
# Half-widths swept on a coarse grid (a quarter, a sixteenth and a 64th of each parameter's
# scale): a bfloat16 or float16 loss resolves nothing much finer.
COARSE_TRIES = 3
# A correct gradient may differ from the loss's slope by a constant factor of a few ulps of the
# precision both are computed in: each constant on the path (a 1/N, a softmax scale, a loss
# weight, a coefficient of the loss) is rounded to it once, and four of them compound to 4 ulps.
ROUNDED_CONSTANTS = 4
# Up to this many entries the distinct lines through a tensor (2ⁿ⁻¹) are enumerated and sampled
# without repeats; beyond it (2¹⁹ lines) random patterns repeat too rarely to matter.
DISTINCT_UP_TO = 20
# Two one-sided slopes that differ by more than twice the sum of their errors (2.8 standard
# deviations of the difference) show a kink at θ; then u·g only has to lie between them.
KINK_EVIDENCE = 2.0
# Keeps these signs independent of the noise probe's and certify's (same seed).
SIGN_STREAM = 11


Direction = tuple[Sweep, Sweep]  # one direction swept over [−T, T] and over [−rT, rT]


@dataclass
class _Tensor:
    """One tensor's screen: its directions, their step and noise, and what localisation found."""

    index: int
    block: np.ndarray
    patterns: list[np.ndarray] = field(default_factory=list)  # distinct sign patterns, one per direction
    coarse: bool = False  # read on a bfloat16 or float16 grid
    half_width: float = FIRST_STEP
    directions: list[Direction] = field(default_factory=list)
    results: list[Result] = field(default_factory=list)
    noise: float = 0.0
    calibration: float = 1.0  # measured slope noise over what white noise of σ would give
    factor: tuple[float, float] = (0.0, math.inf)  # coherent c (numerical ≈ (1 + c)·analytic), its error
    explained: Optional[Projections] = None
    evidence: list[Evidence] = field(default_factory=list)
    regions: list[Region] = field(default_factory=list)

    @property
    def second(self) -> float:
        """The second sweep's half-width, relative to the first."""
        return SECOND_RANGE_COARSE if self.coarse else SECOND_RANGE

    @property
    def failing(self) -> list[int]:
        return [j for j, r in enumerate(self.results) if r.state == "fail"]


class _Run:
    """The screen, the verdicts and the localisation of one regression check."""

    def __init__(self, probe: Probe, gradient: Gradient, directions: int) -> None:
        self.probe, self.gradient = probe, gradient
        self.tests = LineTests(probe.evaluator, probe.loss_value)
        self.rng = np.random.default_rng((probe.options.seed, SIGN_STREAM))
        self.directions = directions
        # Each tensor's finite entries (a NaN or inf entry is never perturbed: probe.finite).
        blocks = [np.flatnonzero(probe.finite[t.slice]) + t.offset for t in probe.layout.tensors]
        self.tensors = [_Tensor(k, block) for k, block in enumerate(blocks) if block.size]
        for tensor in self.tensors:
            tensor.patterns = distinct_signs(self.rng, tensor.block.size, directions)
            tensor.coarse = _precision.coarse(probe.evaluator.layout.tensors[tensor.index].dtype)

    # --- screen ---------------------------------------------------------------------------

    def screen(self) -> None:
        firsts = self._pilot()
        seconds = self.tests.evaluate(
            [(t.block, f.signs, t.half_width * t.second) for t, f in zip(self.tensors, firsts, strict=True)]
        )
        for tensor, first, second in zip(self.tensors, firsts, seconds, strict=True):
            tensor.directions.append((first, second))
        more = [(t, pattern) for t in self.tensors for pattern in t.patterns[1:]]
        directions = self._sweep_blocks([(t, t.block, pattern) for t, pattern in more])
        for (tensor, _), direction in zip(more, directions, strict=True):
            tensor.directions.append(direction)
        for tensor in self.tensors:
            self._judge_tensor(tensor)

    def _sweep_blocks(self, blocks: list[tuple[_Tensor, np.ndarray, np.ndarray]]) -> list[Direction]:
        """Both sweeps of (tensor, block, signs) directions, at each tensor's half-width."""
        asked = []
        for tensor, block, pattern in blocks:
            asked += [
                (block, pattern, tensor.half_width),
                (block, pattern, tensor.half_width * tensor.second),
            ]
        found = self.tests.evaluate(asked)
        return list(zip(found[::2], found[1::2], strict=True))

    def _pilot(self) -> list[Sweep]:
        """Each tensor's first sweep, at the half-width its direction is measured best; sets each
        tensor's half-width.

        Half-widths from a quarter of each parameter's scale down by factors of 4 are swept (on
        a bfloat16 or float16 grid the first COARSE_TRIES: finer ones do not move such a loss).
        A line's noise is what its differences, or its halves' fits, leave (a kink at θ spoils
        the differences, not the halves). On a fine grid the half-width whose slope would be
        most precise is taken: the noise over the half-width, plus any misfit beyond the noise
        (curvature, kinks crossed) as the most it can lean the slope. On a coarse grid one
        line's residuals cannot tell noise from misfit, and the largest half-width whose slope
        agrees with those of the smaller ones (no higher derivative leans it) is taken instead.
        """
        requests = [
            (t, FIRST_STEP / SHRINK**k)
            for t in self.tensors
            for k in range(COARSE_TRIES if t.coarse else TRIES)
        ]
        sweeps = self.tests.evaluate([(t.block, t.patterns[0], half) for t, half in requests])
        tried: dict[int, list[tuple[Sweep, Fit, float]]] = {t.index: [] for t in self.tensors}
        for (tensor, _), sweep in zip(requests, sweeps, strict=True):
            found = self.tests.fit(sweep, self.gradient.values)
            sides = self.tests.sides([sweep], self.gradient.values)
            misfit = min(found.residual_noise, sides.residual_noise)  # a kink at θ fits by halves
            found = dataclasses.replace(found, residual_noise=misfit)
            tried[tensor.index].append((sweep, found, min(found.noise, sides.residual_noise)))
        firsts = []
        for tensor in self.tensors:
            chosen = self._consistent if tensor.coarse else self._most_precise
            best = chosen(tried[tensor.index])
            tensor.half_width = best.half_width
            firsts.append(best)
        return firsts

    def _most_precise(self, runs: list[tuple[Sweep, Fit, float]]) -> Sweep:
        """The sweep whose slope error would be smallest: noise·‖w‖₂, plus misfit·‖w‖₁ where the
        fit leaves more than ADEQUATE times the noise (the median over the sweeps, at least the
        probe's)."""
        noise = max(self.probe.noise, float(np.median([n for _, _, n in runs])))

        def error(run: tuple[Sweep, Fit, float]) -> float:
            found = run[1]
            misfit = found.residual_noise if found.residual_noise > ADEQUATE * noise else 0.0
            return noise * found.gain + misfit * found.gain_l1

        return min(runs, key=error)[0]

    def _consistent(self, runs: list[tuple[Sweep, Fit, float]]) -> Sweep:
        """The largest half-width that a quartic describes to within ADEQUATE of the noise and
        whose slope agrees with every smaller one's (within SAFETY times their errors); else the
        smallest. A sweep's noise is the largest its own and the shorter sweeps' show: a long
        sweep that curves reads it high, a short one of a coarse loss (few rounding steps) low,
        and one estimate alone scatters too much to judge a fit by."""
        noise = [max(self.probe.noise, *(n for _, _, n in runs[k:])) for k in range(len(runs))]
        for k, (sweep, found, _) in enumerate(runs):
            if found.residual_noise <= ADEQUATE * noise[k] and all(
                abs(found.slope - other.slope) <= SAFETY * (noise[k] * found.gain + noise[j] * other.gain)
                for j, (_, other, _) in enumerate(runs[k + 1 :], start=k + 1)
            ):
                return sweep
        return runs[-1][0]

    def _judge_tensor(self, tensor: _Tensor) -> None:
        measured = [self.measure(d, self.gradient.values) for d in tensor.directions]
        # The residuals of a line that does not fit (a kink, higher derivatives) are no noise:
        # each line adds its own misfit below. The noise is what the differences measure, or the
        # fits of each side where a kink at θ spoils them; the median line's, so that a few lines
        # crossing kinks do not count (the probe's tiny steps may see too little of it).
        per_line = [
            min(m.noise, self.tests.sides(d, self.gradient.values).residual_noise)
            for m, d in zip(measured, tensor.directions, strict=True)
        ]
        tensor.noise = max(self.probe.noise, float(np.median(per_line)))
        smooth = [m for m in measured if m.residual_noise <= ADEQUATE * tensor.noise]
        splits = [m.split / (tensor.noise * m.split_gain) for m in smooth]
        tensor.calibration = max(1.0, float(np.sqrt(np.mean(np.square(splits))))) if splits else 1.0
        tensor.results = [
            self.judge(d, tensor, self.gradient.values, m)
            for d, m in zip(tensor.directions, measured, strict=True)
        ]
        tensor.factor = self._coherent(tensor.results)

    def measure(self, direction: Direction, gradient: np.ndarray) -> Measurement:
        return combine(*(self.tests.fit(s, gradient) for s in direction))

    def judge(
        self, direction: Direction, tensor: _Tensor, gradient: np.ndarray, found: Optional[Measurement] = None
    ) -> Result:
        """One direction judged against ``gradient``: its slope error against its own error
        (``found``: the direction's measurement against ``gradient``, when already made).

        A line the quartic describes is judged on its slope. One it does not may break at θ:
        if a quadratic per side describes it, u·g must lie between the two one-sided slopes (then
        it counts as a kink, passed); otherwise the misfit is added to the error.
        """
        found = found if found is not None else self.measure(direction, gradient)
        noise = tensor.calibration * tensor.noise  # the noise the lines' slopes are seen to carry
        sweep = direction[0]
        analytic = self.tests.analytic(sweep, gradient)
        analytic_error = self.tests.analytic_error(sweep, self.gradient.allowance)
        slope, roundoff, truncation, kink = found.slope, noise * found.gain, 0.0, False
        side_error = math.inf
        smooth = found.residual_noise <= ADEQUATE * noise
        if smooth:
            roundoff = max(noise, found.residual_noise) * found.gain
        if not smooth or abs(slope) > SAFETY * (roundoff + analytic_error):
            # |s| is close to s² and s⁴ on 16 points: a kink at θ may fit the quartic and lean its slope
            sides = self.tests.sides(direction, gradient)
            broken = (
                self._one_sided(sides, noise, analytic_error)
                if sides.residual_noise <= ADEQUATE * noise
                else None
            )
            if broken is not None and broken[2]:  # two halves, u·g between their slopes: a kink at θ
                slope, side_error, kink = broken
            elif not smooth:  # the misfit may move the slope by up to Σ|w|·residual
                truncation = found.residual_noise * found.gain_l1
        return Result(
            analytic=analytic,
            numerical=analytic + slope,
            roundoff=roundoff,
            truncation=truncation,
            analytic_error=analytic_error,
            step=sweep.half_width,
            size=sweep.size,
            refined=True,
            kink=kink,
            one_sided=kink,
            one_sided_error=side_error + analytic_error if kink else roundoff + truncation + analytic_error,
            line=Line(sweep.block, sweep.signs, sweep.half_width, 0.0),
            values={},
        )

    @staticmethod
    def _one_sided(sides: Sides, noise: float, analytic_error: float) -> Optional[tuple[float, float, bool]]:
        """For a line whose one-sided slopes differ (a kink at θ; else None): (the nearer side's
        slope error, its error, passed). A valid subgradient's u·g lies between them, within
        SAFETY times their error: then the line passes as a kink, and since an error of u·g
        within the gap could pass with it, the error it reports covers the gap. Otherwise the
        kink explains nothing and the line is judged as it was: two halves fitted by quadratics
        also differ on a line too curved for them, so they never make a line fail."""
        right, left = noise * sides.right_gain, noise * sides.left_gain
        low, high = sorted((sides.right, sides.left))
        if high - low <= KINK_EVIDENCE * (right + left):
            return None
        error = max(right, left)
        margin = SAFETY * (error + analytic_error)
        nearer = low if abs(low) < abs(high) else high
        passed = low - margin <= 0 <= high + margin
        return nearer, error + (high - low) / SAFETY if passed else error, passed

    def _coherent(self, results: list[Result]) -> tuple[float, float]:
        """The constant c with numerical ≈ (1 + c)·analytic over the tensor's directions, and its
        error. Lines through a kink at θ say only that u·g lies between two slopes, not where:
        they are left out (with none left, no factor is measured and the limit is infinite)."""
        kept = [r for r in results if not r.kink]
        if len(kept) < 2:
            return 0.0, math.inf
        analytic = np.array([r.analytic for r in kept])
        residual = np.array([-r.residual for r in kept])
        error = floor(np.array([r.error for r in kept]))
        c, c_error = fit(analytic, residual, error)
        if not math.isfinite(c):
            return 0.0, math.inf
        # Lines that scatter about the fitted factor more than their errors say (kinks crossed
        # along them lean each slope a little) make the factor that much less certain: its error
        # grows by the square root of the reduced χ² (Birge's ratio). A factor alone leaves χ² ≈ 1.
        chi2 = float(np.sum(((residual - c * analytic) / error) ** 2)) / (len(kept) - 1)
        return c, c_error * max(1.0, math.sqrt(chi2))

    def coherent_limit(self, tensor: _Tensor) -> float:
        """The smallest constant relative factor over the tensor sure to be flagged: SAFETY times
        the fitted factor's standard error, plus what rounded constants move every entry by
        alike: ROUNDED_CONSTANTS unit roundoffs of the precision the tensor is computed in (the
        narrower of its grid and its gradient's dtype), a bound rather than an estimate."""
        grid = _precision.eps(self.probe.evaluator.layout.tensors[tensor.index].dtype)
        unit = 0.5 * max(grid, float(self.gradient.eps[tensor.index]))
        return SAFETY * tensor.factor[1] + ROUNDED_CONSTANTS * unit

    def tensor_fails(self, tensor: _Tensor) -> bool:
        return bool(tensor.failing) or abs(tensor.factor[0]) > self.coherent_limit(tensor)

    # --- localisation ---------------------------------------------------------------------

    def as_whole(self, tensor: _Tensor) -> Optional[Projections]:
        """The tensor's directions, if one tensor-wide pattern explains them (a transpose: the
        same loss values judged against the swapped gradient)."""
        evidence = self._projections(tensor, tensor.results)
        if _diagnose.explain(evidence).tensor_wide:
            return evidence
        return self._transposed(tensor)

    def failing_results(self, tensor: _Tensor) -> list[Result]:
        """The failing directions (all of them when only their coherent factor fails)."""
        return [r for r in tensor.results if r.state == "fail"] or tensor.results

    def localise(self, tensor: _Tensor) -> None:
        """Explain a failing tensor as a whole, or find its wrong entries or regions."""
        tensor.explained = self.as_whole(tensor)
        if tensor.explained is not None:
            return
        if not tensor.failing:  # only the coherent factor fails, and no pattern explains it
            tensor.regions.append(Region(tensor.index, tensor.block))
            return
        if tensor.block.size <= SMALL_TENSOR:
            tensor.evidence.append(self._entries(tensor, tensor.block))
            return
        worst = max(tensor.failing, key=lambda j: abs(tensor.results[j].residual) / tensor.results[j].error)
        self._bisect(tensor, tensor.directions[worst][0])

    def _projections(
        self, tensor: _Tensor, results: list[Result], swapped: Optional[tuple[int, int]] = None
    ) -> Projections:
        """The tensor's directions as the fits see them (kinked ones left out)."""
        layout_tensor = self.probe.layout.tensors[tensor.index]
        kept = [(r, d[0]) for r, d in zip(results, tensor.directions, strict=True) if not r.kink]
        theta = np.array([float(self.tests.u(s.block, s.signs) @ self.probe.theta[s.block]) for _, s in kept])
        return directional(layout_tensor.name, layout_tensor.shape, [r for r, _ in kept], theta, swapped)

    def _transposed(self, tensor: _Tensor) -> Optional[Projections]:
        """The same loss values judged against the gradient with two equal axes swapped."""
        layout_tensor = self.probe.layout.tensors[tensor.index]
        shape, whole = layout_tensor.shape, layout_tensor.slice
        for axes in equal_axes(shape):
            values = self.gradient.values.copy()
            values[whole] = np.swapaxes(values[whole].reshape(shape), *axes).reshape(-1)
            results = [self.judge(d, tensor, values) for d in tensor.directions]
            c, c_error = self._coherent(results)
            if all(r.state == "pass" for r in results) and abs(c) <= SAFETY * c_error:
                return self._projections(tensor, results, swapped=axes)
        return None

    def _entries(self, tensor: _Tensor, components: np.ndarray) -> Evidence:
        """A regression per entry: each one's analytic and numerical derivative."""
        ones = np.ones(1, dtype=np.int8)
        directions = self._sweep_blocks([(tensor, np.array([i]), ones) for i in components.tolist()])
        results = [self.judge(d, tensor, self.gradient.values) for d in directions]
        scale = self.tests.scale[components]
        return Evidence(
            components=components,
            analytic=self.gradient.values[components],
            numerical=np.array([r.numerical for r in results]) / scale,
            tolerance=np.array([r.error for r in results]) / scale,
            flagged=np.array([r.state == "fail" for r in results], dtype=bool),
            kink=np.array([r.kink for r in results], dtype=bool),
            jump=np.zeros(components.size, dtype=bool),  # a regression tells kinks from jumps nowhere
        )

    def _bisect(self, tensor: _Tensor, sweep: Sweep) -> None:
        """Halve the failing direction's block until single entries, or halves that fail alike."""
        pattern = np.zeros(self.probe.theta.size, dtype=np.int8)
        pattern[sweep.block] = sweep.signs
        stack, budget = [tensor.block], TEST_BUDGET
        while stack:
            block = stack.pop()
            if block.size == 1:
                self._entry(tensor, block)
                continue
            if budget < 2:
                tensor.regions.append(Region(tensor.index, block))
                continue
            halves = self._halves(tensor, block)
            directions = self._sweep_blocks([(tensor, h, pattern[h]) for h in halves])
            results = [self.judge(d, tensor, self.gradient.values) for d in directions]
            budget -= 2
            failing = [(h, r) for h, r in zip(halves, results, strict=True) if r.state == "fail"]
            if len(failing) == 2 and self._alike([r for _, r in failing], tensor):
                self._region(tensor, block, results)
            elif not failing:
                tensor.regions.append(Region(tensor.index, block))  # the error splits between the halves
            else:
                stack += [h for h, _ in failing]

    def _halves(self, tensor: _Tensor, block: np.ndarray) -> list[np.ndarray]:
        """A block split in two, at the row boundary nearest its middle when it spans several
        rows (so that a wrong row is found whole), else at its middle."""
        layout_tensor = self.probe.layout.tensors[tensor.index]
        shape = layout_tensor.shape
        row = math.prod(shape[1:]) if len(shape) > 1 else 1
        middle = block.size // 2
        if 1 < row < block.size:
            # Where a new row starts within the block (its entries need not be contiguous: the
            # non-finite ones are left out).
            starts = np.flatnonzero(np.diff((block - layout_tensor.offset) // row)) + 1
            if starts.size:
                middle = int(starts[np.argmin(np.abs(starts - middle))])
        return [block[:middle], block[middle:]]

    def _entry(self, tensor: _Tensor, block: np.ndarray) -> None:
        """A single located entry: its values as evidence, or, when its analytic gradient is
        zero, a one-entry zero region (joined with the others into one finding)."""
        evidence = self._entries(tensor, block)
        zero = evidence.flagged & (evidence.analytic == 0)
        if zero.all():
            tests = _diagnose.projections(evidence, "", (1,), int(block[0]), self.probe.theta)
            tensor.regions.append(Region(tensor.index, block, dataclasses.replace(tests, local=None)))
        else:
            tensor.evidence.append(evidence)

    def _alike(self, results: list[Result], tensor: _Tensor) -> bool:
        """Do both halves fail as zero (a masked row, a slice never written)? Other patterns are
        followed to single entries: in low precision two halves partly wrong fit one factor too
        easily."""
        return (
            _diagnose.explain(self._block_projections(tensor, results), whole=False).kind == "zero_gradient"
        )

    def _block_projections(self, tensor: _Tensor, results: list[Result]) -> Projections:
        layout_tensor = self.probe.layout.tensors[tensor.index]
        return directional(layout_tensor.name, layout_tensor.shape, results, np.zeros(len(results)))

    def _region(self, tensor: _Tensor, block: np.ndarray, results: list[Result]) -> None:
        tensor.regions.append(Region(tensor.index, block, self._block_projections(tensor, results)))

    # --- the outcome ----------------------------------------------------------------------

    def verdicts(self) -> tuple[TensorVerdict, ...]:
        by_index = {t.index: t for t in self.tensors}
        verdicts = []
        for k, layout_tensor in enumerate(self.probe.layout.tensors):
            tensor = by_index.get(k)
            if tensor is None:
                verdicts.append(TensorVerdict(0, 0, math.inf, math.inf))
                continue
            errors = [r.bug_error for r in tensor.results]
            entry = (
                SAFETY * max(errors) / float(np.min(self.tests.scale[tensor.block])) if errors else math.inf
            )
            typical = float(np.median(np.abs(self.gradient.values[tensor.block])))
            verdicts.append(
                TensorVerdict(
                    checked=layout_tensor.size,
                    wrong=self._wrong(tensor),
                    entry_limit=entry,
                    detection_limit=entry / typical if typical > 0 else math.inf,
                    scale_limit=self.coherent_limit(tensor),
                )
            )
        return tuple(verdicts)

    def _wrong(self, tensor: _Tensor) -> int:
        if not self.tensor_fails(tensor):
            return 0
        if tensor.explained is not None:
            return tensor.block.size
        located = sum(int(e.flagged.sum()) for e in tensor.evidence) + sum(
            r.components.size for r in tensor.regions
        )
        return max(located, 1)


def run(probe: Probe, gradient: Gradient, choice: Choice) -> Outcome:
    """The regression check (``choice.directions`` > 0: that many directions, no localisation).

    The evaluator rounds to the grids the loss reads its params on (`_grid`, set by the caller).
    """
    return _outcome(_Run(probe, gradient, choice.directions or DIRECTIONS), choice, probe.evaluator.layout)


def with_screens(probe: Probe, gradient: Gradient, outcome: Outcome) -> Outcome:
    """The full check's outcome with regression screens per tensor: tensor-wide errors that no
    single entry showed, explained as a whole (the full check's findings stand where it flagged)."""
    check = _Run(probe, gradient, DIRECTIONS)
    check.screen()
    flagged = {k for k, t in enumerate(outcome.tensors) if t.wrong}
    explained, failing = dict(outcome.directional), dict(outcome.failing)
    verdicts = list(outcome.tensors)
    for tensor in check.tensors:
        k = tensor.index
        fails = check.tensor_fails(tensor)
        if fails and k not in flagged:
            found = check.as_whole(tensor)
            if found is not None:
                explained[k] = found
            else:
                failing[k] = check.failing_results(tensor)
        verdicts[k] = dataclasses.replace(
            verdicts[k],
            wrong=verdicts[k].wrong or (verdicts[k].checked if fails else 0),
            scale_limit=check.coherent_limit(tensor),
        )
    screen = [r for t in check.tensors for r in t.results]
    return dataclasses.replace(
        outcome,
        passed=outcome.passed and not any(check.tensor_fails(t) for t in check.tensors),
        reason=outcome.reason + _cast_down(probe.layout, probe.evaluator.layout),
        tensors=tuple(verdicts),
        directional=explained,
        failing=failing,
        screened=check.directions,
        kink_tests=outcome.kink_tests + sum(r.kink for r in screen),
    )


def _outcome(check: _Run, choice: Choice, grids: Layout) -> Outcome:
    check.screen()
    failing: dict[int, list[Result]] = {}
    for tensor in check.tensors:
        if not check.tensor_fails(tensor):
            continue
        if choice.directions:
            failing[tensor.index] = check.failing_results(tensor)
        else:
            check.localise(tensor)
    screen = [r for t in check.tensors for r in t.results]
    tensors = check.verdicts()
    return Outcome(
        strategy="regression",
        reason=choice.reason + _cast_down(check.probe.layout, grids),
        passed=not any(t.wrong for t in tensors),
        difference=relative_difference([r.analytic for r in screen], [r.numerical for r in screen]),
        evidence=Evidence.join([e for t in check.tensors for e in t.evidence]),
        tensors=tensors,
        directional={t.index: t.explained for t in check.tensors if t.explained is not None},
        located=True,
        failing=failing,
        regions=tuple(r for t in check.tensors for r in t.regions),
        screened=check.directions,
        kink_tests=sum(r.kink for r in screen),
        miss_probability=max(_miss(t) for t in check.tensors) if check.tensors else 0.0,
    )


def _miss(tensor: _Tensor) -> float:
    """The chance that wrong entries above the entry limit cancel along every direction tested
    (≤ ½ per direction, Littlewood–Offord); none when every distinct line was tested."""
    every = tensor.block.size <= DISTINCT_UP_TO and len(tensor.patterns) == 2 ** (tensor.block.size - 1)
    return 0.0 if every else 0.5 ** len(tensor.patterns)


def _cast_down(layout: Layout, grids: Layout) -> str:
    """ "; the loss reads W1, b1 in bfloat16" for tensors it casts to a narrower format itself."""
    cast: dict[str, list[str]] = {}
    for tensor, grid in zip(layout.tensors, grids.tensors, strict=True):
        if grid.dtype != tensor.dtype:
            cast.setdefault(str(grid.dtype), []).append(tensor.name)
    return "".join(f"; the loss reads {', '.join(names)} in {dtype}" for dtype, names in cast.items())


def distinct_signs(rng: np.random.Generator, n: int, count: int) -> list[np.ndarray]:
    """``count`` random ±1 patterns over n entries, no two the same line (p and −p are): all
    2ⁿ⁻¹ of them when there are fewer. A small tensor has few distinct directions, and the
    same line measured twice repeats its errors instead of averaging them."""
    lines = 2 ** (n - 1) if n <= DISTINCT_UP_TO else math.inf
    if lines > 4 * count:  # repeats are rare enough to leave to chance
        return [signs(rng, n) for _ in range(count)]
    chosen = rng.choice(int(lines), size=min(count, int(lines)), replace=False)
    bits = (chosen[:, None] >> np.arange(n - 1)[None, :]) & 1
    return [np.concatenate([[1], 2 * row - 1]).astype(np.int8) for row in bits]
