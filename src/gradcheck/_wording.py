"""Every finding's text: what is wrong, where, by how much, and the likely fix.

One module writes them all, so the same bug reads the same whichever strategy gathered the
evidence, and a change of wording is one diff. The numbers come from `_fits` and `_diagnose`;
nothing here decides a verdict.
"""

from __future__ import annotations

import math
import re
from typing import Optional

import numpy as np

from ._compare import SAFETY, significance
from ._fits import Projections, Scale, factor_cause
from ._report._model import Finding
from ._tree import Layout, component_name

EXAMPLES = 3  # entries named in a message: enough to show a pattern, short enough to read
# A name whose last part is b, b1, b_out, bias... is taken for a bias (the course's b1, b2).
BIAS_NAME = re.compile(r"(^|\.)(b\d*|b_\w+|bias\w*)$", re.IGNORECASE)


# --- bug patterns of one tensor ---------------------------------------------------------------


def _analytic(p: Projections) -> str:
    """What the analytic side is, for this tensor: its gradient, its part of H·u, or a JVP block."""
    if p.subject == "hvp":
        return f"the analytic HVP of {p.name}"
    if p.subject == "jvp":
        return f"the analytic JVP {p.name}"
    if p.subject == "forward":
        return f"the forward-mode gradient of {p.name}"
    return f"the analytic gradient of {p.name}"


def transpose(p: Projections, axes: tuple[int, int]) -> Finding:
    if len(p.shape) == 2:
        text = (
            f"{_analytic(p)} is the transpose of the numerical one "
            f"({p.shape[0]}×{p.shape[1]} is square, so the shape check cannot catch it): "
            f"return its transpose (swap the operands of the product that computes it)"
        )
    else:
        first, second = axes
        index = ["i" if k == first else "j" if k == second else ":" for k in range(len(p.shape))]
        swapped = ["j" if k == first else "i" if k == second else ":" for k in range(len(p.shape))]
        text = (
            f"{_analytic(p)} is the numerical one with axes {first} and {second} "
            f"swapped ({p.name}[{', '.join(index)}] is stored at [{', '.join(swapped)}]; both axes "
            f"have length {p.shape[first]}, so the shape check cannot catch it): swap them back "
            f"(np.swapaxes(grad, {first}, {second})) or fix the transpose or einsum that computes it"
        )
    return _finding("transpose", p, text, None)


def sign(p: Projections, fitted: Scale) -> Finding:
    return _finding(
        "sign",
        p,
        f"{_analytic(p)} has the wrong sign: it is {fitted.factor:.2f}× "
        f"the numerical one {_over(p)}; look for a subtraction "
        f"the wrong way round (y − a instead of a − y) or a minus sign too many",
        fitted.factor,
    )


def conjugate(sign: Finding, base: str) -> Finding:
    """The `sign` finding of a complex parameter's imaginary part, when its real part is right."""
    return Finding(
        "conjugate",
        sign.tensor,
        f"the analytic gradient of {base} is the complex conjugate of the numerical one: {base}.real "
        f"is right and {sign.tensor} has the wrong sign; a conj() is missing (or one too many) in the "
        f"backward, or the gradient is in the other convention (gradcheck and gradcheck.torch read "
        f"∂J/∂Re + i·∂J/∂Im, PyTorch's; gradcheck.jax reads JAX's, its conjugate)",
        sign.components,
        sign.value,
    )


def scale(p: Projections, fitted: Scale) -> Finding:
    c = fitted.factor
    cause = likely_cause(abs(c), fitted.error)
    flipped = " (and the wrong sign)" if c < 0 else ""
    return _finding(
        "scale",
        p,
        f"{_analytic(p)} is {times(c)} the numerical one{flipped}, a "
        f"constant factor {_over(p)}" + (f"; {cause}" if cause else ""),
        c,
    )


def regularization(p: Projections, lam: float, fitted: Optional[Scale]) -> Finding:
    if p.subject == "hvp":
        return _identity(p, lam)
    also = ""
    if not np.any(p.analytic):
        also = f" (the analytic gradient is zero: all of {p.name}'s gradient is this term)"
    elif fitted is not None:
        also = f" (equivalently, the analytic gradient is {times(fitted.factor)} the numerical one)"
    if lam > 0:
        text = (
            f"the error in {p.name}'s gradient is proportional to {p.name} itself: "
            f"numerical − analytic ≈ λ·{p.name} with λ = {lam:.4g}{also}; the analytic "
            f"gradient misses a regularization term (remember regularization: the gradient of "
            f"(λ/2)·||W||² is λ·W)"
        )
    else:
        text = (
            f"the error in {p.name}'s gradient is proportional to {p.name} itself: "
            f"analytic − numerical ≈ λ·{p.name} with λ = {-lam:.4g}{also}; the analytic "
            f"gradient has a regularization term the loss lacks (or counts it twice)"
        )
    return _finding("missing_regularization", p, text, lam)


