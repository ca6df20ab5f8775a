"""A collection of tiny NumPy models with correct backward passes and plantable bugs.

``ALL`` maps a name to a factory ``make(**options)``; the options (``dtype``, ``seed``,
``input_scale``, ``weight_scale``, ``loss_scale``) put a model in a harder condition.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ._base import Bug, Model
from .attention import Attention
from .batchnorm import BatchNorm
from .conv import Conv1d
from .dense import Dense
from .dropout import Dropout
from .embedding import Embedding
from .pooling import MaxPool
from .recurrent import RNN
from .regularization import L2
from .residual import Residual

# λ of the regularized variants: large enough that λ·W is a sizeable part of each gradient.
LAMBDA = 0.1

ALL: dict[str, Callable[..., Any]] = {
    cls.name: cls for cls in (Dense, BatchNorm, Conv1d, MaxPool, RNN, Attention, Embedding, Residual)
}


def _regularized(cls: type[Model]) -> Callable[..., L2]:
    return lambda **options: L2(cls(**options), LAMBDA)


ALL.update({f"{cls.name}+l2": _regularized(cls) for cls in (Dense, Conv1d, RNN)})

__all__ = ["ALL", "LAMBDA", "Bug", "Dropout", "L2", "Model", "Residual", "MaxPool"]
