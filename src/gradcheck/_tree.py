"""Pytrees of arrays: flatten params into one vector θ with a name for every component.

A pytree here is an array (or Python/NumPy scalar), or a list, tuple or dict of pytrees;
None is an empty subtree (as in JAX): a layer without a bias may hold ``"b": None``, and the
loss gets the None back. The seeds' recipe reshapes every parameter into one long vector θ; `Layout` remembers where
each tensor sits in θ so that every component keeps a name such as ``W2[3, 1]``. A complex
array is two real tensors, ``z.real`` and ``z.imag`` (`_complex`: the gradient convention).
The caller's arrays are only ever read.
"""

from __future__ import annotations

import dataclasses
import difflib
import functools
import math
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any, Optional

import numpy as np

from . import _precision
from ._aliasing import first_overlap
from ._complex import PARTS, Pair, join, part_names, real_dtype
from ._errors import StructureError

Path = tuple[Any, ...]


def _is_container(node: Any) -> bool:
    return isinstance(node, (dict, list, tuple))


def _children(node: Any) -> Iterator[tuple[Any, Any]]:
    if isinstance(node, dict):
        yield from node.items()
    else:
        yield from enumerate(node)


def path_name(path: Path) -> str:
    """``("layers", 0, "W")`` → ``layers[0].W``; the empty path (one array) → ``theta``."""
    name = ""
    for key in path:
        if isinstance(key, int):
            name += f"[{key}]"
        else:
            name += f".{key}" if name else str(key)
    return name or "theta"


def leaves(tree: Any, path: Path = ()) -> Iterator[tuple[Path, Any]]:
    """Yield ``(path, leaf)`` in a fixed order: dicts in insertion order, sequences by index.

    None leaves are empty subtrees and are not yielded.
    """
    if _is_container(tree):
        for key, child in _children(tree):
            yield from leaves(child, path + (key,))
    elif tree is not None:
        yield path, tree


def _as_float_array(leaf: Any, name: str, *, gradient: bool = False, complex_ok: bool = False) -> np.ndarray:
    """``leaf`` as a floating-point array, or complex with ``complex_ok`` (no copy when it is one)."""
    if leaf is None:  # only gradients get here: a None parameter is an empty subtree
        raise StructureError(
            f"{name} is None; if the backward pass skips it, return np.zeros_like of the parameter"
        )
    try:
        array = np.asarray(leaf)
    except Exception as error:  # e.g. a torch tensor that requires grad
        hint = (
            "; pass tensor.detach().cpu().numpy()"
            if hasattr(leaf, "detach") and "detach" not in str(error)
            else ""
        )
        raise StructureError(
            f"{name} of type {type(leaf).__name__} cannot be read as an array ({error}){hint}"
        ) from error
    if not (_precision.is_float(array.dtype) or (complex_ok and array.dtype.kind == "c")):
        raise StructureError(f"{name} {_not_float(leaf, array, gradient)}")
    return array


def _not_float(leaf: Any, array: np.ndarray, gradient: bool) -> str:
    """What is wrong with a leaf that is not a float array, and the fix."""
    kind, what = array.dtype.kind, f"dtype {array.dtype}, shape {array.shape}"
    if isinstance(leaf, str):
        return f"is the string {leaf!r}, not a float array"
    if isinstance(leaf, int):
        return f"is the integer {leaf!r}: write {float(leaf)!r} if it is a parameter"
    if kind == "b":
        return (
            f"is a boolean array ({what}); a mask is not a parameter: leave it out of params and "
            f"use it inside the loss (lambda p: loss(p, mask))"
        )
    if kind in "iu" and gradient:
        return f"is an integer array ({what}); pass it as .astype(float)"
    if kind in "iu":
        return (
            f"is an integer array ({what}); gradcheck perturbs floating-point parameters: pass "
            f".astype(float) if it is one, or leave it out of params if it is data (labels, indices)"
        )
    if kind == "c":
        return f"is complex ({what}) where a real array is needed; pass its real part (.real)"
    if kind == "O":
        read = f"has {what}" if isinstance(leaf, np.ndarray) else f"is a {type(leaf).__name__} read as {what}"
        return f"{read} (a ragged nested list, or None or non-numbers inside an array); pass a float array"
    return f"has {what}; pass a float array"


