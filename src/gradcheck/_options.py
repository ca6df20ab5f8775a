"""Every option of every entry point, validated eagerly in one place.

Each message names ``name=value (type=...)`` and what is valid, and is raised before the loss is
ever called, so a typo costs nothing. The vocabulary (method and strategy names) lives here too,
so that the modules that implement them and the messages that list them cannot drift apart.
"""

from __future__ import annotations

import difflib
import math
import numbers
import reprlib
from collections.abc import Callable, Sequence
from concurrent.futures import Executor
from dataclasses import dataclass
from typing import Any, Optional, Union

import numpy as np

from ._errors import OptionError

METHODS = ("forward", "central", "central4", "richardson", "complex")
# How an adapter's autodiff computes the gradient: reverse mode (backward) and forward mode (JVPs).
MODES = ("rev", "fwd")
ORDERS = (1, 2)
STRATEGIES = ("auto", "full", "certify", "regression")
# "auto": the params' own dtypes as the code really computes (the adapters promote to float64
# where the code computes in float64); "float64": float64 copies; "native": each tensor's own
# dtype (and, in the adapters, its own device) for every evaluation.
PRECISIONS = ("auto", "float64", "native")
ON_FAILURE = ("raise", "warn")
# One minute: longer than anyone waits at a prompt or in a test without being told why, and
# far beyond a typical full check of a small network (milliseconds to seconds).
SLOW_SECONDS = 60.0

Eps = Union[str, float]


def shown(name: str, value: Any) -> str:
    """``method='centrl' (type=str)``: how every option error starts."""
    text = repr(value)
    if len(text) > 60:
        text = text[:57] + "..."
    return f"{name}={text} (type={type(value).__name__})"


def choice(name: str, value: Any, choices: Sequence[str]) -> None:
    """Require ``value`` to be one of the strings ``choices``; suggest the closest."""
    if isinstance(value, str) and value in choices:
        return
    close = difflib.get_close_matches(str(value), choices, n=1) if isinstance(value, str) else []
    hint = f"; did you mean {close[0]!r}?" if close else ""
    raise OptionError(
        f"{shown(name, value)} is not valid; choose one of {', '.join(map(repr, choices))}{hint}"
    )


def _is_real(value: Any) -> bool:
    return isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(
        value, (bool, np.bool_)
    )


def _is_integer(value: Any) -> bool:
    return isinstance(value, numbers.Integral) and not isinstance(value, (bool, np.bool_))


def positive(name: str, value: Any, *, keywords: Sequence[str] = (), example: str = "1e-7") -> None:
    """Require a finite number > 0 (or one of the strings ``keywords``)."""
    if isinstance(value, str) and value in keywords:
        return
    if _is_real(value) and math.isfinite(value) and value > 0:
        return
    either = " or ".join([*map(repr, keywords), f"a positive finite number such as {example}"])
    raise OptionError(f"{shown(name, value)} is not valid; pass {either}")


def count(name: str, value: Any, *, minimum: int = 1) -> None:
    """Require an integer ≥ ``minimum`` (not a bool, not a float)."""
    if _is_integer(value) and value >= minimum:
        return
    raise OptionError(f"{shown(name, value)} is not valid; pass an integer ≥ {minimum}")


def function(name: str, value: Any, *, optional: bool = False, signature: str = "") -> None:
    """Require a callable (or None when ``optional``)."""
    if callable(value) or (optional and value is None):
        return
    none = " or None" if optional else ""
    raise OptionError(f"{shown(name, value)} is not callable; pass a function {signature}{none}".rstrip())


def callables(**values: Any) -> None:
    """Require every keyword's value to be callable (the functions under test)."""
    for name, value in values.items():
        if not callable(value):
            raise OptionError(
                f"{name}={reprlib.repr(value)} (type={type(value).__name__}) is not callable; pass a function"
            )


def tolerance(name: str, value: Any) -> None:
    """A relative tolerance: a finite number ≥ 0."""
    if _is_real(value) and math.isfinite(value) and value >= 0:
        return
    raise OptionError(
        f"{shown(name, value)} is not valid; pass the relative error you accept, a finite number ≥ 0 "
        f"such as 1e-7 (0: the strict check)"
    )


def components(value: Any) -> None:
    """``components`` must be None (check all) or a positive integer."""
    if value is None or (_is_integer(value) and value > 0):
        return
    raise OptionError(
        f"components={value!r} (type={type(value).__name__}): pass a positive integer (how many "
        f"components to sample) or None to check every component"
    )


def _strategy(strategy: Any, directions: Any, method: str, eps: Any, sample: Any) -> None:
    choice("strategy", strategy, STRATEGIES)
    if directions is not None:
        if not _is_integer(directions) or directions < 1:
            raise OptionError(
                f"directions={directions!r} (type={type(directions).__name__}): pass a positive "
                f"number of random directions such as 20, or None"
            )
        if strategy != "auto":
            raise OptionError(
                f"directions={directions} is a check of its own and cannot be combined with "
                f"strategy={strategy!r}; leave strategy='auto'"
            )
    directional = strategy in ("certify", "regression") or directions is not None
    if directional and (method != "central" or eps != "auto"):
        which = f"directions={directions}" if directions is not None else f"strategy={strategy!r}"
        raise OptionError(
            f"{which} uses central differences with steps chosen from the loss's noise; "
            f"method={method!r} and eps={eps!r} are per-component settings: pass "
            f"method='central', eps='auto' or use strategy='full'"
        )
    if sample is not None and directional:
        other = f"directions={directions}" if directions is not None else f"strategy={strategy!r}"
        raise OptionError(
            f"components={sample} samples the per-component check; it cannot be combined with "
            f"{other}: pass one of them"
        )


