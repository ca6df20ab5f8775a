"""A gradient-check problem, and loading one from a Python file for ``gradcheck run``.

A problem file defines a function (``problem`` unless the command names another) that returns
`Problem(loss=..., params=..., grad=...)` or a plain dict with those keys. Everything that can go
wrong while loading — no such file, a syntax error, an exception at import or in the function,
a malformed result — becomes one `ProblemError` whose message names the file and the fix.
"""

from __future__ import annotations

import importlib.util
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Optional

from ._errors import ProblemError
from ._tree import leaves

DEFAULT_FUNCTION = "problem"
FIELDS = ("loss", "params", "grad", "reseed")
REQUIRED = ("loss", "params", "grad")


@dataclass(frozen=True)
class Problem:
    """What `gc.check` needs: the loss, the params and the analytic gradient (and ``reseed``).

    Args:
        loss: ``loss(params) -> float``.
        params: one float array, or a list / tuple / dict (nested allowed) of float arrays.
        grad: the analytic gradient with the structure of ``params``, or ``grad(params)``; None
            for PyTorch or JAX params means the framework's own autodiff (autograd, jax.grad).
        reseed: optional; called before every loss evaluation (dropout with a fixed mask).

    Example:
        >>> import numpy as np, gradcheck as gc
        >>> p = gc.Problem(loss=lambda w: float(w @ w), params=np.ones(2), grad=2 * np.ones(2))
        >>> gc.check(p.loss, p.params, p.grad).passed
        True
    """

    loss: Callable[[Any], Any]
    params: Any
    grad: Any
    reseed: Optional[Callable[[], Any]] = None

    def __post_init__(self) -> None:
        if not callable(self.loss):
            raise ProblemError(
                f"Problem(loss=...) got {_describe(self.loss)}; pass a function loss(params) -> float"
            )
        if self.params is None:
            raise ProblemError("Problem(params=None): pass the params as arrays (or a dict of arrays)")
        if self.reseed is not None and not callable(self.reseed):
            raise ProblemError(
                f"Problem(reseed=...) got {_describe(self.reseed)}; pass None or a function "
                f"with no arguments that resets your random generator"
            )


def _describe(value: Any) -> str:
    text = repr(value)
    text = text if len(text) <= 40 else text[:37] + "..."
    return f"{text} (type={type(value).__name__})"


def as_problem(value: Any, where: str) -> Problem:
    """``value`` as a `Problem`: a Problem itself, or a mapping with the keys of one."""
    if isinstance(value, Problem):
        return value
    if not isinstance(value, Mapping):
        raise ProblemError(
            f"{where} returned {_describe(value)}; return gradcheck.Problem(loss=..., params=..., "
            f"grad=...) or a dict with the keys 'loss', 'params' and 'grad'"
        )
    missing = [key for key in REQUIRED if key not in value]
    unknown = [str(key) for key in value if key not in FIELDS]
    if missing or unknown:
        what = f"lacks {', '.join(map(repr, missing))}" if missing else f"has unknown key {unknown[0]!r}"
        raise ProblemError(
            f"{where} returned a dict that {what}; a problem dict has the keys "
            f"'loss', 'params', 'grad' and optionally 'reseed'"
        )
    try:
        return Problem(**value)
    except ProblemError as error:
        raise ProblemError(f"{where}: {error}") from None


def split_spec(spec: str) -> tuple[Path, str]:
    """``"dir/file.py:name"`` → (path, name); the name defaults to ``problem``."""
    path, colon, name = spec.rpartition(":")
    if not colon or not name.isidentifier() or not path:
        return Path(spec), DEFAULT_FUNCTION
    return Path(path), name


# Module names this process gave to problem files: a later file of the same name may replace them.
_LOADED: set[str] = set()


def load_module(path: Path) -> Any:
    """Import the file at ``path`` as a fresh module (its folder first on ``sys.path``)."""
    if not path.is_file():
        hint = "" if path.suffix == ".py" else " (give the path of a .py file)"
        raise ProblemError(f"{path}: no such file{hint}")
    # Its own name where that is free: worker processes (workers=) unpickle the loss by module
    # name and, with the file's folder on sys.path, import it as Python would.
    free = path.stem.isidentifier() and (path.stem not in sys.modules or path.stem in _LOADED)
    name = path.stem if free else f"_gradcheck_problem_{path.stem}"
    _LOADED.add(name)
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or spec.loader is None:
        raise ProblemError(f"{path}: cannot be imported as Python source; give a .py file")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses and pickling look the module up by name
    sys.path.insert(0, str(path.resolve().parent))  # so the file can import its neighbours
    try:
        spec.loader.exec_module(module)
    except SyntaxError as error:
        raise ProblemError(f"{path}:{error.lineno}: syntax error: {error.msg}") from error
    except (Exception, SystemExit) as error:
        raise ProblemError(f"{path} raised {_one_line(error)} while being imported") from error
    return module


def _one_line(error: BaseException) -> str:
    text = " ".join(str(error).split())
    text = text if len(text) <= 200 else text[:197] + "..."
    return f"{type(error).__name__}: {text}" if text else type(error).__name__


def load_problem(spec: str) -> Problem:
    """Import ``FILE.py[:NAME]``, call ``NAME()`` (default ``problem``) and return its `Problem`.

    Raises:
        ProblemError: the file, the function or what it returned is unusable.
    """
    path, name = split_spec(spec)
    module = load_module(path)
    function = getattr(module, name, None)
    if function is None:
        found = sorted(n for n, v in vars(module).items() if callable(v) and not n.startswith("_"))
        listed = f" (it defines {', '.join(found[:8])})" if found else ""
        raise ProblemError(f"{path} defines no {name!r}{listed}; name the function as {path}:NAME")
    if not callable(function):
        raise ProblemError(f"{path}: {name} is {_describe(function)}, not a function returning a problem")
    where = f"{path}:{name}()"
    try:
        value = function()
    except (Exception, SystemExit) as error:
        raise ProblemError(f"{where} raised {_one_line(error)}") from error
    return as_problem(value, where)


FRAMEWORKS = {"torch": "PyTorch", "jax": "JAX", "jaxlib": "JAX"}


def framework_of(problem: Problem) -> Optional[str]:
    """The framework ("PyTorch" or "JAX") whose tensors the params hold, or None for NumPy.

    Reads type names only, so it never imports a framework.
    """
    for _, leaf in leaves(problem.params):
        root = type(leaf).__module__.partition(".")[0]
        if root in FRAMEWORKS:
            return FRAMEWORKS[root]
    return None
