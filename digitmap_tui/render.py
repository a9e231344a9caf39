"""Headless rendering: the map of a view with the box on it, then the images in the box.

Shared by ``digitmap render`` (text and JSON) and by the explorer's tests, so the picture a
script gets and the one the app shows come from the same rules.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from rich.console import Console
from rich.segment import Segment
from rich.text import Text

from digitmap_tui.glyphs import (
    blank_tile,
    glyph_style_for,
    tile_segments,
    tile_size,
    tiles_to_lines,
)
from digitmap_tui.grid import (
    EMPTY,
    Rect,
    bin_points,
    bounds,
    grid_select,
    label_histogram,
    list_select,
)
from digitmap_tui.maprender import MapPainter, legend_segments, merge_cells, overlay_box
from digitmap_tui.selection import Box

TILE_MAX_COLS = 14


@dataclass(frozen=True)
class RenderRequest:
    """What to render; ``None`` fields take defaults from the data and the terminal."""

    view: Rect | None = None
    box: Rect | None = None
    grid: tuple[int, int] = (4, 4)
    list_mode: bool = False
    sort: str = "x"
    mode: str = "label"
    glyphs: str | None = None
    width: int | None = None
    height: int | None = None


@dataclass(frozen=True)
class Resolved:
    view: Rect
    box: Rect
    width: int
    height: int
    cell_box: Box


def resolve(
    coords: np.ndarray, request: RenderRequest, term_size: tuple[int, int] = (100, 30)
) -> Resolved:
    """Fill in the defaults: the whole map as view, the middle fifth as box, the terminal size."""
    width = request.width or max(20, min(term_size[0], 200))
    height = request.height or max(8, min(term_size[1] - 4, 60))
    view = request.view or bounds(coords)
    if request.box is not None:
        box = request.box
        cell_box = Box.from_rect(box, view, width, height)
    else:
        cell_box = Box.default(width, height)
        box = cell_box.rect(view, width, height)
    return Resolved(view, box, width, height, cell_box)


def selection_indices(
    coords: np.ndarray, labels: np.ndarray | None, box: Rect, request: RenderRequest
) -> tuple[np.ndarray | None, np.ndarray]:
    """(grid or None, list) for the box: exactly the engine's two rules."""
    chosen = list_select(coords, box, labels, request.sort)  # type: ignore[arg-type]
    grid = None if request.list_mode else grid_select(coords, box, *request.grid)
    return grid, chosen


def resolve_headless(coords: np.ndarray, request: RenderRequest) -> Resolved:
    """The view and box without a terminal (``render --json``, figures): a 100×26 map."""
    return resolve(coords, request, (request.width or 100, (request.height or 26) + 4))


def render_json(
    dataset: Any, coords: np.ndarray, request: RenderRequest, source: str
) -> dict[str, Any]:
    """One JSON-ready object for scripts: the view, the box, the grid and the selection."""
    r = resolve_headless(coords, request)
    labels = dataset.labels
    grid, chosen = selection_indices(coords, labels, r.box, request)
    hist = label_histogram(labels, chosen, dataset.n_labels)
    out: dict[str, Any] = {
        "dataset": dataset.name,
        "n": int(dataset.n),
        "embedding": source,
        "view": r.view.as_list(),
        "box": r.box.as_list(),
        "grid_size": list(request.grid),
        "grid": None
        if grid is None
        else [[None if v == EMPTY else int(v) for v in row] for row in grid.tolist()],
        "sort": request.sort,
        "selection": [int(i) for i in chosen],
        "count": len(chosen),
        "labels": {str(k): int(v) for k, v in enumerate(hist) if v},
    }
    return out


def histogram_text(hist: np.ndarray) -> str:
    """``7:11 3:1 9:1``: labels by count, most common first."""
    order = sorted((int(c), k) for k, c in enumerate(hist) if c)
    return " ".join(f"{k}:{c}" for c, k in sorted(order, key=lambda t: (-t[0], t[1])))


def render_text(
    console: Console, dataset: Any, coords: np.ndarray, request: RenderRequest, source: str
) -> None:
    """Print the title, the map with the box, the coordinates, the legend and the images."""
    r = resolve(coords, request, (console.width, console.height))
    color = console.color_system is not None
    labels = dataset.labels
    binned = bin_points(coords, labels, r.view, r.width, r.height, dataset.n_labels or None)
    painter = MapPainter(binned, request.mode, color=color)
    console.print(Text(f"digitmap · {dataset.name} ({dataset.n}) · {source}", style="bold"))
    cb = r.cell_box
    for y in range(r.height):
        cells = overlay_box(painter.row_cells(y), y, cb.col, cb.row, cb.width, cb.height, color)
        _print_segments(console, merge_cells(cells))
    v, b = r.view, r.box
    console.print(
        f"view x {v.x0:.4g} … {v.x1:.4g}  y {v.y0:.4g} … {v.y1:.4g}    "
        f"box x {b.x0:.4g} … {b.x1:.4g}  y {b.y0:.4g} … {b.y1:.4g}"
    )
    _print_segments(console, legend_segments(dataset.n_labels, request.mode, color))
    grid, chosen = selection_indices(coords, labels, r.box, request)
    hist = label_histogram(labels, chosen, dataset.n_labels)
    # Half blocks only with 256 colours or more: at 16 their greys collapse into blotches.
    style = request.glyphs or glyph_style_for(console)
    cols, rows = tile_size(dataset.image_shape, style, TILE_MAX_COLS)
    lo_hi = dataset.value_range()
    images = dataset.images

    def tile(i: int) -> list[list[Segment]]:
        label = None if labels is None else int(labels[i])
        return tile_segments(
            images[i], index=i, label=label, style=style, value_range=lo_hi, cols=cols, color=color
        )

    console.print()
    if grid is not None:
        console.print(
            f"grid {grid.shape[0]}×{grid.shape[1]} · {len(chosen)} points in box · {histogram_text(hist)}"
        )
        for row in grid:
            tiles = [blank_tile(cols, rows + 1) if i == EMPTY else tile(int(i)) for i in row]
            for line in tiles_to_lines(tiles):
                _print_segments(console, line)
    else:
        console.print(
            f"list · {len(chosen)} points in box, sorted by {request.sort} · {histogram_text(hist)}"
        )
        per_row = max(1, (r.width + 1) // (cols + 1))
        for start in range(0, len(chosen), per_row):
            tiles = [tile(int(i)) for i in chosen[start : start + per_row]]
            for line in tiles_to_lines(tiles):
                _print_segments(console, line)


def _print_segments(console: Console, segments: list[Segment]) -> None:
    text = Text()
    for seg in segments:
        text.append(seg.text, seg.style)
    console.print(text, no_wrap=True, overflow="crop", crop=False)
