"""Evaluating the user's loss: one `Evaluator`, several ways to run many evaluations.

```
_evaluator  the working copy of the params, one evaluation or many, every misbehaviour an error
_scalar     the loss's return value read as one real number (or why it is not one)
_batched    many points per call of a vectorised batched_loss (the adapters supply one)
_pool       worker processes, or any concurrent.futures.Executor (Dask)
_progress   the progress bar, for runs that take a while
_budget     what a check will cost, and the warning when that is long
```
"""

from ._budget import warn_if_slow
from ._evaluator import Backend, Evaluator, Loss, backend_for
from ._progress import Progress

__all__ = ["Backend", "Evaluator", "Loss", "Progress", "backend_for", "warn_if_slow"]
