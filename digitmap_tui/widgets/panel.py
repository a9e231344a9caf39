"""The image panel: the box's images as tiles (grid or list mode) through the Line API.

Tiles are rendered once per (point, glyph style, width, scale) and cached; when the
selection changes, only the tiles whose point changed (and the header lines) are
refreshed, which is what keeps a box move cheap over SSH. Tiles are sized by
:func:`~digitmap_tui.glyphs.fit_tiles` so a grid fits without cutting an image.

True pixels (``protocol`` kitty or sixel): each tile's image area is blank cells, and the
last line of a row of tiles ends in a zero-width control segment that, for each tile,
moves the cursor to its image area's top-left corner, draws the image there with the
protocol and moves the cursor back (the way textual-image's sixel widget injects its
data). It sits at the very end of the line, after every visible cell, so Textual's crops
and cuts never count its bytes as cells; a row that changes is refreshed in whole lines.
Sixel pictures are drawn after their cells' text, which would erase them. Kitty images
are placed under the text (a notification over the panel stays readable), with one image
id per panel slot: the slot's next image replaces it, an empty slot deletes it, and a new
layout, a dialog over the screen or the end of the app delete them all.
"""

from __future__ import annotations

import os

import numpy as np
from rich.cells import cell_len
from rich.segment import ControlType, Segment
from rich.style import Style
from textual import events
from textual.cache import LRUCache
from textual.dom import NoScreen
from textual.geometry import Region
from textual.message import Message
from textual.strip import Strip
from textual.widget import Widget

from digitmap_tui import pixels
from digitmap_tui.glyphs import (
    HEADER_ROWS,
    TileCache,
    blank_tile,
    fit_tiles,
    palette_label_style,
    tile_segments,
)
from digitmap_tui.grid import EMPTY
from digitmap_tui.palette import DARK, Palette
from digitmap_tui.panelplan import PanelPlan
from digitmap_tui.text import safe
from digitmap_tui.widgets import compat
from digitmap_tui.widgets.compat import line_spans
from digitmap_tui.widgets.theme import ThemedLines

HEADER_LINES = 3
HEADER_STYLE = Style(bold=True)
DIM = Style(dim=True)
MARK_STYLE = Style(color="#000000", bgcolor="#ffdd00", bold=True)
#: Kitty image ids of the panel's slots: BASE + row * 256 + column.
KITTY_ID_BASE = 0x44_0000
#: A zero-width segment: its bytes go to the terminal, no cell is counted for them.
_ZERO_WIDTH = ((ControlType.CURSOR_FORWARD, 0),)
#: Columns at the panel's left edge (its border and padding) that grab it for resizing.
GRIP = 2


