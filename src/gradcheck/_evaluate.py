"""Run the user's loss at perturbed parameters, with every misbehaviour turned into a clear error.

The evaluator owns one working copy of the params (fresh arrays, never the caller's). A
perturbation writes one component, calls the loss and writes the component back, so an
evaluation costs the loss call and nothing proportional to the number of parameters.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from typing import Any, Optional

import numpy as np

from ._errors import (
    ComplexStepError,
    LossRaisedError,
    MutatedParamsError,
    NondeterministicLossError,
)
from ._scalar import Where, describe, to_scalar
from ._tree import Layout

Loss = Callable[[Any], Any]
_PLAIN_FLOATS = (float, np.float64)

# Durations of the first loss calls are kept to estimate what a whole check will cost
# (`_budget`); the probe makes 18 calls, a few more cover a slow first (compiling) call.
TIMED_CALLS = 32


class Evaluator:
    """Evaluates the loss at θ and at θ with one component (or a direction) changed."""

    def __init__(
        self,
        loss: Loss,
        layout: Layout,
        theta: np.ndarray,
        *,
        reseed: Optional[Callable[[], Any]] = None,
        complex_step: bool = False,
    ) -> None:
        self.loss = loss
        self.layout = layout
        self.theta = theta
        self.reseed = reseed
        self.complex_step = complex_step
        dtype = np.complex128 if complex_step else np.float64
        self.tree = layout.unflatten(theta, dtype=dtype)
        flat_views = [leaf.reshape(-1) for leaf in _leaf_arrays(self.tree, layout)]
        self._owner = np.repeat(np.arange(len(flat_views)), [v.size for v in flat_views])
        self._local = np.arange(layout.size) - np.repeat(
            [t.offset for t in layout.tensors], [t.size for t in layout.tensors]
        )
        self._views = flat_views
        self._leaves = _leaf_arrays(self.tree, layout)
        self.count = 0
        self.durations: list[float] = []  # seconds of the first TIMED_CALLS loss calls

    def _call(self, where: Where, perturbed: bool = True) -> complex | float:
        """One loss evaluation at the working copy; ``where`` describes the point (built lazily)."""
        if self.reseed is not None:
            self.reseed()
        self.count += 1
        start = time.perf_counter()
        try:
            value = self.loss(self.tree)
        except KeyboardInterrupt:  # never turned into a LossError: the user asked to stop
            raise
        except Exception as error:
            if self.complex_step:
                raise ComplexStepError(
                    f"method='complex' needs a loss that accepts complex parameters, but the "
                    f"loss raised {type(error).__name__}: {error} {describe(where)}; use method='central'"
                ) from error
            hint = (
                "it works at θ, so θ lies within one step of where it fails: pass a smaller fixed "
                "eps, or move the params away from there"
                if perturbed
                else "call loss(params) yourself to debug it"
            )
            raise LossRaisedError(
                f"the loss raised {type(error).__name__}({error}) {describe(where)}; {hint} (its "
                f"traceback is shown above this error)"
            ) from error
        if len(self.durations) < TIMED_CALLS:
            self.durations.append(time.perf_counter() - start)
        if self.complex_step and not np.iscomplexobj(value):
            raise ComplexStepError(
                f"method='complex' perturbs the params by an imaginary step, but the loss returned "
                f"the real {type(value).__name__} {value!r} {describe(where)}: it drops the imaginary "
                f"part (float(), .real, abs() or a real-typed buffer); use method='central'"
            )
        if type(value) in _PLAIN_FLOATS and not self.complex_step and math.isfinite(value):
            return float(value)  # the common case, without any conversion or message
        return to_scalar(value, where, complex_ok=self.complex_step, perturbed=perturbed)

    def at_theta(self) -> float:
        return float(np.real(self._call("at θ (the params as given)", perturbed=False)))

    def _moved(self, component: int, value: complex | float) -> str:
        name = self.layout.component_name(component)
        base = float(self.theta[component])
        if isinstance(value, complex):
            return f"when {name} = {base!r} gets the imaginary step {value.imag:.1e}i"
        return f"when {name} is moved by {value - base:+.3g} (from {base!r} to {value!r})"

    def at_component(self, component: int, value: complex | float) -> complex | float:
        """J with component ``component`` set to ``value`` (then restored)."""
        view = self._views[self._owner[component]]
        local = self._local[component]
        original = view[local]
        view[local] = value
        try:
            return self._call(lambda: self._moved(component, value))
        finally:
            view[local] = original

    def many(self, components: np.ndarray, values: np.ndarray) -> np.ndarray:
        """J with θ[components[k]] set to values[k], for every k (one at a time, in process)."""
        out = np.empty(len(components), dtype=np.complex128 if self.complex_step else np.float64)
        for k, (component, value) in enumerate(zip(components.tolist(), values.tolist(), strict=True)):
            result = self.at_component(component, value)
            out[k] = result if self.complex_step else np.real(result)
        return out

    def along(self, direction: np.ndarray, t: float) -> float:
        """J(θ + t·direction) for a flat direction (the working copy is restored after)."""
        for tensor, view in zip(self.layout.tensors, self._views, strict=True):
            view += t * direction[tensor.slice]

        def where() -> str:
            moved = np.flatnonzero(direction)
            names = ", ".join(self.layout.component_name(int(i)) for i in moved[:4])
            return (
                f"at θ moved by up to {abs(t) * np.abs(direction).max():.1e} in {moved.size} "
                f"components ({names}{', ...' if moved.size > 4 else ''}) while measuring the "
                f"loss's round-off noise"
            )

        try:
            return float(np.real(self._call(where)))
        finally:
            for tensor, view in zip(self.layout.tensors, self._views, strict=True):
                view[:] = self.theta[tensor.slice]

    def assert_unchanged(self) -> None:
        """Raise if the loss wrote into its params or replaced arrays in their structure."""
        replaced = _replaced(self.tree, self.layout, self._leaves)
        if replaced is not None:
            raise MutatedParamsError(
                f"the loss replaced {replaced} in the params it was given (e.g. p[key] = new "
                f"array or p.pop(key)); your arrays are untouched (gradcheck passes copies), but "
                f"later evaluations would not see the perturbations: leave the params structure "
                f"alone and keep intermediate results in local variables"
            )
        for tensor, view in zip(self.layout.tensors, self._views, strict=True):
            if not np.array_equal(view, self.theta[tensor.slice]):
                changed = np.flatnonzero(view != self.theta[tensor.slice])
                raise MutatedParamsError(
                    f"the loss modified its params in place ({tensor.name} changed at "
                    f"{changed.size} of {tensor.size} entries, first "
                    f"{tensor.component_name(int(changed[0]))}); "
                    f"your arrays are untouched (gradcheck passes copies), but a loss that "
                    f"writes to its params cannot be checked: compute into new arrays instead "
                    f"(W = W - x, not W -= x)"
                )

    def probe(self) -> float:
        """Evaluate J(θ) twice: prove that the loss leaves params alone and is deterministic."""
        first = self.at_theta()
        second = self.at_theta()
        self.assert_unchanged()  # first: a loss that writes to its params also drifts
        if first != second:
            raise NondeterministicLossError(
                f"the loss gave {first!r} and then {second!r} for the same params: it is not "
                f"deterministic (dropout or other sampling?). Turn the randomness off "
                f"(keep_prob = 1, model.eval()), or pass reseed=<function that resets your "
                f"random generator> so every evaluation draws the same mask"
            )
        return first


def _replaced(tree: Any, layout: Layout, leaves: list[np.ndarray]) -> Optional[str]:
    """The name of the first parameter that is no longer the array the evaluator put there."""
    for tensor, leaf in zip(layout.tensors, leaves, strict=True):
        node = tree
        try:
            for key in tensor.path:
                node = node[key]
        except (KeyError, IndexError, TypeError):
            return tensor.name
        if node is not leaf:
            return tensor.name
    return None


def _leaf_arrays(tree: Any, layout: Layout) -> list[np.ndarray]:
    arrays = []
    for tensor in layout.tensors:
        node = tree
        for key in tensor.path:
            node = node[key]
        arrays.append(node)
    return arrays
