"""What `gradcheck.torch.check_function` perturbs and what it sums: a function's inputs and outputs.

Inputs are any pytree (tuples, lists, dicts) of tensors and other values, as the function takes
them. The tensors that require grad are checked (every floating-point or complex tensor when none
does), named by their place (``inputs[0]``, ``inputs[1][2]``, ``inputs[2].weight``); a complex
one as its real and imaginary parts (`_complex`). Everything else is passed as given.

Outputs may be any pytree of tensors. Only differentiable ones enter the loss: floating-point or
complex tensors that require grad after a forward with grad enabled. Integer and boolean
outputs, statistics returned without grad (``native_layer_norm``'s mean and rstd) and other
values are ignored. The loss is Σ v·y over them with a seeded standard-normal v for every real
component (a complex output's real and imaginary parts each get their own), so its gradient is
the vector-Jacobian product autograd computes; a single real scalar output is its own loss.
``only=j`` sums output j alone, leaving the other outputs' gradients undefined in the backward.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any, Optional

import numpy as np

from ._complex import part_names
from ._errors import LossRaisedError, NonFiniteError, OptionError
from ._torch_precision import Placement
from ._tree import Path, component_name, path_name

ROOT = "inputs"


def _items(tree: Any, path: Path = ()) -> Iterator[tuple[Path, Any]]:
    """(path, leaf) of a pytree of tuples, lists and dicts, in order."""
    if isinstance(tree, dict):
        for key, child in tree.items():
            yield from _items(child, path + (key,))
    elif isinstance(tree, (list, tuple)):
        for index, child in enumerate(tree):
            yield from _items(child, path + (index,))
    else:
        yield path, tree


def _replace(tree: Any, new: dict[Path, Any], path: Path = ()) -> Any:
    """``tree`` with the leaves at the paths of ``new`` replaced (containers rebuilt, not changed)."""
    if path in new:
        return new[path]
    if isinstance(tree, dict):
        return {key: _replace(child, new, path + (key,)) for key, child in tree.items()}
    if isinstance(tree, (list, tuple)):
        rebuilt = [_replace(child, new, path + (k,)) for k, child in enumerate(tree)]
        if isinstance(tree, list):
            return rebuilt
        return type(tree)(*rebuilt) if hasattr(tree, "_fields") else tuple(rebuilt)
    return tree


def _differentiable_dtype(value: Any) -> bool:
    return bool(value.is_floating_point() or value.is_complex())


@dataclass(frozen=True)
class Slot:
    """One checked input tensor: where it sits, its name, and whether it is complex."""

    path: Path
    name: str
    is_complex: bool

    @property
    def keys(self) -> tuple[str, ...]:
        """Its names among the params: one, or the two parts of a complex tensor."""
        return part_names(self.name) if self.is_complex else (self.name,)


class Inputs:
    """The function's inputs, detached copies in float64 (complex128) or, ``native``, in their
    own dtype and on their own device, and the ones to check."""

    def __init__(self, torch: Any, inputs: tuple[Any, ...], *, native: bool = False) -> None:
        self.torch = torch
        tensors = [
            (p, x) for p, x in _items(inputs) if isinstance(x, torch.Tensor) and _differentiable_dtype(x)
        ]
        chosen = [(p, x) for p, x in tensors if x.requires_grad] or tensors
        if not chosen:
            raise OptionError(
                "check_function needs at least one floating-point or complex tensor input to differentiate"
            )
        for path, x in chosen:
            _reject_sparse(x, path_name((ROOT, *path)))
        self.slots = [Slot(p, path_name((ROOT, *p)), bool(x.is_complex())) for p, x in chosen]
        copy = copied if native else widened
        self.values = _replace(inputs, {p: copy(torch, x) for p, x in _items(inputs) if _is_tensor(torch, x)})

    def _parts(self) -> dict[str, Any]:
        """The checked inputs as real tensors by name (a complex one as its two parts)."""
        leaves = dict(_items(self.values))
        parts: dict[str, Any] = {}
        for slot in self.slots:
            value = leaves[slot.path]
            parts.update(
                zip(slot.keys, (value.real, value.imag) if slot.is_complex else (value,), strict=True)
            )
        return parts

    def placement(self, mode: str) -> Placement:
        """Each checked part's dtype (float64, or its own with ``mode="native"``) and device."""
        return Placement.of(self.torch, self._parts(), mode)

    def params(self, placement: Placement) -> dict[str, np.ndarray]:
        """The checked inputs as NumPy arrays of their dtype by name (a complex one as two parts)."""
        return {key: placement.array(self.torch, key, part) for key, part in self._parts().items()}

    def args(self, params: dict[str, Any]) -> Any:
        """The inputs with the checked tensors taken from ``params`` (complex ones joined)."""
        # Clones: a forward that writes into its inputs breaks a contract (check_function's
        # contract check names it), it must not move the check's own θ.
        new = {
            slot.path: self.torch.complex(*(params[k] for k in slot.keys))
            if slot.is_complex
            else params[slot.name].clone()
            for slot in self.slots
        }
        return _replace(self.values, new)

    def probe(self, fn: Callable[..., Any]) -> Any:
        """``fn`` at the inputs, with grad enabled and fresh leaves that require grad in place of
        the checked tensors (so that the outputs say which of them are differentiable)."""
        leaves = dict(_items(self.values))
        args = _replace(self.values, {s.path: leaves[s.path].clone().requires_grad_() for s in self.slots})
        try:
            with self.torch.enable_grad():
                return fn(*args)
        except Exception as error:
            raise LossRaisedError(
                f"fn raised {type(error).__name__}({error}) at the inputs given, called with copies "
                f"of them (in float64 or complex128 unless checked natively); call fn yourself to debug it"
            ) from error


