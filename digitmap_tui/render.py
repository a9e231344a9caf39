"""Headless rendering: the map of a view with the box on it, then the images in the box.

The picture a script gets comes from the same session and panel plan as the explorer's
(:mod:`digitmap_tui.session`, :mod:`digitmap_tui.panelplan`): the same default view and box,
the same selection, grid and list order.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

from rich.console import Console
from rich.segment import Segment, Segments
from rich.text import Text

from digitmap_tui.glyphs import (
    blank_tile,
    glyph_style_for,
    tile_segments,
    tile_size,
    tiles_to_lines,
)
from digitmap_tui.grid import EMPTY, Rect, histogram_pairs
from digitmap_tui.maprender import (
    MapPainter,
    legend_segments,
    merge_cells,
    overlay_box,
    points_size,
)
from digitmap_tui.panelplan import plan_panel
from digitmap_tui.selection import Cells
from digitmap_tui.session import Session, State
from digitmap_tui.text import safe

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
    tile_scale: int = 1

    def state(self) -> State:
        return State(
            view=self.view,
            box=self.box,
            grid=self.grid,
            list_mode=self.list_mode,
            sort=self.sort,  # type: ignore[arg-type]
            mode=self.mode,
        )


def map_size(request: RenderRequest, term_size: tuple[int, int] = (100, 30)) -> tuple[int, int]:
    """The map's cells: as asked, else the terminal's size (within sensible bounds)."""
    width = request.width or max(20, min(term_size[0], 200))
    height = request.height or max(8, min(term_size[1] - 4, 60))
    return width, height


def histogram_text(pairs: tuple[tuple[int, int], ...], names: tuple[str, ...] | None = None) -> str:
    """``7:11 3:1 9:1``: labels by count, most common first (class names, escaped, if given)."""

    def name(k: int) -> str:
        return safe(names[k]) if names is not None and k < len(names) else str(k)

    return " ".join(f"{name(k)}:{c}" for k, c in pairs)


def render_json(session: Session) -> dict[str, Any]:
    """One JSON-ready object for scripts: the view, the box, the grid and the selection."""
    st = session.state
    sel = session.selection()
    grid = None if st.list_mode else sel.grid(*st.grid)
    chosen = sel.sorted(st.sort)
    out: dict[str, Any] = {
        "dataset": session.source.dataset,
        "n": session.source.n,
        "embedding": session.describe(),
        **{k: v for k, v in session.to_dict().items() if k in ("method", "params")},
        "view": session.view.as_list(),
        "box": session.box.as_list(),
        "grid_size": list(st.grid),
        "grid": None
        if grid is None
        else [[None if v == EMPTY else int(v) for v in row] for row in grid.tolist()],
        "sort": st.sort,
        "indices": [int(i) for i in chosen],
        "count": len(chosen),
        "labels": {str(k): c for k, c in sorted(histogram_pairs(sel.histogram))},
    }
    ds = session.dataset
    names = getattr(ds, "label_names", None)
    if names is not None:
        out["label_names"] = list(names)
    paths = getattr(ds, "paths", None)
    if paths is not None:
        out["paths"] = [paths[int(i)] for i in chosen]
    return out


def render_text(console: Console, session: Session, request: RenderRequest) -> None:
    """Print the title, the map with the box, the coordinates, the legend and the images."""
    width, height = map_size(request, (console.width, console.height))
    color = console.color_system is not None
    ds = session.dataset
    st = session.state
    v, b = session.view, session.box
    # Half blocks only with 256 colours or more: at 16 their greys collapse into blotches.
    style = request.glyphs or glyph_style_for(console)
    fine = session.bin(v, *points_size(width, height)) if st.mode == "points" else None
    painter = MapPainter(
        session.bin(v, width, height),
        st.mode,
        color=color,
        fine=fine,
        braille=style != "ascii",
        n_labels=ds.n_labels,
        mark_minorities=True,
    )
    console.print(
        Text(f"digitmap · {session.source.dataset} ({session.source.n}) · {session.describe()}",
             style="bold")
    )  # fmt: skip
    span = Cells(v, width, height).span(b)

    def map_lines() -> Iterator[list[Segment]]:
        for y in range(height):
            cells = painter.row_cells(y)
            if span is not None:
                corners = (
                    not (span.cut_left or span.cut_top), not (span.cut_right or span.cut_top),
                    not (span.cut_left or span.cut_bottom),
                    not (span.cut_right or span.cut_bottom),
                )  # fmt: skip
                cells = overlay_box(
                    cells, y, span.col, span.row, span.width, span.height, color, corners
                )
            yield merge_cells(cells)

    _print_lines(console, map_lines())
    console.print(
        Text(
            f"view x {v.x0:.4g} … {v.x1:.4g}  y {v.y0:.4g} … {v.y1:.4g}    "
            f"box x {b.x0:.4g} … {b.x1:.4g}  y {b.y0:.4g} … {b.y1:.4g}"
        )
    )
    names = getattr(ds, "label_names", None)
    _print_segments(console, legend_segments(ds.n_labels, painter.mode, color, names))
    scale = max(1, request.tile_scale)
    max_cols = TILE_MAX_COLS * scale if scale > 1 else TILE_MAX_COLS
    cols, rows = tile_size(ds.image_shape, style, max_cols, scale)
    sel = session.selection()
    if st.list_mode:
        per_row = max(1, (width + 1) // (cols + 1))
        plan = plan_panel(session, (max(1, math.ceil(sel.count / per_row)), per_row))
        head = f"list · {sel.count} points in box, sorted by {st.sort}"
    else:
        plan = plan_panel(session, st.grid)
        head = f"grid {st.grid[0]}×{st.grid[1]} · {sel.count} points in box"
    console.print()
    console.print(Text(f"{head} · {histogram_text(plan.histogram, names)}"))
    lo_hi = ds.value_range()
    labels = ds.labels

    def tile(i: int) -> list[list[Segment]]:
        if i == EMPTY:
            return blank_tile(cols, rows + 1)
        label = None if labels is None else int(labels[i])
        name = None if (label is None or names is None) else names[label]
        return tile_segments(
            ds.images[i], index=i, label=label, style=style, value_range=lo_hi, cols=cols,
            color=color, label_name=name, scale=scale,
        )  # fmt: skip

    for row in plan.slots:
        if st.list_mode and not (row >= 0).any():
            continue
        tiles = [tile(int(i)) for i in row if not (st.list_mode and i == EMPTY)]
        _print_lines(console, tiles_to_lines(tiles))


def _print_segments(console: Console, segments: list[Segment]) -> None:
    _print_lines(console, [segments])


def _print_lines(console: Console, lines: Iterable[list[Segment]]) -> None:
    """Lines, each cropped to the console's width, in one print: the bytes a ``Text`` line
    with ``overflow="crop"`` per print gives, without Rich's span handling and per-print
    work (~8x the cost; at a million points most of ``render``'s time)."""
    out: list[Segment] = []
    for segments in lines:
        if Segment.get_line_length(segments) > console.width:
            segments = Segment.adjust_line_length(segments, console.width, pad=False)
        out += segments
        out.append(Segment.line())
    console.print(Segments(out), crop=False, end="")
