"""The map widget: one character cell per bin, drawn through the Line API.

It holds no state of its own: the explorer hands it a :class:`MapFrame` (the points' index,
the view, the box in data coordinates, the mode …) and it draws that at the size it has.
Base rows are cached per (frame, size); the box, the mark and highlighted points are drawn on
top after the cache lookup, and a new frame refreshes only the cells that look different.
The mouse is turned into messages (:class:`MapView.BoxDrawn`, :class:`MapView.Zoomed`) for
the explorer to apply to its session.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from rich.segment import Segment
from rich.style import Style
from textual import events
from textual.cache import LRUCache
from textual.geometry import Region, Size
from textual.message import Message
from textual.strip import Strip

from digitmap_tui.glyphs import label_glyph
from digitmap_tui.grid import BinnedMap, PointIndex, Rect, cell_of
from digitmap_tui.maprender import (
    MapPainter,
    box_styles,
    merge_cells,
    on_background,
    overlay_box,
)
from digitmap_tui.palette import DARK, Palette
from digitmap_tui.selection import Cells, Span
from digitmap_tui.widgets.compat import GuardedWidget, line_spans

MARK_STYLE = Style(color="#000000", bgcolor="#ffdd00", bold=True)
HIGHLIGHT_STYLE = Style(color="#ffffff", bgcolor="#d62728", bold=True)
Cell = tuple[str, Style | None]


@dataclass(frozen=True, eq=False)
class MapFrame:
    """What the map shows. ``index`` is None until the first embedding is ready."""

    index: PointIndex | None = None
    view: Rect | None = None
    mode: str = "label"
    focus: frozenset[int] | None = None
    box: Rect | None = None
    mark: int | None = None
    highlight: np.ndarray | None = None
    placeholder: str = ""

    def base_key(self) -> tuple[object, ...]:
        """What the painted rows depend on (not the box, mark or highlight)."""
        return (id(self.index), self.view, self.mode, self.focus)


class MapView(GuardedWidget, can_focus=True):
    """The embedding as a coloured character map with the selection box drawn on it."""

    DEFAULT_CSS = """
    MapView { width: 1fr; height: 1fr; }
    """

    class BoxDrawn(Message):
        """The mouse drew a box over the cells ``(col0, row0)``–``(col1, row1)``."""

        def __init__(self, col0: int, row0: int, col1: int, row1: int) -> None:
            super().__init__()
            self.cells = (col0, row0, col1, row1)

    class Zoomed(Message):
        """The wheel asked to zoom by ``factor`` around the data point ``center``."""

        def __init__(self, factor: float, center: tuple[float, float]) -> None:
            super().__init__()
            self.factor = factor
            self.center = center

    def __init__(
        self, *, color: bool = True, id: str | None = None, interactive: bool = True
    ) -> None:
        super().__init__(id=id)
        self.color = color
        # A twin map shows another embedding: no box, no mouse.
        self.interactive = interactive
        self.can_focus = interactive
        self.frame = MapFrame()
        self.palette: Palette = DARK  # the theme's colours (set_palette)
        self._binned: BinnedMap | None = None
        self._painter: MapPainter | None = None
        self._painted: tuple[object, ...] | None = None  # (base key, size) painted
        self._generation = 0  # of the painted rows
        self._hl_cells: dict[int, frozenset[int]] = {}
        self._rows: LRUCache[tuple[int, int], list[Cell]] = LRUCache(1024)
        self._strips: LRUCache[tuple[int, int], Strip] = LRUCache(1024)
        self._drag_start: tuple[int, int] | None = None

    # ----- size and geometry -----------------------------------------------------------------
    @property
    def map_size(self) -> tuple[int, int]:
        return max(1, self.size.width), max(1, self.size.height)

    def cells(self) -> Cells | None:
        """The map's cells over the frame's view (as painted), or None before data."""
        if self.frame.view is None or self._binned is None:
            return None
        h, w = self._binned.shape
        return Cells(self.frame.view, max(1, w), max(1, h))

    def _span(self, frame: MapFrame) -> Span | None:
        cells = self.cells()
        if cells is None or frame.box is None or not self.interactive:
            return None
        return cells.span(frame.box)

    def _arrow(self, frame: MapFrame) -> tuple[int, int, str] | None:
        """Where a box out of view is pointed at: an arrow on the edge facing it."""
        cells = self.cells()
        if cells is None or frame.box is None or not self.interactive:
            return None
        if cells.span(frame.box) is not None:
            return None
        bx, by = frame.box.center
        v = cells.view
        col = int(np.clip((bx - v.x0) / v.width * cells.width, 0, cells.width - 1))
        row = int(np.clip((v.y1 - by) / v.height * cells.height, 0, cells.height - 1))
        return col, row, cells.direction_of(frame.box)

    def _mark_cell(self, frame: MapFrame) -> tuple[int, int] | None:
        cells = self.cells()
        if cells is None or frame.mark is None or frame.index is None:
            return None
        x, y = (float(v) for v in frame.index.xy[frame.mark])
        col, row = cell_of(np.array([[x, y]]), cells.view, cells.width, cells.height)
        c, r = int(col[0]), int(row[0])
        return (c, r) if 0 <= c < cells.width and 0 <= r < cells.height else None

    # ----- showing a frame ---------------------------------------------------------------------
    def show(self, frame: MapFrame) -> None:
        """Draw ``frame``, refreshing only what changed since the last one."""
        old = self.frame
        self.frame = frame
        if self._repaint_needed():
            self._paint()
            self.refresh()
            return
        if self._painter is None:
            self.refresh()
            return
        regions: list[Region] = []
        if frame.highlight is not old.highlight:
            before = self._hl_cells
            self._hl_cells = self._highlight_cells(frame)
            self._rows.clear()
            self._strips.clear()
            for y in sorted(set(before) | set(self._hl_cells)):
                changed = sorted(before.get(y, frozenset()) ^ self._hl_cells.get(y, frozenset()))
                regions += [Region(a, y, b - a, 1) for a, b in line_spans([(x, x + 1) for x in changed])]  # fmt: skip
        if (old.box, old.mark) != (frame.box, frame.mark):
            regions += self._overlay_change(old, frame)
        if regions:
            self.refresh(*regions)

    def set_palette(self, palette: Palette) -> None:
        """Draw in a theme's colours: the cached rows are painted again."""
        if palette == self.palette:
            return
        self.palette = palette
        if self._painter is not None:
            self._paint()
        self.refresh()

    def _repaint_needed(self) -> bool:
        frame = self.frame
        if frame.index is None or frame.view is None:
            return self._painter is not None
        return self._painted != (frame.base_key(), self.map_size, self.palette)

    def _paint(self) -> None:
        frame = self.frame
        self._rows.clear()
        self._strips.clear()
        self._generation += 1
        if frame.index is None or frame.view is None:
            self._binned = None
            self._painter = None
            self._painted = None
            self._hl_cells = {}
            return
        w, h = self.map_size
        self._binned = frame.index.bin(frame.view, w, h)
        self._painter = MapPainter(
            self._binned, frame.mode, frame.focus, self.color, palette=self.palette
        )
        self._painted = (frame.base_key(), (w, h), self.palette)
        self._hl_cells = self._highlight_cells(frame)

    def on_resize(self, event: events.Resize) -> None:
        if self._repaint_needed():
            self._paint()
        self.refresh()

    # ----- what changes when the box or the mark moves ------------------------------------------
    def _overlay_change(self, old: MapFrame, new: MapFrame) -> list[Region]:
        """The cells that look different once the box and the mark go from ``old`` to ``new``.

        Textual does not diff cells: whatever is refreshed is sent again. A one-cell move
        changes two columns and the corners, not the whole box, so the rows the boxes touch
        are compared cell by cell, as render_line draws them.
        """
        rows: set[int] = set()
        for frame in (old, new):
            span = self._span(frame)
            if span is not None:
                rows.update(span.rows)
            for extra in (self._arrow(frame), self._mark_cell(frame)):
                if extra is not None:
                    rows.add(extra[1])
        regions: list[Region] = []
        for y in sorted(rows):
            if self._binned is None or y >= self._binned.shape[0]:
                continue
            a = self._overlaid(old, y)
            b = self._overlaid(new, y)
            spans: list[tuple[int, int]] = []
            for x in range(min(len(a), len(b))):
                if a[x] != b[x]:
                    if spans and spans[-1][1] == x:
                        spans[-1] = (spans[-1][0], x + 1)
                    else:
                        spans.append((x, x + 1))
            regions += [Region(s, y, e - s, 1) for s, e in line_spans(spans)]
        return regions

    # ----- mouse -------------------------------------------------------------------------------
    def on_mouse_down(self, event: events.MouseDown) -> None:
        if self.frame.box is None or not self.interactive:
            return
        self._drag_start = (event.x, event.y)
        self.capture_mouse()
        self.post_message(self.BoxDrawn(event.x, event.y, event.x, event.y))

    def on_mouse_move(self, event: events.MouseMove) -> None:
        if self._drag_start is None or not event.button:
            return
        w, h = self.map_size
        x = min(max(event.x, 0), w - 1)
        y = min(max(event.y, 0), h - 1)
        self.post_message(self.BoxDrawn(*self._drag_start, x, y))

    def on_mouse_up(self, event: events.MouseUp) -> None:
        if self._drag_start is not None:
            self._drag_start = None
            self.release_mouse()

    def _data_at(self, x: int, y: int) -> tuple[float, float] | None:
        cells = self.cells()
        return None if cells is None else cells.center_of(x, y)

    def on_mouse_scroll_up(self, event: events.MouseScrollUp) -> None:
        event.stop()
        center = self._data_at(event.x, event.y)
        if center is not None and self.interactive:
            self.post_message(self.Zoomed(0.8, center))

    def on_mouse_scroll_down(self, event: events.MouseScrollDown) -> None:
        event.stop()
        center = self._data_at(event.x, event.y)
        if center is not None and self.interactive:
            self.post_message(self.Zoomed(1.25, center))

    # ----- Line API ----------------------------------------------------------------------------
    def _row_cells(self, y: int) -> list[Cell]:
        """Row ``y`` as painted, with highlighted points drawn on top."""
        key = (self._generation, y)
        cells = self._rows.get(key)
        if cells is None:
            assert self._painter is not None
            cells = self._painter.row_cells(y)
            cols = self._hl_cells.get(y)
            if cols:
                cells = list(cells)
                for c in cols:
                    ch, _ = cells[c]
                    cells[c] = (ch if ch.strip() else "!", HIGHLIGHT_STYLE)
            self._rows[key] = cells
        return cells

    def _highlight_cells(self, frame: MapFrame) -> dict[int, frozenset[int]]:
        """The columns holding a highlighted point, by row (one pass per frame)."""
        cells = self.cells()
        hl = frame.highlight
        if cells is None or hl is None or not len(hl) or frame.index is None:
            return {}
        col, row = cell_of(frame.index.xy[hl], cells.view, cells.width, cells.height)
        ok = (col >= 0) & (col < cells.width) & (row >= 0) & (row < cells.height)
        flat = np.unique(row[ok].astype(np.int64) * cells.width + col[ok].astype(np.int64))
        by_row: dict[int, set[int]] = {}
        for r, c in zip(*np.divmod(flat, cells.width), strict=True):
            by_row.setdefault(int(r), set()).add(int(c))
        return {r: frozenset(c) for r, c in by_row.items()}

    def _overlaid(self, frame: MapFrame, y: int) -> list[Cell]:
        """Row ``y`` with the box, the out-of-view arrow and the mark of ``frame`` on top."""
        cells = self._row_cells(y)
        span = self._span(frame)
        if span is not None and y in span.rows:
            corners = (
                not (span.cut_left or span.cut_top), not (span.cut_right or span.cut_top),
                not (span.cut_left or span.cut_bottom), not (span.cut_right or span.cut_bottom),
            )  # fmt: skip
            cells = overlay_box(
                cells, y, span.col, span.row, span.width, span.height, self.color, corners,
                self.palette,
            )  # fmt: skip
        arrow = self._arrow(frame)
        if arrow is not None and arrow[1] == y:
            cells = list(cells)
            cells[arrow[0]] = (arrow[2], box_styles(self.color, self.palette)[1])
        mark = self._mark_cell(frame)
        if mark is not None and mark[1] == y and frame.index is not None:
            cells = list(cells)
            labels = frame.index.labels
            ch = "◆" if labels is None else label_glyph(int(labels[frame.mark or 0]))
            cells[mark[0]] = (ch, MARK_STYLE)
        return cells

    def render_line(self, y: int) -> Strip:
        # Every cell on the theme's background and foreground (self.rich_style): an empty
        # cell left unstyled would show the terminal's own background, not the theme's.
        width = self.size.width
        frame = self.frame
        base = self.rich_style
        if self._painter is None or self._binned is None or y >= self._binned.shape[0]:
            if self._painter is None and frame.placeholder and y == self.size.height // 2:
                text = frame.placeholder[:width].center(width)
                return Strip(on_background([Segment(text, Style(dim=True))], base), width)
            return Strip.blank(width, base)
        span = self._span(frame)
        arrow = self._arrow(frame)
        mark = self._mark_cell(frame)
        plain = (
            (span is None or y not in span.rows)
            and (arrow is None or arrow[1] != y)
            and (mark is None or mark[1] != y)
        )
        if plain:
            key = (self._generation, y)
            strip = self._strips.get(key)
            if strip is None:
                strip = Strip(on_background(merge_cells(self._row_cells(y)), base), width)
                self._strips[key] = strip
            return strip
        return Strip(on_background(merge_cells(self._overlaid(frame, y)), base), width)

    def notify_style_update(self) -> None:
        # The theme's background is in the cached strips.
        super().notify_style_update()
        self._strips.clear()

    def get_content_width(self, container: Size, viewport: Size) -> int:
        return container.width

    def get_content_height(self, container: Size, viewport: Size, width: int) -> int:
        return container.height
