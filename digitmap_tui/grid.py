"""Viewports, binning and the two seed selections: pure numpy, the core of every frame.

Conventions used everywhere in digitmap-tui:

* data coordinates are the embedding's (x, y), y growing upwards;
* a character grid of ``width x height`` cells covers a :class:`Rect`, row 0 at the top
  (largest y), column 0 at the left (smallest x);
* the two selections follow the seed notebook exactly: points *strictly* inside a box
  (``np.where(x0 < x < x1 & y0 < y < y1)``), and for the grid, the point nearest each cell
  centre in pitch-normalised distance among the points strictly inside that cell.
"""

from __future__ import annotations

import copy
import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal, NamedTuple

import numpy as np

from digitmap_tui import choices
from digitmap_tui.errors import InputError

SortKey = Literal["index", "x", "y", "label"]
SORT_KEYS: tuple[SortKey, ...] = choices.SORT_KEYS  # type: ignore[assignment]  # SortKey spells the same

#: Value of a grid cell (or of ``majority``) that holds no point.
EMPTY = -1

#: Points per step of the passes over all points: a step's temporaries stay in the CPU's
#: cache, where whole-array temporaries (16 MB a column at a million points) are bound by
#: memory traffic; ~1.5x faster at a million points, more at ten.
CHUNK = 1 << 16


@dataclass(frozen=True)
class Rect:
    """An axis-aligned region in data coordinates, ``x0 < x1`` and ``y0 < y1``."""

    x0: float
    x1: float
    y0: float
    y1: float

    def __post_init__(self) -> None:
        values = (self.x0, self.x1, self.y0, self.y1)
        if not all(math.isfinite(v) for v in values):
            raise InputError(f"region {self.text()}: coordinates must be finite numbers")
        if not (self.x0 < self.x1 and self.y0 < self.y1):
            raise InputError(f"region {self.text()}: needs X0 < X1 and Y0 < Y1")
        if not (math.isfinite(self.x1 - self.x0) and math.isfinite(self.y1 - self.y0)):
            raise InputError(f"region {self.text()}: too large (its width or height overflows)")

    @property
    def width(self) -> float:
        return self.x1 - self.x0

    @property
    def height(self) -> float:
        return self.y1 - self.y0

    @property
    def center(self) -> tuple[float, float]:
        return ((self.x0 + self.x1) / 2, (self.y0 + self.y1) / 2)

    def as_list(self) -> list[float]:
        """``[x0, x1, y0, y1]``, the order of ``plt.axis`` and of ``--view``/``--box``."""
        return [self.x0, self.x1, self.y0, self.y1]

    def text(self, digits: int = 6) -> str:
        """``X0,X1,Y0,Y1`` as typed on the command line (``--view``, ``--box``)."""
        return ",".join(f"{v:.{digits}g}" for v in (self.x0, self.x1, self.y0, self.y1))

    def intersects(self, other: Rect) -> bool:
        return (
            self.x0 < other.x1 and other.x0 < self.x1 and self.y0 < other.y1 and other.y0 < self.y1
        )

    @classmethod
    def parse(cls, text: str, flag: str = "--view") -> Rect:
        """Parse ``X0,X1,Y0,Y1``; a one-line :class:`InputError` names the flag otherwise."""
        parts = text.split(",")
        if len(parts) != 4:
            raise InputError(f"{flag} {text!r}: expected four numbers X0,X1,Y0,Y1")
        try:
            x0, x1, y0, y1 = (float(p) for p in parts)
        except ValueError:
            raise InputError(f"{flag} {text!r}: expected four numbers X0,X1,Y0,Y1") from None
        try:
            return cls(x0, x1, y0, y1)
        except InputError as exc:
            raise InputError(f"{flag} {text!r}: {str(exc).split(': ', 1)[-1]}") from None


def bounds(xy: np.ndarray, margin: float = 0.03) -> Rect:
    """The region that shows every point, with a small margin on each side."""
    if len(xy) == 0:
        return Rect(-1.0, 1.0, -1.0, 1.0)
    # Column by column (numpy reduces an (N, 2) array along axis 0 ~10x slower), a chunk at
    # a time; np.minimum/np.maximum propagate NaN as min()/max() do.
    lo = hi = None
    for s in range(0, len(xy), CHUNK):
        c = xy[s : s + CHUNK]
        x, y = c[:, 0], c[:, 1]
        c_lo, c_hi = np.array([x.min(), y.min()]), np.array([x.max(), y.max()])
        lo = c_lo if lo is None else np.minimum(lo, c_lo)
        hi = c_hi if hi is None else np.maximum(hi, c_hi)
    assert lo is not None and hi is not None
    # A floor relative to the coordinates' size: a single point (or one line of points) far
    # from 0 still gets a margin larger than the floats' spacing there.
    span = np.maximum(hi - lo, 1e-9 * np.maximum(1.0, np.maximum(np.abs(lo), np.abs(hi))))
    pad = span * margin
    return Rect(
        float(lo[0] - pad[0]), float(hi[0] + pad[0]), float(lo[1] - pad[1]), float(hi[1] + pad[1])
    )


@dataclass(frozen=True, eq=False)
class BinnedMap:
    """What the map shows: per character cell, the count, majority label and purity."""

    counts: np.ndarray  # (height, width) int64
    majority: np.ndarray  # (height, width) int64, EMPTY where count == 0 or no labels
    purity: np.ndarray  # (height, width) float64 in [0, 1]; 0 where empty

    @property
    def shape(self) -> tuple[int, int]:
        h, w = self.counts.shape
        return int(h), int(w)


def cell_of(xy: np.ndarray, view: Rect, width: int, height: int) -> tuple[np.ndarray, np.ndarray]:
    """Each point's (column, row) on a ``width x height`` grid over ``view``.

    Points outside the view get coordinates outside ``[0, width) x [0, height)``; callers mask.
    Row 0 is the top of the view (largest y).
    """
    sx = width / view.width
    sy = height / view.height
    # floor((x - x0) * sx) and floor((y1 - y) * sy), in place: the same values, fewer copies.
    col = xy[:, 0] - view.x0
    col *= sx
    np.floor(col, out=col)
    row = view.y1 - xy[:, 1]
    row *= sy
    np.floor(row, out=row)
    return col, row


