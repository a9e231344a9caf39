"""The box and the view in data coordinates, and their cells on a map: pure arithmetic.

The selection box is a rectangle in the embedding's own coordinates (the seed's
``np.where(x0 < x < x1 & y0 < y < y1)``): zooming, panning, resizing the terminal or the panel
never changes it. Only moving or resizing the box does, by whole cells of the current map
(one key press is one visible step), or drawing it with the mouse. The map draws the box at
cell resolution: the cells the rectangle touches (:meth:`Cells.span`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from digitmap_tui.grid import Rect, bounds

#: Smallest share of the full extent a view may zoom to (keeps floats meaningful).
MIN_ZOOM_SPAN = 1e-6
#: How far out the view may zoom, as a multiple of the full extent.
MAX_ZOOM_OUT = 4.0
#: The initial view: the points' bounds plus this share of their extent on each side.
VIEW_MARGIN = 0.03
#: Float slack, in cells, when deciding which cells a box edge falls into: a box moved by
#: whole cells stays on cell boundaries even after the rounding of many moves.
EDGE_SLACK = 1e-6


def initial_view(coords: np.ndarray) -> Rect:
    """The view an embedding opens with: its bounds plus a fixed margin; nothing else."""
    return bounds(coords, margin=VIEW_MARGIN)


def default_box(view: Rect) -> Rect:
    """The middle fifth of ``view`` (the box an embedding opens with)."""
    cx, cy = view.center
    w, h = view.width / 5, view.height / 5
    return Rect(cx - w / 2, cx + w / 2, cy - h / 2, cy + h / 2)


@dataclass(frozen=True)
class Span:
    """The cells a box covers on a map, clipped to it; ``cut_*`` say which sides go on
    beyond the map (the box is larger than the view, or partly out of it)."""

    col: int
    row: int
    width: int
    height: int
    cut_left: bool = False
    cut_right: bool = False
    cut_top: bool = False
    cut_bottom: bool = False

    @property
    def cols(self) -> range:
        return range(self.col, self.col + self.width)

    @property
    def rows(self) -> range:
        return range(self.row, self.row + self.height)

    def contains_cell(self, col: int, row: int) -> bool:
        return self.col <= col < self.col + self.width and self.row <= row < self.row + self.height


@dataclass(frozen=True)
class Cells:
    """A map of ``width x height`` character cells over ``view``; row 0 at the top."""

    view: Rect
    width: int
    height: int

    def __post_init__(self) -> None:
        if self.width < 1 or self.height < 1:
            raise ValueError(f"a map needs at least 1x1 cells, got {self.width}x{self.height}")

    @property
    def pitch(self) -> tuple[float, float]:
        """Data units per cell, (x, y)."""
        return self.view.width / self.width, self.view.height / self.height

    def rect(self, col0: int, row0: int, col1: int, row1: int) -> Rect:
        """The data rectangle of the cells ``[col0, col1) x [row0, row1)``."""
        px, py = self.pitch
        v = self.view
        return Rect(v.x0 + col0 * px, v.x0 + col1 * px, v.y1 - row1 * py, v.y1 - row0 * py)

    def center_of(self, col: int, row: int) -> tuple[float, float]:
        """The data coordinates of a cell's centre."""
        px, py = self.pitch
        return self.view.x0 + (col + 0.5) * px, self.view.y1 - (row + 0.5) * py

    def cell_of(self, x: float, y: float) -> tuple[int, int] | None:
        """The cell holding the data point ``(x, y)`` (binning's rule), or None outside."""
        px, py = self.pitch
        col = math.floor((x - self.view.x0) / px)
        row = math.floor((self.view.y1 - y) / py)
        if 0 <= col < self.width and 0 <= row < self.height:
            return col, row
        return None

    def span(self, box: Rect) -> Span | None:
        """The cells ``box`` touches, clipped to the map; None when it is out of view."""
        px, py = self.pitch
        v = self.view
        c0 = math.floor((box.x0 - v.x0) / px + EDGE_SLACK)
        c1 = math.ceil((box.x1 - v.x0) / px - EDGE_SLACK)
        r0 = math.floor((v.y1 - box.y1) / py + EDGE_SLACK)
        r1 = math.ceil((v.y1 - box.y0) / py - EDGE_SLACK)
        c1, r1 = max(c1, c0 + 1), max(r1, r0 + 1)  # a box thinner than a cell still shows
        cc0, cc1 = max(c0, 0), min(c1, self.width)
        rr0, rr1 = max(r0, 0), min(r1, self.height)
        if cc0 >= cc1 or rr0 >= rr1:
            return None
        return Span(
            cc0, rr0, cc1 - cc0, rr1 - rr0, c0 < 0, c1 > self.width, r0 < 0, r1 > self.height
        )

    def direction_of(self, box: Rect) -> str:
        """An arrow from the view's centre towards ``box`` (for a box out of view)."""
        bx, by = box.center
        v = self.view
        dx = -1 if bx < v.x0 else (1 if bx > v.x1 else 0)
        dy = -1 if by < v.y0 else (1 if by > v.y1 else 0)
        return ARROWS[(dx, dy)]


ARROWS = {
    (-1, 1): "↖", (0, 1): "↑", (1, 1): "↗",
    (-1, 0): "←", (0, 0): "·", (1, 0): "→",
    (-1, -1): "↙", (0, -1): "↓", (1, -1): "↘",
}  # fmt: skip


