"""Draw a heatmap `Grid` as inline SVG: readable with no script, in a page or a notebook output.

A canvas needs a script to be drawn, and notebook outputs often may not run one (an untrusted
notebook, a sanitising viewer, a static export): SVG drawn here in Python shows the same cells
everywhere, with the colours in ``fill`` attributes so that no stylesheet is needed either.
The page's script only adds the hover details on top (see ``page.js``).

Colours come in a few discrete levels per range (within noise, borderline, wrong by decades):
the eye reads no more than that from a heatmap, and cells of one level in a row merge into one
rectangle, which keeps a 120×240 grid's SVG small.
"""

from __future__ import annotations

import math
from collections import defaultdict

import numpy as np

from .._compare import SAFETY
from ._heatmap import UNCHECKED, Grid

# The colour scale's anchors (RGB): calm (error ≪ its estimate), within noise (error ≈ estimate),
# at the threshold (SAFETY × the estimate), wrong, very wrong; kinks apart in blue.
CALM, NOISE, BORDER = (238, 243, 238), (178, 216, 178), (246, 196, 80)
WRONG, VERY_WRONG, KINK = (229, 83, 61), (110, 10, 10), (120, 144, 196)
# Cells of components that were not checked (a sample, certify): grey, unlike any level above.
UNCHECKED_FILL = "#dde1e6"
# Levels per range: significance 1e-3…1 (log scale), 1…SAFETY, then one per decade above SAFETY
# up to SAFETY·1e6, beyond which everything is equally, hopelessly wrong.
CALM_LEVELS, BORDER_LEVELS, WRONG_DECADES = 3, 3, 6
# Cell size in CSS pixels: the grid fits about 560 × 420 pixels, cells 2 to 28 pixels wide.
WIDTH, HEIGHT, SMALLEST, LARGEST = 560, 420, 2, 28
GAP_FROM = 6  # cells this large get a 1-pixel gap, so neighbours stay apart
LABEL_FROM = 14  # cells this large get row and column numbers (2-D tensors, unpooled)


def _hex(rgb: tuple[float, ...]) -> str:
    return "#" + "".join(f"{round(v):02x}" for v in rgb)


def _mix(a: tuple[int, ...], b: tuple[int, ...], t: float) -> str:
    return _hex(tuple(x + (y - x) * t for x, y in zip(a, b, strict=True)))


KINK_FILL = _hex(KINK)
# Every fill a cell can have, indexed by `levels`: the calm levels (the last one is the noise
# colour), the borderline ones, the wrong ones; then a kink, an unchecked cell, and no cell.
SCALE = (
    *(_mix(CALM, NOISE, k / CALM_LEVELS) for k in range(CALM_LEVELS + 1)),
    *(_mix(NOISE, BORDER, k / BORDER_LEVELS) for k in range(1, BORDER_LEVELS + 1)),
    *(_mix(WRONG, VERY_WRONG, k / WRONG_DECADES) for k in range(WRONG_DECADES + 1)),
)
PALETTE = (*SCALE, KINK_FILL, UNCHECKED_FILL, "")
KINK_LEVEL, UNCHECKED_LEVEL, ABSENT = len(SCALE), len(SCALE) + 1, len(SCALE) + 2