def component_name(name: str, shape: tuple[int, ...], flat_index: int) -> str:
    """``W2[3, 1]``: the entry at row-major ``flat_index`` of a tensor of ``shape``."""
    if not shape:
        return name
    index = np.unravel_index(flat_index, shape)
    return f"{name}[{', '.join(str(int(i)) for i in index)}]"


@dataclass(frozen=True)
class Tensor:
    """One parameter tensor of the layout: where it sits in θ and how it looks."""

    path: Path
    name: str
    shape: tuple[int, ...]
    dtype: np.dtype  # of the values in θ: a complex parameter's parts have its real dtype
    offset: int
    part: Optional[str] = None  # "real" or "imag": one part of the complex parameter at ``path``

    @property
    def size(self) -> int:
        return math.prod(self.shape)  # not np.prod: Evaluator.along reads it per tensor per call

    @property
    def slice(self) -> slice:
        return slice(self.offset, self.offset + self.size)

    def component_name(self, flat_index: int) -> str:
        """``W2[3, 1]`` for a flat index inside this tensor."""
        return component_name(self.name, self.shape, flat_index)


@dataclass(frozen=True)
class Layout:
    """Where every tensor of a params pytree sits in the flat vector θ."""

    tensors: tuple[Tensor, ...]
    treedef: Any  # the params with every leaf replaced by its Tensor (a Pair of them if complex)

    @property
    def size(self) -> int:
        return sum(t.size for t in self.tensors)

    def tensor_of(self, component: int) -> Tensor:
        """The tensor holding flat component ``component``."""
        for tensor in self.tensors:
            if tensor.offset <= component < tensor.offset + tensor.size:
                return tensor
        raise IndexError(f"component {component} is outside θ of size {self.size}")

    def component_name(self, component: int) -> str:
        tensor = self.tensor_of(component)
        return tensor.component_name(component - tensor.offset)

    def tensor_ids(self) -> np.ndarray:
        """For every component of θ, the position of its tensor in ``tensors`` (read-only)."""
        return self._tensor_ids

    @functools.cached_property
    def _tensor_ids(self) -> np.ndarray:
        ids = np.repeat(np.arange(len(self.tensors)), [t.size for t in self.tensors])
        ids.setflags(write=False)
        return ids

    def unflatten(self, theta: np.ndarray, dtype: Any = None) -> Any:
        """Fresh arrays with the structure of params, filled from θ (in each tensor's dtype;
        complex parameters joined from their parts, in the complex dtype of ``dtype``)."""
        return self.rebuild(
            lambda t: np.array(theta[t.slice].reshape(t.shape), dtype=dtype or t.dtype, copy=True)
        )

    def rebuild(self, make: Callable[[Tensor], Any], join: Callable[[Any, Any], Any] = join) -> Any:
        """The structure of params with ``make(tensor)`` in place of each tensor, and
        ``join(make(real), make(imag))`` in place of a complex parameter."""

        def build(leaf: Any) -> Any:
            if isinstance(leaf, Pair):
                return join(make(leaf.real), make(leaf.imag))
            return make(leaf)

        return tree_map(build, self.treedef)

    def retyped(self, dtype_of: Callable[[Tensor], Any]) -> Layout:
        """The same layout with each tensor's dtype (the grid its values are rounded to) replaced."""
        tensors = {t.name: dataclasses.replace(t, dtype=np.dtype(dtype_of(t))) for t in self.tensors}
        return Layout(tuple(tensors.values()), tree_map(lambda t: tensors[t.name], self.treedef))


def round_to_dtypes(
    layout: Layout, values: np.ndarray, components: Optional[np.ndarray] = None
) -> np.ndarray:
    """``values`` rounded to the dtype of the tensor each one belongs to, as float64.

    The last axis runs over ``components`` (flat indices into θ), or over all of θ when None.
    This is the point a float32 model really sees when θ + step is written into its params, so
    every perturbed point is rounded here, and every realised step is read from the result.
    """
    narrow = [k for k, t in enumerate(layout.tensors) if t.dtype != np.float64]
    values = np.asarray(values, dtype=np.float64)
    if not narrow:
        return values
    out = values.copy()
    ids = None if components is None else layout.tensor_ids()[components]
    for k in narrow:
        tensor = layout.tensors[k]
        where = tensor.slice if ids is None else ids == k
        out[..., where] = _precision.round_to(out[..., where], tensor.dtype)
    return out


