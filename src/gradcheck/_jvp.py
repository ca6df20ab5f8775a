"""Check a forward-mode rule ``jvp(inputs, tangents)`` against differences of f, output by output.

A JVP maps a tangent of the inputs to a tangent of the outputs: J·v. Along a tangent v every
output's derivative is compared with central differences of f, each against its own error
estimate from its own measured noise (`_tangents`), so one tangent checks all outputs at once.
The evidence is laid out by Jacobian block ∂out/∂x (each output tensor against each input
tensor's tangents), which is where JVP bugs live: a block off by a factor, with the wrong sign,
transposed, missing (the rule drops that input's tangent) or missing an activation's
derivative. The strategy is `check`'s: every input direction eᵢ (the whole Jacobian, for
small inputs) or K random-sign tangents per input tensor (a wrong entry shows in every one of
them; several in one output cancel in all with probability ≤ 2⁻ᴷ).

Then, with no step: the rule must be linear in the tangent (`_linearity`), and with ``vjp``
the forward and reverse rules must agree, ⟨u, J·v⟩ = ⟨Jᵀu, v⟩, exactly up to rounding.
"""

from __future__ import annotations

import dataclasses
import math
import time
from collections.abc import Callable
from typing import Any, Optional

import numpy as np

from . import _diagnose, _linearity, _options, _tangents, _wording
from ._assemble import rows
from ._compare import relative_difference
from ._errors import LossRaisedError, LossValueError, NonFiniteError, StructureError
from ._linearity import linearity_tolerance
from ._noise import measure_output_noise
from ._options import Options
from ._outcome import Evidence, Outcome, TensorVerdict
from ._report._model import Finding, Settings
from ._report._report import Report
from ._steps import component_steps, largest_directional_step, scaled_signs
from ._tree import Layout, Tensor, flatten, leaves, match_gradient, tree_map

# Inputs up to this size are checked along every input direction (the whole Jacobian, 4
# evaluations of f per input component: at most ~1,000); larger ones along random tangents.
FULL_INPUTS = 256
# Random tangents per input tensor: a single wrong Jacobian entry shows in each; several wrong
# entries of one output cancel in all of them with probability ≤ 2⁻⁸ ≈ 0.004.
TANGENTS = 8
# Seed streams: the random tangents, and the vectors of the step-free tests.
TANGENT_STREAM = 6
PAIR_STREAM = 8
CHECKED = "JVPs"


class _Outputs:
    """f's outputs at flat points of the inputs (fresh copies each call), flat in float64."""

    def __init__(self, f: Callable[[Any], Any], inputs: Layout, theta: np.ndarray) -> None:
        self.f, self.inputs, self.theta = f, inputs, theta
        self.count = 0
        first = self._call(theta, "at the unperturbed inputs")
        self.layout = _output_layout(first)
        self.names = [t.name for t in self.layout.tensors]
        self.shapes = [t.shape for t in self.layout.tensors]
        self.y0 = self.flat(first, "at the unperturbed inputs", "f")

    def _call(self, x: np.ndarray, where: str) -> Any:
        self.count += 1
        try:
            return self.f(self.inputs.unflatten(x))
        except KeyboardInterrupt:
            raise
        except Exception as error:
            raise LossRaisedError(f"f raised {type(error).__name__}({error}) {where}") from error

    def flat(self, value: Any, where: str, who: str) -> np.ndarray:
        """``value`` (f's output, or a JVP) as one float64 vector in the order of f's outputs."""
        found = list(leaves(value))
        if len(found) != len(self.names):
            raise LossValueError(
                f"{who} returned {len(found)} arrays {where} but f returns {len(self.names)}"
            )
        parts = []
        for name, shape, (_, leaf) in zip(self.names, self.shapes, found, strict=True):
            array = np.asarray(_detached(leaf))
            if array.shape != shape or array.dtype.kind not in "fiu":
                raise LossValueError(
                    f"{who} returned {name} with shape {array.shape} and dtype {array.dtype} {where}, "
                    f"but f's {name} has shape {shape}: a JVP has the shape of f's output"
                )
            parts.append(array.astype(np.float64).reshape(-1))
        flat = np.concatenate(parts) if parts else np.zeros(0)
        bad = np.flatnonzero(~np.isfinite(flat))
        if bad.size:
            raise NonFiniteError(
                f"{who} gave {flat[bad[0]]} at {self.layout.component_name(int(bad[0]))} {where}; "
                f"check for log(0), division by zero or overflow"
            )
        return flat

    def __call__(self, x: np.ndarray) -> np.ndarray:
        return self.flat(self._call(x, "at perturbed inputs"), "at perturbed inputs", "f")

    def along(self, direction: np.ndarray, t: float) -> np.ndarray:
        return self(self.theta + t * direction)


