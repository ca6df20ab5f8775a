"""The precision a PyTorch check runs in, and the tensors of that precision the core's arrays become.

``precision="float64"`` evaluates float64 copies; ``"native"`` keeps every tensor's dtype and
device (a bfloat16 kernel on a GPU is evaluated in bfloat16 on that GPU); ``"auto"`` (the
default) runs the code once on float64 copies and keeps float64 only where the code really
computes in it: code that raises for float64 (a Triton or CUDA kernel that wants float32) or
returns a narrower dtype (it casts down inside) is checked natively.

Whatever the precision, the core's arithmetic stays float64 NumPy on the host: θ, the steps and
the verdict. A `Placement` turns its arrays into tensors of each leaf's dtype on each leaf's
device for every evaluation (the values are already on that dtype's grid, so the cast is
exact) and turns gradients back into NumPy arrays of their own dtype (bfloat16 through
``ml_dtypes``), so that the core knows each tensor's precision.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

import numpy as np

from . import _options

# An error message quoted in a reason is cut here: the reason is one line of the report.
QUOTE = 80


def numpy_dtype(torch: Any, dtype: Any) -> np.dtype:
    """The NumPy dtype of a floating torch dtype (bfloat16 is ml_dtypes')."""
    if dtype == torch.bfloat16:
        try:
            import ml_dtypes
        except ImportError:  # pragma: no cover - installed with the torch extra
            raise ImportError(
                'checking bfloat16 natively needs ml_dtypes: pip install "gradcheck[torch]"'
            ) from None
        return np.dtype(ml_dtypes.bfloat16)
    return np.dtype(str(dtype).removeprefix("torch."))


def to_numpy(torch: Any, tensor: Any) -> np.ndarray:
    """A detached host copy of a floating tensor, in the NumPy form of its own dtype (conjugate
    and negative bits resolved)."""
    tensor = tensor.detach().resolve_conj().resolve_neg()
    if tensor.dtype == torch.bfloat16:  # NumPy cannot take it directly; float32 holds it exactly
        return tensor.to(torch.float32).cpu().numpy().astype(numpy_dtype(torch, tensor.dtype))
    return tensor.cpu().numpy()


@dataclass(frozen=True)
class Placement:
    """For each leaf name, the dtype and device its values are evaluated in."""

    dtypes: dict[str, Any]
    devices: dict[str, Any]

    @staticmethod
    def of(torch: Any, tensors: dict[str, Any], mode: str) -> Placement:
        """Each tensor's own device, and float64 or its own dtype (``mode``)."""
        return Placement(
            {k: torch.float64 if mode == "float64" else t.dtype for k, t in tensors.items()},
            {k: t.device for k, t in tensors.items()},
        )

    @property
    def on_host_in_float64(self) -> bool:
        return all(str(d) == "torch.float64" for d in self.dtypes.values()) and all(
            getattr(d, "type", "cpu") == "cpu" for d in self.devices.values()
        )

    def tensor(self, torch: Any, name: str, array: np.ndarray) -> Any:
        """The leaf ``name`` (or a stack of it) as a tensor of its dtype on its device."""
        values = np.asarray(array, dtype=np.float64)  # (np.ascontiguousarray would make a 0-d array 1-d)
        source = torch.from_numpy(values if values.flags.c_contiguous else values.copy())
        return source.to(device=self.devices[name], dtype=self.dtypes[name])

    def array(self, torch: Any, name: str, tensor: Any) -> np.ndarray:
        """A tensor of leaf ``name`` (its gradient, say) as a NumPy array of the leaf's dtype."""
        return to_numpy(torch, tensor.detach().to(self.dtypes[name]))


def resolve(torch: Any, precision: str, what: str, run_in_float64: Callable[[], Any]) -> tuple[str, str]:
    """("float64" or "native", why): ``precision``, or for ``"auto"`` what the code does with
    float64 copies (``run_in_float64`` runs it once on them)."""
    if precision != "auto":
        return precision, f"precision={precision!r} asked for"
    try:
        result = run_in_float64()
    except Exception as error:  # a kernel that refuses float64 raises whatever it raises
        text = str(error).splitlines()[0] if str(error) else ""
        quoted = f" ({text[:QUOTE]}{'…' if len(text) > QUOTE else ''})" if text else ""
        return "native", f"{what} raised {type(error).__name__} for float64 inputs{quoted}"
    narrow = sorted({str(t.dtype).removeprefix("torch.") for t in _floating(torch, result)} - {"float64"})
    if narrow:
        return "native", f"{what} returned {', '.join(narrow)} for float64 inputs"
    return "float64", f"{what} computes in float64 when given float64 inputs"


def _floating(torch: Any, value: Any) -> Iterable[Any]:
    """The floating tensors in a result (a tensor, or a tuple / list / dict of them)."""
    if isinstance(value, torch.Tensor):
        return [value] if value.is_floating_point() else []
    if isinstance(value, dict):
        value = list(value.values())
    if isinstance(value, (list, tuple)):
        return [t for item in value for t in _floating(torch, item)]
    return []


def option(options: dict[str, Any]) -> str:
    """The ``precision`` option, validated (and removed: the adapter resolves it)."""
    precision = options.pop("precision", "auto")
    _options.choice("precision", precision, _options.PRECISIONS)
    return str(precision)


def described(mode: str, dtypes: Iterable[Any]) -> str:
    """``float64`` or ``native bfloat16`` (the dtypes the checked tensors keep)."""
    if mode == "float64":
        return "float64"
    names = sorted({str(d).removeprefix("torch.") for d in dtypes})
    return f"native {'/'.join(names)}"