def _evaluation(batched_loss: Any, workers: Any, executor: Any, progress: Any) -> None:
    if batched_loss is not None and not callable(batched_loss):
        raise OptionError(
            f"batched_loss={batched_loss!r} (type={type(batched_loss).__name__}): pass a function "
            f"from a (k, n) array of flat parameter vectors to the k losses, or None"
        )
    if workers is not None and (not _is_integer(workers) or workers < 1):
        raise OptionError(
            f"workers={workers!r} (type={type(workers).__name__}): pass a number of processes ≥ 1, or None "
            f"to evaluate in this process"
        )
    if executor is not None and not callable(getattr(executor, "submit", None)):
        raise OptionError(
            f"executor={executor!r} (type={type(executor).__name__}): pass a concurrent.futures.Executor "
            f"(e.g. ProcessPoolExecutor(), or a Dask client's client.get_executor())"
        )
    chosen = [
        name for name, value in (("batched_loss", batched_loss), ("executor", executor)) if value is not None
    ]
    if workers is not None and workers > 1:
        chosen.append("workers")
    if len(chosen) > 1:
        raise OptionError(
            f"{' and '.join(f'{name}=' for name in chosen)} were both given: choose one way to run the "
            f"evaluations (batched_loss in this process, or workers= / executor= in parallel)"
        )
    if not isinstance(progress, bool):
        raise OptionError(f"progress={progress!r} (type={type(progress).__name__}): pass True or False")


@dataclass(frozen=True)
class Options:
    """The options of a check, validated when made: the one place their rules live.

    The names are those of `gradcheck.check`'s keywords; every entry point that takes some of
    them builds this value with the rest at their defaults.
    """

    method: str = "central"
    eps: Eps = "auto"
    seed: int = 0
    reseed: Optional[Callable[[], Any]] = None
    strategy: str = "auto"
    components: Optional[int] = None
    directions: Optional[int] = None
    batched_loss: Optional[Callable[[Any], Any]] = None
    workers: Optional[int] = None
    executor: Optional[Executor] = None
    progress: bool = True
    warn_slow: Optional[float] = SLOW_SECONDS
    precision: str = "auto"
    rtol: float = 0.0

    def __post_init__(self) -> None:
        choice("method", self.method, METHODS)
        positive("eps", self.eps, keywords=("auto",))
        count("seed", self.seed, minimum=0)
        function("reseed", self.reseed, optional=True, signature="() -> None")
        if self.warn_slow is not None:
            positive("warn_slow", self.warn_slow, example="60 (seconds), or None")
        components(self.components)
        _strategy(self.strategy, self.directions, self.method, self.eps, self.components)
        _evaluation(self.batched_loss, self.workers, self.executor, self.progress)
        choice("precision", self.precision, PRECISIONS)
        tolerance("rtol", self.rtol)

    @property
    def parallelism(self) -> int:
        """How many loss evaluations run at once (for time estimates; an executor counts as 1)."""
        return self.workers or 1


def modes(value: Any) -> tuple[str, ...]:
    """An adapter's ``modes``: None (every mode the code supports), one of MODES, or several."""
    if value is None:
        return MODES
    chosen = (value,) if isinstance(value, str) else value
    if not isinstance(chosen, (tuple, list)) or not chosen:
        raise OptionError(f"{shown('modes', value)} is not valid; pass None, 'rev', 'fwd' or ('rev', 'fwd')")
    for mode in chosen:
        choice("modes", mode, MODES)
    return tuple(m for m in MODES if m in chosen)


def order(value: Any) -> int:
    """An adapter's ``order``: 1 (first derivatives) or 2 (also the second, through HVPs)."""
    if _is_integer(value) and value in ORDERS:
        return int(value)
    raise OptionError(
        f"{shown('order', value)} is not valid; pass 1 (first derivatives) or 2 (also second "
        f"derivatives: double backward, checked through Hessian-vector products)"
    )


def monitor(loss: Any, grad: Any, every: Any, on_failure: Any) -> None:
    """The options of `Monitor` that `Options` does not cover."""
    for name, value in (("loss", loss), ("grad", grad)):
        if not callable(value):
            raise OptionError(
                f"{name}={reprlib.repr(value)} (type={type(value).__name__}): Monitor needs a function of "
                f"the params, because the params change at every step"
            )
    if not _is_integer(every) or every <= 0:
        raise OptionError(
            f"every={every!r} (type={type(every).__name__}): pass a positive integer, the "
            f"number of training steps between checks"
        )
    choice("on_failure", on_failure, ON_FAILURE)
