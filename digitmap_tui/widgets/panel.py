"""The image panel: the box's images as tiles (grid or list mode) through the Line API.

Tiles are rendered once per (point, glyph style, width) and cached; when the selection
changes, only the tiles whose point changed (and the header lines) are refreshed, which is
what keeps a box move cheap over SSH.
"""

from __future__ import annotations

import numpy as np
from rich.cells import cell_len
from rich.segment import Segment
from rich.style import Style
from textual import events
from textual.cache import LRUCache
from textual.geometry import Region
from textual.message import Message
from textual.strip import Strip
from textual.widget import Widget

from digitmap_tui.glyphs import TileCache, blank_tile, label_style, tile_segments
from digitmap_tui.grid import EMPTY
from digitmap_tui.panelplan import PanelPlan
from digitmap_tui.widgets.compat import line_spans

HEADER_LINES = 3
HEADER_STYLE = Style(bold=True)
DIM = Style(dim=True)
MARK_STYLE = Style(color="#000000", bgcolor="#ffdd00", bold=True)


class ImagePanel(Widget):
    """Tiles of the images in the selection box, with count and label histogram above."""

    DEFAULT_CSS = """
    ImagePanel { height: 1fr; }
    """

    class Resized(Message):
        """The panel has a new size: what fits in it must be planned again."""

    def on_resize(self, event: events.Resize) -> None:
        # The screen's own resize can come before the panel's layout (e.g. under a dialog),
        # when the plan would still be made for the old size.
        self.post_message(self.Resized())

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.images: np.ndarray | None = None
        self.labels: np.ndarray | None = None
        self.value_range = (0.0, 1.0)
        self.style_name = "blocks"
        self.color = True
        self.tile_cols = 8
        self.tile_rows = 4  # image rows, the header line comes on top
        self.content = PanelPlan(np.zeros((0, 0), dtype=np.int64), "", ())
        self._tiles: TileCache | None = None
        self._blank: list[list[Segment]] = []
        # Keyed by the content object itself (not its id(), which a later content may reuse).
        self._custom: LRUCache[tuple[PanelPlan, int], list[list[Segment]]] = LRUCache(256)

    def configure(
        self,
        images: np.ndarray,
        labels: np.ndarray | None,
        value_range: tuple[float, float],
        style_name: str,
        color: bool,
        tile_cols: int,
        tile_rows: int,
    ) -> None:
        self.images = images
        self.labels = labels
        self.value_range = value_range
        self.style_name = style_name
        self.color = color
        self.tile_cols = tile_cols
        self.tile_rows = tile_rows
        self._tiles = TileCache(images, labels, value_range, maxsize=4096)
        self._blank = blank_tile(tile_cols, tile_rows + 1)
        self.refresh()

    def set_labels(self, labels: np.ndarray | None, flags: dict[int, str] | None = None) -> None:
        """Labels corrected in a review, and the tiles' review marks by point; redraws."""
        self.labels = labels
        if self._tiles is not None:
            self._tiles.set_labels(labels, flags)
        self.refresh()

    def tile_at(self, index: int, cols: int) -> list[list[Segment]]:
        """Point ``index``'s tile ``cols`` wide, in the panel's style (e.g. for a side pane)."""
        assert self._tiles is not None, "configure() first"
        return self._tiles.get(index, self.style_name, cols, self.color)

    def resize_tiles(self, tile_cols: int, tile_rows: int) -> None:
        """A new tile size (the panel got wider or narrower, the grid changed)."""
        if (tile_cols, tile_rows) == (self.tile_cols, self.tile_rows):
            return
        self.tile_cols = tile_cols
        self.tile_rows = tile_rows
        self._blank = blank_tile(tile_cols, tile_rows + 1)
        self._custom.clear()
        self.refresh()

    @property
    def slot_height(self) -> int:
        return self.tile_rows + 1

    def fit(self) -> tuple[int, int]:
        """How many tile rows and columns fit in the panel now."""
        cols = max(1, (self.size.width + 1) // (self.tile_cols + 1))
        rows = max(1, (self.size.height - HEADER_LINES) // self.slot_height)
        return rows, cols

    def show(self, content: PanelPlan) -> None:
        """Show new content, refreshing only the cells that look different.

        Textual does not diff cells, so every refreshed cell goes over the wire again: the
        header lines and the lines of changed tiles are compared cell by cell with what is
        on screen, and only the differing stretches are refreshed.
        """
        old = self.content
        self.content = content
        if old.slots.shape != content.slots.shape or old.custom or content.custom:
            self.refresh()
            return
        regions: list[Region] = []
        for y in range(HEADER_LINES):
            spans = _changed_spans(self._header_of(old, y), self._header_of(content, y), 0)
            regions += _line_regions(y, spans)
        changed = old.slots != content.slots
        for mark in {old.mark, content.mark} - {None} if old.mark != content.mark else ():
            changed |= (old.slots == mark) | (content.slots == mark)
        step = self.tile_cols + 1
        for r in np.flatnonzero(changed.any(axis=1)).tolist():
            cols = np.flatnonzero(changed[r]).tolist()
            before = [self._slot_tile(int(old.slots[r, c]), old) for c in cols]
            after = [self._slot_tile(int(content.slots[r, c]), content) for c in cols]
            for line in range(self.slot_height):
                spans = []
                for c, a, b in zip(cols, before, after, strict=True):
                    spans += _changed_spans(a[line], b[line], c * step)
                regions += _line_regions(HEADER_LINES + r * self.slot_height + line, spans)
        if regions:
            self.refresh(*regions)

    def _slot_tile(self, index: int, content: PanelPlan | None = None) -> list[list[Segment]]:
        """The lines of the tile a slot holds (a blank tile for an empty slot)."""
        content = self.content if content is None else content
        if index == EMPTY:
            return self._blank
        if index < EMPTY:
            return self.custom_tile(-2 - index)
        lines = self.tile(index)
        if index == content.mark:
            # The marked point's header on the mark's colour, as on the map.
            header = "".join(seg.text for seg in lines[0])
            lines = [[Segment(header, MARK_STYLE)], *lines[1:]]
        return lines

    def tile(self, index: int) -> list[list[Segment]]:
        assert self._tiles is not None, "configure() first"
        return self._tiles.get(index, self.style_name, self.tile_cols, self.color)

    def custom_tile(self, i: int) -> list[list[Segment]]:
        """A tile for ``content.custom[i]``: its own image under its own header text."""
        image, header = self.content.custom[i]
        key = (self.content, i)
        lines = self._custom.get(key)
        if lines is None:
            lines = tile_segments(
                image,
                index=None,
                label=None,
                style=self.style_name,
                value_range=self.value_range,
                cols=self.tile_cols,
                color=self.color,
            )
            lines = [[Segment(header[: self.tile_cols].ljust(self.tile_cols), DIM)], *lines[1:]]
            self._custom[key] = lines
        return lines

    def _header_line(self, y: int) -> list[Segment]:
        return self._header_of(self.content, y)

    def _header_of(self, c: PanelPlan, y: int) -> list[Segment]:
        if y == 0:
            return [Segment(c.title, HEADER_STYLE)]
        if y == 1:
            segs: list[Segment] = []
            for label, count in c.histogram:
                segs.append(Segment(f"{label}", label_style(label) if self.color else None))
                segs.append(Segment(f":{count} "))
            return segs
        return [Segment(c.note, DIM)] if c.note else []

    def render_line(self, y: int) -> Strip:
        width = self.size.width
        if y < HEADER_LINES:
            return Strip(self._header_line(y)).adjust_cell_length(width).crop(0, width)
        slots = self.content.slots
        row, line = divmod(y - HEADER_LINES, self.slot_height)
        if self.images is None or row >= slots.shape[0]:
            return Strip.blank(width)
        segs: list[Segment] = []
        for col in range(slots.shape[1]):
            if col:
                segs.append(Segment(" "))
            segs.extend(self._slot_tile(int(slots[row, col]))[line])
        return Strip(Segment.simplify(segs)).adjust_cell_length(width).crop(0, width)


def _cells(segments: list[Segment]) -> list[tuple[str, Style | None]] | None:
    """One (character, style) per cell, or None when a character is not one cell wide."""
    cells: list[tuple[str, Style | None]] = []
    for segment in segments:
        text = segment.text
        if not text.isascii() and cell_len(text) != len(text):
            return None
        style = segment.style
        cells += [(ch, style) for ch in text]
    return cells


def _changed_spans(old: list[Segment], new: list[Segment], offset: int) -> list[tuple[int, int]]:
    """Stretches ``[start, end)`` (plus ``offset``) where two lines of segments differ."""
    if old == new:
        return []
    a = _cells(old)
    b = _cells(new)
    if a is None or b is None:  # wide characters: compare the whole lines
        return [
            (offset, offset + max(cell_len("".join(s.text for s in line)) for line in (old, new)))
        ]
    blank = (" ", None)
    n = max(len(a), len(b))
    a += [blank] * (n - len(a))
    b += [blank] * (n - len(b))
    spans: list[tuple[int, int]] = []
    start = -1
    for x in range(n):
        if a[x] != b[x]:
            if start < 0:
                start = x
        elif start >= 0:
            spans.append((offset + start, offset + x))
            start = -1
    if start >= 0:
        spans.append((offset + start, offset + n))
    return spans


def _line_regions(y: int, spans: list[tuple[int, int]]) -> list[Region]:
    """Regions for the changed stretches of line ``y`` (see :func:`compat.line_spans`)."""
    return [Region(a, y, b - a, 1) for a, b in line_spans(spans)]