def _identity(p: Projections, lam: float) -> Finding:
    """An HVP whose error follows its own direction u: a λI missing from (or added to) H."""
    if lam > 0:
        text = (
            f"the error in the HVP of {p.name} is proportional to the direction: numerical − "
            f"analytic ≈ λ·v with λ = {lam:.4g}; the Hessian-vector product misses λ·v, the λI "
            f"that a regulariser (λ/2)·||θ||² adds to the Hessian"
        )
    else:
        text = (
            f"the error in the HVP of {p.name} is proportional to the direction: analytic − "
            f"numerical ≈ λ·v with λ = {-lam:.4g}; the Hessian-vector product adds a λI the loss's "
            f"Hessian does not have (a regulariser the loss lacks, or one counted twice)"
        )
    return _finding("missing_regularization", p, text, lam)


def diagonal(p: Projections, share: Scale) -> Finding:
    """An HVP wrong on the Hessian's diagonal only: (H_a)ₖₖ = (1 + κ)·Hₖₖ, c = κ/(1 + κ)."""
    assert p.diagonal is not None
    factor = 1.0 / (1.0 - share.factor)
    measured = int(np.count_nonzero(np.isfinite(p.diagonal)))
    twice = abs(factor - 2.0) <= SAFETY * share.error / (1.0 - share.factor) ** 2
    cause = (
        "is the diagonal counted twice, as when a symmetric Hessian is assembled as L + Lᵀ from "
        "a triangle L that includes the diagonal, or a diagonal term added to a full matrix?"
        if twice
        else "look at the terms that only act on the diagonal (∂²J/∂θₖ², elementwise curvature)"
    )
    return _finding(
        "diagonal",
        p,
        f"the error in the HVP of {p.name} sits on the Hessian's diagonal: analytic − numerical "
        f"≈ {share.factor:.3g}·(H_a)ₖₖ·vₖ over the {measured} entries whose diagonal was measured, "
        f"so the analytic diagonal is {times(factor)} the true one while the off-diagonal "
        f"entries are right; {cause}",
        factor,
    )


# How each activation's derivative reads in terms of its output y (`_fits.ACTIVATIONS`).
ACTIVATION_DERIVATIVES = {"tanh": "1 − y²", "sigmoid": "y·(1 − y)", "relu": "1 where y > 0, else 0"}


def activation(p: Projections, name: str) -> Finding:
    """A JVP that returns the pre-activation's tangent: numerical = d(y)·analytic."""
    derivative = ACTIVATION_DERIVATIVES[name]
    return _finding(
        "activation",
        p,
        f"{_analytic(p)} misses {name}'s derivative: the numerical one is ({derivative})·analytic "
        f"{_over(p) if p.local is None else f'at all {p.analytic.size} checked entries'}, with y "
        f"the output; the rule returns the tangent before the {name}: multiply it by "
        f"{derivative} ({name}′ written in the output)",
        None,
    )


def zero(p: Projections, *, whole: bool = True) -> Finding:
    """``whole=False``: the evidence is the entries a search located, not a view of the tensor."""
    if p.subject == "hvp":
        return _zero_second_derivative(p)
    if p.subject in ("jvp", "forward"):
        return _zero_jvp(p)
    wrong = p.flagged
    largest = int(np.argmax(np.where(wrong, np.abs(p.numerical), -1.0)))
    if p.local is None:
        text = (
            f"the analytic gradient of {p.name} is zero {_over(p)} while the loss's derivative "
            f"along them reaches {abs(p.numerical[largest]):.2e}: was it left at np.zeros or never returned?"
        )
        return _finding("zero_gradient", p, text, float(math.prod(p.shape)))
    reach = f"{abs(p.numerical[largest]):.2e} at {_name(p, largest)}"
    if whole and not np.any(p.analytic):
        text = (
            f"the analytic gradient of {p.name} is zero everywhere ({p.analytic.size} checked "
            f"entries) while the numerical one reaches {reach}: was it left at np.zeros or never returned?"
        )
    else:
        text = (
            f"the analytic gradient of {p.name} is zero at {_where(p, wrong)}, where the "
            f"numerical one is not (up to {reach}): is it masked out or never accumulated?"
        )
    return _finding("zero_gradient", p, text, float(wrong.sum()))


def _largest_numerical(p: Projections) -> str:
    wrong = p.flagged
    largest = int(np.argmax(np.where(wrong, np.abs(p.numerical), -1.0)))
    where = f" at {_name(p, largest)}" if p.local is not None else ""
    return f"{abs(p.numerical[largest]):.2e}{where}"