def _is_tensor(torch: Any, value: Any) -> bool:
    return isinstance(value, torch.Tensor)


def copied(torch: Any, value: Any) -> Any:
    """A detached copy in the tensor's own dtype, on its own device (conjugate and negative
    bits resolved): what a native check evaluates, never the caller's storage."""
    return value.detach().resolve_conj().resolve_neg().clone()


def widened(torch: Any, value: Any) -> Any:
    """A detached copy (conjugate and negative bits resolved): floating-point tensors in float64,
    complex ones in complex128, others as they are. Never the caller's storage, so a function
    that writes into its inputs cannot change the caller's tensors."""
    value = value.detach().resolve_conj().resolve_neg().clone()
    if value.is_complex():
        return value.to(torch.complex128)
    return value.to(torch.float64) if value.is_floating_point() else value


def _reject_sparse(value: Any, name: str) -> None:
    if value.is_sparse or _is_compressed(value):
        raise OptionError(
            f"{name} is a sparse tensor (layout={value.layout}); check_function perturbs the entries "
            f"of dense tensors: check lambda values: fn(<the sparse tensor built from values>) with "
            f"its values() as the input, or fn on {name}.to_dense()"
        )


def _is_compressed(value: Any) -> bool:
    return str(value.layout) in (
        "torch.sparse_csr",
        "torch.sparse_csc",
        "torch.sparse_bsr",
        "torch.sparse_bsc",
    )


class Outputs:
    """The differentiable outputs of a forward at the inputs, and the seeded cotangent over them."""

    def __init__(self, torch: Any, output: Any, seed: int) -> None:
        self.torch = torch
        leaves = list(_items(output))
        self.paths = [
            p
            for p, y in leaves
            if isinstance(y, torch.Tensor) and _differentiable_dtype(y) and y.requires_grad
        ]
        if not self.paths:
            raise OptionError(
                f"fn returned no differentiable tensor ({_describe(torch, leaves)}): only "
                f"floating-point or complex outputs that require grad can be checked; if one "
                f"should, something in fn detaches it (.detach(), .item(), .numpy(), torch.no_grad())"
            )
        by_path = dict(leaves)
        for path in self.paths:
            _reject_nonfinite(torch, by_path[path], path)
        rng = np.random.default_rng(seed)
        self.cotangents: list[tuple[Any, ...]] = []
        for path in self.paths:
            y = by_path[path]
            count = 2 if y.is_complex() else 1
            # Each v is rounded to its output's dtype (the cotangent a bfloat16 backward really
            # receives) and kept in float64 on the output's device, so Σ v·y is summed in float64.
            real = y.real if y.is_complex() else y
            self.cotangents.append(
                tuple(
                    torch.from_numpy(rng.normal(size=tuple(y.shape)))
                    .to(real.dtype)
                    .to(device=y.device, dtype=torch.float64)
                    for _ in range(count)
                )
            )
        first = by_path[self.paths[0]]
        self.is_scalar = self.paths == [()] and not first.is_complex() and first.numel() == 1

    def __len__(self) -> int:
        return len(self.paths)

    def name(self, j: int) -> str:
        """``output[1]``: how output j is named in messages."""
        return path_name(("output", *self.paths[j])) if self.paths[j] else "the output"

    def loss(self, output: Any, only: Optional[int] = None) -> Any:
        """Σ v·y over the differentiable outputs (output ``only`` alone), as a scalar tensor."""
        if self.is_scalar:
            return output.reshape(())
        leaves = dict(_items(output))
        total = None
        for j, (path, cotangent) in enumerate(zip(self.paths, self.cotangents, strict=True)):
            if only is not None and j != only:
                continue
            y = leaves[path]
            parts = (y.real, y.imag) if y.is_complex() else (y,)
            term = sum((part.to(v.dtype) * v).sum() for part, v in zip(parts, cotangent, strict=True))
            total = term if total is None else total + term
        return total


def _describe(torch: Any, leaves: list[tuple[Path, Any]]) -> str:
    shown = [
        f"{path_name(('output', *p)) if p else 'output'}: "
        + (
            f"{y.dtype} tensor, requires_grad={y.requires_grad}"
            if isinstance(y, torch.Tensor)
            else type(y).__name__
        )
        for p, y in leaves[:4]
    ]
    return "; ".join(shown) + ("; ..." if len(leaves) > 4 else "") if shown else "nothing"


def _reject_nonfinite(torch: Any, y: Any, path: Path) -> None:
    finite = torch.isfinite(y.detach())
    if bool(finite.all()):
        return
    bad = torch.nonzero(~finite.reshape(-1)).reshape(-1)
    name = path_name(("output", *path)) if path else "output"
    first = component_name(name, tuple(y.shape), int(bad[0]))
    raise NonFiniteError(
        f"fn returned {y.detach().reshape(-1)[int(bad[0])].item()} at {first} ({bad.numel()} of "
        f"{y.numel()} entries of {name} not finite) at the inputs given: its derivative is undefined "
        f"there; check fn at inputs inside its domain"
    )
