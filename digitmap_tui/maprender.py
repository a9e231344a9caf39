"""The map as lines of Rich segments: label, density and purity modes, and the box overlay.

Pure Rich (no Textual): the same rows feed the Textual map widget (wrapped in ``Strip``s and
cached per row) and the headless ``digitmap render`` command.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from functools import lru_cache

import numpy as np
from rich.segment import Segment
from rich.style import Style

from digitmap_tui.glyphs import label_color, label_glyph
from digitmap_tui.grid import EMPTY, BinnedMap

MAP_MODES: tuple[str, ...] = ("label", "density", "purity")

#: Density ramp, light to heavy; ASCII so it survives every terminal (the Linux console too).
DENSITY_RAMP = ".:-=+*#%@"
#: A perceptually ordered sequence (viridis, 9 steps) for density.
DENSITY_COLORS = (
    "#46327e", "#3b528b", "#2c728e", "#21918c", "#28ae80",
    "#5ec962", "#addc30", "#d8e219", "#fde725",
)  # fmt: skip
#: Mixed (red) to pure (green) for purity mode.
PURITY_COLORS = ("#d62728", "#e8702a", "#e5ae38", "#bcbd22", "#7cc242", "#2ca02c")

BOX_BG = "#2a3550"
BOX_EDGE = Style(color="#ffffff", bold=True)
EMPTY_CELL = " "


@lru_cache(maxsize=512)
def _style(color: str | None, bold: bool = False, dim: bool = False) -> Style:
    return Style(color=color, bold=bold, dim=dim)


def density_level(counts: np.ndarray, top: int) -> np.ndarray:
    """Log-scaled level 0..len(DENSITY_RAMP)-1 for each non-zero count (``top`` = the max)."""
    n = len(DENSITY_RAMP)
    if top <= 1:
        return np.zeros_like(counts)
    lv = np.floor(np.log(np.maximum(counts, 1)) / math.log(top) * (n - 1) + 0.5).astype(np.int64)
    return np.clip(lv, 0, n - 1)


class MapPainter:
    """Turns a :class:`BinnedMap` into per-row cells (character, style) for a mode.

    ``focus`` (a set of labels, or None) dims every cell whose majority is not in it.
    """

    def __init__(
        self,
        binned: BinnedMap,
        mode: str = "label",
        focus: frozenset[int] | None = None,
        color: bool = True,
    ) -> None:
        self.binned = binned
        self.mode = mode if mode in MAP_MODES else "label"
        self.focus = focus
        self.color = color
        counts = binned.counts
        self._top = int(counts.max()) if counts.size else 0
        self._levels = density_level(counts, self._top)
        # Label mode shades by density too: sparse cells dim, the densest third bold.
        self._heavy = max(2, int(np.percentile(counts[counts > 0], 67))) if self._top else 2
        self._label_cells: dict[tuple[int, bool, bool], tuple[str, Style | None]] = {}

    def row_cells(self, y: int) -> list[tuple[str, Style | None]]:
        """The cells of map row ``y``, left to right."""
        # Python ints up front: indexing numpy rows element by element costs ~4x more.
        counts = self.binned.counts[y].tolist()
        major = self.binned.majority[y].tolist()
        cell = self._cell
        if self.mode != "label" or self.focus is not None:
            return [cell(c, m, y, x) for x, (c, m) in enumerate(zip(counts, major, strict=True))]
        # Label mode: a cell is its label, bold (dense) or dim (a single point), nothing else,
        # so equal cells share one answer (a million points: ~4,000 cells a frame).
        heavy, lone, memo = self._heavy, self._top > 2, self._label_cells
        out: list[tuple[str, Style | None]] = []
        for x, (c, m) in enumerate(zip(counts, major, strict=True)):
            if c == 0:
                out.append((EMPTY_CELL, None))
                continue
            if m == EMPTY:  # unlabelled cells are shaded by density: not shared
                out.append(cell(c, m, y, x))
                continue
            key = (m, c >= heavy, c == 1 and lone)
            got = memo.get(key)
            if got is None:
                got = memo[key] = cell(c, m, y, x)
            out.append(got)
        return out

    def _cell(self, count: int, major: int, y: int, x: int) -> tuple[str, Style | None]:
        if count == 0:
            return EMPTY_CELL, None
        mode = self.mode
        if mode == "label" and major == EMPTY:
            mode = "density"  # unlabelled data: density is all there is
        dimmed = self.focus is not None and major not in self.focus
        if dimmed:
            return "·", _style("#4a4a4a" if self.color else None, dim=True)
        if mode == "density":
            lv = int(self._levels[y, x])
            return DENSITY_RAMP[lv], _style(DENSITY_COLORS[lv] if self.color else None)
        glyph = label_glyph(major)
        if mode == "purity":
            p = float(self.binned.purity[y, x])
            i = min(len(PURITY_COLORS) - 1, int(p * (len(PURITY_COLORS) - 1) + 0.5))
            return glyph, _style(PURITY_COLORS[i] if self.color else None, bold=p >= 0.999)
        return glyph, _style(
            label_color(major) if self.color else None,
            bold=count >= self._heavy,
            dim=count == 1 and self._top > 2,
        )

    def row_segments(self, y: int) -> list[Segment]:
        """Row ``y`` as segments with runs of equal style merged (fewer bytes on the wire)."""
        return merge_cells(self.row_cells(y))


def merge_cells(cells: Iterable[tuple[str, Style | None]]) -> list[Segment]:
    """Merge consecutive cells that share a style into one segment."""
    segments: list[Segment] = []
    text: list[str] = []
    current: Style | None = None
    first = True
    for ch, style in cells:
        if first or style is current or style == current:  # styles are mostly shared objects
            text.append(ch)
        else:
            segments.append(Segment("".join(text), current))
            text = [ch]
        current = style
        first = False
    if text:
        segments.append(Segment("".join(text), current))
    return segments


def overlay_box(
    cells: list[tuple[str, Style | None]],
    y: int,
    box_col: int,
    box_row: int,
    box_w: int,
    box_h: int,
    color: bool = True,
) -> list[tuple[str, Style | None]]:
    """Cells of row ``y`` with the selection box drawn on them.

    Inside the box the cells keep their glyphs on a tinted background (what is under the box
    stays readable); the four corners carry ``┌┐└┘`` so the box shows without colour too.
    """
    if not (box_row <= y < box_row + box_h):
        return cells
    out = list(cells)
    last_col = box_col + box_w - 1
    top = y == box_row
    bottom = y == box_row + box_h - 1
    tint = Style(bgcolor=BOX_BG) if color else Style(reverse=True)
    corners = box_w >= 2 and box_h >= 2
    for x in range(box_col, min(last_col + 1, len(out))):
        ch, style = out[x]
        if corners and (top or bottom) and x in (box_col, last_col):
            corner = ("┌┐" if top else "└┘")[x == last_col]
            out[x] = (corner, BOX_EDGE + tint)
        else:
            out[x] = (ch, (style + tint) if style is not None else tint)
    return out


def legend_segments(n_labels: int, mode: str, color: bool = True) -> list[Segment]:
    """A one-line legend for the current mode."""
    if mode == "density":
        segs = [Segment("sparse ")]
        for ch, col in zip(DENSITY_RAMP, DENSITY_COLORS, strict=True):
            segs.append(Segment(ch, _style(col if color else None)))
        segs.append(Segment(" dense (log)"))
        return segs
    if mode == "purity":
        segs = [Segment("mixed ")]
        for col in PURITY_COLORS:
            segs.append(Segment("█" if color else "#", _style(col if color else None)))
        segs.append(Segment(" pure  (glyph = majority label)"))
        return segs
    segs = []
    for label in range(min(n_labels, 36)):
        segs.append(
            Segment(label_glyph(label), _style(label_color(label) if color else None, bold=True))
        )
        segs.append(Segment(" "))
    if not segs:
        return [Segment("no labels: density")]
    return segs
