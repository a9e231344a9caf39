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
    POINTS_MODE,
    MapPainter,
    box_styles,
    merge_cells,
    on_background,
    overlay_box,
    points_size,
)
from digitmap_tui.palette import DARK, Palette
from digitmap_tui.selection import Cells, Span
from digitmap_tui.widgets.compat import GuardedWidget, line_spans
from digitmap_tui.widgets.theme import ThemedLines

MARK_STYLE = Style(color="#000000", bgcolor="#ffdd00", bold=True)
HIGHLIGHT_STYLE = Style(color="#ffffff", bgcolor="#d62728", bold=True)
Cell = tuple[str, Style | None]


@dataclass(frozen=True)
class Overlay:
    """Where a frame's box, out-of-view arrow and mark fall on the painted map."""

    span: Span | None = None
    corners: tuple[bool, bool, bool, bool] = (True, True, True, True)
    arrow: tuple[int, int, str] | None = None
    mark: tuple[int, int, str] | None = None  # column, row, glyph

    def rows(self) -> set[int]:
        rows = set(self.span.rows) if self.span is not None else set()
        for extra in (self.arrow, self.mark):
            if extra is not None:
                rows.add(extra[1])
        return rows

    def cols(self, y: int) -> tuple[int, int] | None:
        """The columns ``[start, stop)`` this overlay touches on row ``y``."""
        lo, hi = 1 << 30, -1
        span = self.span
        if span is not None and span.row <= y < span.row + span.height:
            lo, hi = span.col, span.col + span.width
        for extra in (self.arrow, self.mark):
            if extra is not None and extra[1] == y:
                lo, hi = min(lo, extra[0]), max(hi, extra[0] + 1)
        return (lo, hi) if hi > lo else None


NO_OVERLAY = Overlay()


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


