"""JAX adapter: check ``jax.grad(f)`` (custom_vjp / custom_jvp rules included) numerically.

Install with ``pip install "gradcheck[jax]"``. JAX is imported when `check` is called, never
by ``import gradcheck``. In float64 (where the code computes in float64) the check runs with
64-bit types enabled (restored afterwards); natively (code that computes in bfloat16, float16
or float32) each leaf keeps its dtype and device and JAX its 64-bit setting. It evaluates many
perturbed points per call with ``jax.jit(jax.vmap(...))`` over the perturbed leaf only, so
work that does not depend on that leaf is done once per call.
"""

from __future__ import annotations

import contextlib
import dataclasses
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, Optional

import numpy as np

from . import _jax_modes, _options
from ._check import check_against as _check_against
from ._complex import part_names, split
from ._evaluate._batched import CHUNK_BYTES
from ._report._report import Report
from ._tree import path_name
from ._vmap import VmapLoss

INSTALL = 'pip install "gradcheck[jax]"'
# Points per compiled call: 256 amortise the call overhead; runs of at most SMALL points (the
# refinement of a few suspicious components, a small bias) are padded to SMALL. Two sizes per
# leaf means at most two compilations per leaf, which cost far more than the padded points.
ROWS = 256
SMALL = 16


def _jax() -> Any:
    try:
        import jax
    except ImportError:
        raise ImportError(f"gradcheck.jax needs JAX, which is not installed: {INSTALL}") from None
    return jax


@contextmanager
def _x64(jax: Any) -> Iterator[None]:
    """64-bit types inside, the caller's setting restored after (jax ≥ 0.6 and older)."""
    if callable(getattr(jax, "enable_x64", None)):
        with jax.enable_x64(True):
            yield
    else:  # pragma: no cover - older JAX
        from jax.experimental import enable_x64  # type: ignore[attr-defined]

        with enable_x64():
            yield


def check(
    f: Callable[[Any], Any],
    params: Any,
    *,
    grad: Any = None,
    modes: Any = None,
    order: int = 1,
    reference: Optional[Callable[[Any], Any]] = None,
    **options: Any,
) -> Report:
    """Check the gradient of ``f(params) -> scalar`` on a pytree of arrays.

    Args:
        f: a JAX-traceable function of the params pytree returning a scalar loss.
        params: a pytree (dicts, lists, tuples, registered nodes) of float or complex arrays;
            components are named by their key paths (``layers[0].W[3, 2]``), a complex leaf's as
            ``z.real[0]`` and ``z.imag[0]``.
        grad: the gradient to check (same pytree, or a callable ``grad(params)``); by default
            ``jax.grad(f)``, which exercises any ``custom_vjp`` / ``custom_jvp`` rule inside ``f``.
            For a complex leaf, in JAX's convention ``∂f/∂x − i·∂f/∂y`` (the conjugate of
            PyTorch's; it is conjugated before the comparison).
        modes: ``"rev"`` (``jax.grad``), ``"fwd"`` (``jax.jvp``) or both; None (default) checks
            every mode f supports against the same finite differences (a ``custom_vjp`` has no
            forward mode: a ``not_checked`` finding says so). Forward-mode rows are ``fwd:<name>``.
        order: 1, or 2 to also check second derivatives (reverse over reverse, through
            `gradcheck.check_hvp` with a random direction; rows ``hvp:<name>``).
        options: any option of `gradcheck.check` (``method``, ``eps``, ``seed``, ``workers``...).
            ``batched_loss`` is supplied (jit + vmap) unless ``workers``/``executor`` is given.
            ``precision``: ``"auto"`` (default) checks in float64 where ``f`` computes in float64
            when given float64 leaves, and natively (each leaf's own dtype and device) where it
            raises or returns a narrower dtype; ``"float64"`` or ``"native"`` force one.
        reference: the same function in plain JAX: then no finite difference is taken. The truth
            is ``jax.grad(reference)`` on float64 copies of the leaves, and ``f``'s gradient, in
            its own precision, is wrong where it misses the truth by more than rounding explains,
            measured by ``jax.grad(reference)`` in ``f``'s precision.

    Returns:
        A `Report` over every mode and order checked.

    Example:
        >>> import jax.numpy as jnp, gradcheck.jax
        >>> gradcheck.jax.check(lambda p: jnp.sum(jnp.sin(p["w"])), {"w": jnp.arange(3.0)}).passed
        True
    """
    jax = _jax()
    modes, order = _options.modes(modes), _options.order(order)
    options = dict(options)
    precision = options.pop("precision", "auto")
    _options.choice("precision", precision, _options.PRECISIONS)
    mode, why = _resolve(jax, f, params, precision)
    with _x64(jax) if mode == "float64" else contextlib.nullcontext():
        problem = _FlatLoss(jax, f, params, native=mode == "native")
        if reference is None:
            if (
                options.get("workers") is None
                and options.get("executor") is None
                and "batched_loss" not in options
            ):
                options["batched_loss"] = _VmapLoss(problem)
            report = _jax_modes.check(problem, problem.gradient_of(grad), options, modes, order)
        else:
            _options.function("reference", reference, signature="of the same params as f")
            options.pop("batched_loss", None)  # no finite differences: nothing to batch
            truth, rounded = _reference_gradients(jax, reference, params, mode)
            report = _check_against(
                problem.loss, problem.flat, problem.gradient_of(grad), truth, rounded, **options
            )
    dtypes = sorted({str(v.dtype) for v in problem.flat.values()})
    described = "float64" if mode == "float64" else f"native {'/'.join(dtypes)}"
    settings = dataclasses.replace(report.settings, precision=described, precision_reason=why)
    return dataclasses.replace(report, settings=settings)


