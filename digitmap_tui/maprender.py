"""The map as lines of Rich segments: label, density, purity and points modes, the box overlay.

Pure Rich (no Textual): the same rows feed the Textual map widget (wrapped in ``Strip``s and
cached per row) and the headless ``digitmap render`` command.

Minorities stay visible. In label mode a cell whose points are not all of its drawn
(majority) label is underlined: an attribute, so it reads at 16 colours, without colour
and on the ASCII-only Linux console alike (plain text piped to a file loses it, as it
loses every style). The ``points`` mode draws each cell as a braille character, one dot
per 2x4 sub-cell holding points, coloured by a label: the cell's majority among its dots,
except that a label *rare around the cell* (at most ``RARE_SHARE`` of the dots in the 3x3
cells around it) wins the cell and only its own dots are drawn, so that a single 3 among
the 7s is a lone dot in the 3's colour. Braille needs Unicode and colour: without either,
``points`` is drawn as ``label``.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from functools import lru_cache

import numpy as np
from rich.segment import Segment
from rich.style import Style

from digitmap_tui import choices
from digitmap_tui.glyphs import label_glyph
from digitmap_tui.grid import EMPTY, BinnedMap
from digitmap_tui.palette import BOX_BG as BOX_BG
from digitmap_tui.palette import DARK, Palette
from digitmap_tui.palette import DENSITY_COLORS as DENSITY_COLORS
from digitmap_tui.palette import PURITY_COLORS as PURITY_COLORS
from digitmap_tui.text import safe

#: The braille mode: every label's own points, 2x4 dots a cell.
POINTS_MODE = "points"
#: The map modes, in the order the explorer's ``m`` cycles through them.
MAP_MODES: tuple[str, ...] = choices.MAP_MODES
assert POINTS_MODE in MAP_MODES
#: Kept for callers of the time when ``points`` was not in the ``m`` cycle.
ALL_MAP_MODES: tuple[str, ...] = MAP_MODES

#: Sub-cells per map cell in the points mode: braille's 2 columns x 4 rows of dots.
POINTS_SUB = (2, 4)
#: A label holding at most this share of the dots in a cell's 3x3 neighbourhood is "rare
#: there": in the points mode it wins the cell, so a lone misfit is never painted over.
RARE_SHARE = 0.2
#: Labels above this count skip the rare-label rule (it keeps a cells x labels table).
RARE_MAX_TABLE = 8_000_000
_BRAILLE_BASE = 0x2800
#: Braille dot bits by (sub-row, sub-column): dots 1-2-3-7 down the left, 4-5-6-8 the right.
_BRAILLE_BITS = np.array([[0x01, 0x08], [0x02, 0x10], [0x04, 0x20], [0x40, 0x80]], dtype=np.int64)

#: Density ramp, light to heavy; ASCII so it survives every terminal (the Linux console too).
DENSITY_RAMP = ".:-=+*#%@"
# The colours live in palette.py (a theme changes them); these names stay for older callers.
BOX_EDGE = Style(color="#ffffff", bold=True)
EMPTY_CELL = " "


@lru_cache(maxsize=512)
def _style(
    color: str | None, bold: bool = False, dim: bool = False, underline: bool = False
) -> Style:
    return Style(color=color, bold=bold, dim=dim, underline=underline or None)


def points_size(width: int, height: int) -> tuple[int, int]:
    """(width, height) of the sub-cell grid the points mode bins at: 2 x 4 per map cell.

    Bin with ``grid.bin_points(xy, labels, view, *points_size(w, h), n_labels)`` (or
    ``PointIndex.bin(view, *points_size(w, h))``) and hand the result to
    :class:`MapPainter` as ``fine``.
    """
    return width * POINTS_SUB[0], height * POINTS_SUB[1]


def braille_cells(
    fine: BinnedMap, width: int, height: int, n_labels: int
) -> tuple[np.ndarray, np.ndarray]:
    """Per map cell, (braille code point, label) of the points mode; label EMPTY: no dot.

    ``fine`` is binned at :func:`points_size`. See the module docstring for the rule.
    """
    fh, fw = fine.shape
    if (fw, fh) != points_size(width, height):
        raise ValueError(f"fine grid {fw}x{fh} is not 2x4 times the map's {width}x{height}")
    sub_w, sub_h = POINTS_SUB
    counts = fine.counts.reshape(height, sub_h, width, sub_w)
    major = fine.majority.reshape(height, sub_h, width, sub_w)
    occupied = counts > 0
    labelled = occupied & (major != EMPTY)
    k = max(1, int(n_labels), int(major.max()) + 1 if major.size else 1)
    cells = height * width
    label = np.full((height, width), EMPTY, dtype=np.int64)
    rare_any = np.zeros((height, width), dtype=bool)
    if labelled.any() and cells * (k + 1) <= RARE_MAX_TABLE:
        cell_id = (np.arange(height)[:, None, None, None] * width) + np.arange(width)[
            None, None, :, None
        ]
        cell_id = np.broadcast_to(cell_id, major.shape)
        lab = np.where(labelled, major, k)  # k: "no labelled dot here"
        per = np.bincount((cell_id * (k + 1) + lab).ravel(), minlength=cells * (k + 1))
        per = per.reshape(height, width, k + 1)[..., :k]
        padded = np.pad(per, ((1, 1), (1, 1), (0, 0)))
        around = np.zeros_like(per)
        for dy in range(3):
            for dx in range(3):
                around += padded[dy : dy + height, dx : dx + width]
        total = around.sum(axis=-1, keepdims=True)
        present = per > 0
        rare = present & (around <= RARE_SHARE * total)
        rare_any = rare.any(axis=-1)
        big = np.iinfo(np.int64).max
        rarest = np.where(rare, around, big).argmin(axis=-1)
        has = present.any(axis=-1)
        label = np.where(rare_any, rarest, np.where(has, per.argmax(axis=-1), EMPTY))
    elif labelled.any():
        # Too many labels for the table: each cell takes its first labelled dot's label.
        flat = np.where(labelled, major, -1).transpose(0, 2, 1, 3).reshape(height, width, -1)
        first = np.argmax(flat >= 0, axis=-1)
        label = np.take_along_axis(flat, first[..., None], axis=-1)[..., 0]
        label = np.where(label >= 0, label, EMPTY)
    drawn = occupied & (~rare_any[:, None, :, None] | (major == label[:, None, :, None]))
    code = (drawn * _BRAILLE_BITS[None, :, None, :]).sum(axis=(1, 3))
    return code + _BRAILLE_BASE, label


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
    The ``points`` mode needs ``fine``, the same points binned at :func:`points_size`, and
    ``braille`` (the terminal can draw it); without them, or without colour, it draws as
    ``label``. ``n_labels`` is the dataset's label count (default: from the bins).
    ``mark_minorities`` underlines label-mode cells that hold points of other labels.
    ``palette`` holds the colours (default: the dark terminal's, :data:`palette.DARK`).
    """

    def __init__(
        self,
        binned: BinnedMap,
        mode: str = "label",
        focus: frozenset[int] | None = None,
        color: bool = True,
        *,
        fine: BinnedMap | None = None,
        braille: bool = True,
        n_labels: int | None = None,
        mark_minorities: bool = False,
        palette: Palette | None = None,
    ) -> None:
        self.binned = binned
        self.palette = palette or DARK
        self.mark_minorities = mark_minorities
        self.mode = mode if mode in ALL_MAP_MODES else "label"
        self.focus = focus
        self.color = color
        counts = binned.counts
        self._top = int(counts.max()) if counts.size else 0
        self._levels = density_level(counts, self._top)
        # Label mode shades by density too: sparse cells dim, the densest third bold.
        self._heavy = max(2, int(np.percentile(counts[counts > 0], 67))) if self._top else 2
        self._braille: tuple[np.ndarray, np.ndarray] | None = None
        if self.mode == POINTS_MODE:
            if fine is None or not braille or not color:
                self.mode = "label"
            else:
                h, w = binned.shape
                k = n_labels if n_labels is not None else int(binned.majority.max()) + 1
                self._braille = braille_cells(fine, w, h, k)
        self._label_cells: dict[tuple[int, bool, bool, bool], tuple[str, Style | None]] = {}

    def row_cells(self, y: int) -> list[tuple[str, Style | None]]:
        """The cells of map row ``y``, left to right."""
        if self._braille is not None:
            return self._points_row(y)
        # Python ints up front: indexing numpy rows element by element costs ~4x more.
        counts = self.binned.counts[y].tolist()
        major = self.binned.majority[y].tolist()
        cell = self._cell
        if self.mode != "label" or self.focus is not None:
            return [cell(c, m, y, x) for x, (c, m) in enumerate(zip(counts, major, strict=True))]
        # Label mode: a cell is its label, bold (dense), dim (a single point) or underlined
        # (mixed), nothing else, so equal cells share one answer (a million points: ~4,000
        # cells a frame).
        heavy, lone, memo = self._heavy, self._top > 2, self._label_cells
        mixed = (self.binned.purity[y] < 1.0).tolist() if self.mark_minorities else None
        out: list[tuple[str, Style | None]] = []
        for x, (c, m) in enumerate(zip(counts, major, strict=True)):
            if c == 0:
                out.append((EMPTY_CELL, None))
                continue
            if m == EMPTY:  # unlabelled cells are shaded by density: not shared
                out.append(cell(c, m, y, x))
                continue
            key = (m, c >= heavy, c == 1 and lone, bool(mixed and mixed[x]))
            got = memo.get(key)
            if got is None:
                got = memo[key] = cell(c, m, y, x)
            out.append(got)
        return out

    def _points_row(self, y: int) -> list[tuple[str, Style | None]]:
        assert self._braille is not None
        codes, labels = self._braille[0][y].tolist(), self._braille[1][y].tolist()
        out: list[tuple[str, Style | None]] = []
        for x, (code, label) in enumerate(zip(codes, labels, strict=True)):
            if code == _BRAILLE_BASE:
                out.append((EMPTY_CELL, None))
            elif label == EMPTY:  # unlabelled data: the dots in density colours
                lv = int(self._levels[y, x])
                out.append((chr(code), _style(self.palette.density[lv])))
            elif self.focus is not None and label not in self.focus:
                out.append((chr(code), _style(self.palette.dimmed, dim=True)))
            else:
                out.append((chr(code), _style(self.palette.label_color(label), bold=True)))
        return out

    def _cell(self, count: int, major: int, y: int, x: int) -> tuple[str, Style | None]:
        if count == 0:
            return EMPTY_CELL, None
        mode = self.mode
        if mode == "label" and major == EMPTY:
            mode = "density"  # unlabelled data: density is all there is
        colors = self.palette
        dimmed = self.focus is not None and major not in self.focus
        if dimmed:
            return "·", _style(colors.dimmed if self.color else None, dim=True)
        if mode == "density":
            lv = int(self._levels[y, x])
            return DENSITY_RAMP[lv], _style(colors.density[lv] if self.color else None)
        glyph = label_glyph(major)
        if mode == "purity":
            p = float(self.binned.purity[y, x])
            ramp = colors.purity
            i = min(len(ramp) - 1, int(p * (len(ramp) - 1) + 0.5))
            return glyph, _style(ramp[i] if self.color else None, bold=p >= 0.999)
        return glyph, _style(
            colors.label_color(major) if self.color else None,
            bold=count >= self._heavy,
            dim=count == 1 and self._top > 2,
            # a cell holding points of other labels than the one drawn says so
            underline=self.mark_minorities and bool(self.binned.purity[y, x] < 1.0),
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


def on_background(segments: Iterable[Segment], base: Style) -> list[Segment]:
    """Map segments drawn on ``base`` (a theme's background and foreground): what a segment
    sets wins. The map's unstyled runs are its empty cells: they take only the background
    (a foreground there would be bytes sent for nothing, on every frame). The choice goes by
    a run's style alone, so a cell looks the same whichever run it was drawn in (partial
    updates redraw only the cells that changed)."""
    blank = Style(bgcolor=base.bgcolor)
    out: list[Segment] = []
    for seg in segments:
        if seg.style is None:
            out.append(Segment(seg.text, base if seg.text.strip() else blank))
        else:
            out.append(Segment(seg.text, base + seg.style))
    return out


def overlay_box(
    cells: list[tuple[str, Style | None]],
    y: int,
    box_col: int,
    box_row: int,
    box_w: int,
    box_h: int,
    color: bool = True,
    corners: tuple[bool, bool, bool, bool] = (True, True, True, True),
    palette: Palette | None = None,
) -> list[tuple[str, Style | None]]:
    """Cells of row ``y`` with the selection box drawn on them.

    Inside the box the cells keep their glyphs on a tinted background (what is under the box
    stays readable); the corners carry ``┌┐└┘`` so the box shows without colour too.
    ``corners`` (top left, top right, bottom left, bottom right) leaves out the corners of a
    box that goes on beyond the map's edge.
    """
    if not (box_row <= y < box_row + box_h):
        return cells
    out = list(cells)
    last_col = box_col + box_w - 1
    top = y == box_row
    bottom = y == box_row + box_h - 1
    tint, edge = box_styles(color, palette)
    framed = box_w >= 2 and box_h >= 2
    for x in range(box_col, min(last_col + 1, len(out))):
        ch, style = out[x]
        at = (2 * (not top) + (x == last_col)) if (top or bottom) else -1
        if framed and at >= 0 and x in (box_col, last_col) and corners[at]:
            corner = ("┌┐" if top else "└┘")[x == last_col]
            out[x] = (corner, edge)
        else:
            out[x] = (ch, (style + tint) if style is not None else tint)
    return out


@lru_cache(maxsize=64)
def box_styles(color: bool, palette: Palette | None = None) -> tuple[Style, Style]:
    """(tint inside the box, its corners): the palette's tint, reverse video without colour."""
    colors = palette or DARK
    if not color:
        tint = Style(reverse=True)
        return tint, BOX_EDGE + tint
    tint = Style(bgcolor=colors.box_bg)
    return tint, Style(color=colors.box_edge, bold=True) + tint


def legend_segments(
    n_labels: int,
    mode: str,
    color: bool = True,
    names: Sequence[str] | None = None,
    palette: Palette | None = None,
) -> list[Segment]:
    """A one-line legend for the current mode; ``names`` (class names) follow their glyphs."""
    colors = palette or DARK
    if mode == "density":
        segs = [Segment("sparse ")]
        for ch, col in zip(DENSITY_RAMP, colors.density, strict=True):
            segs.append(Segment(ch, _style(col if color else None)))
        segs.append(Segment(" dense (log)"))
        return segs
    if mode == "purity":
        segs = [Segment("mixed ")]
        for col in colors.purity:
            segs.append(Segment("█" if color else "#", _style(col if color else None)))
        segs.append(Segment(" pure  (glyph = majority label)"))
        return segs
    if mode == "points":
        segs = legend_segments(n_labels, "label", color, names, palette)
        segs.append(Segment(" ⠿ 2×4 dots a cell; a label rare around a cell wins it"))
        return segs
    segs = []
    for label in range(min(n_labels, 36)):
        segs.append(
            Segment(
                label_glyph(label), _style(colors.label_color(label) if color else None, bold=True)
            )
        )
        if names is not None and label < len(names):
            segs.append(Segment(f" {safe(names[label])}"))
            segs.append(Segment("  "))
        else:
            segs.append(Segment(" "))
    if not segs:
        return [Segment("no labels: density")]
    return segs