def _zero_second_derivative(p: Projections) -> Finding:
    """An HVP that is zero where the gradient does change: a backward autograd cannot follow."""
    wrong = p.flagged
    exactly = "exactly zero" if not np.any(p.analytic[wrong]) else "zero"
    where = (
        f"of {p.name} is {exactly} {_over(p)}" if p.local is None else f"is {exactly} at {_where(p, wrong)}"
    )
    text = (
        f"the analytic second derivative {where}, where the numerical one is not (it reaches "
        f"{_largest_numerical(p)}): is the backward differentiable, or "
        f"does it use a detached or saved intermediate (computed under no_grad, .detach(), "
        f".numpy(), stop_gradient) that the second derivative cannot see?"
    )
    return _finding("zero_second_derivative", p, text, float(wrong.sum()))


def _zero_jvp(p: Projections) -> Finding:
    """Forward mode zero where f does change: a jvp rule drops that input's tangent."""
    wrong = p.flagged
    where = _over(p) if p.local is None else f"at {_where(p, wrong)}"
    rule = "the jvp rule" if p.subject == "jvp" else "a jvp rule (a custom Function's jvp, a jax.custom_jvp)"
    text = (
        f"{_analytic(p)} is zero {where} while the numerical one reaches {_largest_numerical(p)}: "
        f"does {rule} drop this input's tangent (a term of the product rule missing, or the "
        f"tangent of an input taken as zero)?"
    )
    return _finding("zero_derivative", p, text, float(wrong.sum()))


def wrong_components(p: Projections, partial: Optional[Scale]) -> Finding:
    """Only some entries: where they sit, the factor there (``partial``) and the worst values."""
    wrong = p.flagged
    there = f"; there analytic ≈ {times(partial.factor)} numerical" if partial is not None else ""
    total = math.prod(p.shape)
    if total == 1:
        lead = f"the only entry of {p.name} is wrong"
    elif wrong.sum() == total:
        lead = (
            f"{_where(p, wrong)} is wrong, with no constant factor, sign, transpose or regularization pattern"
        )
    else:
        lead = f"only some entries of {p.name} are wrong: {_where(p, wrong)}"
    hint = (
        "; a backward that drops part of its own derivative (a stop_gradient, .detach() or an "
        "intermediate saved without a graph in a custom backward) makes second derivatives wrong "
        "like this"
        if p.subject == "hvp"
        else ""
    )
    return _finding("wrong_components", p, f"{lead}{there}; worst: {_examples(p)}{hint}", float(wrong.sum()))


def _over(p: Projections) -> str:
    """Which evidence a tensor-wide pattern explains: checked entries, or random directions."""
    if p.local is not None:
        return f"over all {p.analytic.size} checked entries"
    return f"along all {p.analytic.size} random directions tested through its {math.prod(p.shape)} entries"


def times(c: float) -> str:
    """2.00× for a factor far from 1; near 1, enough digits to show three of the deviation
    (1.0000000298× for a float32 1/6 in a float64 gradient), so it never reads 1.00×."""
    deviation = abs(abs(c) - 1)
    if 0.1 <= abs(c) < 1000 and deviation >= 0.01:
        return f"{c:.2f}×"
    if 0.1 <= abs(c) < 1000 and deviation > 0:
        return f"{c:.{min(15, math.ceil(-math.log10(deviation)) + 2)}f}×"
    return f"{c:.3g}×"


# float32's unit roundoff 2^-24: one rounding to float32 moves a value by at most this, relative.
FLOAT32_ROUNDING = 2.0**-24


def likely_cause(c: float, error: float) -> str:
    """What a telling factor usually means (2, 1/2, an integer m or 1/m, √m, float32 rounding), or ''."""
    cause = factor_cause(c, error)
    deviation = abs(c - 1)
    # A few float32 roundings (up to 4u) and at least a sixteenth of one: smaller deviations
    # come from float64 arithmetic, larger ones from a wrong formula.
    if cause is None and FLOAT32_ROUNDING / 16 <= deviation <= 4 * FLOAT32_ROUNDING:
        return (
            f"an error of the size of float32 rounding ({deviation:.1e} relative) in a float64 "
            f"gradient points to a float32 constant or intermediate (a constant such as 1/6 "
            f"stored as float32 reads 0.1666666716; torch.tensor(c) without dtype, .float())"
        )
    if cause is None:
        return ""
    form, n = cause
    if form == "times" and n == 2:
        return (
            "a factor 2: is there a ½ in the loss (½x², whose derivative is x) that the gradient "
            "drops, a term added twice, or a batch of m = 2 without the 1/m?"
        )
    if form == "times":
        return f"if {n} is your batch size m, did you forget the 1/m?"
    if form == "divided" and n == 2:
        return (
            "a factor 1/2: does the gradient keep a ½ that the loss does not have, or count once "
            "a term that the loss counts twice (a shared weight)?"
        )
    if form == "divided":
        return (
            f"if {n} is your batch size m, did you divide by m twice, or does the loss "
            f"sum over the batch while the gradient averages?"
        )
    if form == "root":
        return f"c² ≈ {n}: a missing 1/√{n} (such as attention's 1/√d)?"
    return f"1/c² ≈ {n}: an extra 1/√{n} (such as attention's 1/√d)?"


