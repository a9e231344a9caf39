"""The explorer's state with no Textual in it: one model, thin views.

:class:`State` is everything a user can set (view, box, map mode, grid, list order and page,
label filter, mark), in data coordinates, with :meth:`State.to_dict`/:meth:`State.from_dict`
(validated like the command line's flags): bookmarks, export provenance and the reproducing
``digitmap render ...`` line are written from it and read back into it.

:class:`Session` holds a state together with the data it applies to (the dataset, the
embedding, its spatial index) and implements every operation on it as plain methods: the
explorer's widgets only draw what it says, and ``digitmap render`` and the tests call the
very same code. The selection is the points strictly inside the box, whatever the view,
the terminal or the panel look like.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from digitmap_tui import selection as geo
from digitmap_tui.data import MAX_LABEL
from digitmap_tui.errors import InputError
from digitmap_tui.grid import (
    MAX_GRID,
    SORT_KEYS,
    BoxPoints,
    PointIndex,
    Rect,
    SortKey,
    bin_points,
    check_grid,
    check_view,
    grid_select_among,
    histogram_pairs,
    label_histogram,
    select_box,
    sort_page,
)
from digitmap_tui.maprender import MAP_MODES
from digitmap_tui.text import safe

if TYPE_CHECKING:
    from collections.abc import Callable

    from digitmap_tui.data import Dataset
    from digitmap_tui.inputs import Inputs
    from digitmap_tui.methods.params import EmbedParams
    from digitmap_tui.search import Hits

#: The keys of :meth:`State.to_dict` (what a bookmark or an export records of the view).
STATE_FIELDS = (
    "view", "box", "mode", "grid", "list_mode", "sort", "page", "focus", "mark", "mean_grid",
)  # fmt: skip
#: Cells of the fixed map on which label clusters are found (independent of the terminal).
CLUSTER_GRID = (24, 48)


# ----- where the data and the map come from --------------------------------------------------
@dataclass(frozen=True)
class Source:
    """The identity of the dataset and of the files it came from (as typed, absolute).

    ``hasher`` gives the dataset's content hash, worked out on first use (the dataset keeps
    it): a render without a cache never needs it, and hashing 10M images took 0.55 s."""

    dataset: str
    n: int
    hasher: Callable[[], str] = field(repr=False, compare=False)
    data: str | None = None
    labels: str | None = None
    shape: str | None = None
    embedding: str | None = None
    size: str | None = None  # --size of an image folder, as typed

    @classmethod
    def from_inputs(cls, inputs: Inputs) -> Source:
        ds = inputs.dataset
        return cls(
            dataset=safe(ds.name),
            n=int(ds.n),
            hasher=ds.fingerprint,
            data=inputs.data_path,
            labels=inputs.labels_path,
            shape=inputs.shape_text,
            embedding=inputs.embedding_path,
            size=getattr(inputs, "size_text", None),
        )

    @property
    def fingerprint(self) -> str:
        return self.hasher()

    def describe(self, params: EmbedParams) -> str:
        """Where the map comes from: the method and parameters, or the embedding file."""
        if self.embedding:
            return f"embedding {safe(Path(self.embedding).name)}"
        return params.describe()


# ----- the state -----------------------------------------------------------------------------
@dataclass(frozen=True)
class State:
    """What the user set: ``None`` view/box mean "the embedding's initial ones"."""

    view: Rect | None = None
    box: Rect | None = None
    mode: str = "label"
    grid: tuple[int, int] = (4, 4)
    list_mode: bool = False
    sort: SortKey = "x"
    page: int = 0
    focus: frozenset[int] | None = None
    mark: int | None = None
    mean_grid: bool = False

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON types, the keys :meth:`from_dict` reads."""
        return {
            "view": None if self.view is None else self.view.as_list(),
            "box": None if self.box is None else self.box.as_list(),
            "mode": self.mode,
            "grid": list(self.grid),
            "list_mode": self.list_mode,
            "sort": self.sort,
            "page": self.page,
            "focus": None if self.focus is None else sorted(self.focus),
            "mark": self.mark,
            "mean_grid": self.mean_grid,
        }

    @classmethod
    def from_dict(cls, data: Any, n: int | None = None) -> State:
        """A state from :meth:`to_dict`'s keys (missing ones take defaults, unknown ones are
        ignored), each checked as its command-line flag is (``--view``, ``--box``,
        ``--grid``, ``--mode``, ``--sort``, ``--list``); a one-line :class:`InputError` names
        the first bad field. ``n`` (the number of points) bounds ``mark``."""
        if not isinstance(data, dict):
            raise InputError("state: expected a JSON object")
        out = cls()
        kw: dict[str, Any] = {}
        for name in ("view", "box"):
            if data.get(name) is not None:
                kw[name] = _rect(data[name], name)
        if "mode" in data:
            kw["mode"] = _choice(data["mode"], "mode", MAP_MODES)
        if "grid" in data and data["grid"] is not None:
            kw["grid"] = _grid(data["grid"])
        if "sort" in data:
            kw["sort"] = _choice(data["sort"], "sort", SORT_KEYS)
        for name in ("list_mode", "mean_grid"):
            if name in data:
                if not isinstance(data[name], bool):
                    raise InputError(f"{name} {_show(data[name])}: expected true or false")
                kw[name] = data[name]
        if "page" in data:
            kw["page"] = _int(data["page"], "page", 0, 10**9)
        if data.get("focus") is not None:
            values = data["focus"]
            ok = isinstance(values, (list, tuple)) and len(values) <= MAX_LABEL + 1
            if not ok or not all(
                isinstance(v, int) and not isinstance(v, bool) and 0 <= v <= MAX_LABEL
                for v in values
            ):
                raise InputError(
                    f"focus {_show(values)}: expected null or a list of labels from 0 to"
                    f" {MAX_LABEL}"
                )
            kw["focus"] = frozenset(values) or None
        if data.get("mark") is not None:
            kw["mark"] = _int(data["mark"], "mark", 0, (n - 1) if n else 2**62)
        return replace(out, **kw)