def bin_points(
    xy: np.ndarray,
    labels: np.ndarray | None,
    view: Rect,
    width: int,
    height: int,
    n_labels: int | None = None,
) -> BinnedMap:
    """Bin points into a ``width x height`` grid over ``view`` with one ``np.bincount``.

    Every point inside ``[x0, x1) x (y0, y1]`` lands in exactly one cell. With labels, a second
    bincount over ``cell * n_labels + label`` gives the label counts per cell, from which the
    majority label (ties: the smaller label) and the purity (majority share) follow.
    """
    if width < 1 or height < 1:
        raise ValueError("grid must be at least 1x1")
    cells = width * height
    counts = np.zeros(cells, dtype=np.int64)
    k = 0
    if labels is not None and len(xy):
        k = int(n_labels) if n_labels else int(labels.max()) + 1
        by_flat = np.zeros(cells * k, dtype=np.int64)
        # Labels in 0..k-1 (as validated data has them): the cell counts are the label
        # counts summed, one bincount instead of two.
        k_only = bool(labels.min() >= 0 and labels.max() < k)
    for s in range(0, len(xy), CHUNK):
        flat, in_view = _cells_in_view(xy[s : s + CHUNK], view, width, height)
        if not k or labels is None:
            counts += np.bincount(flat, minlength=cells)
            continue
        lab = labels[s : s + CHUNK]
        # Labels out of 0..k-1 alias or overflow the table here as in one whole bincount
        # (a longer count fails to add: the same ValueError as its reshape).
        by_flat += np.bincount(
            flat * k + (lab if in_view is None else lab[in_view]), minlength=cells * k
        )
        if not k_only:
            counts += np.bincount(flat, minlength=cells)
    if k and k_only:
        counts = by_flat.reshape(cells, k).sum(axis=1)
    majority = np.full(cells, EMPTY, dtype=np.int64)
    purity = np.zeros(cells, dtype=np.float64)
    if k and counts.any():
        by_label = by_flat.reshape(cells, k)
        occupied = counts > 0
        majority[occupied] = by_label[occupied].argmax(axis=1)
        purity[occupied] = by_label[occupied].max(axis=1) / counts[occupied]
    return BinnedMap(
        counts=counts.reshape(height, width),
        majority=majority.reshape(height, width),
        purity=purity.reshape(height, width),
    )


def _cells_in_view(
    xy: np.ndarray, view: Rect, width: int, height: int
) -> tuple[np.ndarray, np.ndarray | None]:
    """The flat cell (``row * width + col``) of each point in view, and which points those
    are (``None``: all of them)."""
    col, row = cell_of(xy, view, width, height)
    # All in view (render's whole map)? Four reductions instead of a mask, no copies.
    # (NaN fails every comparison, so it takes the masked path.)
    if len(col) and col.min() >= 0 and col.max() < width and row.min() >= 0 and row.max() < height:
        row *= width
        row += col
        return row.astype(np.int64), None
    ok = (col >= 0) & (col < width) & (row >= 0) & (row < height)
    return (row[ok] * width + col[ok]).astype(np.int64), ok


def inside(xy: np.ndarray, rect: Rect) -> np.ndarray:
    """Indices of the points strictly inside ``rect`` (the seed's ``np.where``), ascending."""
    parts = [np.zeros(0, dtype=np.intp)]
    for s in range(0, len(xy), CHUNK):
        c = xy[s : s + CHUNK]
        x, y = c[:, 0], c[:, 1]
        hit = np.flatnonzero((rect.x0 < x) & (x < rect.x1) & (rect.y0 < y) & (y < rect.y1))
        parts.append(hit + s if s else hit)
    return parts[1] if len(parts) == 2 else np.concatenate(parts)


def list_select(
    xy: np.ndarray,
    rect: Rect,
    labels: np.ndarray | None = None,
    sort: SortKey = "index",
    start: int = 0,
    stop: int | None = None,
) -> np.ndarray:
    """The points strictly inside ``rect``, sorted by index, x, y or label: ``[start:stop]``
    of that order (all of it by default).

    Sorting is stable, so equal keys stay in index order (the seed's ``argsort`` on x).
    """
    return sort_page(xy, inside(xy, rect), sort, labels, start, stop)


def sort_page(
    xy: np.ndarray,
    idx: np.ndarray,
    sort: SortKey = "index",
    labels: np.ndarray | None = None,
    start: int = 0,
    stop: int | None = None,
) -> np.ndarray:
    """``[start:stop]`` of the points ``idx`` (ascending, as :func:`inside` returns them)
    sorted by index, x, y or label, stably: equal keys stay in index order.

    Exactly the slice of the full stable sort, ties included, but a page of a large box
    costs a partition of its keys, not a sort (see :func:`stable_page`).
    """
    if sort not in SORT_KEYS:
        raise InputError(f"--sort {sort!r}: choose one of {', '.join(SORT_KEYS)}")
    if sort == "index" or (sort == "label" and labels is None):
        return idx[start:stop]
    if sort == "label":
        assert labels is not None
        key = labels[idx]
    else:
        key = xy[idx, 0 if sort == "x" else 1]
    return idx[stable_page(key, start, stop)]


#: Up to this many keys, a page sorts them all (as cheap, and one path fewer).
_PAGE_SORT_ALL = 4096


def stable_page(key: np.ndarray, start: int = 0, stop: int | None = None) -> np.ndarray:
    """``np.argsort(key, kind="stable")[start:stop]``, without sorting all of ``key``.

    The page's first and last keys come from one ``np.partition``; only the keys between
    them (ties at both ends included) are sorted, in their original order, so equal keys
    keep it exactly as the full stable sort does. NaN keys are not supported.
    """
    n = len(key)
    start, stop, _ = slice(start, stop).indices(n)
    if start >= stop:
        return np.zeros(0, dtype=np.int64)
    if n <= _PAGE_SORT_ALL or (stop - start) * 8 >= n:  # a large share: sort it all
        return np.argsort(key, kind="stable")[start:stop]
    part = np.partition(key, (start, stop - 1))
    lo, hi = part[start], part[stop - 1]
    below = int(np.count_nonzero(key < lo))  # these sort before the page's first key
    between = np.flatnonzero((key >= lo) & (key <= hi))
    order = between[np.argsort(key[between], kind="stable")]
    return order[start - below : stop - below]


def _distinct_page(values: np.ndarray, start: int = 0, stop: int | None = None) -> np.ndarray:
    """``np.sort(values)[start:stop]`` for values without ties: a partition and a sort of
    the page when it is a small share of them."""
    n = len(values)
    start, stop, _ = slice(start, stop).indices(n)
    if start >= stop:
        return values[:0]
    if n <= _PAGE_SORT_ALL or (stop - start) * 8 >= n:
        return np.sort(values)[start:stop]
    return np.sort(np.partition(values, (start, stop - 1))[start:stop])


def grid_select(xy: np.ndarray, rect: Rect, rows: int, cols: int) -> np.ndarray:
    """The seed's ``draw_digits_at_tsne`` rule: a ``rows x cols`` array of point indices.

    The box is cut into cells, row 0 at the top. A cell's candidates are the points strictly
    inside it, with the cell bounds computed exactly as the seed computes them (centre
    ``x0 + pitch*i + pitch/2``, bounds ``centre -/+ pitch/2``), so that results can be checked
    against it to the last bit. The chosen point minimises
    ``((x-cx)/pitch_x)**2 + ((y-cy)/pitch_y)**2``; ties go to the smaller index (``argmin``).
    Empty cells hold :data:`EMPTY`.
    """
    if rows < 1 or cols < 1:
        raise InputError(f"--grid {rows}x{cols}: rows and columns must be at least 1")
    return _grid_pick(xy, inside(xy, grid_hull(rect, rows, cols)), rect, rows, cols)


class BoxPoints(NamedTuple):
    """A box's points, selected once (:func:`select_box`)."""

    #: strictly inside the box, ascending: the count, the histogram and the list come from it
    inside: np.ndarray
    #: strictly inside ``grid_hull(box, rows, cols)``: the grid's candidates; the same array
    #: as ``inside`` unless the seed's float cell bounds reach past the box
    near: np.ndarray