def _detached(value: Any) -> Any:
    return value.detach() if hasattr(value, "detach") else value


def _output_layout(first: Any) -> Layout:
    """Where each of f's outputs sits in the flat output vector; one array is named ``out``."""
    try:
        _, layout = flatten(tree_map(lambda leaf: np.asarray(_detached(leaf)), first))
    except StructureError as error:
        raise LossValueError(f"f's output at the unperturbed inputs: {error}") from error
    renamed = tuple(dataclasses.replace(t, name=_output_name(t)) for t in layout.tensors)
    return Layout(renamed, layout.treedef)


def _output_name(tensor: Tensor) -> str:
    """One array is ``out``; a tuple's entries ``out[0]``, ``out[1].square``; a dict's keep their keys."""
    if not tensor.path:
        return "out"
    return "out" + tensor.name if isinstance(tensor.path[0], int) else tensor.name


class _Rule:
    """The user's jvp (or vjp) at θ with fresh copies, flat in the order of its result."""

    def __init__(self, rule: Callable[[Any, Any], Any], outputs: _Outputs, name: str) -> None:
        self.rule, self.outputs, self.name = rule, outputs, name

    def __call__(self, tangent: np.ndarray) -> np.ndarray:
        inputs = self.outputs.inputs
        value = self.rule(inputs.unflatten(self.outputs.theta), inputs.unflatten(tangent))
        return self.outputs.flat(value, "at the unperturbed inputs", self.name)


def _input_name(tensor: Tensor) -> str:
    return tensor.name if tensor.path else "x"


def _plan(size: int, options: Options) -> tuple[str, int]:
    """("full", 0): every input direction; ("directions", K): K random tangents per input tensor."""
    if options.directions is not None:
        return "directions", int(options.directions)
    if options.strategy == "certify" or (options.strategy == "auto" and size > FULL_INPUTS):
        return "directions", TANGENTS
    return "full", 0


def _tangents_of(
    inputs: Layout,
    theta: np.ndarray,
    k: int,
    strategy: str,
    count: int,
    rng: np.random.Generator,
    relative: float,
) -> list[tuple[np.ndarray, float]]:
    """(tangent, step) pairs for input tensor k: its basis directions, or ``count`` random ones."""
    tensor = inputs.tensors[k]
    if strategy == "full":
        steps = component_steps(theta, _tangents.spacing(inputs, theta), "central", "auto", relative)
        pairs = []
        for i in range(tensor.offset, tensor.offset + tensor.size):
            basis = np.zeros(theta.size)
            basis[i] = 1.0
            pairs.append((basis, float(steps[i])))
        return pairs
    t = largest_directional_step(relative)
    mine = inputs.tensor_ids() == k
    return [(np.where(mine, scaled_signs(theta, inputs.tensor_ids(), rng), 0.0), t) for _ in range(count)]