def tree_map(fn: Callable[[Any], Any], tree: Any) -> Any:
    """The same structure (dicts, lists, tuples, named tuples; None stays None), fn of every leaf."""
    if tree is None:
        return None
    if isinstance(tree, dict):
        return {key: tree_map(fn, child) for key, child in tree.items()}
    if isinstance(tree, (list, tuple)):
        rebuilt = [tree_map(fn, child) for child in tree]
        if isinstance(tree, tuple):
            return type(tree)(*rebuilt) if hasattr(tree, "_fields") else tuple(rebuilt)
        return rebuilt
    return fn(tree)


def flatten(params: Any) -> tuple[np.ndarray, Layout]:
    """Flatten params into one float64 vector θ and the `Layout` that names its components.

    θ may hold non-finite entries (`Probe` leaves them unperturbed); arrays with no elements
    are tensors with nothing to check.

    Raises:
        StructureError: a leaf is not a float or complex array, two leaves share memory, or
            params hold no array at all.
    """
    tensors: list[Tensor] = []
    arrays: list[np.ndarray] = []
    values: list[np.ndarray] = []  # what θ holds: each real array, or a complex one's two parts
    by_path: dict[Path, Any] = {}
    for path, leaf in leaves(params):
        array = _as_float_array(leaf, path_name(path), complex_ok=True)
        mine = _tensors(path, array, sum(t.size for t in tensors))
        tensors += mine
        arrays.append(array)
        values += [getattr(array, t.part) if t.part else array for t in mine]
        by_path[path] = Pair(*mine) if len(mine) == 2 else mine[0]
    if not arrays:
        raise StructureError(
            "params hold no arrays to check (an empty structure); pass the arrays your loss depends on"
        )
    theta = np.concatenate([v.astype(np.float64).reshape(-1) for v in values])
    layout = Layout(tuple(tensors), _rebuild_paths(params, by_path))
    _reject_shared(arrays, [path_name(path) for path, _ in leaves(params)])
    return theta, layout


def _tensors(path: Path, array: np.ndarray, offset: int) -> list[Tensor]:
    """The tensor of a real array at ``path``; the two (real, imaginary) of a complex one."""
    name, shape = path_name(path), tuple(array.shape)
    if array.dtype.kind != "c":
        return [Tensor(path, name, shape, array.dtype, offset)]
    dtype, size = real_dtype(array.dtype), array.size
    return [
        Tensor(path, part_name, shape, dtype, offset + k * size, part)
        for k, (part_name, part) in enumerate(zip(part_names(name), PARTS, strict=True))
    ]


def _reject_shared(arrays: list[np.ndarray], names: list[str]) -> None:
    pair = first_overlap(arrays)
    if pair is None:
        return
    a, b = (names[i] for i in pair)
    same = arrays[pair[0]] is arrays[pair[1]] or (
        arrays[pair[0]].__array_interface__ == arrays[pair[1]].__array_interface__
    )
    what = "the same array" if same else "overlapping views of one array"
    raise StructureError(
        f"{a} and {b} are {what}; gradcheck would perturb them as two independent parameters, "
        f"while a gradient of tied weights treats them as one. List a shared parameter once and "
        f"use it in both places inside the loss (its gradient is the sum over both uses); if "
        f"they are meant to be separate, pass {b}.copy()"
    )


def _rebuild_paths(node: Any, by_path: dict[Path, Any], path: Path = ()) -> Any:
    if node is None:
        return None
    if not _is_container(node):
        return by_path[path]
    if isinstance(node, dict):
        return {k: _rebuild_paths(v, by_path, path + (k,)) for k, v in node.items()}
    rebuilt = [_rebuild_paths(v, by_path, path + (i,)) for i, v in enumerate(node)]
    if isinstance(node, tuple):
        return type(node)(*rebuilt) if hasattr(node, "_fields") else tuple(rebuilt)
    return rebuilt