def levels(significance: np.ndarray) -> np.ndarray:
    """Each cell's index into PALETTE, from its worst |error| / estimated error."""
    s = np.asarray(significance, dtype=np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        calm = np.rint(np.clip((np.log10(np.maximum(s, 1e-3)) + 3) / 3, 0, 1) * CALM_LEVELS)
        border = CALM_LEVELS + np.rint(np.clip(np.log(s) / math.log(SAFETY), 0, 1) * BORDER_LEVELS)
        decades = np.nan_to_num(np.log10(s / SAFETY) / WRONG_DECADES, nan=1.0)
    wrong = CALM_LEVELS + BORDER_LEVELS + 1 + np.rint(np.clip(decades, 0, 1) * WRONG_DECADES)
    level = np.where(s <= 1, calm, np.where(s <= SAFETY, border, wrong))
    level = np.where(s < 0, KINK_LEVEL, level)
    return np.where(s == UNCHECKED, UNCHECKED_LEVEL, level).astype(np.int64)


def colour(significance: float) -> str:
    """The fill of a cell whose worst component has this |error| / estimated error."""
    return PALETTE[int(levels(np.array(significance)))]


def cell_size(grid: Grid) -> int:
    return max(SMALLEST, min(LARGEST, WIDTH // max(grid.columns, 1), HEIGHT // max(grid.rows, 1)))


def _labelled(grid: Grid, cell: int) -> bool:
    """Small matrices get their row and column numbers, so "row 2 is wrong" can be read off."""
    return cell >= LABEL_FROM and grid.block == (1, 1) and len(grid.shape) == 2


def _runs(grid: Grid, left: int, top: int, cell: int) -> dict[str, list[str]]:
    """Rectangles per fill colour, runs of one colour within a row merged into one."""
    level = np.where(grid.present, levels(grid.significance), ABSENT)
    fills: dict[str, list[str]] = defaultdict(list)
    for r, row in enumerate(level):
        starts = np.flatnonzero(np.r_[True, row[1:] != row[:-1]])
        for c, end in zip(starts.tolist(), [*starts[1:].tolist(), row.size], strict=True):
            if row[c] != ABSENT:
                x, y, w = left + c * cell, top + r * cell, (end - c) * cell
                fills[PALETTE[row[c]]].append(f"M{x} {y}h{w}v{cell}h{-w}z")
    return fills


def heatmap_svg(grid: Grid, label: str, tensor: int) -> str:
    """The grid as an ``<svg class="heatmap">``; ``label`` (escaped HTML) names it for screen readers.

    The ``data-`` attributes give the page's script the tensor (its position in the report) and
    the geometry it needs to name the cell under the pointer.
    """
    cell = cell_size(grid)
    labelled = _labelled(grid, cell)
    left = 6 + 7 * len(str(grid.rows - 1)) if labelled else 0
    top = 14 if labelled else 0
    width, height = left + grid.columns * cell, top + grid.rows * cell
    fills = _runs(grid, left, top, cell)
    parts = [f'<path fill="{fill}" d="{"".join(rects)}"/>' for fill, rects in sorted(fills.items())]
    if cell >= GAP_FROM:  # white lines between the cells, over the merged runs
        lines = [f"M{left + c * cell - 0.5} {top}v{grid.rows * cell}" for c in range(1, grid.columns + 1)]
        lines += [f"M{left} {top + r * cell - 0.5}h{grid.columns * cell}" for r in range(1, grid.rows + 1)]
        parts.append(f'<path stroke="#ffffff" stroke-width="1" d="{"".join(lines)}"/>')
    if labelled:
        text = 'font-size="10" fill="#66707a" font-family="system-ui, sans-serif"'
        parts += [
            f'<text {text} text-anchor="end" dominant-baseline="middle" x="{left - 4}" '
            f'y="{top + r * cell + cell / 2}">{r}</text>'
            for r in range(grid.rows)
        ]
        parts += [
            f'<text {text} text-anchor="middle" x="{left + c * cell + cell / 2}" y="{top - 3}">{c}</text>'
            for c in range(grid.columns)
        ]
    return (
        f'<svg class="heatmap" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" role="img" aria-label="{label}" '
        f'data-tensor="{tensor}" data-left="{left}" data-top="{top}" data-cell="{cell}">{"".join(parts)}</svg>'
    )


def legend_svg() -> str:
    """The colour scale as one swatch per level, with the significance at the ranges' ends."""
    ticks = {
        0: "0",
        CALM_LEVELS: "1",
        CALM_LEVELS + BORDER_LEVELS: f"{SAFETY:g}",
        len(SCALE) - 1: f"{SAFETY:g}e{WRONG_DECADES}",
    }
    size, font = 14, 'font-size="9" fill="#66707a" font-family="system-ui, sans-serif"'
    width = len(SCALE) * size
    parts = [
        f'<rect x="{k * size}" y="0" width="{size}" height="12" fill="{fill}"/>'
        for k, fill in enumerate(SCALE)
    ]
    parts += [  # centred under their swatch, the last one flush with the scale's end
        f'<text x="{min(k * size + size / 2, width)}" y="24" {font} '
        f'text-anchor="{"end" if k == len(SCALE) - 1 else "middle"}">{t}</text>'
        for k, t in ticks.items()
    ]
    return (
        f'<svg class="scale" width="{width}" height="26" '
        f'viewBox="0 0 {width} 26" role="img" aria-label="colour scale">{"".join(parts)}</svg>'
    )
