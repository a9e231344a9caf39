"""The interactive explorer: map on the left, image panel on the right, keys in the footer."""

from __future__ import annotations

import io
import json
import os
import traceback
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
from rich.segment import Segment
from rich.text import Text
from textual import events, on
from textual.app import App, ComposeResult, SystemCommand
from textual.binding import Binding
from textual.color import Color
from textual.containers import Horizontal, Vertical
from textual.filter import LineFilter, Monochrome, monochrome_style
from textual.message import Message
from textual.notifications import SeverityLevel
from textual.screen import Screen
from textual.timer import Timer
from textual.widgets import Footer, ProgressBar, Static

from digitmap_tui.analysis import label_clusters
from digitmap_tui.errors import InputError
from digitmap_tui.glyphs import tile_size
from digitmap_tui.grid import SORT_KEYS, Rect, bounds, grid_select, label_histogram
from digitmap_tui.maprender import MAP_MODES, legend_segments
from digitmap_tui.selection import Box, fit, pan
from digitmap_tui.widgets.mapview import MapView
from digitmap_tui.widgets.panel import ImagePanel, PanelContent
from digitmap_tui.widgets.screens import HelpScreen, PromptScreen
from digitmap_tui.widgets.status import StatusLine

MIN_WIDTH = 60
MIN_HEIGHT = 16
TILE_MAX_COLS = 14
METHOD_KEYS = {"t": "tsne", "u": "umap", "p": "pca"}


@dataclass(frozen=True)
class ExploreOptions:
    """Start-up state of the explorer (from the command line)."""

    view: Rect | None = None
    box: Rect | None = None
    grid: tuple[int, int] = (4, 4)
    list_mode: bool = False
    sort: str = "x"
    mode: str = "label"
    glyphs: str | None = None
    debug: bool = False
    color: bool | None = None  # None: from the terminal
    color_system: str = "auto"  # --colors: "auto", "16", "256", "truecolor" or "none"
    bookmark: dict[str, Any] | None = None  # a saved state to open (from --bookmark)
    quality: bool = True  # compute trustworthiness and kNN accuracy in the background


def detect_glyphs(color: bool, color_system: str | None = "256") -> str:
    """Half blocks need colour, and 256 colours at least to tell their greys apart (16 turn
    them into blotches): else shades; the Linux console and dumb terminals get plain ASCII."""
    term = os.environ.get("TERM", "")
    if term in ("dumb", "linux", "vt100", "vt220"):
        return "ascii"
    if not color or color_system not in ("256", "truecolor"):
        return "shade"
    return "blocks"


#: --colors as the colour system Textual's console is built with.
COLOR_SYSTEMS = {"16": "standard", "256": "256", "truecolor": "truecolor"}


@contextmanager
def textual_colors(colors: str) -> Iterator[None]:
    """While an App is built, make Textual use the colour depth of ``--colors``.

    Textual reads ``TEXTUAL_COLOR_SYSTEM`` (and ``NO_COLOR``) once, when it is imported or
    when ``App.__init__`` builds its console; an explicit depth overrides what TERM and
    COLORTERM say, "none" is ``NO_COLOR`` (Textual then paints in greys), "auto" changes nothing.
    """
    import textual.constants

    saved_system = textual.constants.COLOR_SYSTEM
    saved_no_color = os.environ.get("NO_COLOR")
    if colors in COLOR_SYSTEMS:
        textual.constants.COLOR_SYSTEM = COLOR_SYSTEMS[colors]  # type: ignore[misc]
        os.environ.pop("NO_COLOR", None)
    elif colors == "auto" and os.environ.get("TERM") == "dumb" and saved_system == "auto":
        # Rich finds no colours on a dumb terminal, and Textual then writes 24-bit ones.
        textual.constants.COLOR_SYSTEM = "standard"  # type: ignore[misc]
    elif colors == "none":
        os.environ["NO_COLOR"] = "1"
    try:
        yield
    finally:
        textual.constants.COLOR_SYSTEM = saved_system  # type: ignore[misc]
        if saved_no_color is None:
            os.environ.pop("NO_COLOR", None)
        else:
            os.environ["NO_COLOR"] = saved_no_color


HELP_SECTIONS: list[tuple[str, list[tuple[str, str]]]] = [
    ("Selection box", [
        ("← ↓ ↑ →  h j k l", "move the box one cell"),
        ("shift+arrows  H J K L", "resize the box (shrink left/up, grow right/down)"),
        ("mouse drag", "draw a new box"),
    ]),
    ("View", [
        ("+ / =   -", "zoom in / out around the box"),
        ("mouse wheel", "zoom around the pointer"),
        ("z", "zoom to the box"),
        ("0", "reset the view to all points"),
        ("ctrl+arrows  W A S D", "pan the view"),
        ("m", "map mode: label → density → purity"),
    ]),
    ("Panel", [
        ("g", "grid mode ↔ list mode"),
        ("s", "list order: x → y → label → index"),
        ("[ ]", "grid: fewer / more columns"),
        ("{ }", "grid: fewer / more rows"),
        ("pageup pagedown  < >", "list: previous / next page"),
    ]),
    ("Finding things", [
        ("i", "go to a point by index (the box centres on it, it is marked)"),
        ("c", "jump to a label's clusters (again: the next cluster)"),
        ("f", "show only some labels (others dimmed); empty answer shows all"),
    ]),
    ("Embedding", [
        ("t u p", "switch to t-SNE, UMAP, PCA (computed in the background if not cached)"),
        ("x", "cancel a running computation"),
    ]),
    ("Insight", [
        ("n / N", "next / previous misfit: label ≠ the majority of its 10 map neighbours"),
        ("M", "list every misfit with its neighbours' label; Enter jumps"),
        ("!", "highlight all misfits on the map"),
        ("v", "inspect a point: large image, 8 nearest in pixel space (shown on the map)"),
        ("/", "split the selection into sub-clusters (k-means in pixel space); 1-9 selects one"),
        ("a", "grid mode: mean image of each cell ↔ the point nearest its centre"),
        ("w", "twin map: t-SNE ↔ UMAP side by side, the selection highlighted in both"),
        ("o", "(twin) highlight points that keep < 30% of their neighbours in the other map"),
        ("Esc", "clear highlights, the marked point and a picked sub-cluster"),
    ]),
    ("Out", [
        ("e", "export the selection to .csv / .json / .npy (asks for a file name)"),
        ("y", "copy the selection's indices to the clipboard (OSC 52, works over SSH)"),
        ("b", "bookmark this view (method, view, box, mode, grid)"),
        ("B", "bookmarks: enter jumps, r renames, d deletes"),
        ("ctrl+s", "screenshot: SVG and plain text (asks for a path)"),
    ]),
    ("App", [
        ("ctrl+p", "command palette"),
        ("?", "this help"),
        ("q", "quit"),
    ]),
]  # fmt: skip


