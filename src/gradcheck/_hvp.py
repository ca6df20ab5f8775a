"""Check a Hessian-vector product against differences of the gradient.

With a seeded random direction u (±1 times each tensor's typical size), the scalar
φ(θ) = u·g(θ) has the gradient H·u, where H = ∂g/∂θ is the Hessian (symmetric, for a right
gradient). So checking ``hvp(θ, u)`` is `check` on φ: the same probe, strategies, error
estimates, verdicts and fits, every evaluation of φ being one call of ``grad``. The full check
costs 2 gradient calls per component; certify covers every component with random-sign
directional tests in a few hundred gradient calls whatever the size, with a stated detection
limit. The gradient itself is assumed right (check it first with `check`): the numerical side
differentiates the gradient you give.

Two further tests cost a few HVP calls and no step: the Hessian's symmetry, u₁·hvp(u₂) =
u₂·hvp(u₁), and the linearity of ``hvp`` in its direction. A tensor whose error no tensor-wide
pattern explains gets its analytic diagonal (H_a)ₖₖ measured on a few flagged entries, so an
error confined to the diagonal (counted twice) is named.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable
from concurrent.futures import Executor
from typing import Any, Optional

import numpy as np

from . import _assemble, _diagnose, _linearity, _options, _tolerance, _wording
from ._check import choose_for, examine
from ._errors import BatchedLossError
from ._linearity import linearity_tolerance
from ._options import SLOW_SECONDS, Eps, Options
from ._outcome import Outcome
from ._probe import Probe
from ._report._model import Finding
from ._report._report import Report
from ._steps import scaled_signs
from ._tree import Layout, flatten, match_gradient

# Seed streams: the direction u, and the pair (u₁, u₂) of the step-free tests.
DIRECTION_STREAM = 3
SYMMETRY_STREAM = 4
# Flagged entries of a tensor whose analytic diagonal is measured (one HVP call each): enough
# for a fit with a dozen degrees of freedom, cheap next to the check itself.
DIAGONAL_SAMPLE = 16
# Kinds that fail an HVP check besides wrong components.
FAILING = (*_linearity.KINDS, "asymmetric")
CHECKED = "Hessian-vector products"


class ProjectedGradient:
    """φ(θ) = u·g(θ): the scalar whose gradient is H·u (picklable when ``grad`` is)."""

    def __init__(self, grad: Callable[[Any], Any], layout: Layout, u: np.ndarray) -> None:
        self.grad, self.layout, self.u = grad, layout, u

    def __call__(self, params: Any) -> float:
        return float(match_gradient(self.layout, self.grad(params))[0] @ self.u)


class BatchedProjectedGradient:
    """φ for each row of a (k, n) stack, from a vectorised gradient of the rows."""

    def __init__(self, batched_grad: Callable[[np.ndarray], Any], u: np.ndarray) -> None:
        self.batched_grad, self.u = batched_grad, u

    def __call__(self, rows: np.ndarray) -> np.ndarray:
        gradients = np.asarray(self.batched_grad(rows), dtype=np.float64)
        if gradients.shape != rows.shape:
            raise BatchedLossError(
                f"batched_grad returned shape {gradients.shape} for rows of shape {rows.shape}; it "
                f"must return one flat gradient per row, in the order of the flattened params"
            )
        return gradients @ self.u


class Rule:
    """The user's hvp called with fresh copies, its result flat in θ's order."""

    def __init__(
        self,
        hvp: Callable[[Any, Any], Any],
        layout: Layout,
        theta: np.ndarray,
        reseed: Optional[Callable[[], Any]] = None,
    ) -> None:
        self.hvp, self.layout, self.theta, self.reseed = hvp, layout, theta, reseed
        self.dtypes: tuple[np.dtype, ...] = ()

    def raw(self, v: np.ndarray) -> Any:
        if self.reseed is not None:
            self.reseed()
        return self.hvp(self.layout.unflatten(self.theta), self.layout.unflatten(v))

    def flat(self, v: np.ndarray) -> np.ndarray:
        values, self.dtypes, _ = match_gradient(self.layout, self.raw(v))
        return values


def direction(theta: np.ndarray, layout: Layout, seed: int, stream: int) -> np.ndarray:
    """A seeded random-sign direction scaled per tensor (`scaled_signs`), in θ's dtypes."""
    rng = np.random.default_rng([int(seed), stream])
    u = scaled_signs(theta, layout.tensor_ids(), rng)
    return np.concatenate([u[t.slice].astype(t.dtype).astype(np.float64) for t in layout.tensors])