def _where(p: Projections, wrong: np.ndarray) -> str:
    """Where the wrong entries sit: one entry, a row, a column, a slice, or how many of all."""
    assert p.local is not None
    local = p.local[wrong]
    total = math.prod(p.shape)
    if local.size == 1:
        return f"one entry, {component_name(p.name, p.shape, int(local[0]))}"
    if local.size == total:
        kind = "the bias " if BIAS_NAME.search(p.name) else ""
        return f"every entry of {kind}{p.name}"
    coords = np.array(np.unravel_index(local, p.shape))
    axes = [axis for axis, n in enumerate(p.shape) if n > 1]
    shared = [axis for axis in axes if np.all(coords[axis] == coords[axis][0])]
    if shared:
        picked = [str(int(coords[axis][0])) if axis in shared else ":" for axis in range(len(p.shape))]
        text = f"{p.name}[{', '.join(picked)}]"
        entries = math.prod(n for axis, n in enumerate(p.shape) if axis not in shared)
        count = f"{local.size} of its {entries} entries"
        if len(p.shape) == 2 and shared == [0]:
            return f"row {picked[0]} ({text}, {count})"
        if len(p.shape) == 2 and shared == [1]:
            return f"column {picked[1]} ({text}, {count})"
        return f"the slice {text} ({count})"
    return f"{local.size} of the {total} entries of {p.name}"


def _worst(p: Projections) -> np.ndarray:
    """Positions of the most significant wrong comparisons (at most EXAMPLES)."""
    wrong = np.flatnonzero(p.flagged)
    ratio = significance(p.analytic[wrong], p.numerical[wrong], p.estimate[wrong])
    return wrong[np.argsort(-ratio, kind="stable")[:EXAMPLES]]


def _examples(p: Projections) -> str:
    return "; ".join(
        f"{_name(p, k)} analytic {p.analytic[k]:.4g}, numerical {p.numerical[k]:.4g}"
        for k in _worst(p).tolist()
    )


def _name(p: Projections, position: int) -> str:
    assert p.local is not None
    return component_name(p.name, p.shape, int(p.local[position]))


def _finding(kind: str, p: Projections, message: str, value: Optional[float]) -> Finding:
    names = tuple(_name(p, k) for k in _worst(p).tolist()) if p.local is not None else ()
    return Finding(kind, p.name, message, names, value)


def undefined_gradient(output: str, wrong: list[str]) -> Finding:
    """A function's gradient right for all its outputs together, wrong for one output alone."""
    return Finding(
        "undefined_gradient",
        wrong[0] if len(wrong) == 1 else None,
        f"the gradient of {', '.join(wrong)} is wrong when only {output} is used (the other "
        f"outputs' gradients undefined in the backward), while the check over all outputs passes: "
        f"the backward mishandles an undefined output gradient; it must read it as zeros",
        (),
        float(len(wrong)),
    )


# --- what certify and directions=K could not narrow down --------------------------------------


def failing_directions(
    name: str, failing: int, screened: int, analytic: float, numerical: float, ratio: float
) -> Finding:
    return Finding(
        "wrong_components",
        name,
        f"the gradient of {name} disagrees with the loss along {failing} of {screened} random "
        f"directions (worst: analytic {analytic:.6e}, numerical {numerical:.6e}, {ratio:.0f}× its "
        f"error); directions cannot say which entries: run without directions= to locate them",
        (),
        float(failing),
    )


def unresolved(name: Optional[str], entries: int, first: str, last: str) -> Finding:
    return Finding(
        "wrong_components",
        name,
        f"directional tests fail on {entries} entries between {first} and {last} that "
        f"were not narrowed down further; check them with strategy='full'",
        (first, last),
        float(entries),
    )


def region(
    name: str, shape: tuple[int, ...], local: np.ndarray, zero: bool, fitted: Optional[Scale]
) -> Finding:
    """A block that directional tests (low precision) pin down as wrong as a whole."""
    where = _where(
        Projections(
            name,
            shape,
            local * 0.0,
            local * 0.0,
            local * 0.0 + 1,
            local * 0.0,
            np.ones(local.size, dtype=bool),
            local=local,
        ),
        np.ones(local.size, dtype=bool),
    )
    names = tuple(component_name(name, shape, int(i)) for i in local[:EXAMPLES])
    if zero:
        text = (
            f"the analytic gradient of {name} is zero in {where}, where the loss does change along "
            f"random directions through those entries: is it masked out, or never written?"
        )
        return Finding("zero_gradient", name, text, names, float(local.size))
    there = f": there analytic ≈ {times(fitted.factor)} numerical" if fitted is not None else ""
    text = (
        f"the gradient of {name} is wrong in {where}{there} (located by random directions through "
        f"blocks of entries; in this precision single entries are not resolved)"
    )
    return Finding("wrong_components", name, text, names, float(local.size))


