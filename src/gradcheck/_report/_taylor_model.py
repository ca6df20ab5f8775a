"""The result of a Taylor test: one frozen value that the text, JSON and HTML renderings read.

Per direction δ: the ladder of steps h, the remainders of J(θ + hδ) expanded to order 0, 1 and
(with a Hessian) 2, their round-off floor, the asymptotic window and the rate fitted over it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Optional

import numpy as np

from ._model import Finding


def _frozen(array: Optional[np.ndarray]) -> Optional[np.ndarray]:
    if array is None:
        return None
    array = np.array(array, dtype=np.float64, copy=True)
    array.setflags(write=False)
    return array


@dataclass(frozen=True, eq=False)
class TaylorDirection:
    """One direction δ of a Taylor test: its ladder, remainders, window and rate."""

    slope: float  # g·δ, the directional derivative the gradient predicts
    curvature: Optional[float]  # δ·H·δ from the HVP, when one was given
    steps: np.ndarray  # h, halving from the first step
    zeroth: np.ndarray  # J(θ + hδ) − J(θ)
    first: np.ndarray  # J(θ + hδ) − J(θ) − h·g·δ
    second: Optional[np.ndarray]  # first − ½h²·δ·H·δ (with an HVP)
    floor: np.ndarray  # round-off floor of the remainders at each step
    expected: int  # the rate a right derivative gives: 2, or 3 with the HVP
    rate: float  # rate of the checked remainder (second with an HVP, else first) over the window
    gradient_rate: float  # rate of ``first`` over its own window
    zeroth_rate: float  # rate of ``zeroth`` (1 unless g·δ = 0): the baseline
    window: tuple[int, int]  # [start, stop) step indices of the checked remainder's window
    passed: bool
    detection_limit: float  # smallest error in g·δ (δ·H·δ with an HVP) sure to be caught

    def __post_init__(self) -> None:
        for name in ("steps", "zeroth", "first", "second", "floor"):
            object.__setattr__(self, name, _frozen(getattr(self, name)))

    @property
    def checked(self) -> np.ndarray:
        """The remainder the verdict reads: with the Hessian term when there is one."""
        return self.first if self.second is None else self.second

    @property
    def relative_limit(self) -> float:
        """The detection limit relative to what it bounds (|g·δ|, or |δ·H·δ|)."""
        scale = abs(self.slope if self.second is None else (self.curvature or 0.0))
        return self.detection_limit / scale if scale else math.inf

    @property
    def inconclusive(self) -> bool:
        """No window: the remainder stayed near its round-off floor."""
        return self.window[1] - self.window[0] == 0 or not math.isfinite(self.rate)


@dataclass(frozen=True)
class TaylorSettings:
    """How the Taylor test was run."""

    loss_value: float
    noise: float  # measured round-off noise σ of one loss evaluation
    seed: int
    evaluations: int
    seconds: float
    first_step: float  # h₀, in units of each tensor's typical size (the direction's scale)
    given: bool  # the direction was the caller's, not drawn at random


@dataclass(frozen=True, eq=False)
class TaylorData:
    """Everything a Taylor test found, as data (see `TaylorReport` for its renderings)."""

    passed: bool
    directions: tuple[TaylorDirection, ...]
    findings: tuple[Finding, ...]
    settings: TaylorSettings

    @property
    def rates(self) -> tuple[float, ...]:
        """Per direction, the fitted rate of the checked remainder (2 for a right gradient, 3
        with a right HVP, 1 for a wrong gradient; NaN when inconclusive)."""
        return tuple(d.rate for d in self.directions)

    @property
    def gradient_rates(self) -> tuple[float, ...]:
        """Per direction, the rate of J(θ + hδ) − J(θ) − h·g·δ (the gradient's remainder)."""
        return tuple(d.gradient_rate for d in self.directions)

    @property
    def expected(self) -> int:
        return self.directions[0].expected

    @property
    def detection_limit(self) -> float:
        """The weakest passing direction's relative detection limit: an error along it larger
        than this would have failed the test (NaN when every direction failed)."""
        limits = [d.relative_limit for d in self.directions if d.passed]
        return max(limits) if limits else math.nan
