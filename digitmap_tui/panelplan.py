"""What the image panel shows, decided once for the explorer, ``digitmap render`` and the tests.

A :class:`PanelPlan` is a grid of slots (a point index, a blank, or a custom tile such as a
cell's mean image) with the header lines above them. :func:`plan_panel` builds it from a
:class:`~digitmap_tui.session.Session` and the room the panel has (tile rows and columns that
fit): the seed's grid of the box, a page of the box's points in list order, the mean image
of each grid cell, or a picked sub-cluster as a list.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from digitmap_tui.grid import EMPTY, Rect, histogram_pairs, inside, label_histogram
from digitmap_tui.session import Session


@dataclass(frozen=True, eq=False)
class PanelPlan:
    """The panel's content: slots of point indices and the header text."""

    slots: np.ndarray  # (rows, cols) int64: EMPTY is blank, -2 - k is custom[k]
    title: str
    histogram: tuple[tuple[int, int], ...]  # (label, count), most common first
    note: str = ""
    #: Tiles that are not dataset points (mean images …): (image, header text).
    custom: tuple[tuple[np.ndarray, str], ...] = ()
    page: int = 0
    pages: int = 1
    #: The marked point, when it is among the slots (its tile is drawn marked).
    mark: int | None = None

    @property
    def points(self) -> np.ndarray:
        """The dataset points shown, in reading order."""
        flat = self.slots.ravel()
        return flat[flat >= 0]


def _plural(n: int, word: str) -> str:
    return f"{n} {word}{'s' * (n != 1)}"


def plan_panel(session: Session, fit: tuple[int, int]) -> PanelPlan:
    """The panel for ``session`` when ``fit = (rows, cols)`` tiles fit in it."""
    rows_fit, cols_fit = max(1, fit[0]), max(1, fit[1])
    st = session.state
    if session.subset is not None:
        chosen = session.sorted(session.subset)
        hist = label_histogram(session.labels, chosen, session.n_labels)
        title = f"{session.subset_title} · {_plural(len(chosen), 'point')} · by {st.sort}"
        return _list_plan(
            session, len(chosen), lambda a, b: chosen[a:b], histogram_pairs(hist), title,
            rows_fit, cols_fit, extra="Esc: back to the box",
        )  # fmt: skip
    sel = session.selection()
    if st.list_mode:
        title = f"list · {_plural(sel.count, 'point')} · by {st.sort}"
        return _list_plan(
            session, sel.count, lambda a, b: sel.page(st.sort, a, b), sel.pairs, title,
            rows_fit, cols_fit,
        )  # fmt: skip
    rows, cols = st.grid
    if st.mean_grid:
        return _mean_plan(session, rows_fit, cols_fit)
    grid = sel.grid(rows, cols).copy()
    mark = _mark_in_grid(session, grid)
    slots = grid[:rows_fit, :cols_fit]
    title = f"grid {rows}×{cols} · {_plural(sel.count, 'point')}"
    return PanelPlan(
        slots, title, sel.pairs, _hidden(rows, cols, rows_fit, cols_fit),
        mark=mark if mark is not None and (slots == mark).any() else None,
    )  # fmt: skip


def _hidden(rows: int, cols: int, rows_fit: int, cols_fit: int) -> str:
    notes = []
    if rows > rows_fit:
        notes.append(f"{_plural(rows - rows_fit, 'row')} hidden · {{ fewer rows")
    if cols > cols_fit:
        notes.append(f"{_plural(cols - cols_fit, 'column')} hidden · [ fewer columns")
    return "  ".join(notes)


def mark_cell(x: float, y: float, box: Rect, rows: int, cols: int) -> int:
    """The grid cell (``row * cols + col``) a point inside ``box`` belongs to for the mark:
    by floor division, so a point on a cell boundary (the box centred on it) has one."""
    col = int(min(max((x - box.x0) / box.width * cols, 0), cols - 1))
    row = int(min(max((box.y1 - y) / box.height * rows, 0), rows - 1))
    return row * cols + col


def _mark_in_grid(session: Session, grid: np.ndarray) -> int | None:
    """Put the marked point in the grid cell that holds it (instead of the point nearest the
    cell's centre), so that a point one went to is always shown; None if not in the box."""
    mark = session.state.mark
    coords = session.coords
    if mark is None or coords is None:
        return None
    box = session.box
    if not len(inside(coords[mark : mark + 1], box)):
        return None
    x, y = (float(v) for v in coords[mark])
    grid.flat[mark_cell(x, y, box, *grid.shape)] = mark
    return mark


def _list_plan(
    session: Session,
    count: int,
    page_of: Callable[[int, int], np.ndarray],
    histogram: tuple[tuple[int, int], ...],
    title: str,
    rows: int,
    cols: int,
    extra: str = "",
) -> PanelPlan:
    """A page of a list of ``count`` points; ``page_of(start, stop)`` gives its slice."""
    per_page = rows * cols
    pages = max(1, -(-count // per_page))
    page = min(session.state.page, pages - 1)
    shown = page_of(page * per_page, (page + 1) * per_page)
    slots = np.full(per_page, EMPTY, dtype=np.int64)
    slots[: len(shown)] = shown
    note = f"page {page + 1}/{pages}  (pgup/pgdn)" if pages > 1 else ""
    if extra:
        note = f"{note}  {extra}" if note else extra
    mark = session.state.mark
    return PanelPlan(
        slots.reshape(rows, cols), title, histogram, note, page=page, pages=pages,
        mark=mark if mark is not None and mark in shown else None,
    )  # fmt: skip


def _mean_plan(session: Session, rows_fit: int, cols_fit: int) -> PanelPlan:
    from digitmap_tui.analysis import grid_mean_images

    assert session.coords is not None
    rows, cols = session.state.grid
    ds = session.dataset
    means, counts = grid_mean_images(session.coords, ds.images, session.box, rows, cols)
    shape = ds.images.shape[1:]  # (H, W), or (H, W, 3) for colour
    full = np.full((rows, cols), EMPTY, dtype=np.int64)
    tiles: list[tuple[np.ndarray, str]] = []
    for i in range(rows):
        for j in range(cols):
            if counts[i, j]:
                full[i, j] = -2 - len(tiles)
                tiles.append((means[i, j].reshape(shape), f"n={int(counts[i, j])}"))
    sel = session.selection()
    note = _hidden(rows, cols, rows_fit, cols_fit) or (
        "each cell: the mean image of its points (a: nearest point)"
    )
    return PanelPlan(
        full[:rows_fit, :cols_fit],
        f"mean grid {rows}×{cols} · {_plural(sel.count, 'point')}",
        sel.pairs,
        note,
        tuple(tiles),
    )