def check_hvp(
    grad: Callable[[Any], Any],
    params: Any,
    hvp: Callable[[Any, Any], Any],
    *,
    method: str = "central",
    eps: Eps = "auto",
    seed: int = 0,
    reseed: Optional[Callable[[], Any]] = None,
    strategy: str = "auto",
    components: Optional[int] = None,
    directions: Optional[int] = None,
    batched_grad: Optional[Callable[[np.ndarray], Any]] = None,
    workers: Optional[int] = None,
    executor: Optional[Executor] = None,
    progress: bool = True,
    warn_slow: Optional[float] = SLOW_SECONDS,
    rtol: float = 0.0,
) -> Report:
    """Check a Hessian-vector product ``hvp(params, v)`` against differences of ``grad``.

    Args:
        grad: ``grad(params)``, the (right) gradient of your loss, with the structure of params.
        params: one float array, or a list / tuple / dict (nested allowed) of float arrays.
        hvp: ``hvp(params, v)`` returns H·v with the structure of params (``v`` has it too).
        method: as in `check`; an "evaluation" is one call of ``grad``.
        eps: as in `check`.
        strategy: as in `check` (certify covers a large Hessian in O(log n) gradient calls).
        components: as in `check`.
        directions: as in `check`.
        workers: as in `check`.
        executor: as in `check`.
        progress: as in `check`.
        warn_slow: as in `check`.
        rtol: as in `check`: the relative error of H·u accepted (an HVP approximate by design).
        seed: draws the direction u and the vectors of the symmetry test (and seeds the check).
        reseed: called before every call of ``grad`` and ``hvp``.
        batched_grad: ``batched_grad(rows) -> (k, n)``: the flat gradient at each row of a
            (k, n) stack of flat parameter vectors (the adapters supply one).

    Returns:
        A `Report` of the check of H·u, failing also when the HVP is not symmetric
        (``asymmetric``) or not linear in v (``linearity``, ``repeatability``).

    Example:
        >>> import numpy as np, gradcheck as gc
        >>> A = np.array([[2.0, 1.0], [1.0, 3.0]])
        >>> gc.check_hvp(lambda w: A @ w + w**3, np.array([0.5, -1.0]),
        ...              lambda w, v: A @ v + 3 * w**2 * v).passed
        True
    """
    _options.callables(grad=grad, hvp=hvp)
    _options.function("batched_grad", batched_grad, optional=True, signature="(k, n) -> (k, n)")
    theta, layout = flatten(params)
    u = direction(theta, layout, seed, DIRECTION_STREAM)
    options = Options(
        method=method,
        eps=eps,
        seed=seed,
        reseed=reseed,
        strategy=strategy,
        components=components,
        directions=directions,
        batched_loss=None if batched_grad is None else BatchedProjectedGradient(batched_grad, u),
        workers=workers,
        executor=executor,
        progress=progress,
        warn_slow=warn_slow,
        rtol=rtol,
    )
    return run(ProjectedGradient(grad, layout, u), params, Rule(hvp, layout, theta, reseed), u, options)


def run(phi: Callable[[Any], float], params: Any, rule: Rule, u: np.ndarray, options: Options) -> Report:
    """The HVP check of ``rule`` on the scalar ``phi`` = u·g (its gradient is H·u)."""
    start = time.perf_counter()
    probe = Probe(phi, params, options)
    probe.pattern = u
    choice = choose_for(probe, start)
    gradient = probe.gradient(lambda p: rule.hvp(p, rule.layout.unflatten(u)))
    outcome = _tolerance.accept(examine(probe, gradient, choice), probe.layout, options.rtol)
    noise = probe.relative_noise
    findings = _diagnose.findings(outcome, probe.layout, u, noise, subject="hvp")
    diagonal = _diagonal(rule, outcome, findings, u, options.seed)
    if diagonal is not None:
        findings = _diagnose.findings(outcome, probe.layout, u, noise, subject="hvp", diagonal=diagonal)
    findings += step_free_findings(rule, options.seed)
    report = _assemble.report(probe, gradient, outcome, findings, start, checked=CHECKED)
    return dataclasses.replace(report, passed=report.passed and not any(f.kind in FAILING for f in findings))


def step_free_findings(rule: Rule, seed: int) -> list[Finding]:
    """Symmetry of the analytic Hessian and linearity of hvp in v: a few HVP calls, no step."""
    rng = np.random.default_rng([int(seed), SYMMETRY_STREAM])
    tensor_ids = rule.layout.tensor_ids()
    u1, u2 = (scaled_signs(rule.theta, tensor_ids, rng) for _ in range(2))
    h1, h2 = rule.flat(u1), rule.flat(u2)
    dtypes = (*rule.dtypes, *(t.dtype for t in rule.layout.tensors))
    tolerance = linearity_tolerance(max(float(np.finfo(d).eps) for d in dtypes))
    found = []
    first, second = float(u1 @ h2), float(u2 @ h1)
    terms = float(np.abs(u1) @ np.abs(h2) + np.abs(u2) @ np.abs(h1))
    asymmetry = abs(first - second) / terms if terms else 0.0
    if asymmetry > tolerance:
        found.append(_wording.asymmetric(first, second, asymmetry, tolerance))
    return found + _linearity.findings(rule.flat, rule.layout, h1, u1, u2, tolerance, "hvp")


def _diagonal(
    rule: Rule, outcome: Outcome, findings: list[Finding], u: np.ndarray, seed: int
) -> Optional[np.ndarray]:
    """(H_a)ₖₖ·uₖ on up to DIAGONAL_SAMPLE flagged entries of each tensor that only
    ``wrong_components`` explains (NaN elsewhere), or None when there is none to measure."""
    unexplained = {f.tensor for f in findings if f.kind == "wrong_components" and f.components}
    evidence, layout = outcome.evidence, rule.layout
    if not unexplained:
        return None
    rng = np.random.default_rng([int(seed), SYMMETRY_STREAM])
    diagonal = np.full(u.size, np.nan)
    ids = layout.tensor_ids()[evidence.components]
    sampled = outcome.strategy in ("full", "sample")
    for k, tensor in enumerate(layout.tensors):
        flagged = evidence.components[(ids == k) & evidence.flagged]
        # Only a fair view of the whole tensor is fitted (see `_diagnose.findings`).
        whole = sampled or np.count_nonzero(ids == k) == tensor.size
        if tensor.name not in unexplained or flagged.size == 0 or not whole:
            continue
        for i in rng.permutation(flagged)[:DIAGONAL_SAMPLE].tolist():
            basis = np.zeros(u.size)
            basis[i] = 1.0
            diagonal[i] = rule.flat(basis)[i] * u[i]
    return diagonal