def select_box(xy: np.ndarray, rect: Rect, rows: int = 1, cols: int = 1) -> BoxPoints:
    """The points strictly inside ``rect``, and those its ``rows x cols`` grid may show, in
    one pass over ``xy``."""
    hull = grid_hull(rect, rows, cols)
    if hull == rect:
        both = inside(xy, rect)
        return BoxPoints(both, both)
    in_box, in_hull = [np.zeros(0, dtype=np.intp)], [np.zeros(0, dtype=np.intp)]
    for s in range(0, len(xy), CHUNK):
        c = xy[s : s + CHUNK]
        x, y = c[:, 0], c[:, 1]
        hull_hit = (hull.x0 < x) & (x < hull.x1) & (hull.y0 < y) & (y < hull.y1)
        box_hit = hull_hit & (rect.x0 < x) & (x < rect.x1) & (rect.y0 < y) & (y < rect.y1)
        in_hull.append(np.flatnonzero(hull_hit) + s)
        in_box.append(np.flatnonzero(box_hit) + s)
    return BoxPoints(np.concatenate(in_box), np.concatenate(in_hull))


def grid_select_among(
    xy: np.ndarray, points: BoxPoints | np.ndarray, rect: Rect, rows: int, cols: int
) -> np.ndarray:
    """Exactly :func:`grid_select`, given the box's points, so the box is not selected again.

    ``points`` is :func:`select_box`'s answer for the same grid, or the points strictly
    inside ``rect`` (any order); then, where the seed's float cell bounds reach past the box
    (see :func:`grid_hull`), the points are selected again from ``xy``, so the answer stays
    exact at the cost of one more pass.
    """
    if rows < 1 or cols < 1:
        raise InputError(f"--grid {rows}x{cols}: rows and columns must be at least 1")
    if isinstance(points, BoxPoints):
        idx = points.near
    else:
        hull = grid_hull(rect, rows, cols)
        idx = points if hull == rect else inside(xy, hull)
    return _grid_pick(xy, idx, rect, rows, cols)


def grid_hull(rect: Rect, rows: int, cols: int) -> Rect:
    """The box grown to hold every point that the seed's grid cells hold (usually ``rect``).

    The seed bounds each cell by ``centre -/+ pitch/2`` in floats, and the outer cells'
    bounds can land an ulp beyond the box's own edges: a point on such an edge is not
    strictly inside the box, yet strictly inside a cell, and the seed's loop shows it.
    """
    if rows < 1 or cols < 1:
        raise InputError(f"--grid {rows}x{cols}: rows and columns must be at least 1")
    px = (rect.x1 - rect.x0) / cols
    py = (rect.y1 - rect.y0) / rows
    _, x_lo, x_hi = _cell_bounds(rect.x0, px, cols, down=False)
    _, y_lo, y_hi = _cell_bounds(rect.y1, py, rows, down=True)
    x0, x1 = min(rect.x0, float(x_lo[0])), max(rect.x1, float(x_hi[-1]))
    y0, y1 = min(rect.y0, float(y_lo[-1])), max(rect.y1, float(y_hi[0]))
    if (x0, x1, y0, y1) == (rect.x0, rect.x1, rect.y0, rect.y1):
        return rect
    return Rect(x0, x1, y0, y1)


def _cell_bounds(start: float, pitch: float, n: int, down: bool) -> tuple[np.ndarray, ...]:
    """Centres and open bounds of ``n`` cells along one axis, as the seed computes them:
    ``x0 + p*i + p/2`` across, ``y1 - p*i - p/2`` down; bounds ``centre -/+ p/2``."""
    i = np.arange(n, dtype=np.int64)
    centre = start - pitch * i - pitch / 2 if down else start + pitch * i + pitch / 2
    return centre, centre - pitch / 2, centre + pitch / 2


def _slots(
    offset: np.ndarray, pitch: float, start: float, key: np.ndarray, lo: np.ndarray, hi: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Along one axis, for each point the range ``[first, stop)`` of the cells whose open
    float bounds hold it.

    ``offset`` is the point's distance from the grid's ``start`` along the axis (``x - x0``
    across, ``y1 - y`` down); ``key`` is the coordinate in the order of ``lo`` and ``hi``,
    the cells' bounds, which never decrease (rounding is monotone), so the cells holding a
    point are contiguous: those with ``lo < key``, a prefix, and ``hi > key``, a suffix.
    A point whose position ``offset / pitch`` lies clearly inside one cell (further from its
    edges than rounding can move them or the position) is in that cell alone; only the
    others are searched.
    """
    n = len(lo)
    q = offset / pitch
    cell = np.floor(q)
    q -= cell  # the position within the cell, exactly
    # Rounding of the bounds (four operations on numbers up to |start| + n pitches) and of
    # the position, in pitches, with a wide margin.
    slack = 16 * float(np.finfo(np.float64).eps) * (abs(start) / pitch + 2 * n + 2)
    alone = (q > slack) & (q < 1 - slack) & (cell >= 0) & (cell < n)
    first = cell.astype(np.int64)
    stop = first + 1
    other = np.flatnonzero(~alone)
    if len(other):
        k = key[other]
        first[other] = np.searchsorted(hi, k, side="right")
        stop[other] = np.searchsorted(lo, k, side="left")
    return first, stop


def grid_candidates(
    xy: np.ndarray, idx: np.ndarray, rect: Rect, rows: int, cols: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Every (point, cell) pair of the seed grid rule, with the point's normalised distance.

    ``idx`` are any points (any order) that include every one strictly inside
    ``grid_hull(rect, rows, cols)``, e.g. ``inside(xy, grid_hull(...))``. Cell bounds are
    computed as the seed computes them (centre ``x0 + pitch*i + pitch/2``, bounds
    ``centre -/+ pitch/2``), ``cell = row * cols + col`` with row 0 at the top; a point that
    those float bounds put strictly inside two neighbouring cells is listed for both, as in
    the seed's loop. Returns ``(points, cells, distances)``, the distance being
    ``((x-cx)/pitch_x)**2 + ((y-cy)/pitch_y)**2``.
    """
    grid = _Grid(rect, rows, cols)
    idx = np.asarray(idx, dtype=np.int64)
    parts = [grid.candidates(xy, idx[s : s + CHUNK]) for s in range(0, len(idx), CHUNK)]
    if not parts:
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64), np.zeros(0)
    pts, cells, dist = zip(*parts, strict=True)
    return np.concatenate(pts), np.concatenate(cells), np.concatenate(dist)