def _reference_gradients(
    jax: Any, reference: Callable[[Any], Any], params: Any, mode: str
) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
    """``jax.grad(reference)`` on float64 copies of the leaves (the truth), and in the precision
    the kernel is checked in (what rounding alone does to a correct implementation)."""
    with _x64(jax):
        wide = _FlatLoss(jax, reference, params)
        truth = wide.gradient_of(None)(wide.flat)
    with _x64(jax) if mode == "float64" else contextlib.nullcontext():
        same = _FlatLoss(jax, reference, params, native=mode == "native")
        rounded = same.gradient_of(None)(same.flat)
    return truth, rounded


def _resolve(jax: Any, f: Callable[[Any], Any], params: Any, precision: str) -> tuple[str, str]:
    """("float64" or "native", why): ``precision``, or what ``f`` does with float64 leaves."""
    if precision != "auto":
        return precision, f"precision={precision!r} asked for"
    with _x64(jax):
        wide = jax.tree_util.tree_map(_widened, params)
        try:
            value = jax.jit(f)(wide)
        except Exception as error:  # a kernel (Pallas, a custom call) that refuses float64
            text = str(error).splitlines()[0][:80] if str(error) else ""
            return "native", f"f raised {type(error).__name__} for float64 leaves" + (
                f" ({text})" if text else ""
            )
    dtype = str(getattr(value, "dtype", "float64"))
    if dtype != "float64":
        return "native", f"f returned {dtype} for float64 leaves"
    return "float64", "f computes in float64 when given float64 leaves"


def _widened(leaf: Any) -> np.ndarray:
    """A leaf in float64 (complex128 for a complex one)."""
    return np.asarray(leaf, dtype=np.complex128 if np.iscomplexobj(leaf) else np.float64)


class _FlatLoss:
    """The params as a flat dict of arrays keyed by path names (float64, or each leaf's own
    dtype when ``native``), and f on that dict.

    A complex leaf ``z`` is two real entries, ``z.real`` and ``z.imag`` (`_complex`), joined
    again before f sees it.
    """

    def __init__(self, jax: Any, f: Callable[[Any], Any], params: Any, native: bool = False) -> None:
        self.jax, self.f = jax, f
        pairs, self.treedef = jax.tree_util.tree_flatten_with_path(params)
        self.names = [path_name(tuple(_key(k) for k in path)) for path, _ in pairs]
        leaves = [np.asarray(leaf) for _, leaf in pairs]
        self.complex = {name for name, leaf in zip(self.names, leaves, strict=True) if leaf.dtype.kind == "c"}
        self.flat: dict[str, np.ndarray] = {}
        for name, leaf in zip(self.names, leaves, strict=True):
            self.flat.update(self._parts(name, leaf, native))
        default = jax.devices()[0]
        devices = {name: _device(leaf) for name, (_, leaf) in zip(self.names, pairs, strict=True)}
        self.devices = {
            key: None if devices[name] in (None, default) else devices[name]
            for name in self.names
            for key in (part_names(name) if name in self.complex else (name,))
        }
        self.compiled = jax.jit(f)

    def _parts(self, name: str, leaf: np.ndarray, native: bool) -> dict[str, np.ndarray]:
        """A leaf as entries of the flat dict (float64, or its own real dtype when ``native``):
        itself, or a complex one's two parts."""
        dtype = None if native else np.float64
        if name in self.complex:
            return dict(zip(part_names(name), (np.array(p, dtype=dtype) for p in split(leaf)), strict=True))
        return {name: np.array(leaf, dtype=dtype, copy=True)}

    def leaves(self, flat: dict[str, Any]) -> dict[str, Any]:
        """The core's float64 arrays (or stacks) as arrays of each leaf's dtype on its device: the
        values are on that dtype's grid already, so the cast is exact."""
        typed = {
            name: np.asarray(value).astype(self.flat[name].dtype, copy=False) for name, value in flat.items()
        }
        return {
            name: value if self.devices[name] is None else self.jax.device_put(value, self.devices[name])
            for name, value in typed.items()
        }

    def tree(self, flat: dict[str, Any]) -> Any:
        leaves = [
            self.jax.lax.complex(*(flat[part] for part in part_names(name)))
            if name in self.complex
            else flat[name]
            for name in self.names
        ]
        return self.treedef.unflatten(leaves)

    def loss(self, flat: dict[str, np.ndarray]) -> float:
        return float(self.compiled(self.tree(self.leaves(flat))))

    def gradient_of(self, grad: Any) -> Any:
        """The gradient as a flat dict by path name: ``jax.grad(f)``, or the user's pytree / callable."""
        if grad is None:
            grad = self.jax.jit(self.jax.grad(self.f))
        if not callable(grad):
            return self._flat(grad)
        return lambda flat: self._flat(grad(self.tree(self.leaves(flat))))

    def _flat(self, tree: Any) -> dict[str, np.ndarray]:
        """A gradient pytree as the flat dict. JAX's gradient of a real f in a complex z is
        ∂f/∂x − i·∂f/∂y; its conjugate is the convention gradcheck checks (`_complex`)."""
        leaves = self.jax.tree_util.tree_leaves(tree)
        flat: dict[str, np.ndarray] = {}
        for name, leaf in zip(self.names, leaves, strict=True):
            value = np.asarray(leaf)
            if name in self.complex:
                flat.update(zip(part_names(name), split(np.conj(value)), strict=True))
            else:
                flat[name] = value
        return flat


