"""The selection box and the view: move, resize, clamp, zoom and pan; pure arithmetic.

The box lives on the map's character grid (whole cells, so every key press moves it by one
visible step) and is converted to data coordinates for the selections. The view is a
:class:`~digitmap_tui.grid.Rect` in data coordinates.
"""

from __future__ import annotations

from dataclasses import dataclass

from digitmap_tui.grid import Rect

#: Smallest share of the full extent a view may zoom to (keeps floats meaningful).
MIN_ZOOM_SPAN = 1e-6


@dataclass(frozen=True)
class Box:
    """A box of whole character cells on a ``map_w x map_h`` map, always inside it."""

    col: int
    row: int
    width: int
    height: int

    def clamped(self, map_w: int, map_h: int) -> Box:
        """The same box moved (and if needed shrunk) to lie inside the map."""
        w = max(1, min(self.width, map_w))
        h = max(1, min(self.height, map_h))
        col = max(0, min(self.col, map_w - w))
        row = max(0, min(self.row, map_h - h))
        return Box(col, row, w, h)

    def moved(self, dx: int, dy: int, map_w: int, map_h: int) -> Box:
        """Moved by ``dx`` columns and ``dy`` rows (down is positive), clamped to the map."""
        return Box(self.col + dx, self.row + dy, self.width, self.height).clamped(map_w, map_h)

    def resized(self, dw: int, dh: int, map_w: int, map_h: int) -> Box:
        """Grown by ``dw`` columns and ``dh`` rows (at least 1x1), clamped to the map."""
        w = max(1, min(self.width + dw, map_w - self.col))
        h = max(1, min(self.height + dh, map_h - self.row))
        return Box(self.col, self.row, w, h).clamped(map_w, map_h)

    def centered_on(self, col: int, row: int, map_w: int, map_h: int) -> Box:
        """The same size, centred on the cell ``(col, row)`` as far as the map allows."""
        return Box(col - self.width // 2, row - self.height // 2, self.width, self.height).clamped(
            map_w, map_h
        )

    def rect(self, view: Rect, map_w: int, map_h: int) -> Rect:
        """The box's region in data coordinates (row 0 is the top of the view)."""
        px = view.width / map_w
        py = view.height / map_h
        return Rect(
            view.x0 + self.col * px,
            view.x0 + (self.col + self.width) * px,
            view.y1 - (self.row + self.height) * py,
            view.y1 - self.row * py,
        )

    def contains_cell(self, col: int, row: int) -> bool:
        return self.col <= col < self.col + self.width and self.row <= row < self.row + self.height

    @property
    def rows_spanned(self) -> range:
        return range(self.row, self.row + self.height)

    @classmethod
    def from_rect(cls, rect: Rect, view: Rect, map_w: int, map_h: int) -> Box:
        """The whole-cell box nearest to a data region, clamped to the map."""
        px = view.width / map_w
        py = view.height / map_h

        def cells(offset: float, pitch: float, n: int) -> int:
            # Clamped before rounding: a region far outside a tiny view is ±inf cells away.
            return round(min(max(offset / pitch, -1.0), n + 1.0))

        c0 = cells(rect.x0 - view.x0, px, map_w)
        c1 = cells(rect.x1 - view.x0, px, map_w)
        r0 = cells(view.y1 - rect.y1, py, map_h)
        r1 = cells(view.y1 - rect.y0, py, map_h)
        c0, c1 = max(0, min(c0, map_w - 1)), max(0, min(c1, map_w))
        r0, r1 = max(0, min(r0, map_h - 1)), max(0, min(r1, map_h))
        return cls(c0, r0, max(1, c1 - c0), max(1, r1 - r0)).clamped(map_w, map_h)

    @classmethod
    def default(cls, map_w: int, map_h: int) -> Box:
        """A box a fifth of the map wide and tall, in the middle."""
        w = max(1, map_w // 5)
        h = max(1, map_h // 5)
        return cls((map_w - w) // 2, (map_h - h) // 2, w, h)


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
        w = min(max(w, limit.width * MIN_ZOOM_SPAN), limit.width * 4)
        h = min(max(h, limit.height * MIN_ZOOM_SPAN), limit.height * 4)
    return Rect(cx - w / 2, cx + w / 2, cy - h / 2, cy + h / 2)


def pan(view: Rect, dx_cells: int, dy_cells: int, map_w: int, map_h: int) -> Rect:
    """The view moved by whole cells (``dy_cells`` positive moves down), so bins stay aligned."""
    dx = dx_cells * view.width / map_w
    dy = -dy_cells * view.height / map_h
    return Rect(view.x0 + dx, view.x1 + dx, view.y0 + dy, view.y1 + dy)


def fit(rect: Rect, map_w: int, map_h: int, cell_aspect: float = 2.0) -> Rect:
    """``rect`` widened in one direction so that data units look square on the terminal.

    A terminal cell is about twice as tall as wide (``cell_aspect``), so a ``map_w x map_h``
    map shows ``map_w : map_h * cell_aspect`` in data units.
    """
    want = map_w / (map_h * cell_aspect)
    have = rect.width / rect.height
    cx, cy = rect.center
    if have < want:
        w = rect.height * want
        return Rect(cx - w / 2, cx + w / 2, rect.y0, rect.y1)
    h = rect.width / want
    return Rect(rect.x0, rect.x1, cy - h / 2, cy + h / 2)
