"""Find parameters that are the same array, or overlapping views of one array.

gradcheck gives every parameter its own copy, so ``{"W": A, "V": A}`` would be checked as two
independent tensors, while the user's gradient (tied weights, or one array reused by mistake)
treats them as one: whichever way the check went, it would answer a question nobody asked.
Such params are rejected with the two names; a shared parameter should be listed once.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Optional

import numpy as np

# np.shares_memory solves an integer program; this bounds its work per pair. Views that need
# more (exotic interleaved strides) are treated as separate: a false alarm would block the user.
MAX_WORK = 10_000
_TOO_HARD = getattr(np, "exceptions", np).TooHardError  # np.exceptions is numpy >= 1.25


def _bounds(array: np.ndarray) -> tuple[int, int]:
    """First and one-past-last byte address that ``array`` can touch."""
    low = high = array.__array_interface__["data"][0]
    for extent, stride in zip(array.shape, array.strides, strict=True):
        reach = (extent - 1) * stride
        low, high = (low + reach, high) if reach < 0 else (low, high + reach)
    return low, high + array.itemsize


def _overlap(a: np.ndarray, b: np.ndarray) -> bool:
    try:
        return bool(np.shares_memory(a, b, max_work=MAX_WORK))  # type: ignore[arg-type]  # stubs too narrow
    except _TOO_HARD:
        return False


def first_overlap(arrays: Sequence[np.ndarray]) -> Optional[tuple[int, int]]:
    """Positions (i, j), i < j, of two arrays sharing memory, or None.

    Sorting by start address makes this O(k log k) for k arrays that do not overlap.
    """
    spans = sorted(
        (_bounds(a) + (i,) for i, a in enumerate(arrays) if a.size),
        key=lambda span: span[0],
    )
    for position, (_, high, i) in enumerate(spans):
        for low_j, _, j in spans[position + 1 :]:
            if low_j >= high:
                break
            if _overlap(arrays[i], arrays[j]):
                return min(i, j), max(i, j)
    return None