# --- what the check left out or could not see -------------------------------------------------


def kinks(layout: Layout, components: np.ndarray, kink: np.ndarray) -> list[Finding]:
    """One finding per tensor with components on a kink (ReLU, max, abs) within the step."""
    findings = []
    ids = layout.tensor_ids()[components]
    for position, tensor in enumerate(layout.tensors):
        hits = components[kink & (ids == position)]
        if hits.size == 0:
            continue
        names = tuple(tensor.component_name(int(i) - tensor.offset) for i in hits[:EXAMPLES])
        findings.append(
            Finding(
                "kink",
                tensor.name,
                f"{hits.size} component(s) of {tensor.name} sit on a kink (ReLU, max, abs or "
                f"max-pool tie) within the finite-difference step, e.g. {', '.join(names)}; "
                f"their one-sided derivatives differ, so they are left out of the verdict",
                names,
                float(hits.size),
            )
        )
    return findings


def forward_coverage(finding: Finding) -> Finding:
    """A `coverage` finding of forward mode's sample: its own remedy, not components=None."""
    message = finding.message.replace(
        "components=None checks them all",
        "forward mode computes one JVP per component, so above a thousand components it checks "
        "a sample; strategy='full' computes them all",
    )
    return Finding(
        finding.kind, finding.tensor, f"forward mode: {message}", finding.components, finding.value
    )


def not_checked(what: str, reason: str) -> Finding:
    """A mode or order the code does not support: said, not failed."""
    return Finding("not_checked", None, f"{what} was not checked: {reason}", (), None)


def mode_raised(what: str, error: str) -> Finding:
    """A mode the code supports whose rule raised at these inputs: a bug, and a failed check."""
    text = (
        f"{what} raised {error}: the code defines this derivative, but its rule fails at these "
        f"inputs (a jvp returning a tangent of the wrong shape or dtype, an op inside it without "
        f"a forward-mode formula); the other modes' rows are unaffected"
    )
    return Finding("mode_error", None, text, (), None)


def unchecked(name: str, shape: tuple[int, ...], bad: np.ndarray, values: np.ndarray) -> Finding:
    """A tensor with no entries, or with non-finite entries (left unperturbed, out of the verdict)."""
    total = math.prod(shape)
    if total == 0:
        text = f"{name} has no entries (shape {shape}): nothing of it was checked"
        return Finding("unchecked", name, text, (), 0.0)
    names = tuple(component_name(name, shape, int(i)) for i in bad[:EXAMPLES])
    shown = ", ".join(f"{n} = {v}" for n, v in zip(names, values.tolist(), strict=False))
    rest = f"the other {total - bad.size} are checked" if bad.size < total else "nothing of it was checked"
    text = (
        f"{bad.size} of the {total} entries of {name} are not finite ({shown}"
        f"{', ...' if bad.size > EXAMPLES else ''}): they are left unperturbed and unchecked, since a "
        f"derivative at ±inf or NaN is undefined; {rest}"
    )
    return Finding("unchecked", name, text, names, float(bad.size))


def jumps(name: str, components: tuple[str, ...]) -> Finding:
    """Components where the loss jumps inside the step, and matches the analytic slope beside it."""
    shown = ", ".join(components[:EXAMPLES]) + (", ..." if len(components) > EXAMPLES else "")
    return Finding(
        "discontinuity",
        name,
        f"{len(components)} component(s) of {name} sit at a jump of the loss within the "
        f"finite-difference step (round, floor, sign, a step function, a tie that reorders a "
        f"sort), e.g. {shown}; beside the jump the loss's slope matches the analytic derivative, "
        f"and they are left out of the verdict",
        components[:EXAMPLES],
        float(len(components)),
    )


def staircase(name: str, count: int, jump: float, rise: float) -> Finding:
    """A loss that is piecewise constant along a tensor, where the analytic derivative is zero."""
    return Finding(
        "discontinuity",
        name,
        f"the loss is piecewise constant along {name} at the step's scale (like round, floor or "
        f"sign): it repeats exactly at the finest spacing and moves in jumps of {jump:.1e}. "
        f"Between jumps its derivative is 0, as the analytic gradient says, but a finite "
        f"difference across a jump measures jump/step{f' (up to {rise:.2g} here)' if rise else ''}, "
        f"not a slope, so nothing could be detected for these {count} components: they are left "
        f"out of the verdict",
        (),
        float(count),
    )


