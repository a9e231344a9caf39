"""Search: the points a query names, and the order ``n``/``N`` visit them in.

A query is what a user types after ``/``:

- an index, ``1118`` or ``#1118``: that point;
- a label, ``L:3`` (``l:3`` too), or ``L:`` and a class name: every point with that label;
- a class name alone (an image folder's subfolder, any case): every point of the classes
  whose name is exactly that, else of those whose name contains it.

Hits are visited in reading order over the map: the embedding's region is cut into
:data:`READING_ROWS` bands from the top, and within a band the hits go left to right, so
``n`` sweeps the map as the eye reads a page (the order depends on the embedding alone).
A new search starts at the first hit at or after the box's centre, as vim's ``/`` starts
at the cursor. Pure numpy: the session and the tests call it directly.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace

import numpy as np

from digitmap_tui.errors import InputError
from digitmap_tui.grid import Rect
from digitmap_tui.text import safe

#: Bands the map is read in (the cluster grid's rows: independent of the terminal).
READING_ROWS = 24
#: What a search may be, for the messages.
HOWTO = "search an index (1118), a label (L:3) or a class name"


@dataclass(frozen=True)
class Query:
    """A parsed search: ``kind`` "index" (``values`` = the index) or "label" (the labels)."""

    text: str
    kind: str
    values: tuple[int, ...]

    def describe(self) -> str:
        """The query as the status line and notifications show it (escaped)."""
        return safe(self.text)


def parse_query(
    text: str, n: int, n_labels: int, label_names: Sequence[str] | None = None
) -> Query:
    """Read a query (see the module docstring); a query that names nothing is an
    :class:`InputError` whose one-line message says why (out of range, no such label...)."""
    raw = text.strip()
    if not raw:
        raise InputError(f"an empty search: {HOWTO}")
    shown = safe(raw)
    number = raw[1:] if raw.startswith("#") else raw
    if number.isascii() and number.isdigit():
        index = int(number)
        if index >= n:
            raise InputError(f"no point {index}: indices go from 0 to {n - 1}")
        return Query(raw, "index", (index,))
    if raw[:2] in ("L:", "l:"):
        wanted = raw[2:].strip()
        if not wanted:
            raise InputError("L: needs a label: L:3, or L: and a class name")
        if n_labels == 0:
            raise InputError(f"{shown}: this data has no labels")
        if wanted.isascii() and wanted.isdigit():
            label = int(wanted)
            if label >= n_labels:
                raise InputError(f"no label {label}: labels go from 0 to {n_labels - 1}")
            return Query(raw, "label", (label,))
        return Query(raw, "label", _labels_named(wanted, safe(wanted), label_names))
    return Query(raw, "label", _labels_named(raw, shown, label_names))


def _labels_named(name: str, shown: str, label_names: Sequence[str] | None) -> tuple[int, ...]:
    if not label_names:
        raise InputError(
            f"{shown}: not an index or a label, and the classes have no names ({HOWTO})"
        )
    wanted = name.casefold()
    exact = tuple(i for i, nm in enumerate(label_names) if nm.casefold() == wanted)
    if exact:
        return exact
    partial = tuple(i for i, nm in enumerate(label_names) if wanted and wanted in nm.casefold())
    if not partial:
        raise InputError(f"no class named {shown}")
    return partial


def matches(query: Query, n: int, labels: np.ndarray | None) -> np.ndarray:
    """Every point the query names, ascending."""
    if query.kind == "index":
        return np.array([i for i in query.values if 0 <= i < n], dtype=np.int64)
    if labels is None:
        return np.zeros(0, dtype=np.int64)
    return np.flatnonzero(np.isin(labels, np.asarray(query.values, dtype=np.int64)))


def reading_keys(
    xy: np.ndarray, region: Rect, rows: int = READING_ROWS
) -> tuple[np.ndarray, np.ndarray]:
    """(band, x) of points: the band from the top of ``region`` (clipped), then x."""
    xy = np.asarray(xy, dtype=np.float64).reshape(-1, 2)
    height = region.height if region.height > 0 else 1.0
    band = np.floor((region.y1 - xy[:, 1]) / height * rows)
    return np.clip(np.nan_to_num(band, nan=0.0), 0, rows - 1).astype(np.int64), xy[:, 0]


def reading_order(xy: np.ndarray, hits: np.ndarray, region: Rect) -> np.ndarray:
    """``hits`` in reading order over ``region`` (ties: ascending index)."""
    hits = np.sort(np.asarray(hits, dtype=np.int64))
    band, x = reading_keys(xy[hits], region)
    return hits[np.lexsort((x, band))]


def first_from(xy: np.ndarray, order: np.ndarray, region: Rect, point: tuple[float, float]) -> int:
    """The position in ``order`` of the first hit at or after ``point`` in reading order
    (the first hit when none is)."""
    if len(order) == 0:
        return 0
    band, x = reading_keys(xy[order], region)
    (pb,), (px,) = reading_keys(np.array([point], dtype=np.float64), region)
    after = (band > pb) | ((band == pb) & (x >= px))
    found = np.flatnonzero(after)
    return int(found[0]) if len(found) else 0


@dataclass(frozen=True, eq=False)
class Hits:
    """The points a search found, in the order ``n`` visits them, and the one shown now.

    ``xy`` is the embedding the order was made on (a new embedding reorders them)."""

    query: Query
    order: np.ndarray
    position: int
    xy: np.ndarray

    def __len__(self) -> int:
        return len(self.order)

    @property
    def current(self) -> int:
        return int(self.order[self.position])

    def step(self, step: int) -> Hits:
        """The next (``step`` 1) or previous (-1) hit, wrapping around."""
        return replace(self, position=(self.position + step) % len(self.order))

    def status(self) -> str:
        """``hit 3/17 · L:3`` for the status line."""
        return f"hit {self.position + 1}/{len(self.order)} · {self.query.describe()}"


def find(
    query: Query,
    xy: np.ndarray,
    labels: np.ndarray | None,
    region: Rect,
    start: tuple[float, float],
) -> Hits | None:
    """The hits of ``query`` on the embedding ``xy``, positioned at the first one at or after
    ``start`` (the box's centre); None when nothing matches."""
    found = matches(query, len(xy), labels)
    if len(found) == 0:
        return None
    order = reading_order(xy, found, region)
    return Hits(query, order, first_from(xy, order, region, start), xy)


def reorder(hits: Hits, xy: np.ndarray, region: Rect) -> Hits:
    """The same hits on another embedding, still at the point shown now."""
    order = reading_order(xy, hits.order, region)
    position = int(np.flatnonzero(order == hits.current)[0])
    return Hits(hits.query, order, position, xy)
