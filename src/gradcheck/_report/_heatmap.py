"""Each tensor's error relative to its estimated numerical error, laid out as a matrix for a heatmap.

2-D tensors keep their rows and columns, so a wrong row, column or entry shows as one. Scalars
are 1×1; vectors are one row, or wrapped into a near-square when long; tensors of three or more
dimensions show their first axis as rows (a layer's output units or channels) and everything
else flattened, in order, as columns. Grids larger than a page are pooled into blocks that show
their *worst* component, so a single wrong entry among millions still colours its block.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from .._compare import KINKED, ranking
from ._model import ReportData as Report

# Cells a heatmap draws at most: about 600 × 400 CSS pixels at 2-3 pixels per cell, and a bound
# on the page's size (≤ 30,000 cells per tensor, three short numbers each).
MAX_ROWS = 120
MAX_COLUMNS = 240
# Vectors up to this length fit one row of a card; longer ones wrap into a near-square.
ONE_ROW = 64
# Significance values: a kink (left out of the verdict) and a component that was not checked.
KINK = KINKED
UNCHECKED = -math.inf


@dataclass(frozen=True)
class Grid:
    """One tensor's heatmap: ``rows × columns`` cells, each ``block`` components of the layout."""

    shape: tuple[int, ...]  # the tensor's own shape
    layout: tuple[int, int]  # the matrix the tensor is shown as, before pooling
    block: tuple[int, int]
    significance: np.ndarray  # per cell: the worst |error| / estimated error (KINK, UNCHECKED)
    index: np.ndarray  # per cell: flat index within the tensor of that worst component, or -1
    present: np.ndarray  # per cell: does it cover any component (the last row of a wrapped vector may not)
    analytic: np.ndarray
    numerical: np.ndarray

    @property
    def rows(self) -> int:
        return int(self.significance.shape[0])

    @property
    def columns(self) -> int:
        return int(self.significance.shape[1])


def matrix_shape(shape: tuple[int, ...]) -> tuple[int, int]:
    """The (rows, columns) a tensor of ``shape`` is shown as (see the module docstring)."""
    size = math.prod(shape)
    if len(shape) == 0:
        return 1, 1
    if len(shape) == 1:
        if size <= ONE_ROW:
            return 1, max(size, 1)
        columns = math.ceil(math.sqrt(size))
        return math.ceil(size / columns), columns
    if len(shape) == 2:
        return shape[0], shape[1]
    return shape[0], size // shape[0] if shape[0] else 0


def significance(report: Report) -> np.ndarray:
    """Per checked component: |analytic − numerical| / estimated error (KINK on a kink)."""
    return ranking(report.analytic, report.numerical, report.estimate, report.kink)


def _pool(values: np.ndarray, block: tuple[int, int]) -> np.ndarray:
    """(R·br × C·bc) → (R × C × br·bc): each block's cells along the last axis."""
    rows, columns = values.shape[0] // block[0], values.shape[1] // block[1]
    cells = block[0] * block[1]  # not -1: a tensor with no entries has no size to infer it from
    return (
        values.reshape(rows, block[0], columns, block[1]).transpose(0, 2, 1, 3).reshape(rows, columns, cells)
    )


def tensor_grid(report: Report, position: int, ratio: np.ndarray) -> Grid:
    """The heatmap grid of tensor ``position`` of the report's layout."""
    tensor = report.layout.tensors[position]
    mine = (report.components >= tensor.offset) & (report.components < tensor.offset + tensor.size)
    local = report.components[mine] - tensor.offset
    rows, columns = matrix_shape(tensor.shape)
    block = (max(1, math.ceil(rows / MAX_ROWS)), max(1, math.ceil(columns / MAX_COLUMNS)))
    padded = (math.ceil(rows / block[0]) * block[0], math.ceil(columns / block[1]) * block[1])
    cells = padded[0] * padded[1]

    def spread(values: np.ndarray, fill: float, at: np.ndarray = local) -> np.ndarray:
        full = np.full(rows * columns, fill)
        full[at] = values
        out = np.full(padded, fill)
        out[:rows, :columns] = full.reshape(rows, columns)
        return out

    sig = _pool(spread(ratio[mine], UNCHECKED), block)
    flat_index = _pool(np.arange(cells).reshape(padded), block)
    worst = np.argmax(sig, axis=2)
    pick = lambda values: np.take_along_axis(values, worst[..., None], axis=2)[..., 0]  # noqa: E731
    best = pick(sig)
    grid_index = pick(flat_index)
    # Map a padded-grid index back to the tensor's flat index (row-major, like the tensor).
    index = np.where(best > UNCHECKED, (grid_index // padded[1]) * columns + grid_index % padded[1], -1)
    return Grid(
        shape=tensor.shape,
        layout=(rows, columns),
        block=block,
        significance=best,
        index=index,
        present=_pool(spread(np.ones(tensor.size), 0.0, np.arange(tensor.size)), block).max(axis=2) > 0,
        analytic=pick(_pool(spread(report.analytic[mine], np.nan), block)),
        numerical=pick(_pool(spread(report.numerical[mine], np.nan), block)),
    )


def grids(report: Report) -> list[Grid]:
    """One grid per tensor of the report's layout, in order."""
    ratio = significance(report)
    return [tensor_grid(report, p, ratio) for p in range(len(report.layout.tensors))]