def noisier(name: str, noise: float, quietest: float) -> Finding:
    """One tensor along which the loss is far noisier than along the others."""
    return Finding(
        "precision",
        name,
        f"the loss is far noisier along {name} ({noise:.1e} relative to its value) than along "
        f"the quietest tensor ({quietest:.1e}): it jumps or is computed coarsely there (labels, a "
        f"mask or indices stored as floats? a float32 branch?); {name} is checked against its own "
        f"noise, which the other tensors do not share",
        (),
        noise,
    )


def directional_kinks(count: int) -> Finding:
    return Finding(
        "kink",
        None,
        f"{count} directional test(s) crossed a kink (ReLU, max, abs); the analytic "
        f"gradient matched the one-sided derivative on θ's side, so they count as passed",
        (),
        float(count),
    )


def precision(relative_noise: float, detection_limit: float) -> Finding:
    return Finding(
        "precision",
        None,
        f"the loss carries round-off noise of {relative_noise:.1e} relative to its value (float64 "
        f"carries 1e-16, float32 1e-7), so this check can only detect gradient errors above "
        f"{detection_limit:.1e} relative; run the check in float64 if your code allows it",
        (),
        detection_limit,
    )


def approximate(errors: dict[str, float]) -> Finding:
    """Every tensor off by a small error with no pattern: an approximate gradient, not a bug."""
    listed = ", ".join(f"{error:.1e} in {name}" for name, error in errors.items())
    largest = max(errors.values())
    return Finding(
        "approximate",
        None,
        f"every tensor's gradient is off by a small error spread over its entries with no pattern "
        f"(relative errors {listed}): this is what a gradient that is approximate by design looks "
        f"like — implicit differentiation through a solver with a tolerance, a smoothed or "
        f"regularized problem, an ODE adjoint, a float32 step inside float64 code — rather than a "
        f"coding bug, which touches one term, some entries or one tensor. If this accuracy is "
        f"expected, pass rtol={_round_up(largest)} to accept it",
        (),
        largest,
    )


def tolerated(errors: dict[str, float]) -> Finding:
    """The tensors ``rtol`` accepts, with the errors the strict check saw."""
    listed = ", ".join(f"{name} ({error:.1e})" for name, error in errors.items())
    return Finding(
        "tolerance",
        None,
        f"accepted by rtol: the relative errors of {listed} are within it; the strict check finds "
        f"them wrong (the findings above say how)",
        (),
        max(errors.values()),
    )


def _round_up(value: float) -> str:
    """The power of ten at or above ``value``, as an rtol to suggest (1e-07 for 4.1e-08)."""
    return f"1e{math.ceil(math.log10(value)):+03d}" if value > 0 else "0"


def low_precision(relative_noise: float, scale_limit: float, entry_limit: float, referenced: bool) -> Finding:
    """What a low-precision check could see, in one sentence, and how to see further."""
    further = (
        "check in float64 (precision='float64') if the code allows it"
        if referenced
        else "check in float64 (precision='float64') if the code allows it, compare against a reference "
        "implementation (reference=ref_fn), or test more directions (directions=64)"
    )
    return Finding(
        "precision",
        None,
        f"the loss carries round-off noise of {relative_noise:.1e} relative to its value (float64 "
        f"carries 1e-16, float32 1e-7, bfloat16 1e-3): this check caught a constant factor off by "
        f"more than {scale_limit:.1e} in any tensor and a single entry off by more than "
        f"{entry_limit:.1e} of its tensor's median |g|; to see further, {further}",
        (),
        scale_limit,
    )


def coverage(
    checked: int, size: int, weakest: str, weakest_size: int, entries: int, probability: float
) -> Finding:
    return Finding(
        "coverage",
        weakest,
        f"sampled {checked} of {size} components ({checked / size:.1%}): a single "
        f"wrong entry among the {size - checked} unchecked ones goes unnoticed whatever its size, "
        f"and an error must touch {entries} of {weakest}'s {weakest_size} entries "
        f"({entries / weakest_size:.0%}) to be caught with {probability:.0%} "
        f"probability. The detection limits hold for the checked components only; "
        f"components=None checks them all",
        (),
        checked / size,
    )


# --- linearity of a rule in its argument (check_vjp, check_jvp, check_hvp) ------------------

# Per rule: what it returns for a tensor, its argument (as the scaling names it, and as a
# symbol), the argument in the user's code, the code, and an example of branching on it.
_RULES = {
    "vjp": (
        "the gradient of {}",
        "cotangent",
        "upstream gradient",
        "c",
        "dout",
        "backward",
        "a ReLU mask taken from dout > 0 instead of the layer's input",
    ),
    "jvp": (
        "the JVP of {}",
        "tangent",
        "tangent",
        "v",
        "the tangent",
        "jvp rule",
        "a mask taken from the tangent's sign instead of the input's",
    ),
    "hvp": (
        "the HVP of {}",
        "direction",
        "direction",
        "v",
        "v",
        "hvp",
        "a mask taken from v's sign instead of the parameters'",
    ),
}


