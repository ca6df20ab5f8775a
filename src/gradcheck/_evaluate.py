"""Run the user's loss at perturbed parameters, with every misbehaviour turned into a clear error.

The evaluator owns one working copy of the params (fresh arrays, never the caller's). A
perturbation writes one component, calls the loss and writes the component back, so an
evaluation costs the loss call and nothing proportional to the number of parameters.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Callable
from functools import partial
from typing import Any, Optional, Protocol

import numpy as np

from ._errors import (
    ComplexStepError,
    LossRaisedError,
    LossValueError,
    MutatedParamsError,
    NondeterministicLossError,
    NonFiniteError,
)
from ._noise import SPACING
from ._progress import Advance, Progress
from ._tree import Layout

Loss = Callable[[Any], Any]
# The serial loop reports progress every this many evaluations: the bar stays live while
# the bookkeeping costs one call per 64 loss evaluations.
PROGRESS_EVERY = 64


class Backend(Protocol):
    """Another way to run `Evaluator.many` / `Evaluator.many_along` (batched, pooled)."""

    def many(
        self, evaluator: Evaluator, components: np.ndarray, values: np.ndarray, advance: Advance
    ) -> np.ndarray: ...

    def many_along(
        self, evaluator: Evaluator, directions: np.ndarray, ts: np.ndarray, advance: Advance
    ) -> np.ndarray: ...


_PLAIN_FLOATS = (float, np.float64)


def to_scalar(value: Any, where: str, *, complex_ok: bool = False) -> complex | float:
    """The loss's return value as a Python float (complex with ``complex_ok``).

    Accepts Python numbers, NumPy scalars, arrays of one element (``cost`` of shape (1, 1))
    and framework tensors of one element (anything with ``.item()``).
    """
    if isinstance(value, (bool, np.bool_)) or value is None or isinstance(value, (str, bytes)):
        raise LossValueError(
            f"the loss returned {value!r} ({type(value).__name__}) {where}; "
            f"it must return the cost as a real number"
        )
    if isinstance(value, numbers.Number) and not isinstance(value, np.generic):
        scalar: Any = value
    else:
        if hasattr(value, "detach"):  # a torch tensor that requires grad
            value = value.detach()
        try:
            array = np.asarray(value)
        except Exception as error:
            raise LossValueError(
                f"the loss returned a {type(value).__name__} {where}, which is not a number"
            ) from error
        if array.size != 1:
            raise LossValueError(
                f"the loss returned an array of shape {array.shape} {where}; it must return "
                f"one number (sum or average the per-example losses, e.g. np.mean(losses))"
            )
        if not (np.issubdtype(array.dtype, np.number)):
            raise LossValueError(
                f"the loss returned dtype {array.dtype} {where}; it must return a real number"
            )
        scalar = array.reshape(()).item()
    if isinstance(scalar, complex) and not complex_ok:
        if scalar.imag != 0:
            raise LossValueError(f"the loss returned the complex number {scalar} {where}; it must be real")
        scalar = scalar.real
    if not np.isfinite(scalar):
        raise NonFiniteError(
            f"the loss is {scalar} {where}; check for log(0), division by zero or overflow "
            f"(e.g. clip probabilities away from 0 and 1)"
        )
    return complex(scalar) if complex_ok else float(scalar)


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
        backend: Optional[Backend] = None,
        progress: Optional[Progress] = None,
    ) -> None:
        self.loss = loss
        self.backend = backend
        self.progress = progress or Progress(enabled=False)
        self.j0: Optional[float] = None  # J(θ) once probed: batched backends check against it
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
        self.count = 0

    def _call(self, where_of: Callable[[], str]) -> complex | float:
        """One loss evaluation; ``where_of()`` describes the point, built only for errors."""
        if self.reseed is not None:
            self.reseed()
        self.count += 1
        try:
            value = self.loss(self.tree)
        except KeyboardInterrupt:
            raise
        except Exception as error:
            if self.complex_step:
                raise ComplexStepError(
                    f"method='complex' needs a loss that accepts complex parameters, but the "
                    f"loss raised {type(error).__name__}: {error} {where_of()}; use method='central'"
                ) from error
            raise LossRaisedError(f"the loss raised {type(error).__name__}: {error} {where_of()}") from error
        if self.complex_step and not np.iscomplexobj(value):
            raise ComplexStepError(
                f"method='complex' perturbs the params by an imaginary step, but the loss returned "
                f"the real {type(value).__name__} {value!r} {where_of()}: it drops the imaginary part "
                f"(float(), .real, abs() or a real-typed buffer); use method='central'"
            )
        if type(value) in _PLAIN_FLOATS and math.isfinite(value) and not self.complex_step:
            return float(value)  # the common case, without building any message
        return to_scalar(value, where_of(), complex_ok=self.complex_step)

    def at_theta(self) -> float:
        return float(np.real(self._call(lambda: "at the unperturbed params")))

    def at_component(self, component: int, value: complex | float) -> complex | float:
        """J with component ``component`` set to ``value`` (then restored)."""
        view = self._views[self._owner[component]]
        local = self._local[component]
        original = view[local]
        view[local] = value
        try:
            return self._call(partial(self._where, component, value))
        finally:
            view[local] = original

    def _where(self, component: int, value: complex | float) -> str:
        return f"when {self.layout.component_name(component)} is set to {value!r}"

    def many(self, components: np.ndarray, values: np.ndarray) -> np.ndarray:
        """J with θ[components[k]] set to values[k], for every k: the one entry point.

        Runs in process one at a time, or through the backend (batched, worker processes, an
        executor); every path gives the serial path's values.
        """
        components = np.asarray(components, dtype=np.int64).reshape(-1)
        values = np.asarray(values, dtype=np.complex128 if self.complex_step else np.float64).reshape(-1)
        with self.progress.task(components.size) as advance:
            if self.backend is None:
                return self.serial_many(components, values, advance)
            return self.backend.many(self, components, values, advance)

    def many_along(self, directions: np.ndarray, ts: np.ndarray) -> np.ndarray:
        """J(θ + ts[k]·directions[k]) for every k: `along` for many points, through the backend."""
        directions = np.asarray(directions, dtype=np.float64).reshape(-1, self.layout.size)
        ts = np.asarray(ts, dtype=np.float64).reshape(-1)
        if directions.shape[0] != ts.size:
            raise ValueError(f"many_along needs one t per direction, got {directions.shape[0]} and {ts.size}")
        with self.progress.task(ts.size) as advance:
            if self.backend is None:
                return self.serial_many_along(directions, ts, advance)
            return self.backend.many_along(self, directions, ts, advance)

    def serial_many(self, components: np.ndarray, values: np.ndarray, advance: Advance) -> np.ndarray:
        """`many`, one evaluation at a time in this process."""
        out = np.empty(len(components), dtype=np.complex128 if self.complex_step else np.float64)
        # Plain Python lists: indexing them is several times cheaper than NumPy scalars.
        views, owners, locals_ = (
            self._views,
            self._owner[components].tolist(),
            self._local[components].tolist(),
        )
        comps, vals = components.tolist(), values.tolist()
        for start in range(0, len(comps), PROGRESS_EVERY):
            for k in range(start, min(start + PROGRESS_EVERY, len(comps))):
                view, local = views[owners[k]], locals_[k]
                original = view[local]
                view[local] = vals[k]
                try:
                    out[k] = self._call(partial(self._where, comps[k], vals[k]))
                finally:
                    view[local] = original
            advance(min(PROGRESS_EVERY, len(comps) - start))
        return out

    def serial_many_along(self, directions: np.ndarray, ts: np.ndarray, advance: Advance) -> np.ndarray:
        """`many_along`, one evaluation at a time in this process."""
        out = np.empty(ts.size)
        for k, t in enumerate(ts.tolist()):
            out[k] = self.along(directions[k], t)
            advance(1)
        return out

    def along(self, direction: np.ndarray, t: float) -> float:
        """J(θ + t·direction) for a flat direction (the working copy is restored after)."""
        for tensor, view in zip(self.layout.tensors, self._views, strict=True):
            view += t * direction[tensor.slice]
        try:
            return float(
                np.real(
                    self._call(
                        lambda: (
                            f"at params moved by a relative {abs(t) * SPACING:.0e} along a random direction "
                            f"(gradcheck measures the loss's round-off noise there)"
                        )
                    )
                )
            )
        finally:
            for tensor, view in zip(self.layout.tensors, self._views, strict=True):
                view[:] = self.theta[tensor.slice]

    def assert_unchanged(self) -> None:
        """Raise if the loss wrote into its params (the working copy no longer equals θ)."""
        for tensor, view in zip(self.layout.tensors, self._views, strict=True):
            if not np.array_equal(view, self.theta[tensor.slice]):
                changed = np.flatnonzero(view != self.theta[tensor.slice])
                raise MutatedParamsError(
                    f"the loss modified its params in place ({tensor.name} changed at "
                    f"{changed.size} entries, first {tensor.component_name(int(changed[0]))}); "
                    f"your arrays are untouched (gradcheck passes copies), but a loss that "
                    f"writes to its params cannot be checked: compute into new arrays instead"
                )

    def probe(self) -> float:
        """Evaluate J(θ) twice: prove determinism and that the loss leaves params alone."""
        first = self.at_theta()
        second = self.at_theta()
        self.j0 = first
        self.assert_unchanged()
        if first != second:
            raise NondeterministicLossError(
                f"the loss gave {first!r} and then {second!r} for the same params: it is not "
                f"deterministic (dropout or other sampling?). Turn the randomness off "
                f"(keep_prob = 1, model.eval()), or pass reseed=<function that resets your "
                f"random generator> so every evaluation draws the same mask"
            )
        return first


def _leaf_arrays(tree: Any, layout: Layout) -> list[np.ndarray]:
    arrays = []
    for tensor in layout.tensors:
        node = tree
        for key in tensor.path:
            node = node[key]
        arrays.append(node)
    return arrays
