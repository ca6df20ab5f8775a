"""Every model, correct and with each planted bug, in every condition: the cases and their verdicts.

``python -m models`` (with ``src`` and ``tests`` on the path) prints the table; the tests run the
same cases one by one.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, Optional

import numpy as np

import gradcheck as gc
from gradcheck._compare import SAFETY

from . import ALL, Bug
from .pooling import MaxPool
from .regularization import L2
from .residual import Residual

BUG_KINDS = {"scale", "sign", "transpose", "missing_regularization", "zero_gradient", "wrong_components"}
# "Trained" weights: ten times the initial scale, as after many steps without weight decay.
TRAINED = 10.0
# A tiny loss (e.g. a term weighted by 1e-8) and raw, unnormalised inputs (pixel values ~1e3).
TINY = 1e-8
UNNORMALISED = 1e3
# Strong L2: λ = 10 makes λ·W the dominant part of every weight gradient.
STRONG = 10.0
# Pre-activation of the kinked ReLU unit (the 1e-10: far inside any finite-difference step).
KINK = 1e-10

# Condition name → model options; "strict" conditions must also get the finding's kind right.
CONDITIONS: dict[str, dict[str, Any]] = {
    "float64": {},
    "float32": {"dtype": np.float32},
    "trained": {"weight_scale": TRAINED},
    "tiny loss": {"loss_scale": TINY},
    "unnormalised": {"input_scale": UNNORMALISED},
}
# With trained weights or unnormalised inputs tanh and softmax saturate: a bug may show as
# another kind (entries of a wrong column that are now all zero), so only the tensor is required.
LOOSE = {"trained", "unnormalised"}


@dataclass(frozen=True)
class Case:
    """One check of the collection: which model, in which condition, with which bug."""

    condition: str
    network: Any  # a Model or an L2 around one
    bug: Optional[str]
    strict: bool  # must the finding's kind be right too (not only its tensor)?

    @property
    def model(self) -> str:
        return str(self.network.name)

    @property
    def expect(self) -> Optional[Bug]:
        return None if self.bug is None else self.network.BUGS[self.bug]

    @property
    def id(self) -> str:
        return f"{self.condition}:{self.model}:{self.bug or 'correct'}"


@dataclass(frozen=True)
class Outcome:
    """How gradcheck fared on one case."""

    case: Case
    report: gc.Report
    visible: bool  # is the bug's effect above the error estimates, outside the kinks left out?
    ok: bool
    why: str
    kind_right: bool  # a finding of the expected kind names every expected tensor


def _kinked_residual(dtype: Any, seed: int) -> Residual:
    """The residual block with one ReLU pre-activation (example 0, unit 1) at +1e-10."""
    model = Residual(dtype=dtype, seed=seed)
    params = model.params()
    z = model.pre_activation(model.cast(params), model.data["x"])
    params["b1"][1] += KINK - z[0, 1]
    model.initial = params
    return model


def _tied_pool(dtype: Any, seed: int) -> MaxPool:
    """Max pooling whose first window is tied in every example (two equal columns of W)."""
    model = MaxPool(dtype=dtype, seed=seed)
    model.initial["W"][:, 1] = model.initial["W"][:, 0]
    return model


def _variants(seed: int) -> Iterator[tuple[str, bool, Any]]:
    """(condition, strict, model) for every model in every condition."""
    for condition, options in CONDITIONS.items():
        for make in ALL.values():
            yield condition, condition not in LOOSE, make(seed=seed, **options)
    for make in (ALL["dense-softmax"], ALL["conv1d"], ALL["rnn"], ALL["residual"], ALL["attention"]):
        for dtype in (np.float64, np.float32):
            yield f"strong L2 {np.dtype(dtype).name}", True, L2(make(dtype=dtype, seed=seed), STRONG)
    for dtype in (np.float64, np.float32):
        yield f"ReLU kink {np.dtype(dtype).name}", False, _kinked_residual(dtype, seed)
        yield f"max-pool tie {np.dtype(dtype).name}", False, _tied_pool(dtype, seed)


def cases(seed: int = 0) -> list[Case]:
    """Every case of the collection (models drawn with ``seed``), correct networks first."""
    found = []
    for condition, strict, network in _variants(seed):
        for bug in [None, *network.BUGS]:
            found.append(Case(condition, network, bug, strict))
    return found


def _flat(grads: dict[str, np.ndarray], params: dict[str, np.ndarray]) -> np.ndarray:
    return np.concatenate([np.asarray(grads[k], dtype=np.float64).ravel() for k in params])


def run(case: Case) -> Outcome:
    """Check one case and judge the report."""
    network = case.network
    params = network.params()
    report = gc.check(network.loss, params, network.grad_with(case.bug))
    bugs = [f for f in report.findings if f.kind in BUG_KINDS]
    if case.expect is None:
        float32 = any(np.asarray(v).dtype == np.float32 for v in params.values())
        precise = not float32 or any(f.kind == "precision" for f in report.findings)
        ok = report.passed and not bugs and precise
        why = "" if ok else ("false alarm" if bugs or not report.passed else "no precision finding")
        return Outcome(case, report, True, ok, why, True)
    planted = _flat(network.grad(params, case.bug), params) - _flat(network.grad(params), params)
    seen = np.abs(planted) > 2 * SAFETY * report.estimate
    visible = bool(np.any(seen & ~report.kink))
    kind_right = {(case.expect.kind, t) for t in case.expect.tensors} <= {(f.kind, f.tensor) for f in bugs}
    named = set(case.expect.tensors) <= {f.tensor for f in bugs}
    ok = not report.passed and named and (kind_right or not case.strict)
    why = (
        "passed" if report.passed else "" if ok else f"no {case.expect.kind} finding on {case.expect.tensors}"
    )
    hidden = "invisible" if not np.any(seen) else "on kinks"
    return Outcome(case, report, visible, ok or not visible, why if visible else hidden, kind_right)
