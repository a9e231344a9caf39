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

import math
from dataclasses import dataclass
from typing import Literal

import numpy as np

from digitmap_tui.errors import InputError

SortKey = Literal["index", "x", "y", "label"]
SORT_KEYS: tuple[SortKey, ...] = ("index", "x", "y", "label")

#: Value of a grid cell (or of ``majority``) that holds no point.
EMPTY = -1


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
    lo = xy.min(axis=0)
    hi = xy.max(axis=0)
    span = np.maximum(hi - lo, 1e-9)
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
    col = np.floor((xy[:, 0] - view.x0) * sx)
    row = np.floor((view.y1 - xy[:, 1]) * sy)
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
    col, row = cell_of(xy, view, width, height)
    inside = (col >= 0) & (col < width) & (row >= 0) & (row < height)
    flat = (row[inside] * width + col[inside]).astype(np.int64)
    cells = width * height
    counts = np.bincount(flat, minlength=cells)
    majority = np.full(cells, EMPTY, dtype=np.int64)
    purity = np.zeros(cells, dtype=np.float64)
    if labels is not None and len(flat):
        k = int(n_labels) if n_labels else int(labels.max()) + 1
        by_label = np.bincount(flat * k + labels[inside], minlength=cells * k).reshape(cells, k)
        occupied = counts > 0
        majority[occupied] = by_label[occupied].argmax(axis=1)
        purity[occupied] = by_label[occupied].max(axis=1) / counts[occupied]
    return BinnedMap(
        counts=counts.reshape(height, width),
        majority=majority.reshape(height, width),
        purity=purity.reshape(height, width),
    )


def inside(xy: np.ndarray, rect: Rect) -> np.ndarray:
    """Indices of the points strictly inside ``rect`` (the seed's ``np.where``), ascending."""
    x = xy[:, 0]
    y = xy[:, 1]
    mask = (rect.x0 < x) & (x < rect.x1) & (rect.y0 < y) & (y < rect.y1)
    return np.flatnonzero(mask)


def list_select(
    xy: np.ndarray, rect: Rect, labels: np.ndarray | None = None, sort: SortKey = "index"
) -> np.ndarray:
    """All points strictly inside ``rect``, sorted by index, x, y or label.

    Sorting is stable, so equal keys stay in index order (the seed's ``argsort`` on x).
    """
    idx = inside(xy, rect)
    if sort == "index" or len(idx) == 0:
        return idx
    if sort == "x":
        key = xy[idx, 0]
    elif sort == "y":
        key = xy[idx, 1]
    elif sort == "label":
        if labels is None:
            return idx
        key = labels[idx]
    else:
        raise InputError(f"--sort {sort!r}: choose one of {', '.join(SORT_KEYS)}")
    return idx[np.argsort(key, kind="stable")]


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
    return _grid_select_among(xy, inside(xy, rect), rect, rows, cols)


def _grid_select_among(
    xy: np.ndarray, idx: np.ndarray, rect: Rect, rows: int, cols: int
) -> np.ndarray:
    """:func:`grid_select` given ``idx``, the points strictly inside ``rect`` (any order)."""
    out = np.full((rows, cols), EMPTY, dtype=np.int64)
    if len(idx) == 0:
        return out
    px = (rect.x1 - rect.x0) / cols
    py = (rect.y1 - rect.y0) / rows
    x = xy[idx, 0]
    y = xy[idx, 1]
    # Candidate cells by floor division, then the neighbours too: the seed's float bounds can
    # disagree with floor() by an ulp, and a point can then sit strictly inside two cells.
    base_c = np.clip(np.floor((x - rect.x0) / px).astype(np.int64), 0, cols - 1)
    base_r = np.clip(np.floor((rect.y1 - y) / py).astype(np.int64), 0, rows - 1)
    cand_pt: list[np.ndarray] = []
    cand_cell: list[np.ndarray] = []
    cand_d: list[np.ndarray] = []
    for dr in (-1, 0, 1):
        r = base_r + dr
        for dc in (-1, 0, 1):
            c = base_c + dc
            ok = (r >= 0) & (r < rows) & (c >= 0) & (c < cols)
            cx = rect.x0 + px * c + px / 2
            cy = rect.y1 - py * r - py / 2
            ok &= (cx - px / 2 < x) & (x < cx + px / 2) & (cy - py / 2 < y) & (y < cy + py / 2)
            if ok.any():
                d = ((x[ok] - cx[ok]) / px) ** 2 + ((y[ok] - cy[ok]) / py) ** 2
                cand_pt.append(idx[ok])
                cand_cell.append(r[ok] * cols + c[ok])
                cand_d.append(d)
    if not cand_pt:
        return out
    pts = np.concatenate(cand_pt)
    cells = np.concatenate(cand_cell)
    dist = np.concatenate(cand_d)
    order = np.lexsort((pts, dist, cells))
    cells_sorted = cells[order]
    first = np.ones(len(order), dtype=bool)
    first[1:] = cells_sorted[1:] != cells_sorted[:-1]
    flat = out.reshape(-1)
    flat[cells_sorted[first]] = pts[order][first]
    return out


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


def parse_grid(text: str) -> tuple[int, int]:
    """Parse ``ROWSxCOLS`` (e.g. ``4x4``) for ``--grid``; 1..64 each."""
    parts = text.lower().split("x")
    if len(parts) != 2 or not all(p.strip().isdigit() for p in parts):
        raise InputError(f"--grid {text!r}: expected ROWSxCOLS, e.g. 4x4")
    rows, cols = int(parts[0]), int(parts[1])
    if not (1 <= rows <= 64 and 1 <= cols <= 64):
        raise InputError(f"--grid {text!r}: rows and columns must be between 1 and 64")
    return rows, cols


def label_histogram(labels: np.ndarray | None, idx: np.ndarray, n_labels: int) -> np.ndarray:
    """Counts of each label among the points ``idx`` (length ``n_labels``)."""
    if labels is None or n_labels == 0:
        return np.zeros(0, dtype=np.int64)
    return np.bincount(labels[idx], minlength=n_labels)