def check_jvp(
    f: Callable[[Any], Any],
    inputs: Any,
    jvp: Callable[[Any, Any], Any],
    *,
    vjp: Optional[Callable[[Any, Any], Any]] = None,
    strategy: str = "auto",
    directions: Optional[int] = None,
    seed: int = 0,
) -> Report:
    """Check a forward-mode rule ``jvp(inputs, tangents)`` against central differences of ``f``.

    Args:
        f: ``f(inputs) -> outputs``: one float array, or a tuple / dict of them; called with copies.
        inputs: one float array or a list / tuple / dict of them (``{"x": x, "W": W}``).
        jvp: ``jvp(inputs, tangents)`` returns J·tangents with the structure of f's outputs
            (``tangents`` has the structure of ``inputs``).
        vjp: optionally ``vjp(inputs, cotangents)``, the reverse rule (structure of inputs):
            then ⟨u, jvp(v)⟩ = ⟨vjp(u), v⟩ is tested too, exactly up to rounding.
        strategy: ``"full"`` checks along every input direction (the whole Jacobian);
            ``"certify"`` along random-sign tangents of each input tensor; ``"auto"`` (default)
            full up to FULL_INPUTS input components.
        directions: check K random tangents per input tensor.
        seed: draws the tangents and the probe of f's noise.

    Returns:
        A `Report` with a row per Jacobian block ``∂out/∂x``, failing also when the rule is not
        linear in the tangent (``linearity``) or disagrees with ``vjp`` (``consistency``).

    Example:
        >>> import numpy as np, gradcheck as gc
        >>> W = np.arange(6.0).reshape(2, 3)
        >>> gc.check_jvp(lambda x: np.tanh(W @ x), np.ones(3) / 10,
        ...              lambda x, v: (1 - np.tanh(W @ x) ** 2) * (W @ v)).passed
        True
    """
    _options.callables(f=f, jvp=jvp)
    if vjp is not None:
        _options.callables(vjp=vjp)
    options = Options(seed=seed, strategy=strategy, directions=directions, progress=False)
    start = time.perf_counter()
    theta, layout = flatten(inputs)
    outputs = _Outputs(f, layout, theta)
    if not np.array_equal(outputs(theta), outputs.y0):
        raise LossValueError(
            "f gave different outputs for the same inputs: it is not deterministic (dropout or "
            "other sampling?); turn the randomness off to check its JVP"
        )
    sigma = measure_output_noise(outputs.along, theta, outputs.y0, np.random.default_rng(seed))
    scale = np.abs(outputs.y0)
    relative = float(np.median(sigma[scale > 0] / scale[scale > 0])) if np.any(scale > 0) else 0.0
    rule = _Rule(jvp, outputs, "jvp")
    fn = _tangents.Function(
        outputs, rule, layout, theta, outputs.y0, sigma, outputs.layout.tensor_ids(),
        np.full(len(outputs.layout.tensors), _coarsest(outputs)),
    )  # fmt: skip
    strategy_name, count = _plan(theta.size, options)
    rng = np.random.default_rng([int(seed), TANGENT_STREAM])
    per_input = [
        [
            _tangents.along(fn, v, t)
            for v, t in _tangents_of(layout, theta, k, strategy_name, count, rng, relative)
        ]
        for k in range(len(layout.tensors))
    ]
    blocks, evidence, verdicts, output_values = _blocks(layout, outputs, per_input, strategy_name, count)
    outcome = Outcome(
        strategy=strategy_name,
        reason=_reason(strategy_name, count, theta.size, options),
        passed=not evidence.flagged.any(),
        difference=relative_difference(evidence.analytic, evidence.numerical),
        evidence=evidence,
        tensors=verdicts,
        screened=count,
        miss_probability=0.5**count if count else 0.0,
    )
    findings = _diagnose.findings(
        outcome, blocks, np.zeros(blocks.size), relative, subject="jvp", outputs=output_values
    )
    findings += _step_free(rule, vjp, outputs, seed)
    report = _report(outcome, blocks, findings, outputs, sigma, start, seed)
    failing = _linearity.KINDS + ("consistency",)
    return dataclasses.replace(report, passed=report.passed and not any(f.kind in failing for f in findings))


def _coarsest(outputs: _Outputs) -> float:
    """ε of the narrowest float among the inputs and the outputs: the rounding the rules carry."""
    tensors = (*outputs.inputs.tensors, *outputs.layout.tensors)
    return max(float(np.finfo(t.dtype).eps) for t in tensors if t.dtype.kind == "f")


def _reason(strategy: str, count: int, size: int, options: Options) -> str:
    if strategy == "full":
        asked = options.strategy == "full"
        return "strategy='full' asked for" if asked else f"auto: {size} input components (≤ {FULL_INPUTS})"
    if options.directions is not None:
        return f"directions={count} asked for"
    return f"{count} random tangents per input tensor" + (
        "" if options.strategy == "certify" else f" (auto: {size} input components > {FULL_INPUTS})"
    )


def _blocks(
    inputs: Layout, outputs: _Outputs, per_input: list[list[_tangents.Along]], strategy: str, count: int
) -> tuple[Layout, Evidence, tuple[TensorVerdict, ...], np.ndarray]:
    """The Jacobian blocks ∂out/∂x as a layout, their evidence, verdicts and output values."""
    tensors, parts, verdicts, values = [], [], [], []
    offset = 0
    for i, tensor_in in enumerate(inputs.tensors):
        results = per_input[i]
        for tensor_out in outputs.layout.tensors:
            width = tensor_in.size if strategy == "full" else count
            shape = tensor_out.shape + (tensor_in.shape if strategy == "full" else (count,))
            name = f"∂{tensor_out.name}/∂{_input_name(tensor_in)}" + ("·v" if strategy != "full" else "")
            tensors.append(Tensor((name,), name, shape, np.dtype(np.float64), offset))
            columns = {field: _column(results, field, tensor_out) for field in FIELDS}
            part = Evidence(
                components=offset + np.arange(tensor_out.size * width),
                jump=np.zeros_like(columns["kink"]),  # a JVP's kinks are told apart from jumps nowhere
                **columns,
            )
            sure = _column([_tangents.sure_error(r) for r in results], None, tensor_out)
            parts.append(part)
            verdicts.append(_verdict(part, sure))
            values.append(np.repeat(outputs.y0[tensor_out.slice], width))
            offset += tensor_out.size * width
    layout = Layout(tuple(tensors), {t.name: t for t in tensors})
    return layout, Evidence.join(parts), tuple(verdicts), np.concatenate(values)