class _Monochrome(Monochrome):
    """Textual's NO_COLOR filter without its crash: Textual 8.2.8's Monochrome reads the colour
    of every segment's style, and the map and panel leave plain cells unstyled (None)."""

    def apply(self, segments: list[Segment], background: Color) -> list[Segment]:
        return [
            Segment(text, None if style is None else monochrome_style(style), None)
            for text, style, _ in segments
        ]


_MONOCHROME = _Monochrome()


class DigitmapApp(App[int]):
    """digitmap: explore a 2-D embedding of an image dataset from the keyboard."""

    TITLE = "digitmap"
    CSS = """
    Screen { layout: vertical; }
    #title { height: 1; background: $primary-background; color: $text; text-style: bold; padding: 0 1; }
    #main { height: 1fr; }
    #left { width: 1fr; height: 1fr; }
    #maps { height: 1fr; }
    MapView { height: 1fr; }
    #twin { display: none; border-left: vkey $primary; }
    #twin.shown { display: block; }
    #coords { height: 1; color: $text-muted; }
    #legend { height: 1; }
    #progress-row { height: 1; display: none; }
    #progress-row.running { display: block; }
    #progress-label { width: auto; padding: 0 1; }
    #panel { width: 38; height: 1fr; border-left: vkey $primary; padding: 0 0 0 1; }
    #too-small {
        display: none; width: 100%; height: 100%; content-align: center middle; text-align: center;
    }
    Screen.too-small #too-small { display: block; }
    Screen.too-small #main, Screen.too-small #title { display: none; }
    """

    BINDINGS = [
        Binding("q", "quit", "Quit"),
        Binding("question_mark", "help", "Help", key_display="?"),
        Binding("left,h", "move(-1,0)", "Move", show=False),
        Binding("right,l", "move(1,0)", "Move", show=False),
        Binding("up,k", "move(0,-1)", "Move", show=False),
        Binding("down,j", "move(0,1)", "Move", show=False),
        Binding("shift+left,H", "resize(-1,0)", "Resize", show=False),
        Binding("shift+right,L", "resize(1,0)", "Resize", show=False),
        Binding("shift+up,K", "resize(0,-1)", "Resize", show=False),
        Binding("shift+down,J", "resize(0,1)", "Resize", show=False),
        Binding("ctrl+left,A", "pan(-4,0)", "Pan", show=False),
        Binding("ctrl+right,D", "pan(4,0)", "Pan", show=False),
        Binding("ctrl+up,W", "pan(0,-2)", "Pan", show=False),
        Binding("ctrl+down,S", "pan(0,2)", "Pan", show=False),
        Binding("plus,equals_sign", "zoom(0.5)", "Zoom in", key_display="+"),
        Binding("minus", "zoom(2.0)", "Zoom out", key_display="-", show=False),
        Binding("z", "zoom_box", "Zoom to box", show=False),
        Binding("0", "reset_view", "Reset", show=False),
        Binding("m", "cycle_mode", "Map mode"),
        Binding("g", "toggle_list", "Grid/List"),
        Binding("s", "cycle_sort", "Sort", show=False),
        Binding("left_square_bracket", "grid(0,-1)", "Cols-", show=False),
        Binding("right_square_bracket", "grid(0,1)", "Cols+", show=False),
        Binding("left_curly_bracket", "grid(-1,0)", "Rows-", show=False),
        Binding("right_curly_bracket", "grid(1,0)", "Rows+", show=False),
        Binding("pageup,less_than_sign", "page(-1)", "Page", show=False),
        Binding("pagedown,greater_than_sign", "page(1)", "Page", show=False),
        Binding("i", "goto_index", "Go to #"),
        Binding("c", "next_cluster", "Cluster", show=False),
        Binding("f", "focus_labels", "Filter", show=False),
        Binding("t", "method('tsne')", "t-SNE", show=False),
        Binding("u", "method('umap')", "UMAP", show=False),
        Binding("p", "method('pca')", "PCA", show=False),
        Binding("x", "cancel_job", "Cancel", show=False),
        Binding("e", "export", "Export", show=False),
        Binding("y", "copy_selection", "Copy", show=False),
        Binding("b", "bookmark_save", "Bookmark", show=False),
        Binding("B", "bookmarks", "Bookmarks", show=False),
        Binding("ctrl+s", "save_screenshot", "Screenshot", show=False),
        Binding("n", "misfit(1)", "Misfit", show=True),
        Binding("N", "misfit(-1)", "Prev misfit", show=False),
        Binding("M", "misfit_list", "Misfits", show=False),
        Binding("exclamation_mark", "toggle_misfits", "Show misfits", show=False),
        Binding("v", "inspect", "Inspect", show=False),
        Binding("slash", "split", "Split", show=False),
        Binding("a", "toggle_mean_grid", "Mean grid", show=False),
        Binding("w", "twin", "Twin map", show=False),
        Binding("o", "toggle_torn", "Torn points", show=False),
        Binding("escape", "clear", "Clear", show=False),
    ]

    def __init__(self, inputs: Any, options: ExploreOptions | None = None) -> None:
        with textual_colors((options or ExploreOptions()).color_system):
            super().__init__()
        self.inputs = inputs
        self.options = options or ExploreOptions()
        self.dataset = inputs.dataset
        self.params = inputs.params
        self.grid_shape = self.options.grid
        self.list_mode = self.options.list_mode
        self.sort = self.options.sort if self.options.sort in SORT_KEYS else "x"
        self.page = 0
        self.coords: np.ndarray | None = None
        self.coords_by_method: dict[str, np.ndarray] = {}
        self.job: Any = None
        self.job_method: str | None = None
        self.selection: np.ndarray = np.zeros(0, dtype=np.int64)
        self.grid_indices: np.ndarray | None = None
        self.cluster_label: int | None = None
        self.cluster_step = 0
        self._box_rect: Rect | None = None
        self.subset: np.ndarray | None = None  # a sub-cluster picked from a split
        self.subset_title = ""
        self.mean_grid = False
        self.misfit_cache: dict[str, list[Any]] = {}
        self.misfit_pos = -1
        self.show_misfits = False
        self.quality: dict[str, dict[str, float]] = {}
        self.twin_method: str | None = None
        self.twin_overlap: np.ndarray | None = None
        self.show_torn = False
        self._job_target = "main"

    # ----- layout ----------------------------------------------------------------------------
    def compose(self) -> ComposeResult:
        color = self._color()
        yield Static(id="title")
        with Horizontal(id="main"):
            with Vertical(id="left"):
                with Horizontal(id="maps"):
                    yield MapView(color=color, id="map")
                    yield MapView(color=color, id="twin", interactive=False)
                with Horizontal(id="progress-row"):
                    yield Static("", id="progress-label")
                    yield ProgressBar(total=100, show_eta=False, id="progress")
                yield StatusLine(id="coords")
                yield StatusLine(id="legend")
            yield ImagePanel(id="panel")
        yield Static(id="too-small")
        yield Footer(compact=True)

    def _color(self) -> bool:
        if self.options.color is not None:
            return self.options.color
        if self.options.color_system != "auto":
            return self.options.color_system != "none"
        return not os.environ.get("NO_COLOR") and os.environ.get("TERM") != "dumb"

    @property
    def map(self) -> MapView:
        return self.query_one("#map", MapView)

    @property
    def twin(self) -> MapView:
        return self.query_one("#twin", MapView)

    @property
    def panel(self) -> ImagePanel:
        return self.query_one(ImagePanel)

    def on_mount(self) -> None:
        color = self._color()
        style = self.options.glyphs or detect_glyphs(color, self.console.color_system)
        cols, rows = tile_size(self.dataset.image_shape, style, TILE_MAX_COLS)
        self.panel.configure(
            self.dataset.images,
            self.dataset.labels,
            self.dataset.value_range(),
            style,
            color,
            cols,
            rows,
        )
        self.map.mode = self.options.mode if self.options.mode in MAP_MODES else "label"
        self._size_panel()
        self._update_title()
        self.map.focus()
        if self.inputs.coords is not None:
            self._show_coords(self.inputs.coords, first=True)
        else:
            self._switch_method(self.params.method, first=True)
        self._check_size()
        self._started = True

    def on_resize(self, event: events.Resize) -> None:
        self._check_size(event.size.width, event.size.height)
        self._size_panel(event.size.width)

    def _check_size(self, width: int | None = None, height: int | None = None) -> None:
        width = self.size.width if width is None else width
        height = self.size.height if height is None else height
        small = width < MIN_WIDTH or height < MIN_HEIGHT
        # The explorer's own screen, also when a dialog (help, a prompt) is on top of it.
        base = self.screen_stack[0]
        if base.has_class("too-small") != small:
            base.set_class(small, "too-small")
            self.refresh_bindings()  # see check_action
        if small:
            base.query_one("#too-small", Static).update(
                f"Terminal too small: {width}×{height}.\n"
                f"digitmap needs at least {MIN_WIDTH}×{MIN_HEIGHT}. Enlarge the window or press q."
            )

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        """Behind the "too small" message the map has no size: a key there would move the
        box in a 1x1 map and lose it, so only quitting and the help work until it grows."""
        if self.screen_stack and self.screen_stack[0].has_class("too-small"):
            return action in ("quit", "help")
        return True

    def _size_panel(self, width: int | None = None) -> None:
        panel = self.panel
        cols = self.grid_shape[1]
        want = cols * (panel.tile_cols + 1) - 1 + 2  # tiles, gaps, border and padding
        limit = max(20, (self.size.width if width is None else width) // 2)
        panel.styles.width = max(26, min(want, limit))

    # ----- data ------------------------------------------------------------------------------
    def _show_coords(self, coords: np.ndarray, first: bool = False) -> None:
        self.coords = coords
        full = bounds(coords)
        m = self.map
        w, h = m.map_size
        if w > 1 and h > 1:
            full = fit(full, w, h)
        view = self.options.view if first and self.options.view is not None else full
        box_rect = self.options.box if first else m.box_rect()
        m.set_data(coords, self.dataset.labels, self.dataset.n_labels, full, box_rect)
        if view != full:
            m.set_view(view)
        self.misfit_pos = -1
        self.subset = None
        self._refresh_highlight()
        self._update_title()
        self._start_quality()
        if self.twin_method is not None:
            self._twin_overlap_start()
        if first and self.options.bookmark is not None:
            self.apply_state(self.options.bookmark)

    def _switch_method(self, method: str, first: bool = False) -> None:
        from digitmap_tui.cache import embedding_key
        from digitmap_tui.embed import EmbedParams

        params: EmbedParams = replace(self.params, method=method)
        if method in self.coords_by_method:
            self.params = params
            self._show_coords(self.coords_by_method[method])
            return
        try:
            params.validate(self.dataset.n)
        except Exception as exc:
            self.notify(str(exc), severity="error")
            return
        key = embedding_key(self.dataset.fingerprint(), params)
        cached = self.inputs.cache.load(key)
        if cached is not None:
            self.params = params
            self.coords_by_method[method] = cached
            self._show_coords(cached, first=first)
            return
        self._start_job(params, key)

    def _start_job(self, params: Any, key: str, target: str = "main") -> None:
        from digitmap_tui.jobs import EmbeddingJob

        self.action_cancel_job(quiet=True)
        self._job_target = target
        self.job = EmbeddingJob(self.dataset.features(), params, self.inputs.cache, key)
        self.job_method = params.method
        self._pending_params = params
        self.job.start()
        row = self.query_one("#progress-row")
        row.add_class("running")
        self.query_one("#progress-label", Static).update(f"{params.describe()}: starting")
        self.query_one(ProgressBar).update(progress=0)
        if self.coords is None:
            self.map.placeholder = f"computing {params.describe()} — cached for next time"
            self.map.refresh()
        self._poll_timer: Timer | None = self.set_interval(0.1, self._poll_job)

    def _poll_job(self) -> None:
        from digitmap_tui.jobs import Failed, Finished, Progress

        if self.job is None:
            return
        for event in self.job.poll():
            if isinstance(event, Progress):
                self.query_one(ProgressBar).update(progress=round(event.fraction * 100))
                self.query_one("#progress-label", Static).update(
                    f"{self._pending_params.describe()}: {event.phase}"
                )
            elif isinstance(event, Finished):
                self._end_job()
                params = self._pending_params
                self.coords_by_method[params.method] = event.coords
                if self._job_target == "twin":
                    self._show_twin(params.method, event.coords)
                else:
                    self.params = params
                    self._show_coords(event.coords, first=self.coords is None)
                self.notify(f"{params.describe()} ready")
            elif isinstance(event, Failed):
                self._end_job()
                self.notify(f"embedding failed: {event.message}", severity="error", timeout=8)

    def _end_job(self) -> None:
        self.job = None
        self.job_method = None
        timer = getattr(self, "_poll_timer", None)
        if timer is not None:
            timer.stop()
            self._poll_timer = None
        self.query_one("#progress-row").remove_class("running")

    def action_cancel_job(self, quiet: bool = False) -> None:
        if self.job is None:
            if not quiet:
                self.notify("nothing is running")
            return
        self.job.cancel()
        method = self.job_method
        self._end_job()
        if not quiet:
            self.notify(f"cancelled {method}; nothing was cached")

    async def action_quit(self) -> None:
        if self.job is not None:
            self.job.cancel()
        self.exit(0)

    def on_unmount(self) -> None:
        if self.job is not None:
            self.job.cancel()

    # ----- selection -------------------------------------------------------------------------
    @on(MapView.SelectionChanged)
    def _selection_changed(self, event: MapView.SelectionChanged) -> None:
        self._box_rect = event.box
        self.page = 0
        if self.subset is not None:
            self.subset = None
            self._refresh_highlight()
        self._update_selection()

    @on(MapView.ViewChanged)
    def _view_changed(self, event: MapView.ViewChanged) -> None:
        self._update_coords_line()
        legend = legend_segments(self.dataset.n_labels, self.map.mode, self._color())
        line = Text()
        for g in legend:
            line.append(g.text, g.style)
        self.query_one("#legend", StatusLine).set(line)

    def _update_selection(self) -> None:
        rect = self._box_rect
        if rect is None or self.coords is None:
            return
        coords = self.coords
        labels = self.dataset.labels
        chosen = self.map.list_select(coords, rect, labels, self.sort)
        self.selection = chosen
        hist = self.map.label_histogram(coords, rect, labels, self.dataset.n_labels)
        histogram = tuple(
            (k, int(c))
            for c, k in sorted(
                ((int(c), k) for k, c in enumerate(hist) if c), key=lambda t: (-t[0], t[1])
            )
        )
        panel = self.panel
        custom: tuple[tuple[np.ndarray, str], ...] = ()
        if self.subset is not None:
            chosen = self._sorted(self.subset)
            hist = label_histogram(labels, chosen, self.dataset.n_labels)
            histogram = tuple(
                (k, int(c))
                for c, k in sorted(
                    ((int(c), k) for k, c in enumerate(hist) if c), key=lambda t: (-t[0], t[1])
                )
            )
        if self.list_mode or self.subset is not None:
            rows, cols = panel.fit()
            per_page = rows * cols
            pages = max(1, -(-len(chosen) // per_page))
            self.page = min(self.page, pages - 1)
            start = self.page * per_page
            page_idx = chosen[start : start + per_page]
            flat = np.full(rows * cols, -1, dtype=np.int64)
            flat[: len(page_idx)] = page_idx
            slots: np.ndarray = flat.reshape(rows, cols)
            self.grid_indices = None
            title = f"list · {len(chosen)} points · by {self.sort}"
            note = f"page {self.page + 1}/{pages}  (pgup/pgdn)" if pages > 1 else ""
            if self.subset is not None:
                title = f"{self.subset_title} · {len(chosen)} points · by {self.sort}"
                note = (note + "  " if note else "") + "Esc: back to the box"
        elif self.mean_grid:
            from digitmap_tui.analysis import grid_mean_images

            r, c = self.grid_shape
            self.grid_indices = self.map.grid_select(coords, rect, r, c)
            means, counts = grid_mean_images(coords, self.dataset.images, rect, r, c)
            shape = self.dataset.image_shape
            tiles: list[tuple[np.ndarray, str]] = []
            full = np.full((r, c), -1, dtype=np.int64)
            for i in range(r):
                for j in range(c):
                    if counts[i, j]:
                        full[i, j] = -2 - len(tiles)
                        tiles.append((means[i, j].reshape(shape), f"n={int(counts[i, j])}"))
            custom = tuple(tiles)
            fit_rows, _ = panel.fit()
            slots = full[:fit_rows]
            title = f"mean grid {r}×{c} · {len(chosen)} points"
            note = "each cell: the mean image of its points (a: nearest point)"
        else:
            r, c = self.grid_shape
            self.grid_indices = self.map.grid_select(coords, rect, r, c)
            fit_rows, _ = panel.fit()
            slots = self.grid_indices[:fit_rows]
            title = f"grid {r}×{c} · {len(chosen)} points"
            hidden = r - fit_rows
            note = "" if hidden <= 0 else f"{hidden} row{'s' * (hidden > 1)} hidden · {{ fewer rows"
        panel.show(PanelContent(slots, title, histogram, note, custom))
        if self.twin_method is not None:
            self.twin.set_highlight(chosen)
        self._update_coords_line()

    def _update_coords_line(self) -> None:
        v = self.map.view
        b = self._box_rect
        # Most useful first: a narrow terminal cuts the end of the line.
        text = ""
        if b is not None:
            text = f"box x {b.x0:.3g}…{b.x1:.3g} y {b.y0:.3g}…{b.y1:.3g} │ "
        text += self.map.mode
        if self.map.focus_labels is not None:
            text += " · only " + " ".join(str(v) for v in sorted(self.map.focus_labels))
        text += f" │ view x {v.x0:.3g}…{v.x1:.3g} y {v.y0:.3g}…{v.y1:.3g}"
        if self.twin_method is not None:
            text += f"   twin: {self.twin_method}"
            if self.twin_overlap is not None and len(self.selection):
                kept = float(self.twin_overlap[self.selection].mean())
                text += f", box keeps {kept:.0%} of neighbours (all {self.twin_overlap.mean():.0%})"
        self.query_one("#coords", StatusLine).set(text)

    def _update_title(self) -> None:
        from digitmap_tui.inputs import describe_source

        source = (
            describe_source(self.inputs)
            if self.inputs.coords is not None
            else self.params.describe()
        )
        title = f"digitmap · {self.dataset.name} ({self.dataset.n}) · {source}"
        q = self.quality.get(self._quality_name())
        if q is not None:
            title += f" · trustworthiness {q['trustworthiness']:.3f}"
            if q.get("knn_accuracy") is not None:
                title += f" · 10-NN accuracy {q['knn_accuracy']:.1%}"
        self.query_one("#title", Static).update(title)

    # ----- actions ---------------------------------------------------------------------------
    def action_move(self, dx: int, dy: int) -> None:
        self.map.move_box(dx, dy)

    def action_resize(self, dw: int, dh: int) -> None:
        self.map.resize_box(dw, dh)

    def action_pan(self, dx: int, dy: int) -> None:
        m = self.map
        rect = m.box_rect()
        m._pending_box_rect = None
        new_view = pan(m.view, dx, dy, *m.map_size)
        m.view = new_view
        if rect is not None and m.box is not None:
            # The box keeps its place on the screen; what is under it changes.
            pass
        m._rebin()

    def action_zoom(self, factor: float) -> None:
        rect = self.map.box_rect()
        self.map.zoom_by(factor, rect.center if rect is not None else None)

    def action_zoom_box(self) -> None:
        m = self.map
        rect = m.box_rect()
        if rect is None:
            return
        w, h = m.map_size
        view = fit(rect, w, h)
        m._pending_box_rect = rect
        m.set_view(view)

    def action_reset_view(self) -> None:
        m = self.map
        m._pending_box_rect = None
        m.set_view(m.full_view)

    def action_cycle_mode(self) -> None:
        m = self.map
        mode = MAP_MODES[(MAP_MODES.index(m.mode) + 1) % len(MAP_MODES)]
        m.set_mode(mode)
        self._view_changed(MapView.ViewChanged(m.view))
        self.notify(f"map mode: {mode}", timeout=2)

    def action_toggle_list(self) -> None:
        self.list_mode = not self.list_mode
        self.page = 0
        self._update_selection()

    def action_cycle_sort(self) -> None:
        self.sort = SORT_KEYS[(SORT_KEYS.index(self.sort) + 1) % len(SORT_KEYS)]  # type: ignore[arg-type]
        self.page = 0
        self._update_selection()
        self.notify(f"sorted by {self.sort}", timeout=2)

    def action_grid(self, dr: int, dc: int) -> None:
        r, c = self.grid_shape
        self.grid_shape = (max(1, min(12, r + dr)), max(1, min(12, c + dc)))
        self._size_panel()
        self._update_selection()

    def action_page(self, step: int) -> None:
        if not self.list_mode:
            self.notify("pages are for list mode (press g)", timeout=2)
            return
        self.page = max(0, self.page + step)
        self._update_selection()

    def action_help(self) -> None:
        self.push_screen(HelpScreen(HELP_SECTIONS))

    def action_method(self, method: str) -> None:
        if self.inputs.coords is not None:
            self.notify("this map comes from --embedding; methods are off", severity="warning")
            return
        if method == self.params.method and self.coords is not None:
            self.notify(f"already showing {self.params.describe()}", timeout=2)
            return
        self._switch_method(method)

    def action_goto_index(self) -> None:
        def go(answer: str | None) -> None:
            if answer is None or not answer.strip():
                return
            try:
                index = int(answer.strip().lstrip("#"))
            except ValueError:
                self.notify(f"not an index: {answer!r}", severity="error")
                return
            if not 0 <= index < self.dataset.n:
                self.notify(
                    f"index {index} is out of range 0…{self.dataset.n - 1}", severity="error"
                )
                return
            if self.coords is None:
                return
            self.map.center_on_point(index)
            label = "" if self.dataset.labels is None else f" L:{int(self.dataset.labels[index])}"
            self.notify(f"point {index}{label}", timeout=3)

        self.push_screen(PromptScreen("Go to point index:", f"0 … {self.dataset.n - 1}"), go)

    def action_next_cluster(self) -> None:
        if self.dataset.labels is None:
            self.notify("no labels to find clusters of", severity="warning")
            return

        def go(answer: str | None) -> None:
            if answer is None or not answer.strip():
                return
            try:
                label = int(answer.strip())
            except ValueError:
                self.notify(f"not a label: {answer!r}", severity="error")
                return
            self.cluster_label = label
            self.cluster_step = 0
            self._jump_cluster()

        if self.cluster_label is None:
            self.push_screen(PromptScreen("Jump to the clusters of label:", "e.g. 1"), go)
        else:
            self.cluster_step += 1
            self._jump_cluster()

    def _jump_cluster(self) -> None:
        m = self.map
        binned = m._binned
        if binned is None or self.cluster_label is None or m.box is None:
            return
        clusters = label_clusters(binned.majority, binned.counts, self.cluster_label, min_points=3)
        if not clusters:
            self.notify(
                f"no cluster of label {self.cluster_label} in this view", severity="warning"
            )
            self.cluster_label = None
            return
        i = self.cluster_step % len(clusters)
        cl = clusters[i]
        box = Box(cl.cols[0], cl.rows[0], cl.cols[1] - cl.cols[0] + 1, cl.rows[1] - cl.rows[0] + 1)
        m.place_box(box)
        self.notify(
            f"label {self.cluster_label}: cluster {i + 1} of {len(clusters)} ({cl.points} points); c: next, C: ask again",
            timeout=3,
        )

    def key_C(self) -> None:
        self.cluster_label = None
        self.action_next_cluster()

    def action_focus_labels(self) -> None:
        def go(answer: str | None) -> None:
            if answer is None:
                return
            text = answer.replace(",", " ").split()
            if not text:
                self.map.set_focus_labels(None)
                self._update_coords_line()
                self.notify("showing all labels", timeout=2)
                return
            try:
                labels = frozenset(int(t) for t in text)
            except ValueError:
                self.notify(f"labels are whole numbers: {answer!r}", severity="error")
                return
            self.map.set_focus_labels(labels)
            self._update_coords_line()
            self.notify(
                f"showing labels {' '.join(map(str, sorted(labels)))}; others dimmed", timeout=3
            )

        self.push_screen(PromptScreen("Show only labels (e.g. 3 7; empty = all):"), go)

    # ----- insight: misfits, inspector, split, twin map, quality --------------------------------
    def _in_background(
        self, name: str, compute: Callable[[], Any], done: Callable[[Any], None]
    ) -> None:
        """Run short analysis work (scikit-learn imports, kNN) off the UI thread."""

        def runner() -> None:
            try:
                result = compute()
            except Exception as exc:
                message = f"{name} failed: {type(exc).__name__}: {exc}"
                try:
                    self.call_from_thread(self.notify, message, severity="error", timeout=8)
                except RuntimeError:
                    pass  # the app has closed
                return
            try:
                self.call_from_thread(done, result)
            except RuntimeError:
                pass

        self.run_worker(runner, thread=True, group=name, exclusive=True, exit_on_error=False)

    def _sorted(self, indices: np.ndarray) -> np.ndarray:
        """``indices`` in the current list order (the engine's rule, on a given set)."""
        assert self.coords is not None
        idx = np.sort(np.asarray(indices, dtype=np.int64))
        if self.sort == "x":
            return idx[np.argsort(self.coords[idx, 0], kind="stable")]
        if self.sort == "y":
            return idx[np.argsort(self.coords[idx, 1], kind="stable")]
        if self.sort == "label" and self.dataset.labels is not None:
            return idx[np.argsort(self.dataset.labels[idx], kind="stable")]
        return idx

    def _quality_name(self) -> str:
        return "embedding" if self.inputs.coords is not None else self.params.method

    def _refresh_highlight(self) -> None:
        """What the map emphasises: a picked sub-cluster, torn points, or the misfits."""
        m = self.map
        if self.subset is not None:
            m.set_highlight(self.subset)
        elif self.show_torn and self.twin_overlap is not None:
            m.set_highlight(np.flatnonzero(self.twin_overlap < 0.3))
        elif self.show_misfits and self._quality_name() in self.misfit_cache:
            m.set_highlight(
                np.array([f.index for f in self.misfit_cache[self._quality_name()]], dtype=np.int64)
            )
        elif m.highlight is not None:
            m.set_highlight(None)

    def _with_misfits(self, then: Callable[[list[Any]], None]) -> None:
        if self.dataset.labels is None:
            self.notify("misfits need labels", severity="warning")
            return
        if self.coords is None:
            return
        name = self._quality_name()
        found = self.misfit_cache.get(name)
        if found is not None:
            then(found)
            return
        from digitmap_tui.analysis import misfits

        coords, labels = self.coords, self.dataset.labels
        self.notify("finding misfits (10 nearest map neighbours)…", timeout=2)

        def done(result: list[Any]) -> None:
            self.misfit_cache[name] = result
            if name == self._quality_name():
                then(result)

        self._in_background("misfits", lambda: misfits(coords, labels, k=10), done)

    def action_misfit(self, step: int) -> None:
        def go(found: list[Any]) -> None:
            if not found:
                self.notify("no misfits: every point agrees with its neighbours", timeout=3)
                return
            if self.misfit_pos < 0:
                self.misfit_pos = 0 if step > 0 else len(found) - 1
            else:
                self.misfit_pos = (self.misfit_pos + step) % len(found)
            self._jump_to_misfit(found[self.misfit_pos], self.misfit_pos, len(found))

        self._with_misfits(go)

    def _jump_to_misfit(self, mf: Any, pos: int, total: int) -> None:
        self.map.center_on_point(mf.index)
        self.notify(
            f"misfit {pos + 1}/{total}: #{mf.index} label {mf.label} among {mf.neighbour_label}s "
            f"({mf.agreement:.0%} of its 10 neighbours agree)",
            timeout=4,
        )

    def action_misfit_list(self) -> None:
        from digitmap_tui.widgets.screens import ChoiceScreen

        def show(found: list[Any]) -> None:
            if not found:
                self.notify("no misfits", timeout=3)
                return
            rows = [
                f"#{f.index:<6} label {f.label}  neighbours {f.neighbour_label}  agree {f.agreement:.0%}"
                for f in found
            ]

            def chosen(i: int | None) -> None:
                if i is not None:
                    self.misfit_pos = i
                    self._jump_to_misfit(found[i], i, len(found))

            self.push_screen(
                ChoiceScreen(f"{len(found)} misfits (label ≠ majority of 10 map neighbours)", rows),
                chosen,
            )

        self._with_misfits(show)

    def action_toggle_misfits(self) -> None:
        def go(found: list[Any]) -> None:
            self.show_misfits = not self.show_misfits
            self._refresh_highlight()
            state = "shown" if self.show_misfits else "hidden"
            self.notify(f"{len(found)} misfits {state} on the map", timeout=2)

        self._with_misfits(go)

    def _inspect_target(self) -> int | None:
        m = self.map
        if m.marked is not None and m.marked in self.selection:
            return int(m.marked)
        rect = m.box_rect()
        if rect is None or self.coords is None:
            return None
        nearest = int(grid_select(self.coords, rect, 1, 1)[0, 0])
        return None if nearest < 0 else nearest

    def action_inspect(self) -> None:
        from digitmap_tui.analysis import pixel_neighbours
        from digitmap_tui.widgets.insight import InspectorScreen

        index = self._inspect_target()
        if index is None or self.coords is None:
            self.notify("no point in the box to inspect", severity="warning")
            return
        features = self.dataset.images  # converted row by row where used; never a full copy
        near = pixel_neighbours(features, index, k=8)
        labels = self.dataset.labels
        rect = self.map.box_rect()
        in_box = 0 if rect is None else sum(1 for j in near if j in set(self.selection.tolist()))
        d = np.hypot(*(self.coords[near] - self.coords[index]).T)
        span = max(self.map.view.width, self.map.view.height)
        note = (
            f"{in_box} of {len(near)} lie in the box; map distance median {np.median(d):.3g} "
            f"({np.median(d) / span:.0%} of the view)"
        )
        panel = self.panel
        self.map.set_marked(index)
        self.map.set_highlight(near)
        screen = InspectorScreen(
            index=index,
            image=np.asarray(self.dataset.images[index]),
            label=None if labels is None else int(labels[index]),
            xy=(float(self.coords[index, 0]), float(self.coords[index, 1])),
            neighbours=[
                (
                    int(j),
                    None if labels is None else int(labels[j]),
                    np.asarray(self.dataset.images[j]),
                )
                for j in near
            ],
            neighbour_note=note,
            style=panel.style_name,
            value_range=panel.value_range,
            tile_cols=panel.tile_cols,
            color=panel.color,
        )
        self.inspected = (index, near)
        self.push_screen(screen, lambda _: self._refresh_highlight())

    def action_split(self) -> None:
        from digitmap_tui.analysis import split_selection
        from digitmap_tui.widgets.insight import SplitScreen

        selection = self.selection
        if len(selection) < 4:
            self.notify("put at least 4 points in the box to split it", severity="warning")
            return
        features = self.dataset.images  # converted row by row where used; never a full copy
        labels = self.dataset.labels
        n_labels = self.dataset.n_labels or None
        shape = self.dataset.image_shape
        self.notify(f"splitting {len(selection)} points (k-means in pixel space)…", timeout=2)

        def compute() -> Any:
            return split_selection(features, selection, labels=labels, n_labels=n_labels)

        def done(split: Any) -> None:
            self.last_split = split
            clusters = [
                {
                    "mean": sc.mean.reshape(shape),
                    "size": sc.size,
                    "mix": [
                        (k, int(c))
                        for k, c in sorted(enumerate(sc.label_mix), key=lambda t: -t[1])
                        if c
                    ],
                }
                for sc in split.clusters
            ]
            panel = self.panel

            def picked(i: int | None) -> None:
                if i is None:
                    return
                self.subset = np.asarray(split.clusters[i].members, dtype=np.int64)
                self.subset_title = f"sub-cluster {i + 1}/{len(split.clusters)}"
                self.page = 0
                self._refresh_highlight()
                self._update_selection()

            self.push_screen(
                SplitScreen(
                    clusters=clusters,
                    total=len(selection),
                    scores=dict(split.scores),
                    style=panel.style_name,
                    value_range=panel.value_range,
                    tile_cols=panel.tile_cols,
                    color=panel.color,
                ),
                picked,
            )

        self._in_background("split", compute, done)

    def action_toggle_mean_grid(self) -> None:
        self.mean_grid = not self.mean_grid
        if self.mean_grid and self.list_mode:
            self.list_mode = False
        self._update_selection()
        self.notify(
            "grid: mean image per cell" if self.mean_grid else "grid: point nearest each centre",
            timeout=2,
        )

    def action_clear(self) -> None:
        self.subset = None
        self.show_misfits = False
        self.show_torn = False
        self.map.set_marked(None)
        self._refresh_highlight()
        self._update_selection()

    def _start_quality(self) -> None:
        if not self.options.quality or self.coords is None:
            return
        name = self._quality_name()
        if name in self.quality:
            return
        path = self._quality_path()
        if path is not None and path.exists():
            try:
                record = json.loads(path.read_text(encoding="utf-8"))
                self.quality[name] = {k: float(v) for k, v in record.items() if v is not None}
                self._update_title()
                return
            except (OSError, ValueError, TypeError, AttributeError):
                pass  # damaged: recompute and replace
        from digitmap_tui.analysis import knn_accuracy, trustworthiness

        # The images as they are (a memmap stays one): analysis converts only the rows it uses.
        coords, labels, features = self.coords, self.dataset.labels, self.dataset.images

        def compute() -> dict[str, float | None]:
            return {
                # sklearn's trustworthiness holds N x N matrices: score a 2,000-point sample
                # on large maps (exact below that), ~100 MB instead of 0.6 GB at 5,000.
                "trustworthiness": trustworthiness(features, coords, k=10, max_points=2000),
                "knn_accuracy": None if labels is None else knn_accuracy(coords, labels, k=10),
            }

        def done(record: dict[str, float | None]) -> None:
            self.quality[name] = {k: float(v) for k, v in record.items() if v is not None}
            if path is not None:
                from digitmap_tui.export import write_atomic

                try:
                    write_atomic(path, lambda fh: fh.write(json.dumps(record).encode("utf-8")))
                except (OSError, InputError):
                    pass  # a read-only cache: the figures are still shown
            self._update_title()

        self._in_background(f"quality-{name}", compute, done)

    def _quality_path(self) -> Path | None:
        if self.inputs.coords is not None:
            return None
        from digitmap_tui.cache import embedding_key

        entry = self.inputs.cache.path_for(embedding_key(self.dataset.fingerprint(), self.params))
        return None if entry is None else entry.with_suffix(".quality.json")

    def action_twin(self) -> None:
        if self.twin_method is not None:
            self.twin_method = None
            self.twin_overlap = None
            self.show_torn = False
            self.twin.remove_class("shown")
            self._refresh_highlight()
            self._update_coords_line()
            return
        if self.inputs.coords is not None:
            other = "tsne"
        else:
            other = "umap" if self.params.method == "tsne" else "tsne"
        coords = self.coords_by_method.get(other)
        if coords is None:
            from digitmap_tui.cache import embedding_key

            params = replace(self.params, method=other)
            key = embedding_key(self.dataset.fingerprint(), params)
            coords = self.inputs.cache.load(key)
            if coords is None:
                self.notify(f"computing {params.describe()} for the twin map…", timeout=3)
                self._start_job(params, key, target="twin")
                return
            self.coords_by_method[other] = coords
        self._show_twin(other, coords)

    def _show_twin(self, method: str, coords: np.ndarray) -> None:
        self.twin_method = method
        twin = self.twin
        twin.add_class("shown")
        twin.mode = self.map.mode
        twin.set_data(coords, self.dataset.labels, self.dataset.n_labels, bounds(coords))
        twin.set_highlight(self.selection)
        self._twin_overlap_start()
        self._update_coords_line()

    def _twin_overlap_start(self) -> None:
        from digitmap_tui.analysis import neighbourhood_overlap

        method = self.twin_method
        if method is None or self.coords is None:
            return
        a, b = self.coords, self.coords_by_method[method]
        self.twin_overlap = None

        def done(overlap: np.ndarray) -> None:
            if self.twin_method == method:
                self.twin_overlap = overlap
                self._refresh_highlight()
                self._update_coords_line()

        self._in_background("twin-overlap", lambda: neighbourhood_overlap(a, b, k=10), done)

    def action_toggle_torn(self) -> None:
        if self.twin_overlap is None:
            self.notify("open the twin map first (w)", severity="warning")
            return
        self.show_torn = not self.show_torn
        torn = int((self.twin_overlap < 0.3).sum())
        self._refresh_highlight()
        self.notify(
            f"{torn} points keep < 30% of their 10 neighbours in {self.twin_method}"
            + ("" if self.show_torn else " (hidden)"),
            timeout=3,
        )

    # ----- state, export, bookmarks, screenshots -----------------------------------------------
    def current_state(self) -> dict[str, Any]:
        """Everything a bookmark restores: method and parameters, view, box, modes, grid."""
        m = self.map
        box = m.box_rect()
        return {
            "method": self.params.method,
            "params": dict(self.params.relevant()),
            "view": m.view.as_list(),
            "box": None if box is None else box.as_list(),
            "mode": m.mode,
            "grid": list(self.grid_shape),
            "list_mode": self.list_mode,
            "sort": self.sort,
            "focus": None if m.focus_labels is None else sorted(m.focus_labels),
        }

    def apply_state(self, state: dict[str, Any]) -> None:
        """Restore a bookmark's view, box, modes and grid on the current map."""
        m = self.map
        try:
            view = Rect(*(float(v) for v in state["view"]))
            box = Rect(*(float(v) for v in state["box"])) if state.get("box") else None
        except (KeyError, TypeError, ValueError, InputError):
            self.notify("bookmark has no usable view", severity="error")
            return
        grid = state.get("grid") or self.grid_shape
        self.grid_shape = (max(1, min(12, int(grid[0]))), max(1, min(12, int(grid[1]))))
        self.list_mode = bool(state.get("list_mode", False))
        sort = state.get("sort", "x")
        self.sort = sort if sort in SORT_KEYS else "x"
        mode = state.get("mode", "label")
        m.mode = mode if mode in MAP_MODES else "label"
        focus = state.get("focus")
        m.focus_labels = None if not focus else frozenset(int(v) for v in focus)
        self._size_panel()
        m._pending_box_rect = box
        m.set_view(view)

    def reproduce_command(self) -> str:
        """The ``digitmap render ...`` command line that shows this view and box again."""
        from digitmap_tui.export import render_command

        m = self.map
        box = m.box_rect() or m.view
        p = self.params
        return render_command(
            data=self.inputs.data_path,
            labels=self.inputs.labels_path,
            shape=self.inputs.shape_text,
            embedding=self.inputs.embedding_path,
            method=p.method,
            seed=p.seed,
            perplexity=p.perplexity,
            n_neighbors=p.n_neighbors,
            min_dist=p.min_dist,
            view=m.view.as_list(),
            box=box.as_list(),
            grid=self.grid_shape,
            list_mode=self.list_mode,
            sort=self.sort,
            mode=m.mode,
        )

    def _embedding_desc(self) -> str:
        from digitmap_tui.inputs import describe_source

        return (
            describe_source(self.inputs)
            if self.inputs.coords is not None
            else self.params.describe()
        )

    def action_export(self) -> None:
        from digitmap_tui.export import default_export_name

        if self.coords is None:
            self.notify("no map yet", severity="warning")
            return
        default = default_export_name(
            self.dataset.name, self.params.method, len(self.selection), ".csv"
        )

        def write(answer: str | None) -> None:
            if answer is None or not answer.strip():
                return
            self.export_selection_to(Path(answer.strip()).expanduser())

        self.push_screen(
            PromptScreen("Export the selection to (.csv, .json or .npy):", value=default.name),
            write,
        )

    def export_selection_to(self, path: Path) -> Path | None:
        """Write the selection with its provenance; never overwrites (a notification says why)."""
        from digitmap_tui.export import export_selection

        assert self.coords is not None
        box = self.map.box_rect()
        meta = {
            "dataset": self.dataset.name,
            "n": int(self.dataset.n),
            "embedding": self._embedding_desc(),
            "method": self.params.method,
            "params": dict(self.params.relevant()),
            "view": self.map.view.as_list(),
            "box": None if box is None else box.as_list(),
            "mode": self.map.mode,
            "grid": list(self.grid_shape),
            "list_mode": self.list_mode,
            "sort": self.sort,
            "command": self.reproduce_command(),
        }
        try:
            written = export_selection(
                path,
                indices=self.selection,
                labels=self.dataset.labels,
                coords=self.coords,
                meta=meta,
            )
        except InputError as exc:
            self.notify(str(exc), severity="error", timeout=6)
            return None
        self.notify(f"exported {len(self.selection)} points to {written}", timeout=6)
        return written

    def action_copy_selection(self) -> None:
        from digitmap_tui.clipboard import osc52

        text = " ".join(str(int(i)) for i in self.selection)
        try:
            sequence = osc52(text, os.environ)
        except InputError as exc:
            self.notify(str(exc), severity="error", timeout=6)
            return
        if self._driver is not None:
            self._driver.write(sequence)
            self._driver.flush()
        self._clipboard = text
        self.notify(f"copied {len(self.selection)} indices (OSC 52)", timeout=3)

    def _bookmark_store(self) -> Any:
        from digitmap_tui.bookmarks import BookmarkStore

        store = BookmarkStore()
        problem = store.load()
        if problem:
            self.notify(problem, severity="warning", timeout=10)
        return store

    def action_bookmark_save(self) -> None:
        from digitmap_tui.inputs import bookmark_scope

        def save(answer: str | None) -> None:
            if answer is None or not answer.strip():
                return
            store = self._bookmark_store()
            state = self.current_state()
            state["command"] = self.reproduce_command()
            try:
                name = store.save(
                    bookmark_scope(
                        self.inputs, None if self.inputs.coords is not None else self.params
                    ),
                    answer,
                    state,
                    dataset=self.dataset.name,
                    embedding=self._embedding_desc(),
                )
            except InputError as exc:
                self.notify(str(exc), severity="error", timeout=6)
                return
            self.notify(f"bookmarked as {name!r} (digitmap --bookmark {name!r})", timeout=5)

        self.push_screen(PromptScreen("Bookmark name:", "e.g. sevens"), save)

    def action_bookmarks(self) -> None:
        from digitmap_tui.inputs import bookmark_scope
        from digitmap_tui.widgets.screens import BookmarksScreen

        store = self._bookmark_store()
        scope = bookmark_scope(self.inputs, None if self.inputs.coords is not None else self.params)
        self.push_screen(BookmarksScreen(store, scope), self._bookmark_chosen)

    def _bookmark_chosen(self, state: dict[str, Any] | None) -> None:
        if state is not None:
            self.apply_state(state)

    def action_save_screenshot(self) -> None:
        from digitmap_tui.export import default_screenshot_path

        default = default_screenshot_path()

        def save(answer: str | None) -> None:
            if answer is None or not answer.strip():
                return
            self.save_screenshots(Path(answer.strip()).expanduser())

        self.push_screen(
            PromptScreen("Save screenshot (SVG, plus .txt beside it) to:", value=default.name), save
        )

    def save_screenshots(self, path: Path) -> tuple[Path, Path] | None:
        """Write the screen as SVG and as plain text (same name, .txt); never overwrites."""
        from rich.console import Console

        from digitmap_tui.export import write_atomic

        svg_path = path if path.suffix.lower() == ".svg" else path.with_suffix(".svg")
        txt_path = svg_path.with_suffix(".txt")
        width, height = self.size
        console = Console(
            width=width, height=height, file=io.StringIO(), force_terminal=True,
            color_system="truecolor", record=True, legacy_windows=False, safe_box=False,
        )  # fmt: skip
        # The screen under any dialog (the prompt that asked for the path is closing).
        console.print(self.screen._compositor.render_update(full=True))
        svg = console.export_svg(title=f"digitmap · {self.dataset.name}", clear=False)
        text = console.export_text()
        try:
            write_atomic(svg_path, lambda fh: fh.write(svg.encode("utf-8")), overwrite=False)
            write_atomic(txt_path, lambda fh: fh.write(text.encode("utf-8")), overwrite=False)
        except InputError as exc:
            self.notify(str(exc), severity="error", timeout=6)
            return None
        self.notify(f"screenshot saved: {svg_path} and {txt_path.name}", timeout=6)
        return svg_path, txt_path

    # ----- command palette ---------------------------------------------------------------------
    def get_system_commands(self, screen: Screen) -> Iterable[SystemCommand]:
        yield from super().get_system_commands(screen)
        yield SystemCommand("Help: list every key", "Open the help screen", self.action_help)
        yield SystemCommand("Map mode: next", "label → density → purity", self.action_cycle_mode)
        yield SystemCommand(
            "Panel: grid ↔ list", "Toggle the image panel's mode", self.action_toggle_list
        )
        yield SystemCommand(
            "List: next sort order", "x → y → label → index", self.action_cycle_sort
        )
        yield SystemCommand(
            "Go to point by index", "Centre the box on a point", self.action_goto_index
        )
        yield SystemCommand(
            "Jump to a label's clusters",
            "Move the box onto a label's cluster",
            self.action_next_cluster,
        )
        yield SystemCommand("Show only some labels", "Dim the others", self.action_focus_labels)
        yield SystemCommand("Zoom to the box", "The view becomes the box", self.action_zoom_box)
        yield SystemCommand("Reset view", "Show all points", self.action_reset_view)
        for key, method in METHOD_KEYS.items():
            yield SystemCommand(
                f"Embedding: {method}",
                f"Switch the map to {method} (key {key})",
                lambda m=method: self.action_method(m),  # type: ignore[misc]
            )
        yield SystemCommand(
            "Cancel computation", "Stop a running embedding", self.action_cancel_job
        )

    # ----- errors inside the app ---------------------------------------------------------------
    def _handle_exception(self, error: Exception) -> None:
        if self.options.debug:
            super()._handle_exception(error)
            return
        if not getattr(self, "_started", False):
            # Failing while the screen is built leaves nothing to notify on: exit with a line.
            self.exit(
                return_code=1,
                message=f"digitmap: error: {type(error).__name__}: {error} (run with --debug for details)",
            )
            return
        # An operation failed: tell the user, keep the session alive.
        self.report_error(error)

    def get_line_filters(self) -> Sequence[LineFilter]:
        # NO_COLOR and --colors none: the greys of Textual's filter, through the fixed one.
        return [_MONOCHROME if type(f) is Monochrome else f for f in super().get_line_filters()]

    def report_error(self, error: Exception) -> bool:
        """Show a failed operation as a notification; False (let it propagate) under --debug
        or before the screen is up, where there is nothing to notify on."""
        if self.options.debug or not getattr(self, "_started", False):
            return False
        self.notify(f"{type(error).__name__}: {error}", severity="error", timeout=8)
        if os.environ.get("DIGITMAP_DEBUG") == "1":
            traceback.print_exception(error)
        return True

    async def _dispatch_message(self, message: Message) -> None:
        # Textual ends a message loop after any exception in a handler; for the app that is a
        # frozen session (no key is handled any more, q included). Report it and go on.
        try:
            await super()._dispatch_message(message)
        except Exception as error:
            if not self.report_error(error):
                raise

    def notify(
        self,
        message: str,
        *,
        title: str = "",
        severity: SeverityLevel = "information",
        timeout: float | None = None,
        markup: bool = False,
    ) -> None:
        """Textual's notify, plain text by default: messages quote user input and file
        names, and a '[' in them must not be read as markup (a markup error in a toast
        becomes another error to notify)."""
        super().notify(message, title=title, severity=severity, timeout=timeout, markup=markup)