def repeatability(name: str, value: float, rule: str = "vjp") -> Finding:
    _, argument, _, _, _, code, _ = _RULES[rule]
    results = "gradients" if rule == "vjp" else "results"
    return Finding(
        "repeatability",
        name,
        f"calling {rule} twice with the same {argument} gave different {results} for {name} "
        f"({value:.1e} relative): the {code} keeps state between calls (accumulates "
        f"into a buffer with +=, or draws random numbers); return fresh arrays every call",
        (),
        value,
    )


def homogeneity(name: str, value: float, tolerance: float, rule: str = "vjp") -> Finding:
    result, _, scaled, symbol, argument, code, _ = _RULES[rule]
    return Finding(
        "linearity",
        name,
        f"{result.format(name)} does not scale with the {scaled}: {rule}(2{symbol}) "
        f"differs from 2·{rule}({symbol}) by {value:.1e} relative (rounding allows "
        f"{tolerance:.0e}); does the {code} ignore {argument}, or use it squared, normalised "
        f"or through abs()?",
        (),
        value,
    )


def additivity(name: str, value: float, tolerance: float, rule: str = "vjp") -> Finding:
    result, _, scaled, symbol, argument, code, branch = _RULES[rule]
    return Finding(
        "linearity",
        name,
        f"{result.format(name)} is not additive in the {scaled}: {rule}({symbol}₁ + {symbol}₂) "
        f"differs from {rule}({symbol}₁) + {rule}({symbol}₂) by {value:.1e} relative (rounding allows "
        f"{tolerance:.0e}); does the {code} branch on {argument} itself, e.g. {branch}?",
        (),
        value,
    )


def consistency(forward: float, reverse: float, value: float, tolerance: float) -> Finding:
    """⟨u, jvp(v)⟩ ≠ ⟨vjp(u), v⟩: the forward and reverse rules are not transposes."""
    return Finding(
        "consistency",
        None,
        f"the forward and reverse rules disagree: ⟨u, jvp(v)⟩ = {forward:.6e} but ⟨vjp(u), v⟩ = "
        f"{reverse:.6e} ({value:.1e} relative to the terms of the sums, rounding allows "
        f"{tolerance:.0e}); they must be transposes of one Jacobian, so one of them is wrong "
        f"(the finite-difference findings say which)",
        (),
        value,
    )


def asymmetric(first: float, second: float, value: float, tolerance: float) -> Finding:
    """u₁·hvp(u₂) ≠ u₂·hvp(u₁): the analytic Hessian is not symmetric."""
    return Finding(
        "asymmetric",
        None,
        f"the HVP is not symmetric: u₁·hvp(u₂) = {first:.6e} but u₂·hvp(u₁) = {second:.6e} "
        f"({value:.1e} relative to the terms of the sums, rounding allows {tolerance:.0e}); a "
        f"Hessian is symmetric (∂²J/∂x∂y = ∂²J/∂y∂x), so a cross term appears in one block but "
        f"not in its mirror: a block transposed, or one side of a product rule missing",
        (),
        value,
    )


def modifies_cotangent(entries: int) -> Finding:
    return Finding(
        "modifies_cotangent",
        None,
        f"vjp wrote into the cotangent it was given ({entries} entries changed): where "
        f"dout also flows elsewhere (a residual connection, a shared layer) that branch then "
        f"gets a wrong gradient; work on a copy (dx = dout.copy())",
        (),
        float(entries),
    )


# --- the Taylor remainder test -----------------------------------------------------------------


def _off_by(predicted: float, measured: float) -> str:
    error = measured - predicted
    relative = f", {abs(error / measured):.1e} relative" if measured else ""
    return f"off by {error:.1e}{relative}"


def taylor_gradient(
    direction: int, rate: float, expected: int, steps: np.ndarray, excess: float, slope: float
) -> Finding:
    """A remainder falling at rate p − 1: the gradient (g·δ) is wrong along this direction.

    ``excess`` is R/h over the window: the loss's own slope minus g·δ.
    """
    remainder = "J(θ + hδ) − J(θ) − h·g·δ" + (" − ½h²·δ·H·δ" if expected == 3 else "")
    return Finding(
        "taylor_rate",
        None,
        f"along direction {direction} the remainder {remainder} falls at rate {rate:.2f}, not "
        f"{expected}, for h from {steps[0]:.1e} down to {steps[-1]:.1e}: the gradient is wrong "
        f"along δ; it predicts the slope g·δ = {slope:.6e} where the loss's is about "
        f"{slope + excess:.6e} ({_off_by(slope, slope + excess)}): run gc.check to find the "
        f"entries",
        (),
        rate,
    )


