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

from digitmap_tui.grid import (
    BinnedMap,
    PointIndex,
    Rect,
    cell_of,
    grid_select,
    inside,
    label_histogram,
    list_select,
)
from digitmap_tui.maprender import MapPainter, merge_cells, overlay_box
from digitmap_tui.selection import Box, zoom
from digitmap_tui.widgets.guard import GuardedWidget
from digitmap_tui.widgets.wire import install, line_spans

MARK_STYLE = Style(color="#000000", bgcolor="#ffdd00", bold=True)
HIGHLIGHT_STYLE = Style(color="#ffffff", bgcolor="#d62728", bold=True)

# Partial updates write only their dirty cells (see widgets/wire.py).
install()


class MapView(GuardedWidget, can_focus=True):
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
        #: Shown in the middle of an empty map (while the first embedding is computed).
        self.placeholder = ""
        self.can_focus = interactive
        self.coords: np.ndarray | None = None
        self.index: PointIndex | None = None
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
        self._generation = 0  # the binned map and its painting
        self._hl_generation = 0  # the highlighted points, drawn over the painted rows
        self._hl_cells: tuple[tuple[int, int], dict[int, frozenset[int]]] | None = None
        self._rows: LRUCache[tuple[int, int], list[tuple[str, Style | None]]] = LRUCache(1024)
        self._strips: LRUCache[tuple[int, int, int], Strip] = LRUCache(1024)
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
        # Sorted once per embedding: every rebin and box selection then touches only its slab.
        self.index = PointIndex(coords, labels, n_labels or None)
        self.full_view = full_view
        self.view = full_view
        self.marked = None
        if box_rect is not None:
            self._pending_box_rect = box_rect
        self._rebin()

    @property
    def map_size(self) -> tuple[int, int]:
        return max(1, self.size.width), max(1, self.size.height)

    def _drawn_size(self) -> tuple[int, int]:
        """(width, height) of the binned map being drawn: between a resize and the rebin
        that follows it, the widget's size is already the new one, the painted rows are not."""
        if self._binned is None:
            return self.map_size
        h, w = self._binned.shape
        return max(1, w), max(1, h)

    def box_rect(self) -> Rect | None:
        """The box in data coordinates, or None before data or size are known."""
        if self.box is None or self.coords is None:
            return None
        return self.box.rect(self.view, *self.map_size)

    def _rebin(self, post: bool = True) -> None:
        if self.coords is None or self.size.width < 1 or self.size.height < 1:
            return
        w, h = self.map_size
        assert self.index is not None
        self._binned = self.index.bin(self.view, w, h)
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
        before = self._highlight_cells() if self._painter is not None else None
        self.highlight = indices
        self._hl_generation += 1
        if before is None:
            self.refresh()
            return
        # The twin map's highlight follows the box: repaint the cells that changed, not all.
        after = self._highlight_cells()
        regions = []
        for y in sorted(set(before) | set(after)):
            changed = sorted(before.get(y, frozenset()) ^ after.get(y, frozenset()))
            spans = [(x, x + 1) for x in changed]
            regions += [Region(a, y, b - a, 1) for a, b in line_spans(spans)]
        if regions:
            self.refresh(*regions)

    # ----- selections (through the index when it holds the same points) ------------------------
    def list_select(
        self, coords: np.ndarray, rect: Rect, labels: np.ndarray | None, sort: str
    ) -> np.ndarray:
        """``grid.list_select(coords, rect, labels, sort)``, without a pass over all points."""
        index = self.index
        if index is not None and coords is index.xy and labels is index.labels:
            return index.list_select(rect, sort)  # type: ignore[arg-type]
        return list_select(coords, rect, labels, sort)  # type: ignore[arg-type]

    def label_histogram(
        self, coords: np.ndarray, rect: Rect, labels: np.ndarray | None, n_labels: int
    ) -> np.ndarray:
        """``grid.label_histogram(labels, inside(coords, rect), n_labels)``, from the index."""
        index = self.index
        if index is not None and coords is index.xy and labels is index.labels:
            return index.label_counts(rect, n_labels)
        return label_histogram(labels, inside(coords, rect), n_labels)

    def grid_select(self, coords: np.ndarray, rect: Rect, rows: int, cols: int) -> np.ndarray:
        """``grid.grid_select(coords, rect, rows, cols)``, without a pass over all points."""
        index = self.index
        if index is not None and coords is index.xy:
            return index.grid_select(rect, rows, cols)
        return grid_select(coords, rect, rows, cols)

    # ----- box -------------------------------------------------------------------------------
    def _set_box(self, box: Box) -> None:
        old = self.box
        if box == old:
            return
        self.box = box
        if old is not None and self._painter is not None:
            regions = self._box_change(old, box)
            if regions:
                self.refresh(*regions)
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
        w, h = self._drawn_size()
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
        """Row ``y`` as painted, highlighted points drawn on top."""
        key = (self._generation, y)
        cells = self._rows.get(key)
        if cells is None:
            assert self._painter is not None
            cells = self._painter.row_cells(y)
            self._rows[key] = cells
        if self.highlight is not None and len(self.highlight) and self.coords is not None:
            cells = self._with_highlight(cells, y)
        return cells

    def _highlight_cells(self) -> dict[int, frozenset[int]]:
        """The columns holding a highlighted point, by row: one pass over the highlighted
        points per state, instead of one per row drawn."""
        key = (self._generation, self._hl_generation)
        if self._hl_cells is not None and self._hl_cells[0] == key:
            return self._hl_cells[1]
        by_row: dict[int, set[int]] = {}
        if self.highlight is not None and len(self.highlight) and self.coords is not None:
            w, h = self._drawn_size()
            col, row = cell_of(self.coords[self.highlight], self.view, w, h)
            ok = (col >= 0) & (col < w) & (row >= 0) & (row < h)
            flat = np.unique(row[ok].astype(np.int64) * w + col[ok].astype(np.int64))
            for r, c in zip(*np.divmod(flat, w), strict=True):
                by_row.setdefault(int(r), set()).add(int(c))
        cells = {r: frozenset(c) for r, c in by_row.items()}
        self._hl_cells = (key, cells)
        return cells

    def _with_highlight(
        self, cells: list[tuple[str, Style | None]], y: int
    ) -> list[tuple[str, Style | None]]:
        cols = self._highlight_cells().get(y)
        if not cols:
            return cells
        out = list(cells)
        for c in cols:
            ch, _ = out[c]
            out[c] = (ch if ch.strip() else "!", HIGHLIGHT_STYLE)
        return out

    def _box_change(self, old: Box, new: Box) -> list[Region]:
        """The cells that look different once the box moves from ``old`` to ``new``.

        Textual does not diff cells: whatever is refreshed is sent again. A one-cell move
        changes two columns and the corners, not the whole box, so the rows the boxes touch
        are compared cell by cell (base row, box drawn on top, as render_line draws them).
        """
        assert self._binned is not None
        height = self._binned.shape[0]
        x0 = min(old.col, new.col)
        x1 = max(old.col + old.width, new.col + new.width)
        y0 = min(old.row, new.row)
        y1 = min(height, max(old.row + old.height, new.row + new.height))
        regions: list[Region] = []
        for y in range(y0, y1):
            base = self._row_cells(y)
            a = overlay_box(base, y, old.col, old.row, old.width, old.height, self.color)
            b = overlay_box(base, y, new.col, new.row, new.width, new.height, self.color)
            spans: list[tuple[int, int]] = []
            for x in range(x0, min(x1, len(base))):
                if a[x] != b[x]:
                    if spans and spans[-1][1] == x:
                        spans[-1] = (spans[-1][0], x + 1)
                    else:
                        spans.append((x, x + 1))
            regions += [Region(s, y, e - s, 1) for s, e in line_spans(spans)]
        return regions

    def render_line(self, y: int) -> Strip:
        width = self.size.width
        if self._painter is None or self._binned is None or y >= self._binned.shape[0]:
            if self._painter is None and self.placeholder and y == self.size.height // 2:
                text = self.placeholder[:width].center(width)
                return Strip([Segment(text, Style(dim=True))], width)
            return Strip.blank(width, self.rich_style)
        box = self.box
        mark = self.cell_of_point(self.marked) if self.marked is not None else None
        touches_box = self.interactive and box is not None and box.row <= y < box.row + box.height
        touches_mark = mark is not None and mark[1] == y
        if not touches_box and not touches_mark:
            key = (self._generation, self._hl_generation, y)
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


def _clip_rect(rect: Rect, view: Rect) -> Rect:
    """``rect`` moved inside ``view`` (and shrunk if larger), for keeping the box on zoom."""
    w = min(rect.width, view.width * 0.98)
    h = min(rect.height, view.height * 0.98)
    cx = min(max(rect.center[0], view.x0 + w / 2), view.x1 - w / 2)
    cy = min(max(rect.center[1], view.y0 + h / 2), view.y1 - h / 2)
    return Rect(cx - w / 2, cx + w / 2, cy - h / 2, cy + h / 2)


__all__ = ["MapView", "Segment"]