def move_box(box: Rect, dx: int, dy: int, cells: Cells, world: Rect | None = None) -> Rect:
    """``box`` moved by ``dx`` cells right and ``dy`` cells down (its size unchanged).

    With ``world`` (the region the points live in), a move stops where the box would
    leave it entirely: the box can reach every point, never wander off into nothing.
    """
    px, py = cells.pitch
    x0, y0 = box.x0 + dx * px, box.y0 - dy * py
    if world is not None:
        x0 = _clamp_start(x0, box.width, world.x0, world.x1, box.x0)
        y0 = _clamp_start(y0, box.height, world.y0, world.y1, box.y0)
    return Rect(x0, x0 + box.width, y0, y0 + box.height)


def _clamp_start(start: float, size: float, lo: float, hi: float, was: float) -> float:
    """``start`` kept so that ``[start, start + size]`` still overlaps ``[lo, hi]``;
    a box already outside may move back in but not further out."""
    lo_limit = min(lo - size * 0.5, was)
    hi_limit = max(hi - size * 0.5, was)
    return min(max(start, lo_limit), hi_limit)


def resize_box(box: Rect, dw: int, dh: int, cells: Cells) -> Rect:
    """``box`` grown by ``dw`` cells to the right and ``dh`` cells downwards (negative
    shrinks); never below one cell of the current map, unless it already was smaller."""
    px, py = cells.pitch
    w = max(box.width + dw * px, min(box.width, px))
    h = max(box.height + dh * py, min(box.height, py))
    return Rect(box.x0, box.x0 + w, box.y1 - h, box.y1)


def box_from_cells(col0: int, row0: int, col1: int, row1: int, cells: Cells) -> Rect:
    """The rectangle a mouse drag from cell ``(col0, row0)`` to ``(col1, row1)`` covers
    (both cells included, in any order)."""
    c0, c1 = sorted((col0, col1))
    r0, r1 = sorted((row0, row1))
    return cells.rect(c0, r0, c1 + 1, r1 + 1)


def centered(box: Rect, x: float, y: float) -> Rect:
    """``box``'s size, centred on ``(x, y)``."""
    w, h = box.width, box.height
    return Rect(x - w / 2, x + w / 2, y - h / 2, y + h / 2)


def zoom(
    view: Rect,
    factor: float,
    center: tuple[float, float] | None = None,
    *,
    limit: Rect | None = None,
) -> Rect:
    """The view scaled by ``factor`` (< 1 zooms in) around ``center`` (default: its centre).

    ``limit`` (the full extent) bounds how far out and in one can go.
    """
    cx, cy = center if center is not None else view.center
    w = view.width * factor
    h = view.height * factor
    if limit is not None:
        w = min(max(w, limit.width * MIN_ZOOM_SPAN), limit.width * MAX_ZOOM_OUT)
        h = min(max(h, limit.height * MIN_ZOOM_SPAN), limit.height * MAX_ZOOM_OUT)
    return Rect(cx - w / 2, cx + w / 2, cy - h / 2, cy + h / 2)


def pan(view: Rect, dx_cells: int, dy_cells: int, cells: Cells) -> Rect:
    """The view moved by whole cells (``dy_cells`` positive moves down), so bins stay aligned."""
    px, py = cells.pitch
    dx = dx_cells * px
    dy = -dy_cells * py
    return Rect(view.x0 + dx, view.x1 + dx, view.y0 + dy, view.y1 + dy)


def zoom_to(box: Rect, margin: float = 0.1) -> Rect:
    """A view showing ``box`` with a margin around it (so its frame is drawn inside)."""
    mx, my = box.width * margin, box.height * margin
    return Rect(box.x0 - mx, box.x1 + mx, box.y0 - my, box.y1 + my)


def follow(view: Rect, box: Rect, cells: Cells) -> Rect:
    """The view panned by whole cells, as little as possible, so that ``box`` is in it.

    Used after a key moves the box to the edge of the map: the map scrolls with it, as a
    cursor scrolls a page. A box larger than the view leaves the view where it is.
    """
    if box.width > view.width or box.height > view.height:
        return view
    px, py = cells.pitch
    dx = 0
    if box.x0 < view.x0:
        dx = -math.ceil((view.x0 - box.x0) / px - EDGE_SLACK)
    elif box.x1 > view.x1:
        dx = math.ceil((box.x1 - view.x1) / px - EDGE_SLACK)
    dy = 0
    if box.y1 > view.y1:
        dy = -math.ceil((box.y1 - view.y1) / py - EDGE_SLACK)
    elif box.y0 < view.y0:
        dy = math.ceil((view.y0 - box.y0) / py - EDGE_SLACK)
    return view if dx == 0 and dy == 0 else pan(view, dx, dy, cells)


def contains(outer: Rect, inner: Rect) -> bool:
    """Whether ``inner`` lies inside ``outer`` (edges included)."""
    return (
        outer.x0 <= inner.x0 and inner.x1 <= outer.x1 and outer.y0 <= inner.y0
        and inner.y1 <= outer.y1
    )  # fmt: skip


def hull(a: Rect, b: Rect) -> Rect:
    """The smallest rectangle holding both."""
    return Rect(min(a.x0, b.x0), max(a.x1, b.x1), min(a.y0, b.y0), max(a.y1, b.y1))