def taylor_hessian(
    direction: int, rate: float, steps: np.ndarray, excess: float, curvature: float
) -> Finding:
    """The gradient's remainder falls as h² but the one with the Hessian term not as h³.

    ``excess`` is 2R/h² over the window: the loss's curvature along δ minus δ·H·δ.
    """
    return Finding(
        "taylor_rate",
        None,
        f"along direction {direction} the remainder J(θ + hδ) − J(θ) − h·g·δ − ½h²·δ·H·δ falls at "
        f"rate {rate:.2f}, not 3, for h from {steps[0]:.1e} down to {steps[-1]:.1e}, while the "
        f"gradient's remainder falls as h²: the HVP is wrong along δ; δ·H·δ = {curvature:.6e} "
        f"where the loss's curvature is about {curvature + excess:.6e} "
        f"({_off_by(curvature, curvature + excess)}): run gc.check_hvp to find the entries",
        (),
        rate,
    )


# --- the contracts of a custom op (gradcheck.torch.check_function) -----------------------------


def _contract(rule: str, tensor: str, what: str, fix: str, value: Optional[float] = None) -> Finding:
    return Finding("contract", tensor, f"contract '{rule}' broken for {tensor}: {what}; {fix}", (), value)


def mutated(tensor: str, changed: int, size: int, during: str) -> Finding:
    if during == "forward":
        fix = (
            "compute into a new tensor (y = x * 2, not x.mul_(2)), or declare an in-place op with "
            "ctx.mark_dirty(x) and return x"
        )
    else:
        fix = "backward must not modify its inputs or the tensors forward saved; work on copies"
    return _contract(
        "inputs are not mutated",
        tensor,
        f"{during} wrote into it in place ({changed} of {size} entries changed): the caller's tensor "
        f"changes, and any value saved from it for backward goes stale",
        fix,
        float(changed),
    )


def aliased(tensor: str, output: str) -> Finding:
    return _contract(
        "outputs do not alias inputs",
        tensor,
        f"{output} shares its memory (it is the same tensor or a view of it) and forward did not declare "
        f"it with ctx.mark_dirty: an in-place change to one silently changes the other, and "
        f"PyTorch refuses to modify such a view in place later",
        "return x.clone() (or a new tensor) unless the op is meant to work in place",
    )


def gradient_metadata(tensor: str, what: str, returned: str, expected: str) -> Finding:
    fixes = {
        "dtype": "autograd casts it silently, so the backward computes in the wrong precision: return grad.to(x.dtype)",
        "shape": (
            "autograd sums a broadcast gradient down to the input's shape when it can, hiding a "
            "reduction the backward forgot: reduce it yourself (grad.sum(dim, keepdim=True))"
        ),
        "device": "return the gradient on the input's device (grad.to(x.device))",
    }
    return _contract(
        "the gradient has its input's dtype, shape and device",
        tensor,
        f"backward returns its gradient with {what} {returned}, but the input's {what} is {expected}",
        fixes[what],
    )


def integer_gradient(tensor: str, dtype: str) -> Finding:
    return _contract(
        "integer and boolean inputs get no gradient",
        tensor,
        f"backward returns a gradient for it, a tensor of dtype {dtype}: integer and boolean inputs are not "
        f"differentiable (autograd drops the value)",
        "return None in its place",
    )


def zero_cotangent(tensor: str, largest: float) -> Finding:
    return _contract(
        "a zero upstream gradient gives zero gradients",
        tensor,
        f"with grad_output = 0 backward returned a gradient up to {largest:.2e}: a term that does not "
        f"scale with grad_output (a constant, a regulariser added in backward, state kept between calls)",
        "multiply every term of the gradient by grad_output",
        largest,
    )


def unrepeatable(tensor: str, relative: float) -> Finding:
    return _contract(
        "a second backward gives the same gradient",
        tensor,
        f"a second backward with the same grad_output gave another gradient ({relative:.1e} "
        f"relative): the backward keeps state (accumulates into ctx or a buffer) or draws random numbers",
        "compute the gradient from grad_output and the saved tensors only",
        relative,
    )


def vmap_differs(tensor: str, relative: float) -> Finding:
    return _contract(
        "vmap of the backward equals a loop",
        tensor,
        f"the backward vmapped over several cotangents differs from calling it once per cotangent "
        f"({relative:.1e} relative)",
        "a vmap rule on the way mishandles the batch dimension: the Function's own (or the in_dims / "
        "out_dims it relies on), or a batching rule of an op it calls; torch.func.vmap over this "
        "backward gives wrong gradients",
        relative,
    )
