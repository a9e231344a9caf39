"""The map widget: one character cell per bin, drawn through the Line API.

Base rows are cached per state (view, size, mode, focus, data generation); the selection box
and the marked point are drawn on top after the cache lookup, and a box move refreshes only
the region the old and new boxes cover.
"""

from __future__ import annotations

import numpy as np
from rich.segment import Segment
from rich.style import Style
from textual import events
from textual.cache import LRUCache
from textual.geometry import Region, Size
from textual.message import Message
from textual.strip import Strip
from textual.widget import Widget

from digitmap_tui.grid import BinnedMap, Rect, bin_points, cell_of
from digitmap_tui.maprender import MapPainter, merge_cells, overlay_box
from digitmap_tui.selection import Box, zoom

MARK_STYLE = Style(color="#000000", bgcolor="#ffdd00", bold=True)


class MapView(Widget, can_focus=True):
    """The embedding as a coloured character map with a keyboard-driven selection box."""

    DEFAULT_CSS = """
    MapView { width: 1fr; height: 1fr; }
    """

    class SelectionChanged(Message):
        """The box (or the view under it) moved: the selection must be recomputed."""

        def __init__(self, box: Rect) -> None:
            super().__init__()
            self.box = box

    class ViewChanged(Message):
        """The view (zoom, pan, size) changed."""

        def __init__(self, view: Rect) -> None:
            super().__init__()
            self.view = view

    def __init__(
        self, *, color: bool = True, id: str | None = None, interactive: bool = True
    ) -> None:
        super().__init__(id=id)
        self.color = color
        # A twin map shows another embedding: no box, no messages, no mouse.
        self.interactive = interactive
        self.can_focus = interactive
        self.coords: np.ndarray | None = None
        self.labels: np.ndarray | None = None
        self.n_labels = 0
        self.full_view = Rect(-1.0, 1.0, -1.0, 1.0)
        self.view = self.full_view
        self.box: Box | None = None
        self.mode = "label"
        self.focus_labels: frozenset[int] | None = None
        self.marked: int | None = None
        self.highlight: np.ndarray | None = None  # point indices drawn emphasised (misfits …)
        self._pending_box_rect: Rect | None = None
        self._binned: BinnedMap | None = None
        self._painter: MapPainter | None = None
        self._generation = 0
        self._rows: LRUCache[tuple[int, int], list[tuple[str, Style | None]]] = LRUCache(1024)
        self._strips: LRUCache[tuple[int, int], Strip] = LRUCache(1024)
        self._drag_start: tuple[int, int] | None = None

    # ----- data and state -------------------------------------------------------------------
    def set_data(
        self,
        coords: np.ndarray,
        labels: np.ndarray | None,
        n_labels: int,
        full_view: Rect,
        box_rect: Rect | None = None,
    ) -> None:
        """Show new coordinates; the view resets to ``full_view``."""
        self.coords = coords
        self.labels = labels
        self.n_labels = n_labels
        self.full_view = full_view
        self.view = full_view
        self.marked = None
        if box_rect is not None:
            self._pending_box_rect = box_rect
        self._rebin()

    @property
    def map_size(self) -> tuple[int, int]:
        return max(1, self.size.width), max(1, self.size.height)

    def box_rect(self) -> Rect | None:
        """The box in data coordinates, or None before data or size are known."""
        if self.box is None or self.coords is None:
            return None
        return self.box.rect(self.view, *self.map_size)

    def _rebin(self, post: bool = True) -> None:
        if self.coords is None or self.size.width < 1 or self.size.height < 1:
            return
        w, h = self.map_size
        self._binned = bin_points(self.coords, self.labels, self.view, w, h, self.n_labels or None)
        self._painter = MapPainter(self._binned, self.mode, self.focus_labels, self.color)
        self._generation += 1
        if self._pending_box_rect is not None:
            self.box = Box.from_rect(self._pending_box_rect, self.view, w, h)
            self._pending_box_rect = None
        elif self.box is None:
            self.box = Box.default(w, h)
        else:
            self.box = self.box.clamped(w, h)
        self.refresh()
        if post and self.interactive:
            self.post_message(self.ViewChanged(self.view))
            rect = self.box_rect()
            if rect is not None:
                self.post_message(self.SelectionChanged(rect))

    def on_resize(self, event: events.Resize) -> None:
        if self.box is not None and self._binned is not None and self._pending_box_rect is None:
            old_h, old_w = self._binned.shape
            # Keep the box where it is in data coordinates, whatever the new cell size.
            self._pending_box_rect = self.box.rect(self.view, old_w, old_h)
        self._rebin()

    def set_mode(self, mode: str) -> None:
        self.mode = mode
        self._rebin(post=False)

    def set_focus_labels(self, labels: frozenset[int] | None) -> None:
        self.focus_labels = labels
        self._rebin(post=False)

    def set_view(self, view: Rect) -> None:
        self.view = view
        self._rebin()

    def set_marked(self, index: int | None) -> None:
        self.marked = index
        self.refresh()

    def set_highlight(self, indices: np.ndarray | None) -> None:
        self.highlight = indices
        self._generation += 1
        self.refresh()

    # ----- box -------------------------------------------------------------------------------
    def _set_box(self, box: Box) -> None:
        old = self.box
        if box == old:
            return
        self.box = box
        if old is not None:
            self.refresh(_union_region(old, box))
        else:
            self.refresh()
        rect = self.box_rect()
        if rect is not None:
            self.post_message(self.SelectionChanged(rect))

    def move_box(self, dx: int, dy: int) -> None:
        if self.box is not None:
            self._set_box(self.box.moved(dx, dy, *self.map_size))

    def resize_box(self, dw: int, dh: int) -> None:
        if self.box is not None:
            self._set_box(self.box.resized(dw, dh, *self.map_size))

    def place_box(self, box: Box) -> None:
        self._set_box(box.clamped(*self.map_size))

    def cell_of_point(self, index: int) -> tuple[int, int] | None:
        """The (col, row) of a point on the current map, or None when it is outside the view."""
        if self.coords is None:
            return None
        w, h = self.map_size
        col, row = cell_of(self.coords[index : index + 1], self.view, w, h)
        c, r = int(col[0]), int(row[0])
        return (c, r) if 0 <= c < w and 0 <= r < h else None

    def center_on_point(self, index: int) -> None:
        """Centre the box (and if needed the view) on a point, and mark it."""
        if self.coords is None or self.box is None:
            return
        if self.cell_of_point(index) is None:
            x, y = (float(v) for v in self.coords[index])
            v = self.view
            self.view = Rect(x - v.width / 2, x + v.width / 2, y - v.height / 2, y + v.height / 2)
            self._rebin()
        cell = self.cell_of_point(index)
        if cell is not None:
            self._set_box(self.box.centered_on(cell[0], cell[1], *self.map_size))
        self.set_marked(index)

    def zoom_by(self, factor: float, center: tuple[float, float] | None = None) -> None:
        rect = self.box_rect()
        self.view = zoom(self.view, factor, center, limit=self.full_view)
        if rect is not None:
            self._pending_box_rect = _clip_rect(rect, self.view)
        self._rebin()

    # ----- mouse -----------------------------------------------------------------------------
    def on_mouse_down(self, event: events.MouseDown) -> None:
        if self.box is None or not self.interactive:
            return
        self._drag_start = (event.x, event.y)
        self.capture_mouse()
        self._set_box(Box(event.x, event.y, 1, 1).clamped(*self.map_size))

    def on_mouse_move(self, event: events.MouseMove) -> None:
        if self._drag_start is None or not event.button:
            return
        x0, y0 = self._drag_start
        c0, c1 = sorted((x0, event.x))
        r0, r1 = sorted((y0, event.y))
        self._set_box(Box(c0, r0, c1 - c0 + 1, r1 - r0 + 1).clamped(*self.map_size))

    def on_mouse_up(self, event: events.MouseUp) -> None:
        if self._drag_start is not None:
            self._drag_start = None
            self.release_mouse()

    def _data_at(self, x: int, y: int) -> tuple[float, float]:
        w, h = self.map_size
        v = self.view
        return v.x0 + (x + 0.5) * v.width / w, v.y1 - (y + 0.5) * v.height / h

    def on_mouse_scroll_up(self, event: events.MouseScrollUp) -> None:
        event.stop()
        self.zoom_by(0.8, self._data_at(event.x, event.y))

    def on_mouse_scroll_down(self, event: events.MouseScrollDown) -> None:
        event.stop()
        self.zoom_by(1.25, self._data_at(event.x, event.y))

    # ----- Line API ----------------------------------------------------------------------------
    def _row_cells(self, y: int) -> list[tuple[str, Style | None]]:
        key = (self._generation, y)
        cells = self._rows.get(key)
        if cells is None:
            assert self._painter is not None
            cells = self._painter.row_cells(y)
            if self.highlight is not None and len(self.highlight) and self.coords is not None:
                cells = self._with_highlight(cells, y)
            self._rows[key] = cells
        return cells

    def _with_highlight(
        self, cells: list[tuple[str, Style | None]], y: int
    ) -> list[tuple[str, Style | None]]:
        assert self.coords is not None and self.highlight is not None
        w, h = self.map_size
        col, row = cell_of(self.coords[self.highlight], self.view, w, h)
        cols = col[(row == y) & (col >= 0) & (col < w)].astype(int)
        if len(cols) == 0:
            return cells
        out = list(cells)
        for c in set(cols.tolist()):
            ch, _ = out[c]
            out[c] = (
                ch if ch.strip() else "!",
                Style(color="#ffffff", bgcolor="#d62728", bold=True),
            )
        return out

    def render_line(self, y: int) -> Strip:
        width = self.size.width
        if self._painter is None or self._binned is None or y >= self._binned.shape[0]:
            return Strip.blank(width, self.rich_style)
        box = self.box
        mark = self.cell_of_point(self.marked) if self.marked is not None else None
        touches_box = self.interactive and box is not None and box.row <= y < box.row + box.height
        touches_mark = mark is not None and mark[1] == y
        if not touches_box and not touches_mark:
            key = (self._generation, y)
            strip = self._strips.get(key)
            if strip is None:
                strip = Strip(merge_cells(self._row_cells(y)), width)
                self._strips[key] = strip
            return strip
        cells = self._row_cells(y)
        if touches_box and box is not None:
            cells = overlay_box(cells, y, box.col, box.row, box.width, box.height, self.color)
        if touches_mark and mark is not None:
            cells = list(cells)
            ch, _ = cells[mark[0]]
            cells[mark[0]] = (ch if ch.strip() else "◆", MARK_STYLE)
        return Strip(merge_cells(cells), width)

    def get_content_width(self, container: Size, viewport: Size) -> int:
        return container.width

    def get_content_height(self, container: Size, viewport: Size, width: int) -> int:
        return container.height


def _union_region(a: Box, b: Box) -> Region:
    x0 = min(a.col, b.col)
    y0 = min(a.row, b.row)
    x1 = max(a.col + a.width, b.col + b.width)
    y1 = max(a.row + a.height, b.row + b.height)
    return Region(x0, y0, x1 - x0, y1 - y0)


def _clip_rect(rect: Rect, view: Rect) -> Rect:
    """``rect`` moved inside ``view`` (and shrunk if larger), for keeping the box on zoom."""
    w = min(rect.width, view.width * 0.98)
    h = min(rect.height, view.height * 0.98)
    cx = min(max(rect.center[0], view.x0 + w / 2), view.x1 - w / 2)
    cy = min(max(rect.center[1], view.y0 + h / 2), view.y1 - h / 2)
    return Rect(cx - w / 2, cx + w / 2, cy - h / 2, cy + h / 2)


__all__ = ["MapView", "Segment"]
