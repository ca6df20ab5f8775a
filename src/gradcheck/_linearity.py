"""Is a derivative rule linear in its vector argument, and repeatable? No step, no loss call.

A VJP is linear in its cotangent, a JVP in its tangent, an HVP in its direction: rule(a + b) =
rule(a) + rule(b), rule(2a) = 2·rule(a), and the same argument gives the same result twice. A
rule that ignores its argument, uses it squared or through abs(), branches on its sign, or
accumulates into a buffer between calls breaks one of these by O(1), which a single
finite-difference comparison can miss (a loss of ``sum(out)`` never shows a backward that
ignores ``dout``). Rounding breaks them only by about ε, hence `linearity_tolerance`.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np

from . import _wording
from ._compare import norm
from ._report._model import Finding
from ._tree import Layout

KINDS = ("linearity", "repeatability")  # the kinds that fail a check


def linearity_tolerance(eps: float) -> float:
    """√ε: the relative violation of linearity a correct rule cannot reach.

    A linear rule in floating point obeys rule(a + b) = rule(a) + rule(b) up to rounding:
    ε times a modest factor (about √n for a sum of n random-signed terms; Higham, *Accuracy and
    Stability of Numerical Algorithms*, §3). A rule that misuses its argument is off by O(1),
    since a and b are independent. √ε sits a factor 1/√ε from both (1e8 in float64, 3e3 in
    float32), so neither a sum of millions of float32 terms nor a genuine violation lands
    on the wrong side.
    """
    return math.sqrt(eps)


def relative(residual: np.ndarray, *parts: np.ndarray) -> float:
    """‖residual‖ over the sum of the parts' norms (0 when they are all zero)."""
    scale = sum(norm(p) for p in parts)  # scaled norms: a layer's output of 1e300 has one
    return norm(residual) / scale if scale else 0.0


def findings(
    rule: Callable[[np.ndarray], np.ndarray],
    layout: Layout,
    first: np.ndarray,
    a: np.ndarray,
    b: np.ndarray,
    tolerance: float,
    name: str = "vjp",
) -> list[Finding]:
    """One finding per tensor of the result whose values are not repeatable or not linear.

    Args:
        rule: the rule under test, from its argument to its flat result (in ``layout``'s order).
        layout: the layout of the result (the inputs for a VJP, the outputs for a JVP).
        first: ``rule(a)``, already computed.
        a, b: two independent random arguments.
        tolerance: the relative violation rounding cannot reach (`linearity_tolerance`).
        name: the rule's name in the messages: ``"vjp"``, ``"jvp"`` or ``"hvp"``.
    """
    again, second = rule(a), rule(b)
    total, double = rule(a + b), rule(2 * a)
    found = []
    for tensor in layout.tensors:
        s = tensor.slice
        repeat = relative(again[s] - first[s], again[s], first[s])
        additive = relative(total[s] - first[s] - second[s], total[s], first[s], second[s])
        homogeneous = relative(double[s] - 2 * first[s], double[s], 2 * first[s])
        if repeat > tolerance:
            found.append(_wording.repeatability(tensor.name, repeat, name))
        elif homogeneous > tolerance:
            found.append(_wording.homogeneity(tensor.name, homogeneous, tolerance, name))
        elif additive > tolerance:
            found.append(_wording.additivity(tensor.name, additive, tolerance, name))
    return found
