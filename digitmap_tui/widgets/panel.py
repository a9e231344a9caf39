"""The image panel: the box's images as tiles (grid or list mode) through the Line API.

Tiles are rendered once per (point, glyph style, width) and cached; when the selection
changes, only the tiles whose point changed (and the header lines) are refreshed, which is
what keeps a box move cheap over SSH.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from rich.segment import Segment
from rich.style import Style
from textual.cache import LRUCache
from textual.geometry import Region
from textual.strip import Strip
from textual.widget import Widget

from digitmap_tui.glyphs import blank_tile, label_style, tile_segments
from digitmap_tui.grid import EMPTY

HEADER_LINES = 3
HEADER_STYLE = Style(bold=True)
DIM = Style(dim=True)


@dataclass(frozen=True, eq=False)
class PanelContent:
    """What the panel shows: a slot grid of point indices (-1 = blank) and header text."""

    slots: np.ndarray  # (rows, cols) int64; -1 blank, <= -2 the custom tile -2 - v
    title: str
    histogram: tuple[tuple[int, int], ...]  # (label, count), most common first
    note: str = ""
    #: Tiles that are not dataset points (mean images …): (image, header text).
    custom: tuple[tuple[np.ndarray, str], ...] = ()


class ImagePanel(Widget):
    """Tiles of the images in the selection box, with count and label histogram above."""

    DEFAULT_CSS = """
    ImagePanel { height: 1fr; }
    """

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.images: np.ndarray | None = None
        self.labels: np.ndarray | None = None
        self.value_range = (0.0, 1.0)
        self.style_name = "blocks"
        self.color = True
        self.tile_cols = 8
        self.tile_rows = 4  # image rows, the header line comes on top
        self.content = PanelContent(np.zeros((0, 0), dtype=np.int64), "", ())
        self._tiles: LRUCache[tuple[int, str, int], list[list[Segment]]] = LRUCache(4096)
        self._blank: list[list[Segment]] = []
        self._custom: LRUCache[tuple[int, int], list[list[Segment]]] = LRUCache(256)

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
        self._tiles.clear()
        self._blank = blank_tile(tile_cols, tile_rows + 1)
        self.refresh()

    @property
    def slot_height(self) -> int:
        return self.tile_rows + 1

    def fit(self) -> tuple[int, int]:
        """How many tile rows and columns fit in the panel now."""
        cols = max(1, (self.size.width + 1) // (self.tile_cols + 1))
        rows = max(1, (self.size.height - HEADER_LINES) // self.slot_height)
        return rows, cols

    def show(self, content: PanelContent) -> None:
        """Show new content, refreshing only the header and the tiles that changed."""
        old = self.content
        self.content = content
        if old.slots.shape != content.slots.shape or old.custom or content.custom:
            self.refresh()
            return
        regions = []
        if (old.title, old.histogram, old.note) != (content.title, content.histogram, content.note):
            regions.append(Region(0, 0, self.size.width, HEADER_LINES))
        changed = np.argwhere(old.slots != content.slots)
        for r, c in changed:
            regions.append(
                Region(
                    int(c) * (self.tile_cols + 1),
                    HEADER_LINES + int(r) * self.slot_height,
                    self.tile_cols,
                    self.slot_height,
                )
            )
        if regions:
            self.refresh(*regions)

    def tile(self, index: int) -> list[list[Segment]]:
        key = (index, self.style_name, self.tile_cols)
        lines = self._tiles.get(key)
        if lines is None:
            assert self.images is not None
            label = None if self.labels is None else int(self.labels[index])
            lines = tile_segments(
                self.images[index],
                index=index,
                label=label,
                style=self.style_name,
                value_range=self.value_range,
                cols=self.tile_cols,
                color=self.color,
            )
            self._tiles[key] = lines
        return lines

    def custom_tile(self, i: int) -> list[list[Segment]]:
        """A tile for ``content.custom[i]``: its own image under its own header text."""
        image, header = self.content.custom[i]
        key = (id(self.content), i)
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
        c = self.content
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
            index = int(slots[row, col])
            if index == EMPTY:
                tile = self._blank
            elif index < EMPTY:
                tile = self.custom_tile(-2 - index)
            else:
                tile = self.tile(index)
            segs.extend(tile[line])
        return Strip(Segment.simplify(segs)).adjust_cell_length(width).crop(0, width)