class MapView(ThemedLines, GuardedWidget, can_focus=True):
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
        self,
        *,
        color: bool = True,
        id: str | None = None,
        interactive: bool = True,
        braille: bool = True,
    ) -> None:
        super().__init__(id=id)
        self.color = color
        # The points mode draws braille dots; the ASCII-only Linux console cannot.
        self.braille = braille
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
        self._overlay: tuple[MapFrame, tuple[int, int], Overlay] | None = None

    @property
    def drawn_mode(self) -> str:
        """The mode as drawn: ``points`` is drawn as ``label`` without braille or colour."""
        return self._painter.mode if self._painter is not None else self.frame.mode

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

    def overlay(self, frame: MapFrame | None = None) -> Overlay:
        """Where ``frame``'s box, arrow and mark fall on the painted map (computed once per
        frame and size: render_line asks for every row)."""
        frame = self.frame if frame is None else frame
        cached = self._overlay
        size = self._binned.shape if self._binned is not None else (0, 0)
        if cached is not None and cached[0] is frame and cached[1] == size:
            return cached[2]
        cells = self.cells()
        if cells is None:
            return NO_OVERLAY
        span = arrow = mark = None
        corners = (True, True, True, True)
        if frame.box is not None and self.interactive:
            span = cells.span(frame.box)
            if span is not None:
                corners = (
                    not (span.cut_left or span.cut_top), not (span.cut_right or span.cut_top),
                    not (span.cut_left or span.cut_bottom), not (span.cut_right or span.cut_bottom),
                )  # fmt: skip
            else:
                bx, by = frame.box.center
                v = cells.view
                col = int(np.clip((bx - v.x0) / v.width * cells.width, 0, cells.width - 1))
                row = int(np.clip((v.y1 - by) / v.height * cells.height, 0, cells.height - 1))
                arrow = (col, row, cells.direction_of(frame.box))
        if frame.mark is not None and frame.index is not None:
            x, y = (float(v) for v in frame.index.xy[frame.mark])
            cols, rows = cell_of(np.array([[x, y]]), cells.view, cells.width, cells.height)
            c, r = int(cols[0]), int(rows[0])
            if 0 <= c < cells.width and 0 <= r < cells.height:
                labels = frame.index.labels
                glyph = "◆" if labels is None else label_glyph(int(labels[frame.mark]))
                mark = (c, r, glyph)
        found = Overlay(span, corners, arrow, mark)
        if frame is self.frame:
            self._overlay = (frame, size, found)
        return found

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
        index = frame.index
        self._binned = index.bin(frame.view, w, h)
        # The points mode bins the same points 2x4 finer: one braille dot per sub-cell.
        fine = index.bin(frame.view, *points_size(w, h)) if frame.mode == POINTS_MODE else None
        self._painter = MapPainter(
            self._binned,
            frame.mode,
            frame.focus,
            self.color,
            fine=fine,
            braille=self.braille,
            n_labels=index.n_labels,
            mark_minorities=True,  # cells holding other labels' points say so
            palette=self.palette,
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
        changes two columns and the corners, not the whole box, so only the columns the two
        overlays touch are compared, cell by cell, as render_line draws them.
        """
        if self._binned is None:
            return []
        a_geo, b_geo = self.overlay(old), self.overlay(new)
        if a_geo.mark == b_geo.mark and a_geo.arrow is None and b_geo.arrow is None:
            return self._box_change(a_geo.span, b_geo.span, a_geo.corners, b_geo.corners)
        regions: list[Region] = []
        height, width = self._binned.shape
        for y in sorted(a_geo.rows() | b_geo.rows()):
            if y >= height:
                continue
            ranges = [r for r in (a_geo.cols(y), b_geo.cols(y)) if r is not None]
            x0 = max(0, min(r[0] for r in ranges))
            x1 = min(width, max(r[1] for r in ranges))
            base = self._row_cells(y)
            a = self._overlaid_range(a_geo, base, y, x0, x1)
            b = self._overlaid_range(b_geo, base, y, x0, x1)
            spans: list[tuple[int, int]] = []
            for i, (ca, cb) in enumerate(zip(a, b, strict=True)):
                if ca != cb:
                    x = x0 + i
                    if spans and spans[-1][1] == x:
                        spans[-1] = (spans[-1][0], x + 1)
                    else:
                        spans.append((x, x + 1))
            regions += [Region(s, y, e - s, 1) for s, e in line_spans(spans)]
        return regions

    def _box_change(
        self,
        a: Span | None,
        b: Span | None,
        a_corners: tuple[bool, bool, bool, bool],
        b_corners: tuple[bool, bool, bool, bool],
    ) -> list[Region]:
        """The cells a box move changes, without drawing anything: the cells inside exactly
        one of the two boxes (tinted or not), and both boxes' corner cells."""
        height = self._binned.shape[0] if self._binned is not None else 0
        changed: dict[int, set[int]] = {}
        for span, other in ((a, b), (b, a)):
            if span is None:
                continue
            for y in span.rows:
                inside = set(span.cols)
                if other is not None and y in other.rows:
                    inside -= set(other.cols)
                changed.setdefault(y, set()).update(inside)
        for span, corners in ((a, a_corners), (b, b_corners)):
            if span is None or span.width < 2 or span.height < 2:
                continue
            last_col, last_row = span.col + span.width - 1, span.row + span.height - 1
            for k, (x, y) in enumerate(
                (
                    (span.col, span.row),
                    (last_col, span.row),
                    (span.col, last_row),
                    (last_col, last_row),
                )
            ):
                if corners[k]:
                    changed.setdefault(y, set()).add(x)
        regions: list[Region] = []
        for y, xs in sorted(changed.items()):
            if y >= height or not xs:
                continue
            spans: list[tuple[int, int]] = []
            for x in sorted(xs):
                if spans and spans[-1][1] == x:
                    spans[-1] = (spans[-1][0], x + 1)
                else:
                    spans.append((x, x + 1))
            regions += [Region(x0, y, x1 - x0, 1) for x0, x1 in line_spans(spans)]
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

    def _overlaid_range(
        self, geo: Overlay, base: list[Cell], y: int, x0: int, x1: int
    ) -> list[Cell]:
        """Cells ``[x0, x1)`` of row ``y`` with the overlay ``geo`` drawn on ``base``."""
        cells = base[x0:x1]
        span = geo.span
        if span is not None and span.row <= y < span.row + span.height:
            cells = overlay_box(
                cells, y, span.col - x0, span.row, span.width, span.height, self.color,
                geo.corners, self.palette,
            )  # fmt: skip
        for extra, style in ((geo.arrow, None), (geo.mark, MARK_STYLE)):
            if extra is not None and extra[1] == y and x0 <= extra[0] < x1:
                if style is None:
                    style = box_styles(self.color, self.palette)[1]
                cells = list(cells)
                cells[extra[0] - x0] = (extra[2], style)
        return cells

    def render_line(self, y: int) -> Strip:
        # Every cell on the theme's background and foreground (self.line_style): an empty
        # cell left unstyled would show the terminal's own background, not the theme's.
        width = self.size.width
        frame = self.frame
        base = self.line_style
        if self._painter is None or self._binned is None or y >= self._binned.shape[0]:
            if self._painter is None and frame.placeholder and y == self.size.height // 2:
                text = frame.placeholder[:width].center(width)
                return Strip(on_background([Segment(text, Style(dim=True))], base), width)
            return Strip.blank(width, base)
        geo = self.overlay()
        key = (self._generation, y)
        strip = self._strips.get(key)
        if strip is None:
            strip = Strip(on_background(merge_cells(self._row_cells(y)), base), width)
            self._strips[key] = strip
        touched = geo.cols(y)
        if touched is None:
            return strip
        # Only the overlay's columns are drawn anew; the rest of the row is the cached strip,
        # cut around them (a box row costs its box's width, not the map's).
        x0, x1 = touched
        cells = self._row_cells(y)
        x0, x1 = max(0, x0), min(len(cells), x1)
        overlaid = self._overlaid_range(geo, cells, y, x0, x1)
        middle = Strip(on_background(merge_cells(overlaid), base), x1 - x0)
        parts = [strip.crop(0, x0), middle, strip.crop(x1, len(cells))]
        return Strip.join(part for part in parts if part.cell_length)

    def notify_style_update(self) -> None:
        # The theme's background is in the cached strips.
        super().notify_style_update()
        self._strips.clear()

    def get_content_width(self, container: Size, viewport: Size) -> int:
        return container.width

    def get_content_height(self, container: Size, viewport: Size, width: int) -> int:
        return container.height
