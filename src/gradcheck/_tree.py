"""Pytrees of arrays: flatten params into one vector θ with a name for every component.

A pytree here is an array (or Python/NumPy scalar), or a list, tuple or dict of pytrees.
The seeds' recipe reshapes every parameter into one long vector θ; `Layout` remembers where
each tensor sits in θ so that every component keeps a name such as ``W2[3, 1]``.
The caller's arrays are only ever read.
"""

from __future__ import annotations

import difflib
import math
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np

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
    """Yield ``(path, leaf)`` in a fixed order: dicts in insertion order, sequences by index."""
    if _is_container(tree):
        for key, child in _children(tree):
            yield from leaves(child, path + (key,))
    else:
        yield path, tree


def _as_float_array(leaf: Any, name: str) -> np.ndarray:
    if leaf is None:
        raise StructureError(f"{name} is None; every parameter must be a float array")
    try:
        array = np.asarray(leaf)
    except Exception as error:  # e.g. a framework tensor that refuses conversion
        raise StructureError(
            f"{name} of type {type(leaf).__name__} cannot be read as an array: {error}"
        ) from error
    if not np.issubdtype(array.dtype, np.floating):
        raise StructureError(
            f"{name} has dtype {array.dtype}; gradcheck perturbs floating-point parameters: "
            f"pass {name}.astype(float) (or leave it out of params if it is not a parameter)"
        )
    return array


@dataclass(frozen=True)
class Tensor:
    """One parameter tensor of the layout: where it sits in θ and how it looks."""

    path: Path
    name: str
    shape: tuple[int, ...]
    dtype: np.dtype
    offset: int

    @property
    def size(self) -> int:
        return math.prod(self.shape)  # not np.prod: Evaluator.along reads it per tensor per call

    @property
    def slice(self) -> slice:
        return slice(self.offset, self.offset + self.size)

    def component_name(self, flat_index: int) -> str:
        """``W2[3, 1]`` for a flat index inside this tensor."""
        if not self.shape:
            return self.name
        index = np.unravel_index(flat_index, self.shape)
        return f"{self.name}[{', '.join(str(int(i)) for i in index)}]"


@dataclass(frozen=True)
class Layout:
    """Where every tensor of a params pytree sits in the flat vector θ."""

    tensors: tuple[Tensor, ...]
    treedef: Any  # the params with every leaf replaced by its Tensor: rebuilds the structure

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
        """For every component of θ, the position of its tensor in ``tensors``."""
        return np.repeat(np.arange(len(self.tensors)), [t.size for t in self.tensors])

    def unflatten(self, theta: np.ndarray, dtype: Any = None) -> Any:
        """Fresh arrays with the structure of params, filled from θ (in each tensor's dtype)."""
        return _rebuild(
            self.treedef,
            lambda t: np.array(theta[t.slice].reshape(t.shape), dtype=dtype or t.dtype, copy=True),
        )


def _rebuild(node: Any, make: Callable[[Tensor], Any]) -> Any:
    if isinstance(node, Tensor):
        return make(node)
    if isinstance(node, dict):
        return {key: _rebuild(child, make) for key, child in node.items()}
    rebuilt = [_rebuild(child, make) for child in node]
    if isinstance(node, tuple):
        return type(node)(*rebuilt) if hasattr(node, "_fields") else tuple(rebuilt)
    return rebuilt


def flatten(params: Any) -> tuple[np.ndarray, Layout]:
    """Flatten params into one float64 vector θ and the `Layout` that names its components.

    Raises:
        StructureError: a leaf is not a float array, or there is nothing to check.
    """
    tensors: list[Tensor] = []
    arrays: list[np.ndarray] = []
    offset = 0
    by_path: dict[Path, Tensor] = {}
    for path, leaf in leaves(params):
        name = path_name(path)
        array = _as_float_array(leaf, name)
        tensor = Tensor(path, name, tuple(array.shape), array.dtype, offset)
        tensors.append(tensor)
        arrays.append(array)
        by_path[path] = tensor
        offset += tensor.size
    if offset == 0:
        raise StructureError(
            "params hold no components to check (an empty structure or only empty arrays); "
            "pass the arrays your loss depends on"
        )
    theta = np.concatenate([a.astype(np.float64).reshape(-1) for a in arrays])
    treedef = _rebuild_paths(params, by_path)
    return theta, Layout(tuple(tensors), treedef)


def _rebuild_paths(node: Any, by_path: dict[Path, Tensor], path: Path = ()) -> Any:
    if not _is_container(node):
        return by_path[path]
    if isinstance(node, dict):
        return {k: _rebuild_paths(v, by_path, path + (k,)) for k, v in node.items()}
    rebuilt = [_rebuild_paths(v, by_path, path + (i,)) for i, v in enumerate(node)]
    if isinstance(node, tuple):
        return type(node)(*rebuilt) if hasattr(node, "_fields") else tuple(rebuilt)
    return rebuilt


def match_gradient(layout: Layout, grad: Any) -> tuple[np.ndarray, np.dtype]:
    """Flatten ``grad`` in the order of ``layout``; return it (float64) and its widest dtype.

    A gradient dict may name ``W1``'s gradient ``W1`` or ``dW1`` (the course convention);
    keys that match no parameter (``dZ1``, ``dA1`` caches) are ignored.

    Raises:
        StructureError: a tensor is missing, has another shape, or is not floating point.
    """
    parts = []
    dtypes = []
    for tensor in layout.tensors:
        leaf = _find(grad, tensor.path, tensor.name)
        array = _as_float_array(leaf, f"the gradient of {tensor.name}")
        if array.shape != tensor.shape:
            raise StructureError(
                f"the gradient of {tensor.name} has shape {array.shape} but {tensor.name} has "
                f"shape {tensor.shape}; a gradient must have exactly its parameter's shape"
                + (" (did you transpose it?)" if array.shape == tensor.shape[::-1] else "")
            )
        parts.append(array.astype(np.float64).reshape(-1))
        dtypes.append(array.dtype)
    widest = min(dtypes, key=lambda d: np.finfo(d).eps)
    return np.concatenate(parts), widest


def _find(grad: Any, path: Path, name: str) -> Any:
    node = grad
    for depth, key in enumerate(path):
        where = path_name(path[:depth]) if depth else "grad"
        if isinstance(key, int):
            if not isinstance(node, (list, tuple)):
                raise StructureError(
                    f"{where} is a {type(node).__name__} but params hold a sequence there; "
                    f"give the gradient the same structure as params"
                )
            if key >= len(node):
                raise StructureError(
                    f"{where} has {len(node)} entries but params has more: no gradient for {name}"
                )
            node = node[key]
            continue
        if not isinstance(node, dict):
            raise StructureError(
                f"{where} is a {type(node).__name__} but params hold a dict there; "
                f"give the gradient the same structure as params (a dict with key {key!r})"
            )
        if key in node:
            node = node[key]
        elif isinstance(key, str) and "d" + key in node:
            node = node["d" + key]
        else:
            close = difflib.get_close_matches(str(key), [str(k) for k in node], n=1)
            close += difflib.get_close_matches("d" + str(key), [str(k) for k in node], n=1)
            hint = f"; did you mean {close[0]!r}?" if close else ""
            raise StructureError(
                f"no gradient for {name}: {where} has neither {key!r} nor {'d' + str(key)!r} "
                f"(keys: {', '.join(map(repr, node))}){hint}"
            )
    return node