def _show(value: Any) -> str:
    """A value read from a file, as JSON, shortened and escaped for a one-line message."""
    import json

    try:
        text = json.dumps(value, default=str)
    except (TypeError, ValueError):
        text = type(value).__name__
    text = safe(text)
    return text if len(text) <= 60 else text[:57] + "..."


def _int(value: Any, name: str, lo: int, hi: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise InputError(f"{name} {_show(value)}: expected a whole number from {lo} to {hi}")
    if not lo <= value <= hi:
        raise InputError(f"{name} {_show(value)}: must be between {lo} and {hi}")
    return value


def _choice(value: Any, name: str, choices: tuple[str, ...]) -> Any:
    if not isinstance(value, str) or value not in choices:
        raise InputError(f"{name} {_show(value)}: expected one of {', '.join(choices)}")
    return value


def _grid(value: Any) -> tuple[int, int]:
    ok = isinstance(value, (list, tuple)) and len(value) == 2
    if not ok or not all(isinstance(v, int) and not isinstance(v, bool) for v in value):
        raise InputError(
            f"grid {_show(value)}: expected [rows, cols], whole numbers from 1 to {MAX_GRID}"
        )
    return check_grid(int(value[0]), int(value[1]), f"grid {_show(value)}")


def _rect(value: Any, name: str) -> Rect:
    numbers = []
    if isinstance(value, (list, tuple)) and len(value) == 4:
        for v in value:
            if isinstance(v, bool) or not isinstance(v, (int, float)):
                break
            if isinstance(v, int) and abs(v) >= 2**1023:
                break  # float() of a larger int overflows
            numbers.append(float(v))
    if len(numbers) != 4 or not all(math.isfinite(v) for v in numbers):
        raise InputError(f"{name} {_show(value)}: expected four finite numbers [x0, x1, y0, y1]")
    try:
        rect = Rect(*numbers)
    except InputError as exc:
        raise InputError(f"{name} {_show(value)}: {str(exc).split(': ', 1)[-1]}") from None
    return check_view(rect, f"{name} {_show(value)}")


# ----- the selection -------------------------------------------------------------------------
class Selection:
    """The points strictly inside the box, computed lazily and once per box: a key press
    that needs only a count, a histogram and a grid never sorts the whole selection, and a
    list page sorts only what it shows.

    With the session's spatial index (the explorer) every answer touches only the box's slab
    of points; without one (``digitmap render``, a single picture) the box is selected in
    one pass over the points instead, which is cheaper than building the index.
    """

    def __init__(
        self,
        xy: np.ndarray,
        index: PointIndex | None,
        box: Rect,
        labels: np.ndarray | None,
        n_labels: int,
        grid: tuple[int, int] = (1, 1),
    ) -> None:
        self.xy = xy
        self.index = index
        self.box = box
        self.labels = labels
        self.n_labels = n_labels
        self._points: BoxPoints | None = None
        self._points_grid = grid
        self._grids: dict[tuple[int, int], np.ndarray] = {}

    def _box_points(self, grid: tuple[int, int] | None = None) -> BoxPoints:
        grid = grid or self._points_grid
        if self._points is None or grid != self._points_grid:
            self._points = select_box(self.xy, self.box, *grid)
            self._points_grid = grid
        return self._points

    @cached_property
    def indices(self) -> np.ndarray:
        """The selected points, ascending."""
        if self.index is not None:
            return self.index.inside(self.box)
        return self._box_points().inside

    @cached_property
    def histogram(self) -> np.ndarray:
        """Counts per label (empty without labels)."""
        if self.index is not None:
            return self.index.label_counts(self.box, self.n_labels)
        return label_histogram(self.labels, self.indices, self.n_labels)

    @cached_property
    def count(self) -> int:
        if self.index is not None:
            return self.index.count(self.box)
        return len(self.indices)

    @property
    def pairs(self) -> tuple[tuple[int, int], ...]:
        return histogram_pairs(self.histogram)

    def page(self, sort: SortKey, start: int = 0, stop: int | None = None) -> np.ndarray:
        """``[start:stop]`` of the selected points in list order (only that much is sorted)."""
        if self.index is not None:
            return self.index.list_select(self.box, sort, start, stop)
        return sort_page(self.xy, self.indices, sort, self.labels, start, stop)

    def sorted(self, sort: SortKey) -> np.ndarray:
        """All the selected points in list order."""
        return self.page(sort)

    def grid(self, rows: int, cols: int) -> np.ndarray:
        """The seed's grid: the point nearest each cell centre (``EMPTY`` where none)."""
        found = self._grids.get((rows, cols))
        if found is None:
            if self.index is not None:
                found = self.index.grid_select(self.box, rows, cols)
            else:
                points = self._box_points((rows, cols))
                found = grid_select_among(self.xy, points, self.box, rows, cols)
            self._grids[(rows, cols)] = found
        return found


# ----- the session ---------------------------------------------------------------------------
@dataclass
class Session:
    """A state, the data it applies to, and every operation on them."""

    dataset: Dataset
    source: Source
    params: EmbedParams
    state: State = field(default_factory=State)
    coords: np.ndarray | None = None
    index: PointIndex | None = None
    home: Rect | None = None  # the embedding's initial view
    #: The coordinates are a stand-in (a PCA preview) while the chosen method computes.
    preview: bool = False
    preview_text: str = "PCA preview"
    #: Why the preview stays ("cancelled", "failed"); "" while the chosen method computes.
    preview_stopped: str = ""
    #: A set of points shown instead of the box (a picked sub-cluster), with its title.
    subset: np.ndarray | None = None
    subset_title: str = ""
    #: Points drawn emphasised on the map (misfits, neighbours …), and what they are.
    highlight: np.ndarray | None = None
    highlight_kind: str = ""
    #: The last search's hits (``/``), stepped through with ``n``/``N``.
    search: Hits | None = None
    #: Labels shown instead of the dataset's own (corrected in a label review); see set_labels.
    corrected: np.ndarray | None = None
    _selection: Selection | None = field(default=None, init=False, repr=False)
    _clusters: dict[int, list[Rect]] = field(default_factory=dict, init=False, repr=False)
    _corrected_n: int = field(default=0, init=False, repr=False)

    @classmethod
    def from_inputs(cls, inputs: Inputs, state: State | None = None) -> Session:
        return cls(inputs.dataset, Source.from_inputs(inputs), inputs.params, state or State())

    @classmethod
    def of(
        cls,
        dataset: Dataset,
        coords: np.ndarray,
        state: State | None = None,
        params: EmbedParams | None = None,
        *,
        indexed: bool = True,
    ) -> Session:
        """A session on a dataset and its coordinates (scripts, tests, the Python API);
        ``indexed=False`` for a single picture (see :meth:`set_coords`)."""
        from digitmap_tui.methods.params import EmbedParams

        source = Source(safe(dataset.name), int(dataset.n), dataset.fingerprint)
        session = cls(dataset, source, params or EmbedParams(), state or State())
        session.set_coords(coords, indexed=indexed)
        return session

    # ----- the embedding ------------------------------------------------------------------
    @property
    def ready(self) -> bool:
        return self.coords is not None

    def describe(self) -> str:
        """The title's method part (a preview says what it is and what is coming)."""
        text = self.source.describe(self.params)
        if not self.preview:
            return text
        if self.preview_stopped:
            return f"{self.preview_text} · {text} {self.preview_stopped}"
        return f"{self.preview_text} · computing {text}"

    def set_coords(
        self,
        coords: np.ndarray,
        params: EmbedParams | None = None,
        *,
        preview: bool = False,
        indexed: bool = True,
    ) -> str | None:
        """Show an embedding. The first one takes the state's view and box (from flags or a
        bookmark, else the initial ones); a later one opens at its initial view with the box
        moved to where the selected points lie now. Returns a note when the box moved.

        ``indexed`` builds the spatial index that makes every later view and box cheap (the
        explorer); a single picture (``digitmap render``) is cheaper without it.
        """
        old_coords, old_home, old_box = self.coords, self.home, self.state.box
        old_sel = None if self._selection is None else self._selection.indices
        self.coords = coords
        self.index = PointIndex(coords, self.labels, self.n_labels or None) if indexed else None
        self.home = geo.initial_view(coords)
        self.preview = preview
        self.preview_stopped = ""
        if params is not None:
            self.params = params
        self._selection = None
        self._clusters.clear()
        self.subset = None
        self.clear_highlight()
        st = self.state
        if old_coords is None or old_home is None or old_box is None:
            view = st.view or self.home
            box = st.box or geo.default_box(view)
            self.state = replace(st, view=view, box=box)
            return None
        box, note = _relocate(old_box, old_home, old_sel, coords, self.home)
        self.state = replace(st, view=self.home, box=box, page=0)
        return note

    # ----- labels ---------------------------------------------------------------------------
    @property
    def labels(self) -> np.ndarray | None:
        """The labels the map, the panel and the selection use: the corrected ones when a
        review gave some (:meth:`set_labels`), else the dataset's own."""
        return self.dataset.labels if self.corrected is None else self.corrected

    @property
    def n_labels(self) -> int:
        """How many label values there are (a relabel may name one the dataset lacks)."""
        return max(self.dataset.n_labels, self._corrected_n)

    def set_labels(self, labels: np.ndarray | None) -> bool:
        """Show ``labels`` (corrected ones; None: the dataset's own) instead of the dataset's,
        which is never changed. The state (view, box, mark ...) is kept; the spatial index is
        rebuilt from its sorted orders. Returns False when nothing changed."""
        ds = self.dataset
        if labels is not None:
            if ds.labels is None:
                raise ValueError("corrected labels for a dataset without labels")
            labels = np.asarray(labels, dtype=np.int64)
            if labels.shape != ds.labels.shape:
                raise ValueError(f"labels: expected shape {ds.labels.shape}, got {labels.shape}")
            if len(labels) and labels.min() < 0:
                raise ValueError("labels: expected non-negative integers")
            if len(labels) and labels.max() > MAX_LABEL:
                raise ValueError(
                    f"label {int(labels.max())} is above {MAX_LABEL}, the largest shown"
                )
            if np.array_equal(labels, ds.labels):
                labels = None
        before = self.labels
        now = ds.labels if labels is None else labels
        if before is now or (
            before is not None and now is not None and np.array_equal(before, now)
        ):
            self.corrected = labels
            return False
        self.corrected = labels
        self._corrected_n = int(labels.max()) + 1 if labels is not None and len(labels) else 0
        if self.index is not None:
            self.index = self.index.relabelled(self.labels, self.n_labels or None)
        self._selection = None
        self._clusters.clear()
        return True

    # ----- derived -------------------------------------------------------------------------
    @property
    def view(self) -> Rect:
        assert self.state.view is not None, "no embedding yet"
        return self.state.view

    @property
    def box(self) -> Rect:
        assert self.state.box is not None, "no embedding yet"
        return self.state.box

    def selection(self) -> Selection:
        """The points in the box (computed once per box and embedding)."""
        assert self.coords is not None, "no embedding yet"
        sel = self._selection
        if sel is None or sel.box != self.box or sel.xy is not self.coords:
            sel = Selection(
                self.coords, self.index, self.box, self.labels, self.n_labels, self.state.grid
            )
            self._selection = sel
        return sel

    def bin(self, view: Rect, width: int, height: int) -> Any:
        """The map's bins over ``view`` (through the index when there is one)."""
        assert self.coords is not None, "no embedding yet"
        if self.index is not None:
            return self.index.bin(view, width, height)
        return bin_points(self.coords, self.labels, view, width, height, self.n_labels or None)

    def shown(self) -> np.ndarray:
        """What the panel lists: the picked sub-cluster, else the box's points (ascending)."""
        return self.subset if self.subset is not None else self.selection().indices

    def selected(self) -> np.ndarray:
        """The selection in the order the user sees it (the list order): what is exported,
        copied and printed at exit."""
        if self.subset is not None:
            return self.sorted(self.subset)
        return self.selection().sorted(self.state.sort)

    def cells(self, size: tuple[int, int]) -> geo.Cells:
        return geo.Cells(self.view, max(1, size[0]), max(1, size[1]))

    def world(self) -> Rect:
        """Where the box may go: its centre stays in the points' region (the initial view)."""
        assert self.home is not None
        return self.home

    def box_in_view(self) -> bool:
        return self.box.intersects(self.view)

    def sorted(self, indices: np.ndarray) -> np.ndarray:
        """``indices`` in the current list order."""
        assert self.coords is not None
        idx = np.sort(np.asarray(indices, dtype=np.int64))
        return sort_page(self.coords, idx, self.state.sort, self.labels)

    # ----- the box --------------------------------------------------------------------------
    def _set(self, **changes: Any) -> None:
        self.state = replace(self.state, **changes)

    def set_box(self, box: Rect, *, view: Rect | None = None) -> None:
        """A new box (this is what changes the selection); a picked sub-cluster is dropped."""
        self.subset = None
        if self.highlight_kind == "subset":
            self.clear_highlight()
        self._set(box=box, view=view or self.view, page=0)

    def move_box(self, dx: int, dy: int, size: tuple[int, int]) -> None:
        """One key press: the box moves by whole cells; the view follows it to the edges."""
        cells = self.cells(size)
        box = geo.move_box(self.box, dx, dy, cells, self.world())
        view = geo.follow(self.view, box, cells) if self.box_in_view() else self.view
        self.set_box(box, view=view)

    def resize_box(self, dw: int, dh: int, size: tuple[int, int]) -> None:
        cells = self.cells(size)
        box = geo.resize_box(self.box, dw, dh, cells)
        view = geo.follow(self.view, box, cells) if self.box_in_view() else self.view
        self.set_box(box, view=view)

    def draw_box(self, col0: int, row0: int, col1: int, row1: int, size: tuple[int, int]) -> None:
        """A mouse drag: the box becomes the dragged cells."""
        self.set_box(geo.box_from_cells(col0, row0, col1, row1, self.cells(size)))

    def center_on(self, index: int) -> None:
        """Centre the box on a point and mark it; the view moves only if the point is out."""
        assert self.coords is not None
        x, y = (float(v) for v in self.coords[index])
        view = self.view
        if not (view.x0 <= x < view.x1 and view.y0 < y <= view.y1):
            view = geo.centered(view, x, y)
        self.set_box(geo.centered(self.box, x, y), view=view)
        self._set(mark=int(index))

    # ----- the view (never changes the selection) -----------------------------------------------
    def zoom(self, factor: float, center: tuple[float, float] | None = None) -> None:
        """Zoom around ``center``: by default the box's centre when it is in view."""
        if center is None:
            center = self.box.center if self.box_in_view() else self.view.center
        self._set(view=geo.zoom(self.view, factor, center, limit=self.home))

    def pan(self, dx: int, dy: int, size: tuple[int, int]) -> None:
        self._set(view=geo.pan(self.view, dx, dy, self.cells(size)))

    def reset_view(self) -> None:
        self._set(view=self.home)

    def zoom_to_box(self) -> None:
        self._set(view=geo.zoom_to(self.box))

    def set_view(self, view: Rect) -> None:
        self._set(view=view)

    # ----- map and panel settings ---------------------------------------------------------------
    def cycle_mode(self, step: int = 1) -> str:
        """The next map mode (``step`` -1: the previous one)."""
        mode = MAP_MODES[(MAP_MODES.index(self.state.mode) + step) % len(MAP_MODES)]
        self._set(mode=mode)
        return mode

    def toggle_list(self) -> None:
        self._set(list_mode=not self.state.list_mode, page=0)

    def cycle_sort(self) -> str:
        sort = SORT_KEYS[(SORT_KEYS.index(self.state.sort) + 1) % len(SORT_KEYS)]
        self._set(sort=sort, page=0)
        return sort

    def change_grid(self, d_rows: int, d_cols: int, limit: int = 12) -> None:
        r, c = self.state.grid
        self._set(grid=(max(1, min(limit, r + d_rows)), max(1, min(limit, c + d_cols))))

    def turn_page(self, step: int) -> None:
        self._set(page=max(0, self.state.page + step))

    def set_page(self, page: int) -> None:
        self._set(page=max(0, page))

    def page_of(self, index: int, per_page: int) -> int | None:
        """The list page showing ``index`` (None when it is not listed)."""
        listed = self.sorted(self.shown())
        where = np.flatnonzero(listed == index)
        return None if len(where) == 0 else int(where[0]) // max(1, per_page)

    def set_focus(self, labels: frozenset[int] | None) -> None:
        self._set(focus=labels or None)

    def toggle_mean_grid(self) -> None:
        mean = not self.state.mean_grid
        self._set(mean_grid=mean, list_mode=False if mean else self.state.list_mode)

    def set_mark(self, index: int | None) -> None:
        self._set(mark=index)

    def pick_subset(self, members: np.ndarray, title: str) -> None:
        """Show a set of points (a sub-cluster) in the panel instead of the box, highlighted."""
        self.subset = np.sort(np.asarray(members, dtype=np.int64))
        self.subset_title = title
        self.set_highlight(self.subset, "subset")
        self._set(page=0)

    def set_highlight(self, indices: np.ndarray | None, kind: str = "") -> None:
        self.highlight = None if indices is None else np.asarray(indices, dtype=np.int64)
        self.highlight_kind = kind if indices is not None else ""

    def clear_highlight(self) -> None:
        self.set_highlight(None)

    def clear(self) -> None:
        """Esc: the mark, the highlights and a picked sub-cluster go."""
        self.subset = None
        self.clear_highlight()
        self._set(mark=None)

    # ----- finding things -------------------------------------------------------------------
    def clusters(self, label: int) -> list[Rect]:
        """The patches of the map where ``label`` is the majority, largest first, as data
        rectangles; found on a fixed grid over the initial view, so the answer depends on
        the embedding alone (not on the terminal, the zoom or what happened before)."""
        found = self._clusters.get(label)
        if found is None:
            from digitmap_tui.analysis import label_clusters

            assert self.home is not None
            rows, cols = CLUSTER_GRID
            binned = self.bin(self.home, cols, rows)
            cells = geo.Cells(self.home, cols, rows)
            found = [
                cells.rect(cl.cols[0], cl.rows[0], cl.cols[1] + 1, cl.rows[1] + 1)
                for cl in label_clusters(binned.majority, binned.counts, label, min_points=3)
            ]
            self._clusters[label] = found
        return found

    def go_to_cluster(self, label: int, step: int) -> tuple[int, int] | None:
        """Put the box on the ``step``-th cluster of ``label`` (cycling); returns
        ``(position, total)``, or None when the label has no cluster."""
        found = self.clusters(label)
        if not found:
            return None
        i = step % len(found)
        box = found[i]
        view = self.view if geo.contains(self.view, box) else self.home
        self.set_box(box, view=view)
        return i, len(found)

    def search_for(self, text: str) -> Hits | None:
        """Search (``/``): the points ``text`` names (an index, ``L:3``, a class name), the
        box centred on the first at or after its centre in reading order, and marked.
        None (and the search forgotten) when nothing matches; InputError for a query
        that names nothing (out of range, no such label or class)."""
        from digitmap_tui import search

        assert self.coords is not None, "no embedding yet"
        ds = self.dataset
        try:
            query = search.parse_query(text, ds.n, ds.n_labels, ds.label_names)
        except InputError:
            self.search = None
            raise
        hits = search.find(query, self.coords, ds.labels, self.world(), self.box.center)
        self.search = hits
        if hits is not None:
            self.center_on(hits.current)
        return hits

    def step_search(self, step: int) -> Hits | None:
        """``n`` (1) / ``N`` (-1): the box on the next / previous hit, marked; None when
        nothing was searched. Hits keep their place when the embedding changed."""
        from digitmap_tui import search

        hits = self.search
        if hits is None or self.coords is None:
            return None
        if hits.xy is not self.coords:
            hits = search.reorder(hits, self.coords, self.world())
        self.search = hits = hits.step(step)
        self.center_on(hits.current)
        return hits

    # ----- out ------------------------------------------------------------------------------
    def map_params(self) -> EmbedParams:
        """The method and parameters of the map on screen: the PCA preview's while it stands
        in for the chosen method (computing, or cancelled), else `params` resolved (the
        thread count made explicit: the map depends on it)."""
        if self.preview:
            from digitmap_tui.methods.params import EmbedParams

            return EmbedParams("pca")
        return self.params.resolved(self.dataset.n)

    def to_dict(self) -> dict[str, Any]:
        """The state plus where the map comes from: what bookmarks and exports record."""
        shown = self.map_params()
        return {
            "method": shown.method,
            "params": dict(shown.relevant()),
            **self.state.to_dict(),
        }

    def apply_dict(self, data: dict[str, Any]) -> None:
        """Restore a bookmark's view, box, modes and grid (validated; raises InputError)."""
        state = State.from_dict(data, self.dataset.n)
        if state.view is None:
            raise InputError("the bookmark has no view")
        box = state.box or geo.default_box(state.view)
        self.subset = None
        self.state = replace(state, box=box)

    def render_command(self) -> str:
        """The ``digitmap render ...`` command line that shows this view and box again."""
        from digitmap_tui.export import render_command

        st, src = self.state, self.source
        return render_command(
            data=src.data,
            labels=src.labels,
            shape=src.shape,
            embedding=src.embedding,
            params=None if src.embedding else self.map_params(),
            view=self.view.as_list(),
            box=self.box.as_list(),
            grid=st.grid,
            list_mode=st.list_mode,
            sort=st.sort,
            mode=st.mode,
            size=src.size,
        )

    def provenance(self) -> dict[str, Any]:
        """What an export records besides the points: dataset, embedding, state, command."""
        return {
            "dataset": self.source.dataset,
            "n": self.source.n,
            "embedding": self.describe(),
            **self.to_dict(),
            "command": self.render_command(),
        }


def _relocate(
    box: Rect,
    old_home: Rect,
    selected: np.ndarray | None,
    coords: np.ndarray,
    home: Rect,
) -> tuple[Rect, str | None]:
    """The box for a new embedding of the same points: its size scaled with the maps, centred
    where the points it held now lie (their median), or at the same relative place."""
    sx, sy = home.width / old_home.width, home.height / old_home.height
    w, h = box.width * sx, box.height * sy
    if selected is not None and len(selected):
        cx, cy = (float(v) for v in np.median(coords[selected], axis=0))
        note = f"box moved to where its {len(selected)} points lie now"
    else:
        bx, by = box.center
        cx = home.x0 + (bx - old_home.x0) * sx
        cy = home.y0 + (by - old_home.y0) * sy
        note = None
    if not (math.isfinite(w) and math.isfinite(h) and w > 0 and h > 0):
        return geo.default_box(home), note
    return Rect(cx - w / 2, cx + w / 2, cy - h / 2, cy + h / 2), note