class _Grid:
    """The seed's grid over a box: pitches, centres and open float bounds of its cells."""

    def __init__(self, rect: Rect, rows: int, cols: int) -> None:
        self.rect, self.rows, self.cols = rect, rows, cols
        self.px = (rect.x1 - rect.x0) / cols
        self.py = (rect.y1 - rect.y0) / rows
        self.cx, self.x_lo, self.x_hi = _cell_bounds(rect.x0, self.px, cols, down=False)
        self.cy, self.y_lo, self.y_hi = _cell_bounds(rect.y1, self.py, rows, down=True)

    def candidates(
        self, xy: np.ndarray, idx: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """:func:`grid_candidates` for the points ``idx`` (int64)."""
        rect, cols, px, py = self.rect, self.cols, self.px, self.py
        x = xy[idx, 0]
        y = xy[idx, 1]
        c0, c1 = _slots(x - rect.x0, px, rect.x0, x, self.x_lo, self.x_hi)
        # Rows go down as y falls: measured from the top, keyed on the negated y (increasing).
        r0, r1 = _slots(rect.y1 - y, py, rect.y1, -y, -self.y_hi, -self.y_lo)
        nc = np.maximum(c1 - c0, 0)
        nr = np.maximum(r1 - r0, 0)
        one = (nc == 1) & (nr == 1)
        if one.all():  # the usual case: no copies
            pts, col, row, xs, ys = idx, c0, r0, x, y
        else:
            # Points in no cell (on a bound) drop out; points in several repeat per cell.
            pos = np.flatnonzero(one)
            col, row = c0[pos], r0[pos]
            many = np.flatnonzero(~one & (nc > 0) & (nr > 0))
            if len(many):
                k = nc[many] * nr[many]
                rep = np.repeat(many, k)
                within = np.arange(len(rep)) - np.repeat(np.cumsum(k) - k, k)
                pos = np.concatenate([pos, rep])
                col = np.concatenate([col, c0[rep] + within % nc[rep]])
                row = np.concatenate([row, r0[rep] + within // nc[rep]])
            pts, xs, ys = idx[pos], x[pos], y[pos]
        d = ((xs - self.cx[col]) / px) ** 2 + ((ys - self.cy[row]) / py) ** 2
        return pts, row * cols + col, d


def _grid_pick(xy: np.ndarray, idx: np.ndarray, rect: Rect, rows: int, cols: int) -> np.ndarray:
    """:func:`grid_select` given ``idx``: any points, among them every one strictly inside
    ``grid_hull(rect, rows, cols)``.

    A chunk of points at a time, each cell's smallest distance comes from an unbuffered
    ``np.minimum.at``, and only the chunk's candidates at that distance are kept; among all
    chunks' keepers, the smallest distance wins, ties to the smallest index. No sort.
    """
    n_cells = rows * cols
    grid = _Grid(rect, rows, cols)
    idx = np.asarray(idx, dtype=np.int64)
    kept: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = []
    for s in range(0, len(idx), CHUNK):
        pts, cells, dist = grid.candidates(xy, idx[s : s + CHUNK])
        best = np.full(n_cells, np.inf)
        np.minimum.at(best, cells, dist)
        win = dist <= best[cells]  # NaN-free: the points are strictly inside cells
        kept.append((pts[win], cells[win], dist[win]))
    out = np.full(n_cells, EMPTY, dtype=np.int64)
    if not kept:
        return out.reshape(rows, cols)
    pts, cells, dist = (np.concatenate(a) for a in zip(*kept, strict=True))
    if len(pts) == 0:
        return out.reshape(rows, cols)
    best = np.full(n_cells, np.inf)
    np.minimum.at(best, cells, dist)
    win = np.flatnonzero(dist == best[cells])
    first = np.full(n_cells, np.iinfo(np.int64).max, dtype=np.int64)
    np.minimum.at(first, cells[win], pts[win])
    held = np.bincount(cells[win], minlength=n_cells) > 0
    out[held] = first[held]
    return out.reshape(rows, cols)


def grid_select_reference(xy: np.ndarray, rect: Rect, rows: int, cols: int) -> np.ndarray:
    """The seed's loop, verbatim in numpy, for tests and benchmarks (slow: one pass per cell)."""
    res = xy
    x_min, x_max, y_min, y_max = rect.x0, rect.x1, rect.y0, rect.y1
    x_pitch = (x_max - x_min) / cols
    y_pitch = (y_max - y_min) / rows
    out = np.full((rows, cols), EMPTY, dtype=np.int64)
    for i_y in range(rows):
        y_i = y_max - y_pitch * i_y - y_pitch / 2
        for i_x in range(cols):
            x_i = x_min + x_pitch * i_x + x_pitch / 2
            i_list = np.where(
                (x_i - x_pitch / 2 < res[:, 0])
                & (res[:, 0] < x_i + x_pitch / 2)
                & (y_i - y_pitch / 2 < res[:, 1])
                & (res[:, 1] < y_i + y_pitch / 2)
            )[0]
            res_i = res[i_list, :]
            if len(res_i) == 0:
                continue
            r2_i = ((res_i[:, 0] - x_i) / x_pitch) ** 2 + ((res_i[:, 1] - y_i) / y_pitch) ** 2
            out[i_y, i_x] = i_list[np.argmin(r2_i)]
    return out


#: Most rows (and columns) of a grid: --grid and saved states alike.
MAX_GRID = 64


def parse_grid(text: str) -> tuple[int, int]:
    """Parse ``ROWSxCOLS`` (e.g. ``4x4``) for ``--grid``; 1..64 each, ASCII digits only."""
    from digitmap_tui.text import ascii_int

    parts = text.lower().split("x")
    numbers = [ascii_int(p) for p in parts]
    if len(parts) != 2 or numbers[0] is None or numbers[1] is None:
        raise InputError(f"--grid {text!r}: expected ROWSxCOLS, e.g. 4x4")
    return check_grid(numbers[0], numbers[1], f"--grid {text!r}")


def check_grid(rows: int, cols: int, what: str = "--grid") -> tuple[int, int]:
    """``(rows, cols)`` if both are 1..64; a one-line :class:`InputError` naming ``what`` else."""
    if not (1 <= rows <= MAX_GRID and 1 <= cols <= MAX_GRID):
        raise InputError(f"{what}: rows and columns must be between 1 and {MAX_GRID}")
    return rows, cols


def check_view(rect: Rect, what: str = "--view") -> Rect:
    """``rect`` if a map can be drawn over it: not thinner than a billionth of its coordinates.

    An absurdly thin region has no room for a map's cells (their edges would round together).
    """
    for lo, hi in ((rect.x0, rect.x1), (rect.y0, rect.y1)):
        if hi - lo < max(1e-300, 1e-9 * max(abs(lo), abs(hi))):
            raise InputError(
                f"{what}: too small to draw (width and height must be at least"
                " a billionth of the coordinates)"
            )
    return rect


def label_histogram(labels: np.ndarray | None, idx: np.ndarray, n_labels: int) -> np.ndarray:
    """Counts of each label among the points ``idx`` (length ``n_labels``)."""
    if labels is None or n_labels == 0:
        return np.zeros(0, dtype=np.int64)
    return np.bincount(labels[idx], minlength=n_labels)


def histogram_pairs(hist: np.ndarray) -> tuple[tuple[int, int], ...]:
    """``(label, count)`` of a label histogram, the one order every view uses: most common
    first, ties by label; labels with no point left out."""
    pairs = [(k, int(c)) for k, c in enumerate(np.asarray(hist).tolist()) if c]
    return tuple(sorted(pairs, key=lambda t: (-t[1], t[0])))


# ----- the spatial index: the same answers as above without a pass over all N points -----

#: Most cells (x labels) the index's prefix-sum table may hold: 12M int32 = 48 MB.
INDEX_TABLE_CELLS = 12_000_000
#: Up to this many changed labels, ``PointIndex.relabelled`` updates the table point by point.
_FEW_CHANGES = 16


class PointIndex:
    """The points sorted once by x and by y, so that a view or a box only touches its slab.

    :meth:`bin`, :meth:`inside`, :meth:`list_select` and :meth:`grid_select` return exactly
    what :func:`bin_points`, :func:`inside`, :func:`list_select` and :func:`grid_select`
    return for the same points, only faster on large inputs; ``xy`` and ``labels`` must not
    change while the index is in use.

    Why binning stays exact: a point's map column is ``floor((x - x0) * sx)``, and rounded
    float arithmetic is monotone, so along the points sorted by x the columns never decrease.
    Each column is therefore a contiguous range of x-ranks, whose ends are found with the
    very same formula, evaluated at a few dozen points instead of at all N (rows likewise,
    in y-ranks). The rank plane is cut into a ``g x g`` grid of equal-count bins with a
    summed-area table of label counts: a map cell's count is its core of whole bins (four
    table lookups) plus the points in the partial bins at its edges, counted one by one; at
    one million points on an 80 x 37 map that is about a tenth of them. A box is one
    rectangle of ranks: its points are a slab of the narrower sorted order, filtered by the
    other rank, and the grid's nearest-to-centre points are searched in small windows.

    Memory: two int32 orders, two int32 rank arrays, two label arrays (int8 for < 128
    labels) and a table of at most ``INDEX_TABLE_CELLS`` int32: ~56 MB at 1M points.
    """

    # The label part (set by _index_labels, or _update_labels for a few corrected labels).
    labels: np.ndarray | None
    n_labels: int | None
    _exact: bool
    _k: int
    _n_lab: int
    _lab: tuple[np.ndarray, np.ndarray]
    _g: int
    _step: int
    _table: np.ndarray

    def __init__(
        self, xy: np.ndarray, labels: np.ndarray | None = None, n_labels: int | None = None
    ) -> None:
        xy = np.asanyarray(xy)  # the caller's array itself: callers check `is` against it
        if xy.ndim != 2 or xy.shape[1] != 2:
            raise ValueError(f"points must be (N, 2), got shape {xy.shape}")
        n = len(xy)
        self.xy = xy
        self.n = n
        itype = np.int32 if n < 2**31 - 1 else np.int64
        self._itype = itype
        ranks = np.arange(n, dtype=itype)
        self._order = (_stable_argsort(xy[:, 0], itype), _stable_argsort(xy[:, 1], itype))
        xrank = np.empty(n, dtype=itype)
        xrank[self._order[0]] = ranks
        yrank = np.empty(n, dtype=itype)
        yrank[self._order[1]] = ranks
        # Each point's rank along the other axis, listed in this axis's order.
        self._other_rank = (yrank[self._order[0]], xrank[self._order[1]])
        # Every stride-th sorted value, so that a boundary search touches ~stride points.
        self._stride = max(32, -(-n // 65536))
        self._sample = tuple(xy[o[:: self._stride], a] for a, o in enumerate(self._order))
        self._index_labels(labels, n_labels, xrank, yrank)
        self._last_inside: list[tuple[Rect, tuple[int, np.ndarray, np.ndarray]]] = []
        self._ranges: dict[tuple[int, float, float], tuple[int, int]] = {}

    def relabelled(self, labels: np.ndarray | None, n_labels: int | None = None) -> PointIndex:
        """The same points with other labels (corrected ones): a new index that shares the
        sorted orders with this one (no sorting). When a few labels changed and the label
        count is the same, only their bins of the count table are updated; this index is
        left as it was."""
        if labels is not None and np.shape(labels) != (self.n,):
            raise ValueError(f"labels must be ({self.n},), got shape {np.shape(labels)}")
        out = copy.copy(self)
        out._last_inside = []
        out._ranges = dict(self._ranges)  # the same points in the same places
        ranks = np.arange(self.n, dtype=self._itype)
        xrank = np.empty(self.n, dtype=self._itype)
        xrank[self._order[0]] = ranks
        yrank = np.empty(self.n, dtype=self._itype)
        yrank[self._order[1]] = ranks
        if not out._update_labels(labels, n_labels, xrank, yrank):
            out._index_labels(labels, n_labels, xrank, yrank)
        return out

    def _update_labels(
        self,
        labels: np.ndarray | None,
        n_labels: int | None,
        xrank: np.ndarray,
        yrank: np.ndarray,
    ) -> bool:
        """The label part updated for the points whose label changed; False (nothing done)
        when that is not the cheaper way: other label columns, or many changes."""
        old = self.labels
        if labels is None or old is None or not self.n or not (self._exact and self._k):
            return False
        new = np.asarray(labels)
        k = int(n_labels) if n_labels else int(new.max()) + 1
        if k != self._k or new.min() < 0 or new.max() >= k:
            return False
        changed = np.flatnonzero(new != np.asarray(old))
        if len(changed) > self.n // 4:
            return False
        self.labels = labels
        self.n_labels = n_labels
        if not len(changed):
            return True
        lab = self._lab[0]
        was = np.asarray(old)[changed].astype(np.int64)
        now = new[changed].astype(np.int64)
        xs, ys = xrank[changed], yrank[changed]
        self._lab = (lab.copy(), self._lab[1].copy())
        self._lab[0][xs] = now.astype(lab.dtype)
        self._lab[1][ys] = now.astype(lab.dtype)
        g, step = self._g, self._step
        rows = (ys // step).astype(np.int64)
        cols = (xs // step).astype(np.int64)
        table = self._table.copy()
        if len(changed) <= _FEW_CHANGES:
            # A point in bin (r, c) counts in every prefix sum at or past it.
            for r, c, w, v in zip(
                rows.tolist(), cols.tolist(), was.tolist(), now.tolist(), strict=True
            ):
                table[r + 1 :, c + 1 :, w] -= 1
                table[r + 1 :, c + 1 :, v] += 1
        else:
            cell = rows * g + cols
            for lb in np.unique(np.concatenate([was, now])).tolist():
                delta = np.bincount(cell[now == lb], minlength=g * g) - np.bincount(
                    cell[was == lb], minlength=g * g
                )
                delta = delta.astype(np.int32).reshape(g, g)
                table[1:, 1:, lb] += delta.cumsum(axis=0).cumsum(axis=1)
        self._table = table
        return True

    def _index_labels(
        self,
        labels: np.ndarray | None,
        n_labels: int | None,
        xrank: np.ndarray,
        yrank: np.ndarray,
    ) -> None:
        """The label part of the index: labels in both sorted orders and the count table."""
        n = self.n
        self.labels = labels
        self.n_labels = n_labels
        # bin_points counts labels in k columns: n_labels if given, else max label + 1.
        k = 0
        self._exact = True
        if labels is not None and n:
            k = int(n_labels) if n_labels else int(labels.max()) + 1
            # Labels outside 0..k-1 make bin_points' flat bincount alias; leave those to it.
            self._exact = bool(labels.min() >= 0 and labels.max() < k)
        self._k = k
        n_lab = max(k, 1)
        self._n_lab = n_lab
        ltype = np.int8 if n_lab <= 127 else (np.int16 if n_lab <= 32767 else np.int32)
        if labels is not None and k and self._exact:
            lab = np.asarray(labels).astype(ltype)
        else:
            lab = np.zeros(n, dtype=ltype)
        self._lab = (lab[self._order[0]], lab[self._order[1]])
        # Equal-count bins of `step` ranks, about sqrt(N) per axis, fewer when the table
        # (g+1)^2 x labels would outgrow INDEX_TABLE_CELLS.
        g = min(math.isqrt(max(n - 1, 0)) + 1, math.isqrt(INDEX_TABLE_CELLS // n_lab) - 1)
        step = max(1, -(-n // max(g, 1)))
        g = max(1, -(-n // step))
        self._g = g
        self._step = step
        table = np.zeros((g + 1, g + 1, n_lab), dtype=np.int32)
        if n:
            cell = (yrank // step).astype(np.int64) * g + (xrank // step).astype(np.int64)
            # One label at a time keeps the int64 bincount at g*g (not g*g*labels) cells.
            by_label = np.argsort(lab, kind="stable") if n_lab > 1 else None
            starts = np.concatenate([[0], np.cumsum(np.bincount(lab, minlength=n_lab))])
            for lb in range(n_lab):
                members = cell if by_label is None else cell[by_label[starts[lb] : starts[lb + 1]]]
                if len(members):
                    counts = np.bincount(members, minlength=g * g).reshape(g, g)
                    table[1:, 1:, lb] = counts.cumsum(axis=0).cumsum(axis=1)
        self._table = table
        self._last_inside = []  # a label change leaves the points (and their ranges) alone

    @property
    def nbytes(self) -> int:
        """Memory the index holds (not counting ``xy`` and ``labels``)."""
        parts = (*self._order, *self._other_rank, *self._lab, *self._sample, self._table)
        return int(sum(a.nbytes for a in parts))

    # ----- exact boundaries --------------------------------------------------------------
    def _prefix(
        self, axis: int, key: Callable[[np.ndarray], np.ndarray], targets: np.ndarray, side: str
    ) -> np.ndarray:
        """For each target t, how many points (sorted along ``axis``) have ``key(v) < t``
        (side "left") or ``key(v) <= t`` (side "right"); ``key`` must be non-decreasing.

        The sample (every ``stride``-th sorted value) brackets each answer to ``stride``
        ranks; those are then tested with the exact ``key`` all at once: as the predicate
        holds for a prefix, the answer is the bracket's start plus how many pass.
        """
        n, stride = self.n, self._stride
        targets = np.asarray(targets)
        if n == 0:
            return np.zeros(len(targets), dtype=np.int64)
        counted = np.searchsorted(key(self._sample[axis]), targets, side=side)  # type: ignore[call-overload]
        lo = np.maximum((counted - 1) * stride + 1, 0)
        hi = np.minimum(counted * stride, n)
        pos = lo[:, None] + np.arange(stride - 1)
        inside = pos < hi[:, None]
        kv = key(self.xy[self._order[axis][np.minimum(pos, n - 1)], axis])
        t = targets[:, None]
        ok = (kv < t) if side == "left" else (kv <= t)
        return (lo + (ok & inside).sum(axis=1)).astype(np.int64)

    def _col_bounds(self, view: Rect, width: int) -> np.ndarray:
        """x-rank ranges of the map columns: column j holds ranks ``[b[j], b[j+1])``."""
        sx = width / view.width
        x0 = view.x0

        def col(v: np.ndarray) -> np.ndarray:
            return np.floor((v - x0) * sx)  # cell_of's formula, bit for bit

        return self._prefix(0, col, np.arange(width + 1), "left")

    def _row_bounds(self, view: Rect, height: int) -> np.ndarray:
        """y-rank ranges of the map rows, bottom first: row h-1-k holds ``[b[k], b[k+1])``."""
        sy = height / view.height
        y1 = view.y1

        def minus_row(v: np.ndarray) -> np.ndarray:
            return -np.floor((y1 - v) * sy)  # rows fall as y rises; negated, they climb

        return self._prefix(1, minus_row, np.arange(-height, 1), "right")

    def _open_range(self, axis: int, lo: float, hi: float) -> tuple[int, int]:
        """Ranks along ``axis`` of the points with ``lo < v < hi``: ``[start, stop)``.

        A box's count, histogram and grid each ask for the same two ranges: the last few
        answers are kept."""
        key = (axis, lo, hi)
        found = self._ranges.get(key)
        if found is None:
            start = int(self._prefix(axis, _same, np.array([lo]), "right")[0])
            stop = int(self._prefix(axis, _same, np.array([hi]), "left")[0])
            found = (start, max(start, stop))
            if len(self._ranges) >= 8:
                self._ranges.pop(next(iter(self._ranges)))
            self._ranges[key] = found
        return found

    # ----- binning -------------------------------------------------------------------------
    def bin(self, view: Rect, width: int, height: int) -> BinnedMap:
        """Exactly ``bin_points(xy, labels, view, width, height, n_labels)``."""
        if width < 1 or height < 1:
            raise ValueError("grid must be at least 1x1")
        if self.n == 0 or not self._exact:
            return bin_points(self.xy, self.labels, view, width, height, self.n_labels)
        by_label = self._count(self._col_bounds(view, width), self._row_bounds(view, height))
        counts = by_label.sum(axis=2)
        majority = np.full((height, width), EMPTY, dtype=np.int64)
        purity = np.zeros((height, width), dtype=np.float64)
        if self.labels is not None and self._k:
            occupied = counts > 0
            # The same operations as bin_points on the occupied cells: first maximum wins
            # ties (the smaller label), purity is an int64 / int64 division.
            majority = np.where(occupied, by_label.argmax(axis=2), EMPTY)
            top = by_label.max(axis=2)
            purity = np.where(occupied, top / np.maximum(counts, 1), 0.0)
        # Rows were built from the bottom up.
        counts = np.ascontiguousarray(counts[::-1])
        majority = np.ascontiguousarray(majority[::-1])
        purity = np.ascontiguousarray(purity[::-1])
        return BinnedMap(counts=counts, majority=majority, purity=purity)

    def _count(self, bx: np.ndarray, by: np.ndarray) -> np.ndarray:
        """Label counts of the rank rectangles ``[bx[j], bx[j+1]) x [by[k], by[k+1])``,
        shape (len(by) - 1, len(bx) - 1, labels), exact.

        Whole bins come from the table (four lookups per rectangle); the points in partial
        bins are counted one by one: one axis's edges in full, then the other axis's edges
        only where they cross the first axis's cores, in the cheaper order.
        """
        n, step, g, nl = self.n, self._step, self._g, self._n_lab
        width, height = len(bx) - 1, len(by) - 1
        xs = _Axis(bx, step, g, n)
        ys = _Axis(by, step, g, n)
        # One extra row and column collect the points outside: no per-point masking needed.
        acc = np.zeros((height + 1) * (width + 1) * nl, dtype=np.int64)
        cost_x = xs.edge_total + (ys.edge_total if xs.any_core else 0)
        cost_y = ys.edge_total + (xs.edge_total if ys.any_core else 0)
        first_x = cost_x <= cost_y
        for along_x, full in ((first_x, True), (not first_x, False)):
            this, other = (xs, ys) if along_x else (ys, xs)
            if full or other.any_core:
                a = 0 if along_x else 1
                _count_edges(
                    acc, this, other, self._other_rank[a], self._lab[a], width, nl, along_x, full
                )
        by_label = acc.reshape(height + 1, width + 1, nl)[:height, :width]
        if xs.any_core and ys.any_core:
            t = self._table
            r0, r1 = ys.core_bins
            c0, c1 = xs.core_bins
            by_label += (
                t[np.ix_(r1, c1)] - t[np.ix_(r0, c1)] - t[np.ix_(r1, c0)] + t[np.ix_(r0, c0)]
            )
        return by_label

    # ----- box selections ------------------------------------------------------------------
    def _inside_ranks(self, rect: Rect) -> tuple[int, np.ndarray, np.ndarray]:
        """The points strictly inside ``rect`` as ranks ``(axis, ranks, other ranks)``.

        Only the narrower of the x-slab and the y-slab is scanned; ``ranks`` ascend along
        ``axis``. The last two answers are kept: a box move asks for the count, the list
        and the histogram, then the grid (whose region can be an ulp larger, see grid_hull).
        """
        for seen, answer in self._last_inside:
            if seen == rect:
                return answer
        x_start, x_stop = self._open_range(0, rect.x0, rect.x1)
        y_start, y_stop = self._open_range(1, rect.y0, rect.y1)
        if x_stop - x_start <= y_stop - y_start:
            axis, start, stop, lo, hi = 0, x_start, x_stop, y_start, y_stop
        else:
            axis, start, stop, lo, hi = 1, y_start, y_stop, x_start, x_stop
        other = self._other_rank[axis][start:stop]
        hit = np.flatnonzero((other >= lo) & (other < hi))
        found = (axis, hit + start, other[hit])
        self._last_inside = [(rect, found), *self._last_inside[:1]]
        return found

    def inside(self, rect: Rect) -> np.ndarray:
        """Exactly ``inside(xy, rect)``: indices strictly inside, ascending."""
        axis, ranks, _ = self._inside_ranks(rect)
        return np.sort(self._order[axis][ranks].astype(np.int64))

    def count(self, rect: Rect) -> int:
        """Exactly ``len(inside(xy, rect))``."""
        return len(self._inside_ranks(rect)[1])

    def list_select(
        self, rect: Rect, sort: SortKey = "index", start: int = 0, stop: int | None = None
    ) -> np.ndarray:
        """Exactly ``list_select(xy, rect, labels, sort, start, stop)`` with the index's
        labels; a page of a large box costs a partition, not a sort (:func:`stable_page`)."""
        if sort not in SORT_KEYS:
            raise InputError(f"--sort {sort!r}: choose one of {', '.join(SORT_KEYS)}")
        axis, ranks, other = self._inside_ranks(rect)
        if sort in ("x", "y"):
            # A rank is the position in a stable sort, so ascending ranks are list_select's
            # stable argsort: equal coordinates in index order.
            # Along the other axis the ranks are distinct: their page is by value alone.
            want = 0 if sort == "x" else 1
            page = ranks[start:stop] if want == axis else _distinct_page(other, start, stop)
            return self._order[want][page].astype(np.int64)
        idx = self._order[axis][ranks].astype(np.int64)
        if sort == "label" and self.labels is not None and len(idx):
            idx = np.sort(idx)
            return idx[stable_page(self.labels[idx], start, stop)]
        return _distinct_page(idx, start, stop)

    def label_counts(self, rect: Rect, n_labels: int) -> np.ndarray:
        """Exactly ``label_histogram(labels, inside(xy, rect), n_labels)``.

        In rank space the box is one rectangle, so it is counted like a one-cell map:
        whole bins from the table, only the points of its partial edge bins one by one.
        """
        if self.labels is None or n_labels == 0:
            return np.zeros(0, dtype=np.int64)
        if not self._exact or not self._k:
            axis, ranks, _ = self._inside_ranks(rect)
            return np.bincount(self.labels[self._order[axis][ranks]], minlength=n_labels)
        bx = np.array(self._open_range(0, rect.x0, rect.x1), dtype=np.int64)
        by = np.array(self._open_range(1, rect.y0, rect.y1), dtype=np.int64)
        counts = self._count(bx, by)[0, 0]
        out = np.zeros(max(n_labels, len(counts)), dtype=np.int64)
        out[: len(counts)] = counts
        # bincount's length: n_labels, or longer to reach the largest label present
        present = np.flatnonzero(out)
        return out[: max(n_labels, int(present[-1]) + 1 if len(present) else 0)]

    def grid_select(self, rect: Rect, rows: int, cols: int) -> np.ndarray:
        """Exactly ``grid_select(xy, rect, rows, cols)``, looking only near the cell centres.

        Each cell's winner is the candidate nearest its centre in pitch-normalised distance.
        Search a window of half-size ``s`` pitches around the centre: any point outside it
        is at least ``s`` away (less the rounding of the window's float edges), so a winner
        found inside at a distance clearly below that is the cell's winner (ties included:
        a point outside cannot tie). Otherwise the window doubles; the last one is the
        cell itself, bounded exactly as the seed bounds it, whose candidates then are all in.
        """
        if rows < 1 or cols < 1:
            raise InputError(f"--grid {rows}x{cols}: rows and columns must be at least 1")
        out = np.full((rows, cols), EMPTY, dtype=np.int64)
        hull = grid_hull(rect, rows, cols)
        x_start, x_stop = self._open_range(0, hull.x0, hull.x1)
        y_start, y_stop = self._open_range(1, hull.y0, hull.y1)
        at_most = min(x_stop - x_start, y_stop - y_start)  # points in the box, at most
        if at_most <= 4096:  # few points: the candidates of every cell at once
            axis, ranks, _ = self._inside_ranks(hull)
            return _grid_pick(self.xy, self._order[axis][ranks], rect, rows, cols)
        px = (rect.x1 - rect.x0) / cols
        py = (rect.y1 - rect.y0) / rows
        # Centres and bounds exactly as grid_candidates computes them.
        cx_all, x_lo_all, x_hi_all = _cell_bounds(rect.x0, px, cols, down=False)
        cy_all, y_lo_all, y_hi_all = _cell_bounds(rect.y1, py, rows, down=True)
        todo = np.arange(rows * cols)
        # Start where a window holds a few dozen points if the box were evenly filled.
        half = min(0.5, max(1 / 256, math.sqrt(48 * rows * cols / at_most) / 2))
        eps = np.finfo(np.float64).eps
        while len(todo):
            final = half >= 0.5
            cr, cc = np.divmod(todo, cols)
            cx, cy = cx_all[cc], cy_all[cr]
            if final:  # the cells themselves: every candidate is in
                x_lo, x_hi = x_lo_all[cc], x_hi_all[cc]
                y_lo, y_hi = y_lo_all[cr], y_hi_all[cr]
            else:
                x_lo, x_hi = cx - half * px, cx + half * px
                y_lo, y_hi = cy - half * py, cy + half * py
            # How far (in pitches) rounding may have moved a window edge inwards.
            slack = 1e-6 + 4 * eps * np.maximum(
                (np.abs(cx) + half * px) / px, (np.abs(cy) + half * py) / py
            )
            x_lo = self._prefix(0, _same, x_lo, "right")
            x_hi = self._prefix(0, _same, x_hi, "left")
            y_lo = self._prefix(1, _same, y_lo, "right")
            y_hi = self._prefix(1, _same, y_hi, "left")
            keep = []
            for k, cell in enumerate(todo.tolist()):
                if x_hi[k] - x_lo[k] <= y_hi[k] - y_lo[k]:
                    a, start, stop, lo, hi = 0, x_lo[k], x_hi[k], y_lo[k], y_hi[k]
                else:
                    a, start, stop, lo, hi = 1, y_lo[k], y_hi[k], x_lo[k], x_hi[k]
                other = self._other_rank[a][start:stop]
                idx = self._order[a][start:stop][(other >= lo) & (other < hi)]
                best = _nearest(self.xy, idx, cx_all, cy_all, px, py, cell, cols)
                if best is None:
                    if not final:
                        keep.append(cell)
                    continue
                point, dist = best
                reach = half - slack[k]
                # Clearly inside the window: float rounding cannot reorder what is left.
                if final or (reach > 0 and dist < reach * reach * (1 - 1e-9)):
                    out.flat[cell] = point
                else:
                    keep.append(cell)
            todo = np.array(keep, dtype=np.int64)
            half *= 2
        return out


def _same(v: np.ndarray) -> np.ndarray:
    return v


def _nearest(
    xy: np.ndarray,
    idx: np.ndarray,
    cx_all: np.ndarray,
    cy_all: np.ndarray,
    px: float,
    py: float,
    cell: int,
    cols: int,
) -> tuple[int, float] | None:
    """The winner of grid cell ``cell`` among the points ``idx``, by grid_select's rule.

    Candidates are strictly inside the cell's float bounds (the seed's rule: they may reach
    an ulp past the box); the distance is computed with the same float operations as
    :func:`grid_candidates`, and ties go to the smaller index.
    """
    if len(idx) == 0:
        return None
    r, c = divmod(cell, cols)
    x = xy[idx, 0]
    y = xy[idx, 1]
    cx = cx_all[c : c + 1]
    cy = cy_all[r : r + 1]
    ok = (cx - px / 2 < x) & (x < cx + px / 2) & (cy - py / 2 < y) & (y < cy + py / 2)
    if not ok.any():
        return None
    d = ((x[ok] - cx) / px) ** 2 + ((y[ok] - cy) / py) ** 2
    pts = idx[ok]
    low = d.min()
    return int(pts[d == low].min()), float(low)


def _stable_argsort(values: np.ndarray, itype: type[np.integer]) -> np.ndarray:
    """``np.argsort(values, kind="stable")`` (equal values in index order), faster.

    numpy's stable float sort is a merge sort, 2-3x slower than its introsort; ties are
    rare in embeddings, so sort unstably and put only the runs of equal values in order.
    (NaNs keep an arbitrary order among themselves: they are in no view and no box.)
    """
    order: np.ndarray = np.argsort(values).astype(itype)
    ordered = values[order]
    tie = ordered[1:] == ordered[:-1]
    if tie.any():
        at = np.flatnonzero(tie)
        members = np.union1d(at, at + 1)
        run = np.cumsum(np.concatenate([[True], ~tie]))[members]
        sub = order[members]
        order[members] = sub[np.lexsort((sub, run))]
    return order


class _Axis:
    """One axis of the map: its slots (columns, or rows from the bottom) as rank ranges,
    each split into a core of whole bins and partial edges."""

    def __init__(self, bounds: np.ndarray, step: int, g: int, n: int) -> None:
        self.bounds = bounds
        self.step = step
        m = len(bounds) - 1
        self.outside = m
        lo, hi = bounds[:-1], bounds[1:]
        k0 = np.minimum(-(-lo // step), g)  # first bin edge at or after the slot's start
        k1 = np.where(hi >= n, g, hi // step)  # last bin edge at or before its end
        has = k0 < k1
        e0 = np.minimum(k0 * step, n)
        e1 = np.minimum(k1 * step, n)
        self.any_core = bool(has.any())
        self.core_bins = (k0, np.where(has, k1, k0))  # an empty core looks up zero area
        # Core rank ranges, with an empty one appended for the "outside" slot m.
        self.core_lo = np.append(np.where(has, e0, 0), 0)
        self.core_hi = np.append(np.where(has, e1, 0), 0)
        slots = np.arange(m, dtype=np.int64)
        # Edges: [start, core start) and [core end, stop), or the whole slot without a core.
        self.edge_start = np.concatenate([lo, np.where(has, e1, hi)])
        self.edge_stop = np.concatenate([np.where(has, e0, hi), hi])
        self.edge_slot = np.concatenate([slots, slots])
        self.edge_total = int(np.maximum(self.edge_stop - self.edge_start, 0).sum())
        self.n = n

    def slot_of(self, ranks: np.ndarray) -> np.ndarray:
        """Each rank's slot, with ``outside`` (= the number of slots) for ranks not in view."""
        m = self.outside
        n_cells = (self.n >> self._shift()) + 1
        if len(ranks) * 4 < n_cells:  # few ranks: a table would cost more than it saves
            slot = np.searchsorted(self.bounds, ranks, side="right") - 1
            slot[slot < 0] = m
            return slot
        lut, split, shift = self._lookup()
        cell = ranks >> shift
        slot = lut[cell]
        hard = np.flatnonzero(split[cell])
        if len(hard):
            exact = np.searchsorted(self.bounds, ranks[hard], side="right") - 1
            exact[exact < 0] = m
            slot[hard] = exact
        return slot

    def _shift(self) -> int:
        return max(0, (self.n - 1).bit_length() - 16)

    def _lookup(self) -> tuple[np.ndarray, np.ndarray, int]:
        """A table from cells of 2**shift ranks to the slot of each cell's first rank
        (outside: m), and which cells a boundary cuts (their ranks are searched instead).
        searchsorted on random ranks costs ~20 ns each; the table, ~1 ns."""
        bounds, m = self.bounds, self.outside
        shift = self._shift()
        n_cells = (self.n >> shift) + 1
        starts = -(-bounds >> shift)  # first cell starting at or after each boundary
        first = np.bincount(np.minimum(starts, n_cells), minlength=n_cells + 1)[:n_cells]
        lut = np.cumsum(first) - 1
        lut[lut < 0] = m
        split = np.zeros(n_cells, dtype=bool)
        cut = bounds[(bounds & ((1 << shift) - 1)) != 0]
        split[np.minimum(cut >> shift, n_cells - 1)] = True
        return lut, split, shift


def _expand(start: np.ndarray, stop: np.ndarray, slot: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """All positions of the ranges ``[start, stop)`` and the slot each belongs to."""
    lens = np.maximum(stop - start, 0)
    keep = lens > 0
    start, lens, slot = start[keep], lens[keep], slot[keep]
    total = int(lens.sum())
    if total == 0:
        empty = np.zeros(0, dtype=np.int64)
        return empty, empty
    offsets = np.cumsum(lens) - lens
    pos = np.arange(total, dtype=np.int64) + np.repeat(start - offsets, lens)
    return pos, np.repeat(slot, lens)


def _count_edges(
    acc: np.ndarray,
    this: _Axis,
    other: _Axis,
    other_rank: np.ndarray,
    lab: np.ndarray,
    width: int,
    n_lab: int,
    along_x: bool,
    full: bool,
) -> None:
    """Add the points of ``this`` axis's edge ranges to ``acc``.

    ``full``: every such point counts (those outside the view land in the extra row or
    column). Otherwise the other axis went first in full, so only the points in its cores
    are new here.
    """
    pos, slot = _expand(this.edge_start, this.edge_stop, this.edge_slot)
    if len(pos) == 0:
        return
    r = other_rank[pos]
    o = other.slot_of(r)
    if not full:
        keep = (r >= other.core_lo[o]) & (r < other.core_hi[o])
        pos, slot, o = pos[keep], slot[keep], o[keep]
    stride = width + 1
    flat = o * stride + slot if along_x else slot * stride + o
    if n_lab > 1:
        flat = flat * n_lab + lab[pos]
    acc += np.bincount(flat, minlength=len(acc))