class ImagePanel(ThemedLines, Widget):
    """Tiles of the images in the selection box, with count and label histogram above."""

    DEFAULT_CSS = """
    ImagePanel { height: 1fr; }
    """

    class BorderDragged(Message):
        """The mouse dragged the panel's left border: make it ``width`` columns wide
        (``done``: the button was released)."""

        def __init__(self, width: int, done: bool) -> None:
            super().__init__()
            self.width = width
            self.done = done

    class Resized(Message):
        """The panel has a new size: what fits in it must be planned again."""

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.images: np.ndarray | None = None
        self.labels: np.ndarray | None = None
        self.label_names: tuple[str, ...] | None = None
        self.value_range = (0.0, 1.0)
        self.style_name = "blocks"
        self.color = True
        self.scale = 1
        self.tile_cols = 8
        self.tile_rows = 4  # image rows, the header line comes on top
        self.palette: Palette = DARK  # the theme's colours for labels (set_palette)
        self.content = PanelPlan(np.zeros((0, 0), dtype=np.int64), "", ())
        self._tiles: TileCache | None = None
        self._blank: list[list[Segment]] = []
        # Keyed by the content object itself (not its id(), which a later content may reuse).
        self._custom: LRUCache[tuple[PanelPlan, int], list[list[Segment]]] = LRUCache(256)
        # The grid rows and columns shown, as fit_tiles found them (None: list mode).
        self._grid_fit: tuple[int, int] | None = None
        # True pixels: the protocol, the cell size in pixels, tmux's passthrough.
        self.protocol = "blocks"
        self.cell_px = pixels.DEFAULT_CELL_PX
        self.tmux = False
        self._sequences: LRUCache[tuple[object, ...], str] = LRUCache(1024)
        self._drag = False

    def configure(
        self,
        images: np.ndarray,
        labels: np.ndarray | None,
        value_range: tuple[float, float],
        style_name: str,
        color: bool,
        tile_cols: int,
        tile_rows: int,
        *,
        label_names: tuple[str, ...] | None = None,
        scale: int = 1,
        protocol: str = "blocks",
    ) -> None:
        """The dataset's images and how to draw them; ``protocol`` kitty or sixel draws
        their pixels (:mod:`digitmap_tui.pixels`), anything else half blocks or shades."""
        self.images = images
        self.labels = labels
        self.label_names = label_names
        self.value_range = value_range
        self.style_name = style_name
        self.color = color
        self.scale = scale
        self.tile_cols = tile_cols
        self.tile_rows = tile_rows
        self.protocol = protocol if protocol in ("kitty", "sixel") else "blocks"
        self.tmux = self.protocol == "kitty" and bool(os.environ.get("TMUX"))
        if self.pixels:
            self.cell_px = pixels.cell_pixels()
        self._tiles = TileCache(
            images, labels, value_range, maxsize=4096, label_names=label_names,
            palette=self.palette,
        )  # fmt: skip
        self._blank = blank_tile(tile_cols, tile_rows + 1)
        self._clear_kitty()
        self.refresh()

    @property
    def pixels(self) -> bool:
        """Whether tiles are drawn with true pixels."""
        return self.protocol != "blocks"

    def set_scale(self, scale: int) -> None:
        """Images enlarged ``scale`` times (then shrunk to fit)."""
        if scale != self.scale:
            self.scale = scale
            self._custom.clear()
            self.refresh()

    def set_palette(self, palette: Palette) -> None:
        """Labels in a theme's colours: the tiles are drawn again (their headers change)."""
        if palette == self.palette:
            return
        self.palette = palette
        if self.images is not None:
            self._tiles = TileCache(
                self.images, self.labels, self.value_range, maxsize=4096,
                label_names=self.label_names, palette=palette,
            )  # fmt: skip
        self._custom.clear()
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
        self.refresh()  # every slot's kitty image is sent again, replacing the old one

    @property
    def slot_height(self) -> int:
        return self.tile_rows + 1

    def fit_grid(self, grid: tuple[int, int] | None, max_cols: int) -> None:
        """Size the tiles for a ``rows x cols`` grid (None: list mode, as many as fit): as
        large as the scale asks, at most ``max_cols`` wide, shrunk (never cut) until the
        grid fits (:func:`~digitmap_tui.glyphs.fit_tiles`); the grid rows and columns that
        do not fit even then are left out of :meth:`fit`."""
        if self.images is None:
            return
        rows, cols = (1, 1) if grid is None else grid
        tile_cols, tile_rows, hidden_rows, hidden_cols = fit_tiles(
            self.images.shape[1:3], self.size.width, self.size.height - HEADER_LINES,
            rows, cols, self.style_name, self.scale, max_cols=max_cols,
        )  # fmt: skip
        self.resize_tiles(tile_cols, tile_rows)
        self._grid_fit = None if grid is None else (rows - hidden_rows, cols - hidden_cols)

    def fit(self) -> tuple[int, int]:
        """How many tile rows and columns are shown: of a grid, what :meth:`fit_grid` found;
        in list mode, as many as fit in the panel now."""
        if self._grid_fit is not None:
            return self._grid_fit
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
            self._clear_kitty()
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
        if self.pixels:
            regions += self._pixel_regions(changed)
            if regions:
                self.refresh(*regions)
            return
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
            lines = self.custom_tile(-2 - index, content)
            return [lines[0], *self._blank[HEADER_ROWS:]] if self.pixels else lines
        lines = self.tile(index)
        if self.pixels:  # the picture comes with the line's end (see _placements)
            lines = [lines[0], *self._blank[HEADER_ROWS:]]
        if index == content.mark:
            # The marked point's header on the mark's colour, as on the map.
            header = "".join(seg.text for seg in lines[0])
            lines = [[Segment(header, MARK_STYLE)], *lines[1:]]
        return lines

    def tile(self, index: int) -> list[list[Segment]]:
        assert self._tiles is not None, "configure() first"
        return self._tiles.get(index, self.style_name, self.tile_cols, self.color, self.scale)

    def custom_tile(self, i: int, content: PanelPlan | None = None) -> list[list[Segment]]:
        """A tile for ``content.custom[i]``: its own image under its own header text."""
        content = self.content if content is None else content
        image, header = content.custom[i]
        key = (content, i)
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
                scale=self.scale,
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
            return histogram_segments(c.histogram, self.label_names, self.color, self.palette)
        return [Segment(c.note, DIM)] if c.note else []

    def render_line(self, y: int) -> Strip:
        # On the theme's background and foreground (unstyled cells would show the terminal's).
        width = self.size.width
        base = self.line_style
        if y < HEADER_LINES:
            strip = Strip(self._header_line(y)).adjust_cell_length(width).crop(0, width)
            return strip.apply_style(base)
        slots = self.content.slots
        row, line = divmod(y - HEADER_LINES, self.slot_height)
        if self.images is None or row >= slots.shape[0]:
            return Strip.blank(width, base)
        segs: list[Segment] = []
        for col in range(slots.shape[1]):
            if col:
                segs.append(Segment(" "))
            segs.extend(self._slot_tile(int(slots[row, col]))[line])
        strip = Strip(Segment.simplify(segs)).adjust_cell_length(width).crop(0, width)
        strip = strip.apply_style(base)
        if self.pixels and line == self.slot_height - 1:
            placed = self._placements(row, y)
            if placed:
                strip = Strip([*strip, Segment(placed, None, _ZERO_WIDTH)], width)
        return strip

    # ----- true pixels ---------------------------------------------------------------------------
    def _pixel_regions(self, changed: np.ndarray) -> list[Region]:
        """Whole lines of the tile rows that changed: the pictures are sent with the end of
        each row's last line (an emptied slot's kitty image is deleted there), which a
        cropped refresh would leave out."""
        width = self.size.width
        return [
            Region(0, HEADER_LINES + r * self.slot_height, width, self.slot_height)
            for r in np.flatnonzero(changed.any(axis=1)).tolist()
        ]

    def _kitty_id(self, row: int, col: int) -> int:
        return KITTY_ID_BASE + row * 256 + col

    def _clear_kitty(self) -> None:
        """Delete every kitty image now, between frames: the layout changed, and the full
        refresh that follows draws the new ones (a sixel picture is simply drawn over)."""
        if self.protocol == "kitty" and self.is_mounted:
            compat.write_raw(self.app, pixels.kitty_delete(None, self.tmux))

    def hide_pixels(self) -> None:
        """Take the pictures off the screen (a dialog covers the panel, the app ends); the
        lines drawn next carry them again when the panel is on the screen on top."""
        if self.pixels:
            self._clear_kitty()
            self.refresh()  # no line drawn from before may bring a picture back

    def _placements(self, row: int, y: int) -> str:
        """The pictures of tile row ``row``, for the end of its last line ``y``."""
        try:
            if not self.screen.is_active:
                return ""  # under a dialog: nothing may be drawn over it
        except NoScreen:
            return ""
        region = self.content_region
        top = region.y + HEADER_LINES + row * self.slot_height + HEADER_ROWS
        back = (region.x + self.size.width, region.y + y)
        slots = self.content.slots
        out = []
        kitty = self.protocol == "kitty"
        for col in range(slots.shape[1]):
            index = int(slots[row, col])
            ident = self._kitty_id(row, col)
            if index == EMPTY:
                if kitty:  # whatever the slot held goes (a few bytes, harmless if nothing)
                    out.append(pixels.kitty_delete(ident, self.tmux))
                continue
            at = (region.x + col * (self.tile_cols + 1), top)
            out.append(pixels.placed(self._sequence(index, ident), at, back))
        return "".join(out)

    def _sequence(self, index: int, ident: int) -> str:
        """The escape sequence of slot content ``index`` (a point, or a custom tile)."""
        content = self.content
        source: object = index if index >= 0 else (content, -2 - index)
        kitty = self.protocol == "kitty"
        key = (source, self.protocol, self.tile_cols, self.tile_rows, self.cell_px,
               ident if kitty else 0)  # fmt: skip
        sequence = self._sequences.get(key)
        if sequence is None:
            assert self.images is not None
            image = self.images[index] if index >= 0 else content.custom[-2 - index][0]
            sequence = pixels.encode(
                np.asarray(image), self.protocol, self.tile_cols, self.tile_rows,
                value_range=self.value_range, cell_px=self.cell_px,
                image_id=ident if kitty else None, tmux=self.tmux, z=-1 if kitty else None,
            )  # fmt: skip
            self._sequences[key] = sequence
        return sequence

    def on_resize(self, event: events.Resize) -> None:
        if self.pixels:  # a new font size comes with a resize
            self.cell_px = pixels.cell_pixels()
        # The screen's own resize can come before the panel's layout (e.g. under a dialog),
        # when the plan would still be made for the old size.
        self.post_message(self.Resized())

    # ----- the border: drag to resize ------------------------------------------------------------
    def on_mouse_down(self, event: events.MouseDown) -> None:
        if event.x < GRIP:
            self._drag = True
            self.capture_mouse()
            event.stop()

    def on_mouse_move(self, event: events.MouseMove) -> None:
        if self._drag and event.button:
            self.post_message(self.BorderDragged(self._width_at(event.screen_x), False))

    def on_mouse_up(self, event: events.MouseUp) -> None:
        if self._drag:
            self._drag = False
            self.release_mouse()
            self.post_message(self.BorderDragged(self._width_at(event.screen_x), True))

    def _width_at(self, screen_x: float) -> int:
        """The panel's width with its left border at screen column ``screen_x``."""
        return int(self.region.right - int(screen_x))


def histogram_segments(
    histogram: tuple[tuple[int, int], ...],
    names: tuple[str, ...] | None,
    color: bool,
    palette: Palette | None = None,
) -> list[Segment]:
    """``7:11 3:1``: labels (class names, escaped, when known) by count, in their colours."""
    segs: list[Segment] = []
    for label, count in histogram:
        name = safe(names[label]) if names is not None and label < len(names) else str(label)
        style = palette_label_style(palette or DARK, label) if color else None
        segs.append(Segment(name, style))
        segs.append(Segment(f":{count} "))
    return segs


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
