"""Evaluate many perturbed parameter vectors per call of a vectorised ``batched_loss``.

``batched_loss(rows)`` takes a stack of flat parameter vectors, shape (k, n) in the order of
the flattened params, and returns the k losses. A batched loss may also offer a faster
``at_components(components, values)``: the k losses with θ[components[j]] set to values[j]
(the PyTorch and JAX adapters do, so that no (k, n) stack is ever built).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from functools import partial
from typing import TYPE_CHECKING, Any

import numpy as np

from .. import _precision
from .._errors import BatchedLossError, ComplexStepError, LossRaisedError, NonFiniteError
from .._tree import round_to_dtypes
from ._progress import Advance

if TYPE_CHECKING:
    from ._evaluator import Evaluator

# One call's stack of rows is kept under 64 MiB: big enough that a call amortises its Python
# overhead over many rows (1e5 parameters → 80 rows), small enough for any machine.
CHUNK_BYTES = 2**26
# Adapters evaluate many rows per call without building them; cap the rows anyway so that a
# call's activations (rows × batch × width) stay bounded.
MAX_ROWS = 4096


class Batched:
    """Runs `Evaluator.many` and `Evaluator.many_along` through ``batched_loss``."""

    def __init__(self, batched_loss: Callable[[np.ndarray], Any]) -> None:
        self.batched_loss = batched_loss
        self.at_components = getattr(batched_loss, "at_components", None)
        self._consistent_for: Any = None

    def many(
        self, evaluator: Evaluator, components: np.ndarray, values: np.ndarray, advance: Advance
    ) -> np.ndarray:
        base = evaluator.theta.astype(values.dtype if evaluator.complex_step else np.float64)
        self._check_consistent(evaluator, base)
        out = np.empty(components.size, dtype=base.dtype)
        step = self._rows_per_call(base)
        for start in range(0, components.size, step):
            comps, vals = components[start : start + step], values[start : start + step]
            if self.at_components is not None:
                result = self._call(evaluator, self.at_components, (comps, vals))
            else:
                rows = np.repeat(base[None, :], comps.size, axis=0)
                rows[np.arange(comps.size), comps] = vals
                result = self._call(evaluator, self.batched_loss, (rows,))
            out[start : start + step] = self._checked(
                evaluator, result, comps.size, partial(_at, evaluator, comps, vals)
            )
            advance(comps.size)
        return out

    def many_along(
        self, evaluator: Evaluator, directions: np.ndarray, ts: np.ndarray, advance: Advance
    ) -> np.ndarray:
        base = evaluator.theta
        self._check_consistent(evaluator, base)
        out = np.empty(ts.size)
        step = self._rows_per_call(base)
        for start in range(0, ts.size, step):
            t = ts[start : start + step]
            rows = round_to_dtypes(
                evaluator.layout, base[None, :] + t[:, None] * directions[start : start + step]
            )
            result = self._call(evaluator, self.batched_loss, (rows,))
            out[start : start + step] = np.real(self._checked(evaluator, result, t.size, partial(_along, t)))
            advance(t.size)
        return out

    def _rows_per_call(self, base: np.ndarray) -> int:
        if self.at_components is not None:
            return MAX_ROWS
        return max(1, min(MAX_ROWS, CHUNK_BYTES // (base.size * base.itemsize)))

    def _call(self, evaluator: Evaluator, function: Callable[..., Any], args: tuple[Any, ...]) -> Any:
        if evaluator.reseed is not None:
            evaluator.reseed()
        evaluator.count += len(args[-1])
        try:
            return function(*args)
        except KeyboardInterrupt:
            raise
        except Exception as error:
            kind = ComplexStepError if evaluator.complex_step else LossRaisedError
            hint = "; use method='central'" if evaluator.complex_step else ""
            raise kind(
                f"batched_loss raised {type(error).__name__}: {error} (on {len(args[-1])} parameter "
                f"vectors){hint}"
            ) from error

    def _checked(self, evaluator: Evaluator, result: Any, k: int, where: Callable[[int], str]) -> np.ndarray:
        """The k losses as an array, or an error naming the first row that is not a real number."""
        if hasattr(result, "detach"):  # a torch tensor
            result = result.detach().cpu().numpy()
        values = np.asarray(result)
        if values.shape != (k,):
            raise BatchedLossError(
                f"batched_loss returned shape {values.shape} for {k} parameter vectors; it must "
                f"return shape ({k},): one loss per row of its (k, n) input"
            )
        if not evaluator.complex_step:
            if np.iscomplexobj(values) and np.any(values.imag != 0):
                raise BatchedLossError(f"batched_loss returned complex values {where(0)}; it must be real")
            values = np.real(values).astype(np.float64)
        bad = np.flatnonzero(~np.isfinite(values))
        if bad.size:
            raise NonFiniteError(
                f"batched_loss gave {values[bad[0]]} {where(int(bad[0]))}; check for log(0), division "
                f"by zero or overflow"
            )
        return values

    def _check_consistent(self, evaluator: Evaluator, base: np.ndarray) -> None:
        """Once per evaluator: batched_loss at θ must equal loss at θ to half the digits."""
        if self._consistent_for is evaluator or evaluator.j0 is None or evaluator.complex_step:
            return
        j_batched = float(
            self._checked(
                evaluator, self._call(evaluator, self.batched_loss, (base[None, :],)), 1, _at_theta
            )[0]
        )
        j0 = evaluator.j0
        # Vectorised and one-at-a-time code round differently, by far less than sqrt(ε) relative;
        # a batched loss that computes another function (a missing term, other data) differs by more.
        eps = max(_precision.eps(t.dtype) for t in evaluator.layout.tensors)
        if abs(j_batched - j0) > math.sqrt(eps) * max(abs(j0), abs(j_batched)):
            raise BatchedLossError(
                f"batched_loss gives {j_batched!r} at the unperturbed params but loss gives {j0!r}: "
                f"they must compute the same function (same data, same terms, rows in the order of "
                f"the flattened params)"
            )
        self._consistent_for = evaluator


def _at(evaluator: Evaluator, components: np.ndarray, values: np.ndarray, j: int) -> str:
    return f"when {evaluator.layout.component_name(int(components[j]))} is set to {values[j]!r}"


def _along(ts: np.ndarray, j: int) -> str:
    return f"at θ + {ts[j]:g}·direction"


def _at_theta(j: int) -> str:
    return "at the unperturbed params"