def _key(entry: Any) -> Any:
    """A jax key-path entry as gradcheck's path element: dict key, sequence index or attribute."""
    for attribute in ("key", "idx", "name"):
        if hasattr(entry, attribute):
            return getattr(entry, attribute)
    return str(entry)


class _VmapLoss(VmapLoss):
    """The shared vmap core with jit(vmap(f)), over rows or over one leaf's single changes."""

    def __init__(self, problem: _FlatLoss) -> None:
        super().__init__(list(problem.flat), [v.shape for v in problem.flat.values()])
        self.problem = problem
        jax = problem.jax
        self.base = {k: jax.numpy.asarray(v) for k, v in problem.leaves(problem.flat).items()}
        self.per_leaf: dict[str, Any] = {}

        def of_row(leaves: Any) -> Any:
            return problem.f(problem.tree(leaves))

        self.compiled_rows = jax.jit(jax.vmap(of_row))

    def rows(self, leaves: dict[str, np.ndarray]) -> np.ndarray:
        count = len(next(iter(leaves.values())))
        size = _rows_per_call(count, int(self.offsets[-1]))
        typed = {k: v.astype(self.problem.flat[k].dtype) for k, v in leaves.items()}
        return _padded(self.compiled_rows, typed, count, size)

    def changes(self, name: str, local: np.ndarray, values: np.ndarray) -> np.ndarray:
        changes = {"at": local.astype(np.int64), "value": values.astype(self.problem.flat[name].dtype)}
        size = _rows_per_call(local.size, self.problem.flat[name].size)
        return _padded(self._leaf_function(name), changes, local.size, size)

    def _leaf_function(self, name: str) -> Callable[[Any], Any]:
        """jit(vmap) of f with one entry of leaf ``name`` changed; the other leaves are constants."""
        if name not in self.per_leaf:
            jax, base, problem = self.problem.jax, self.base, self.problem

            def one(change: Any) -> Any:
                leaf = base[name].reshape(-1).at[change["at"]].set(change["value"])
                return problem.f(problem.tree({**base, name: leaf.reshape(base[name].shape)}))

            self.per_leaf[name] = jax.jit(jax.vmap(one))
        return self.per_leaf[name]


def _rows_per_call(count: int, leaf_size: int) -> int:
    """ROWS or SMALL points per call, fewer (a power of two) if their stack would pass CHUNK_BYTES."""
    wanted = SMALL if count <= SMALL else ROWS
    fits = max(1, CHUNK_BYTES // (8 * leaf_size))
    return min(wanted, 1 << (fits.bit_length() - 1))


def _padded(
    function: Callable[[Any], Any], batch: dict[str, np.ndarray], count: int, size: int
) -> np.ndarray:
    """``function`` over the ``count`` rows of ``batch`` (a dict of stacked arrays), in calls of
    exactly ``size`` rows (the last padded with copies of its first row)."""
    out = np.empty(count)
    for start in range(0, count, size):
        stop = min(start + size, count)
        filled = {
            key: np.concatenate(
                [value[start:stop], np.repeat(value[start : start + 1], size - (stop - start), axis=0)]
            )
            for key, value in batch.items()
        }
        out[start:stop] = np.asarray(function(filled))[: stop - start]
    return out


def _device(leaf: Any) -> Any:
    """The device a JAX array lives on (None for NumPy arrays and scalars: JAX's default)."""
    devices = getattr(leaf, "devices", None)
    if not callable(devices):
        return None
    found = devices()
    return next(iter(found)) if len(found) == 1 else None