def match_gradient(layout: Layout, grad: Any) -> tuple[np.ndarray, tuple[np.dtype, ...], tuple[str, ...]]:
    """Flatten ``grad`` in the order of ``layout``: the vector (float64), each tensor's dtype, names.

    The names are the gradient's own (``dW1`` where the dict says so), one per tensor.

    A gradient dict may name ``W1``'s gradient ``W1`` or ``dW1`` (the course convention);
    keys that match no parameter (``dZ1``, ``dA1`` caches) are ignored.

    Raises:
        StructureError: a tensor is missing, has another shape, or is not floating point.
    """
    parts = []
    dtypes = []
    names = []
    for tensor in layout.tensors:
        leaf, name = _find(grad, tensor.path, tensor.name, layout)
        array = _as_float_array(leaf, f"the gradient of {tensor.name}", gradient=True, complex_ok=True)
        if tensor.part is not None:  # the gradient of a complex parameter: ∂J/∂x + i·∂J/∂y
            array, name = getattr(array, tensor.part), f"{name}.{tensor.part}"
        elif array.dtype.kind == "c":
            raise StructureError(
                f"the gradient of {tensor.name} is complex ({array.dtype}) but {tensor.name} is real; "
                f"the gradient of a real parameter is real: pass its real part (.real)"
            )
        if array.shape != tensor.shape:
            raise StructureError(
                f"the gradient of {tensor.name} has shape {array.shape} but {tensor.name} has "
                f"shape {tensor.shape}; a gradient must have exactly its parameter's shape"
                + _shape_hint(array.shape, tensor.shape)
            )
        parts.append(array.astype(np.float64).reshape(-1))
        dtypes.append(array.dtype)
        names.append(name)
    return np.concatenate(parts), tuple(dtypes), tuple(names)


def _shape_hint(got: tuple[int, ...], want: tuple[int, ...]) -> str:
    if len(got) > 1 and got == want[::-1]:
        return " (did you transpose it?)"
    if math.prod(got) == math.prod(want):
        return f" (same number of entries: .reshape({want}) if the order matches)"
    try:
        np.broadcast_shapes(got, want)
    except ValueError:
        return ""
    return (
        " (the shapes broadcast, which hides the mistake in arithmetic: a sum over the examples "
        "missing, or keepdims=True forgotten?)"
    )


def _index_text(path: Path) -> str:
    """``grad['layers'][0]``: where in the gradient a message points, as Python would index it."""
    return "grad" + "".join(f"[{key!r}]" for key in path)


def _find(grad: Any, path: Path, name: str, layout: Layout) -> tuple[Any, str]:
    """The gradient leaf for the parameter at ``path``, and its path name in ``grad``."""
    node = grad
    found: list[Any] = []
    for depth, key in enumerate(path):
        where = _index_text(path[:depth])
        if isinstance(key, int):
            if not isinstance(node, (list, tuple)):
                raise StructureError(
                    f"{where} is a {type(node).__name__} but params hold a {type(key).__name__} "
                    f"index there (a list or tuple); give the gradient the same structure as params"
                )
            if key >= len(node):
                raise StructureError(
                    f"{where} has {len(node)} entries but params has more: no gradient for {name}"
                )
            node = node[key]
            found.append(key)
            continue
        if not isinstance(node, dict):
            keys = _keys_at(layout, path[:depth])
            hint = (
                f" (dict(zip({'params' if depth == 0 else keys}, {where})) if the order matches)"
                if isinstance(node, (list, tuple)) and len(node) == len(keys)
                else ""
            )
            there = "is a dict" if depth == 0 else "hold a dict there"
            raise StructureError(
                f"{where} is a {type(node).__name__} but params {there}; give the gradient as a "
                f"dict with the keys {keys}{hint}"
            )
        key = _lookup(node, key, name, where)
        node = node[key]
        found.append(key)
    return node, path_name(tuple(found))


def _keys_at(layout: Layout, prefix: Path) -> list[Any]:
    """The keys params have under ``prefix``, in order."""
    keys: list[Any] = []
    for tensor in layout.tensors:
        if tensor.path[: len(prefix)] == prefix and tensor.path[len(prefix)] not in keys:
            keys.append(tensor.path[len(prefix)])
    return keys


def _lookup(node: dict, key: Any, name: str, where: str) -> Any:
    """``key`` or ``"d" + key``, whichever ``node`` has; else an error suggesting the closest key."""
    if key in node:
        return key
    if isinstance(key, str) and "d" + key in node:
        return "d" + key
    wanted = [str(key).lower(), "d" + str(key).lower()]
    by_lower = {str(k).lower(): k for k in node}
    close = [by_lower[c] for w in wanted for c in difflib.get_close_matches(w, list(by_lower), n=1)]
    hint = f"; did you mean {close[0]!r}?" if close else ""
    shown = ", ".join(map(repr, list(node)[:12])) + (", ..." if len(node) > 12 else "")
    raise StructureError(
        f"no gradient for {name}: {where} has neither {key!r} nor {'d' + str(key)!r} (keys: {shown}){hint}"
    )
