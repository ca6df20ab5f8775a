"""What to perturb: every component, or a random sample that covers every tensor.

A sample of K components is shared out max-min fairly (water-filling): tensors smaller than
their fair share are checked entirely, and what they leave over goes to the larger ones, so a
bias vector is usually checked whole while a big weight matrix gets the rest at random. Every
non-empty tensor gets at least one component, because a bug is per tensor more often than not
(a forgotten 1/m, a wrong sign) and one component of each catches those, provided its analytic
derivative is not zero (2 · 0 = 0: a dead ReLU unit hides a scale bug). So within a tensor the
sample is stratified: components with a nonzero analytic derivative and those with a zero one
are drawn in proportion, with at least one of each kind whenever the count allows.

What a sample cannot see is said plainly in a ``coverage`` finding: a single wrong entry among
the unchecked components goes unnoticed whatever its size.
"""

from __future__ import annotations

from typing import Optional

import numpy as np

from . import _wording
from ._report._model import Finding
from ._tree import Layout

# Sample selection draws from its own stream of the seed, so the components sampled do not
# change when another part of the check (the noise direction) draws more or fewer numbers.
SAMPLE_STREAM = 1
# The confidence of the statement "an error touching r entries would have been caught".
CATCH_PROBABILITY = 0.99


def allocate(sizes: list[int], k: int) -> list[int]:
    """Share ``k`` components among tensors of ``sizes``: max-min fair, at least one each.

    Example:
        >>> allocate([20, 5, 15, 3, 3, 1], 16)
        [3, 3, 3, 3, 3, 1]
    """
    counts = [0] * len(sizes)
    open_ = sorted((i for i, size in enumerate(sizes) if size > 0), key=lambda i: sizes[i])
    budget = max(k, len(open_))
    while open_:
        share = budget // len(open_)
        small = [i for i in open_ if sizes[i] <= share]
        if not small:
            # Every remaining tensor is larger than its share: give each the share and the
            # remainder one by one to the largest (they have the most left unchecked).
            for rank, i in enumerate(reversed(open_)):
                counts[i] = share + (1 if rank < budget - share * len(open_) else 0)
            break
        for i in small:
            counts[i] = sizes[i]
            budget -= sizes[i]
        open_ = [i for i in open_ if i not in small]
    return counts


def _stratified(rng: np.random.Generator, nonzero: np.ndarray, count: int) -> np.ndarray:
    """``count`` local indices: nonzero and zero entries in proportion, one of each if possible."""
    size = nonzero.size
    hot, cold = np.flatnonzero(nonzero), np.flatnonzero(~nonzero)
    if count >= size or not hot.size or not cold.size:
        return rng.choice(size, size=min(count, size), replace=False)
    # Proportional, but at least one nonzero entry, and one zero entry when count ≥ 2.
    share = round(count * hot.size / size)
    share = min(max(share, 1, count - cold.size), hot.size, max(count - 1, 1))
    return np.concatenate(
        [rng.choice(hot, size=share, replace=False), rng.choice(cold, size=count - share, replace=False)]
    )


def select(
    layout: Layout, components: Optional[int], seed: int, analytic: Optional[np.ndarray] = None
) -> np.ndarray:
    """Flat indices into θ to check: all of them, or a seeded sample covering every tensor.

    ``analytic`` (the flat analytic gradient) lets the sample stratify on zero derivatives.
    """
    if components is None or components >= layout.size:
        return np.arange(layout.size)
    rng = np.random.default_rng([seed, SAMPLE_STREAM])
    nonzero = np.ones(layout.size, dtype=bool) if analytic is None else analytic != 0
    counts = allocate([t.size for t in layout.tensors], components)
    chosen = [
        tensor.offset + _stratified(rng, nonzero[tensor.slice], count)
        for tensor, count in zip(layout.tensors, counts, strict=True)
    ]
    return np.sort(np.concatenate(chosen)).astype(np.int64)


def entries_to_catch(size: int, checked: int) -> int:
    """The fewest wrong entries of a tensor a uniform sample catches with CATCH_PROBABILITY.

    A sample of ``checked`` of ``size`` entries misses all of r wrong entries with probability
    C(size − r, checked) / C(size, checked) = Π_{i<checked} (1 − r / (size − i)) (hypergeometric);
    it falls as r grows, so bisection finds the smallest r that brings it down far enough. The
    stratified sample is close to uniform, so this is the figure to state (about).

    Example:
        >>> entries_to_catch(100, 10), entries_to_catch(100, 100)
        (36, 1)
    """
    remaining = size - np.arange(checked, dtype=np.float64)

    def missed(r: int) -> float:
        with np.errstate(divide="ignore"):
            return float(np.exp(np.sum(np.log(np.clip(1 - r / remaining, 0.0, None)))))

    low, high = 1, size
    while low < high:
        middle = (low + high) // 2
        if missed(middle) <= 1 - CATCH_PROBABILITY:
            high = middle
        else:
            low = middle + 1
    return low


def coverage_finding(layout: Layout, components: np.ndarray) -> list[Finding]:
    """A ``coverage`` finding when only part of θ was checked, saying what could be missed.

    It names the least covered tensor: the one where an error must touch the largest share of
    the entries before the sample is likely (CATCH_PROBABILITY) to contain one of them.
    """
    if components.size == layout.size:
        return []
    checked = np.bincount(layout.tensor_ids()[components], minlength=len(layout.tensors))
    partial = [(t, int(c)) for t, c in zip(layout.tensors, checked, strict=True) if c < t.size]
    needed = [(entries_to_catch(t.size, c), t) for t, c in partial]
    entries, weakest = max(needed, key=lambda item: item[0] / item[1].size)
    return [
        _wording.coverage(
            int(components.size), layout.size, weakest.name, weakest.size, entries, CATCH_PROBABILITY
        )
    ]