FIELDS = ("analytic", "numerical", "tolerance", "flagged", "kink")


def _column(results: list[Any], field: Optional[str], out: Tensor) -> np.ndarray:
    """One output tensor's values (``field`` of each result, or each array) by output entry,
    then by direction: the row-major order of the block ∂out/∂x."""
    values = [r if field is None else getattr(r, field) for r in results]
    return np.stack([v[out.slice] for v in values], axis=1).reshape(-1)


def _verdict(part: Evidence, sure: np.ndarray) -> TensorVerdict:
    """One block: comparisons made and wrong, and the smallest error caught for sure."""
    kept = ~part.kink
    a = np.abs(part.analytic[kept])
    with np.errstate(divide="ignore", invalid="ignore"):
        relative = sure[kept] / a
    return TensorVerdict(
        checked=int(part.components.size),
        wrong=int(part.flagged.sum()),
        entry_limit=float(np.max(sure[kept], initial=0.0)),
        detection_limit=float(np.min(relative[a > 0])) if np.any(a > 0) else math.inf,
    )


def _step_free(
    rule: _Rule, vjp: Optional[Callable[[Any, Any], Any]], outputs: _Outputs, seed: int
) -> list[Finding]:
    """Linearity of jvp in the tangent, and ⟨u, jvp(v)⟩ = ⟨vjp(u), v⟩ when vjp is given."""
    rng = np.random.default_rng([int(seed), PAIR_STREAM])
    ids = outputs.inputs.tensor_ids()
    v1, v2 = (scaled_signs(outputs.theta, ids, rng) for _ in range(2))
    first = rule(v1)
    tolerance = linearity_tolerance(_coarsest(outputs))
    found = _linearity.findings(rule, outputs.layout, first, v1, v2, tolerance, "jvp")
    if vjp is None:
        return found
    u = rng.standard_normal(outputs.y0.size)
    value = vjp(outputs.inputs.unflatten(outputs.theta), outputs.layout.unflatten(u))
    backward = match_gradient(outputs.inputs, value)[0]
    forward_side, reverse_side = float(u @ first), float(backward @ v1)
    terms = float(np.abs(u) @ np.abs(first) + np.abs(backward) @ np.abs(v1))
    disagreement = abs(forward_side - reverse_side) / terms if terms else 0.0
    if disagreement > tolerance:
        found.append(_wording.consistency(forward_side, reverse_side, disagreement, tolerance))
    return found


def _report(
    outcome: Outcome,
    blocks: Layout,
    findings: list[Finding],
    outputs: _Outputs,
    sigma: np.ndarray,
    start: float,
    seed: int,
) -> Report:
    settings = Settings(
        method="central",
        eps="auto",
        strategy=outcome.strategy,
        seed=seed,
        dtype=str(max((t.dtype for t in outputs.inputs.tensors), key=lambda d: np.finfo(d).bits)),
        loss_value=float(np.max(np.abs(outputs.y0), initial=0.0)),
        noise=float(np.max(sigma, initial=0.0)),
        evaluations=outputs.count,
        seconds=time.perf_counter() - start,
        strategy_reason=outcome.reason,
        directions=outcome.screened,
        miss_probability=outcome.miss_probability,
        checked=CHECKED,
    )
    names = tuple(t.name for t in blocks.tensors)
    report = Report(
        passed=outcome.passed,
        difference=outcome.difference,
        tensors=rows(blocks, names, outcome),
        findings=tuple(findings),
        settings=settings,
        detection_limit=outcome.detection_limit,
        layout=blocks,
        components=outcome.evidence.components,
        analytic=outcome.evidence.analytic,
        numerical=outcome.evidence.numerical,
        estimate=outcome.evidence.tolerance,
        flagged=outcome.evidence.flagged,
        kink=outcome.evidence.kink,
    )
    return report
