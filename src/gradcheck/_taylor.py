"""The Taylor remainder test: does J(θ + hδ) − J(θ) − h·g·δ fall as h², all the way down?

The reference check of the adjoint and PDE-constrained optimisation communities, made to reach
a verdict. Along a few random directions δ (±1 times each tensor's typical size) the loss is
evaluated on a ladder of halving steps h from H0 until the remainder sinks into its round-off
floor; the rate is fitted over the asymptotic window just above that floor (`_rates`), where a
wrong gradient can no longer hide behind the h² term. With ``hvp`` the remainder also drops
½h²·δ·H·δ and must fall as h³. Every step is taken as the parameters' dtypes realise it, the
loss runs on copies (your arrays, and with ``reseed`` your RNG, are left as they were), and the
loss's noise σ is measured as in `check`.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from typing import Any, Optional

import numpy as np

from . import _options, _rates, _wording
from ._directional import evaluate_along
from ._errors import NonFiniteError, StructureError
from ._evaluate import Evaluator
from ._options import Options
from ._probe import Grad, Probe
from ._report._model import Finding
from ._report._taylor import TaylorReport
from ._report._taylor_model import TaylorDirection, TaylorSettings
from ._stencils import FLOAT64_EPS
from ._steps import scaled_signs
from ._tree import Layout, match_gradient, round_to_dtypes

# The first step moves every tensor by 1/8 of its typical size: past the pre-asymptotic range
# of most losses, yet inside their domain (a log or a sigmoid rarely blows up there).
H0 = 2.0**-3
# Halvings at most: 2^-3 · 2^-61 ≈ 5e-20 of a tensor's size is below float64's resolution of
# any parameter, so the floor is always reached before.
MAX_STEPS = 64
# Steps evaluated per batch while descending: a batched loss gets several points per call, and
# at most this many evaluations are spent past the floor.
CHUNK = 8
# The ladder stops after this many unusable steps in a row below the last usable one.
STOP_AFTER = 3
DIRECTION_STREAM = 5  # the seed's stream for the random directions


class _Expansion:
    """The Taylor polynomial of J around θ along one direction δ, at realised steps."""

    def __init__(
        self,
        layout: Layout,
        theta: np.ndarray,
        delta: np.ndarray,
        gradient: np.ndarray,
        allowance: np.ndarray,
        h_delta: Optional[np.ndarray],
    ) -> None:
        self.layout, self.theta, self.delta = layout, theta, delta
        self.gradient, self.allowance, self.h_delta = gradient, allowance, h_delta

    def realised(self, h: float) -> np.ndarray:
        """Δ = fl(θ + hδ) − θ: the step the loss really sees (rounded to each tensor's dtype)."""
        return round_to_dtypes(self.layout, self.theta + h * self.delta) - self.theta

    def terms(self, h: float) -> tuple[float, float, float]:
        """(g·Δ, ½Δ·H·Δ, round-off of both) at step h.

        ½Δ·H·Δ uses H·δ only: Δ = hδ + e (e the rounding of the step), so ½ΔHΔ = ½h²δHδ + h·e·Hδ
        up to ½eHe, far below the floor.
        """
        step = self.realised(h)
        linear = float(step @ self.gradient)
        rounding = FLOAT64_EPS * float(np.abs(step) @ np.abs(self.gradient))
        rounding += math.sqrt(float(np.sum((step * self.allowance) ** 2)))
        if self.h_delta is None:
            return linear, 0.0, rounding
        error = step - h * self.delta
        quadratic = 0.5 * h * h * float(self.delta @ self.h_delta) + h * float(error @ self.h_delta)
        rounding += FLOAT64_EPS * h * h * float(np.abs(self.delta) @ np.abs(self.h_delta))
        return linear, quadratic, rounding


def _ladder(evaluator: Evaluator, expansion: _Expansion, j0: float, sigma: float) -> dict[str, np.ndarray]:
    """Remainders on halving steps from H0 down to the round-off floor (see STOP_AFTER)."""
    steps: list[float] = []
    values: list[float] = []
    terms: list[tuple[float, float, float]] = []
    top = 2 if expansion.h_delta is not None else 1
    while len(steps) < MAX_STEPS:
        chunk = [H0 * 2.0 ** -(len(steps) + k) for k in range(CHUNK)]
        steps += chunk
        values += _evaluated(evaluator, expansion.delta, chunk)
        terms += [expansion.terms(h) for h in chunk]
        remainders = _remainders(np.array(values), j0, np.array(terms), sigma)
        good = _rates.usable(remainders[top], remainders[3])
        if good.any() and len(steps) - int(np.flatnonzero(good)[-1]) > STOP_AFTER:
            break
    remainders = _remainders(np.array(values), j0, np.array(terms), sigma)
    names = ("zeroth", "first", "second", "floor")
    return {"steps": np.array(steps), **dict(zip(names, remainders, strict=True))}


def _remainders(values: np.ndarray, j0: float, terms: np.ndarray, sigma: float) -> np.ndarray:
    """Rows: J − J₀, minus g·Δ, minus ½ΔHΔ, and the floor √2·σ + the terms' round-off."""
    zeroth = values - j0
    first = zeroth - terms[:, 0]
    return np.stack([zeroth, first, first - terms[:, 1], math.sqrt(2) * sigma + terms[:, 2]])


def _evaluated(evaluator: Evaluator, delta: np.ndarray, steps: list[float]) -> list[float]:
    """J(θ + hδ) for each h; NaN where the loss is not finite (a large step out of its domain)."""
    try:
        return evaluate_along(evaluator, [(delta, h) for h in steps]).tolist()
    except NonFiniteError:
        out = []
        for h in steps:
            try:
                out.append(evaluator.along(delta, h))
            except NonFiniteError:
                out.append(math.nan)
        return out


def _direction(
    evaluator: Evaluator, expansion: _Expansion, j0: float, sigma: float, curvature: Optional[float]
) -> TaylorDirection:
    """One direction's ladder, fitted: the verdict reads the highest remainder."""
    ladder = _ladder(evaluator, expansion, j0, sigma)
    steps, floor = ladder["steps"], ladder["floor"]
    second = ladder["second"] if curvature is not None else None
    checked = ladder["first"] if second is None else second
    expected = 2 if second is None else 3
    fitted = _rates.fit(steps, checked, floor)
    gradient_fit = _rates.fit(steps, ladder["first"], floor) if second is not None else fitted
    # An error e in g·δ adds e·h to the first remainder; an error e in δ·H·δ adds ½e·h² to the second.
    limit = _rates.detection_limit(steps, checked, floor, fitted, power=expected - 1) * (expected - 1)
    return TaylorDirection(
        slope=float(expansion.delta @ expansion.gradient),
        curvature=curvature,
        steps=steps,
        zeroth=ladder["zeroth"],
        first=ladder["first"],
        second=second,
        floor=floor,
        expected=expected,
        rate=fitted.rate,
        gradient_rate=gradient_fit.rate,
        zeroth_rate=_rates.fit(steps, ladder["zeroth"], floor).rate,
        window=(fitted.start, fitted.stop) if fitted.found else (0, 0),
        passed=_rates.passes(fitted, expected),
        detection_limit=limit,
    )


def _directions(probe: Probe, direction: Any, count: int, seed: int) -> list[np.ndarray]:
    """The caller's direction (flat, in θ's order), or ``count`` seeded random-sign ones."""
    if direction is not None:
        values = match_gradient(probe.layout, direction)[0]
        if not np.any(values) or not np.all(np.isfinite(values)):
            raise StructureError(
                "direction is zero or not finite; pass a finite direction with nonzero entries"
            )
        return [values]
    rng = np.random.default_rng([int(seed), DIRECTION_STREAM])
    return [scaled_signs(probe.theta, probe.layout.tensor_ids(), rng) for _ in range(count)]


def taylor_test(
    loss: Callable[[Any], Any],
    params: Any,
    grad: Grad,
    *,
    hvp: Optional[Callable[[Any, Any], Any]] = None,
    direction: Any = None,
    directions: int = 3,
    seed: int = 0,
    reseed: Optional[Callable[[], Any]] = None,
) -> TaylorReport:
    """The Taylor remainder test of ``grad`` (and ``hvp``) along random directions.

    Args:
        loss: ``loss(params) -> float``; called with copies, never with your arrays.
        params: one float array, or a list / tuple / dict (nested allowed) of float arrays.
        grad: the gradient (structure of params, ``dW1`` for ``W1`` allowed) or ``grad(params)``.
        hvp: ``hvp(params, v) -> H·v``: also check the Hessian (the remainder must fall as h³).
        direction: one direction δ with the structure of params; by default ``directions``
            random ones, ±1 times each tensor's typical size (its rms).
        directions: how many random directions (each costs one loss call per step, ~30).
        seed: draws the directions and the probe of the loss's noise.
        reseed: called before every loss evaluation (dropout: see `check`).

    Returns:
        A `TaylorReport`: ``.passed``, ``.rates`` (one per direction), the ladders, windows
        and floors; ``print(report)`` shows the rate table, ``report.to_html(path)`` the
        remainders against h on log-log axes.

    Raises:
        StructureError: params, grad or direction do not line up.
        LossError: the loss misbehaves (as in `check`).

    Example:
        >>> import numpy as np, gradcheck as gc
        >>> report = gc.taylor_test(lambda w: float(np.sum(np.sin(w))), np.array([0.3, 1.0]), np.cos)
        >>> report.passed, [round(r, 1) for r in report.rates]
        (True, [2.0, 2.0, 2.0])
    """
    _options.function("loss", loss, signature="params -> float")
    _options.function("hvp", hvp, optional=True, signature="(params, v) -> H·v")
    _options.count("directions", directions, minimum=1)
    start = time.perf_counter()
    probe = Probe(loss, params, Options(seed=seed, reseed=reseed, progress=False))
    gradient = probe.gradient(grad)
    results = []
    for delta in _directions(probe, direction, directions, seed):
        h_delta, curvature = None, None
        if hvp is not None:
            if reseed is not None:
                reseed()
            h_delta = match_gradient(
                probe.layout, hvp(probe.layout.unflatten(probe.theta), probe.layout.unflatten(delta))
            )[0]
            curvature = float(delta @ h_delta)
        expansion = _Expansion(probe.layout, probe.theta, delta, gradient.values, gradient.allowance, h_delta)
        results.append(_direction(probe.evaluator, expansion, probe.loss_value, probe.noise, curvature))
    probe.evaluator.assert_unchanged()
    settings = TaylorSettings(
        loss_value=probe.loss_value,
        noise=probe.noise,
        seed=seed,
        evaluations=probe.evaluator.count,
        seconds=time.perf_counter() - start,
        first_step=H0,
        given=direction is not None,
    )
    findings = _findings(results)
    return TaylorReport(
        passed=all(d.passed for d in results),
        directions=tuple(results),
        findings=tuple(findings),
        settings=settings,
    )


def _findings(results: list[TaylorDirection]) -> list[Finding]:
    """What each failing direction says: which derivative is wrong, and by about how much."""
    found = []
    for k, d in enumerate(results, start=1):
        if d.passed:
            continue
        start, stop = d.window
        h, remainder = d.steps[start:stop], d.checked[start:stop]
        if d.second is not None and d.gradient_rate >= 2 - _rates.RATE_TOLERANCE:
            assert d.curvature is not None
            found.append(
                _wording.taylor_hessian(k, d.rate, h, float(np.median(2 * remainder / h**2)), d.curvature)
            )
        else:
            found.append(
                _wording.taylor_gradient(k, d.rate, d.expected, h, float(np.median(remainder / h)), d.slope)
            )
    return found
