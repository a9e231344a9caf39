"""The digitmap App: app-wide keys, the error policy and the embedding job's lifecycle.

The explorer itself is a screen (:mod:`digitmap_tui.widgets.explorer`) over a pure
:class:`~digitmap_tui.session.Session`; the App starts it, computes embeddings in a separate
process and tells the screen about them with messages (:mod:`digitmap_tui.widgets.messages`).
"""

from __future__ import annotations

import os
import traceback
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np
from textual import work
from textual.app import App, SystemCommand
from textual.filter import ANSIToTruecolor, LineFilter
from textual.screen import Screen
from textual.worker import get_current_worker

from digitmap_tui import keymap
from digitmap_tui.errors import InputError
from digitmap_tui.grid import SORT_KEYS, Rect
from digitmap_tui.maprender import MAP_MODES
from digitmap_tui.methods import registry
from digitmap_tui.session import Session, State
from digitmap_tui.text import markup, one_line
from digitmap_tui.widgets import compat
from digitmap_tui.widgets.explorer import ExplorerScreen, bindings, use_table
from digitmap_tui.widgets.messages import (
    EmbeddingFailed,
    EmbeddingFinished,
    EmbeddingProgressed,
)
from digitmap_tui.widgets.screens import HelpScreen

#: Methods whose first map is worth a PCA preview while they compute.


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
    preview: bool = True  # show a PCA map while a slow method computes
    tile_scale: int = 1  # --tile-scale: images in tiles enlarged this many times
    images: str = "blocks"  # how tiles are drawn: blocks, or true pixels (kitty, sixel)
    keys: dict[str, list[str]] = field(default_factory=dict)  # the config's [keys]
    theme: str | None = None  # the config's theme (unknown: a notification)

    def state(self, n: int | None = None) -> State:
        """The first state: a bookmark's (validated like the flags), else the flags'."""
        if self.bookmark is not None:
            return State.from_dict(self.bookmark, n)
        return State(
            view=self.view,
            box=self.box,
            mode=self.mode if self.mode in MAP_MODES else "label",
            grid=self.grid,
            list_mode=self.list_mode,
            sort=self.sort if self.sort in SORT_KEYS else "x",  # type: ignore[arg-type]
        )


def _instant(method: str) -> bool:
    """Whether `method` is quick enough to need no PCA preview while it runs."""
    found = registry.get(method)
    return found is not None and found.instant


def detect_glyphs(color: bool, color_system: str | None = "256") -> str:
    """Half blocks need colour, and 256 colours at least to tell their greys apart (16 turn
    them into blotches): else shades; the Linux console and dumb terminals get plain ASCII."""
    term = os.environ.get("TERM", "")
    if term in ("dumb", "linux", "vt100", "vt220"):
        return "ascii"
    if not color or color_system not in ("256", "truecolor"):
        return "shade"
    return "blocks"


class DigitmapApp(compat.GuardedApp, App[int]):
    """digitmap: explore a 2-D embedding of an image dataset from the keyboard."""

    TITLE = "digitmap"
    CSS_PATH = "app.tcss"
    BINDINGS = bindings(app=True)

    def __init__(self, inputs: Any, options: ExploreOptions | None = None) -> None:
        compat.install()
        options = options or ExploreOptions()
        table = keymap.remap(options.keys)  # a bad [keys] entry: InputError, before anything runs
        with compat.color_system(options.color_system):
            super().__init__()
        #: The key table in use: the bindings, the help and the palette come from it.
        self.keys = table if use_table(self, table, app=True) else keymap.TABLE
        self._theme_seen = ""
        self.inputs = inputs
        self.options = options
        self.session = Session.from_inputs(inputs, options.state(inputs.dataset.n))
        self.embeddings: dict[str, np.ndarray] = {}  # by method, this session's
        self.job: Any = None
        self.job_description = ""
        self.started = False

    # ----- start --------------------------------------------------------------------------------
    def color(self) -> bool:
        o = self.options
        if o.color is not None:
            return o.color
        if o.color_system != "auto":
            return o.color_system != "none"
        return not os.environ.get("NO_COLOR") and os.environ.get("TERM") != "dumb"

    def get_default_screen(self) -> Screen[Any]:
        color = self.color()
        style = self.options.glyphs or detect_glyphs(color, self.console.color_system)
        return ExplorerScreen(
            self.session,
            color=color,
            style=style,
            table=self.keys,
            tile_scale=self.options.tile_scale,
            images=self.options.images,
        )

    @property
    def explorer(self) -> ExplorerScreen:
        screen = self.screen_stack[0]
        assert isinstance(screen, ExplorerScreen)
        return screen

    def on_mount(self) -> None:
        self.started = True
        for warning in self.inputs.warnings:  # e.g. files an image folder skipped
            self.notify(markup(warning), severity="warning", timeout=10)
        self._start_theme()
        given = self.inputs.coords
        if given is not None:
            self.explorer.show_embedding(given, None)
        else:
            self.open_method(self.session.params.method)

    # ----- the theme ----------------------------------------------------------------------------------
    def _start_theme(self) -> None:
        """The config's theme (an unknown name is a notification), then remember the ones the
        user picks (the palette's "Change theme") in the config file."""
        name = self.options.theme
        if name and name != self.theme:
            if name in self.available_themes:
                self.theme = name
            else:
                known = ", ".join(sorted(self.available_themes))
                self.notify(
                    f"unknown theme {markup(repr(name))} in the config; themes: {known}",
                    severity="warning", timeout=8,
                )  # fmt: skip
        self._theme_seen = self.theme
        self.theme_changed_signal.subscribe(self, self._theme_changed)
        if self.keys != keymap.remap(self.options.keys):
            self.notify("[keys] from the config need Textual 8: the default keys are on")

    def _theme_changed(self, _theme: Any) -> None:
        from digitmap_tui.config import remember

        name = self.theme
        if name == self._theme_seen:
            return  # start-up settings arriving late, or the same theme again
        self._theme_seen = name
        try:
            remember("theme", name)
        except (InputError, OSError) as exc:
            self.notify(f"theme not remembered: {markup(one_line(exc))}", severity="warning")

    # ----- embeddings ------------------------------------------------------------------------------
    def open_method(self, method: str) -> None:
        """Show ``method``'s map: from memory or the cache at once, else computed in the
        background (with a PCA preview meanwhile when nothing is shown yet)."""
        params = replace(self.session.params, method=method)
        coords = self.request_embedding(params, "main")
        if coords is not None:
            self.explorer.show_embedding(coords, params)
            return
        if self.options.preview and not _instant(method) and not self.session.ready:
            # A first map within a second at any size, while the method computes: PCA
            # fitted on a sample (digitmap_tui.methods.compute.preview_coords), in a worker thread.
            from digitmap_tui.methods.compute import preview_coords

            ds = self.session.dataset
            images = ds.images.reshape(ds.n, -1)
            self.explorer.run_analysis("preview", params, lambda: preview_coords(images))

    def request_embedding(
        self, params: Any, target: str, *, start: bool = True
    ) -> np.ndarray | None:
        """The coordinates for ``params`` if known (memory, cache, or PCA computed here: it
        takes milliseconds), else None and, with ``start``, a background job that ends in an
        :class:`EmbeddingFinished` for ``target``."""
        from digitmap_tui.cache import embedding_key

        found = self.embeddings.get(params.method)
        if found is not None:
            return found
        ds = self.session.dataset
        try:
            params.validate(ds.n)
        except InputError as exc:
            self.notify(markup(exc), severity="error")
            return None
        key = embedding_key(ds.fingerprint(), params)
        cached = self.inputs.cache.load(key)
        size = ds.n * int(np.prod(ds.images.shape[1:]))
        if cached is None and params.method == "pca" and size <= 4e7:  # milliseconds: here
            from digitmap_tui.cache import embedding_meta
            from digitmap_tui.methods.compute import compute_embedding

            cached = compute_embedding(ds.features(), params)
            self.inputs.cache.store(key, cached, embedding_meta(params))
        if cached is not None:
            self.embeddings[params.method] = cached
            return cached
        if start:
            self.start_job(params, key, target)
        return None

    def start_job(self, params: Any, key: str, target: str) -> None:
        from digitmap_tui.jobs import EmbeddingJob

        self.cancel_job(quiet=True)
        self.job = EmbeddingJob(self.session.dataset.features(), params, self.inputs.cache, key)
        self.job_description = params.describe()
        self.session.preview_stopped = ""  # computing (again)
        self.job.start()
        self.explorer.post_message(EmbeddingProgressed(self.job_description, 0.0, "starting"))
        self._watch_job(self.job, params, target, self.explorer)

    @work(thread=True, exclusive=True, group="job", exit_on_error=False)
    def _watch_job(self, job: Any, params: Any, target: str, screen: ExplorerScreen) -> None:
        """Relay the job's events to the explorer as messages, until it ends."""
        from digitmap_tui.jobs import Failed, Finished, Progress

        worker = get_current_worker()
        description = params.describe()
        while not worker.is_cancelled:
            for event in job.poll(timeout=0.1):
                if isinstance(event, Progress):
                    screen.post_message(
                        EmbeddingProgressed(description, event.fraction, event.phase)
                    )
                elif isinstance(event, Finished):
                    self.embeddings[params.method] = event.coords
                    note = getattr(event, "cache_warning", None)
                    screen.post_message(EmbeddingFinished(params, event.coords, target, note))
                elif isinstance(event, Failed):
                    screen.post_message(EmbeddingFailed(description, event.message))
            if job.done:
                break
        job.reap()
        if self.job is job:
            self.call_from_thread(self._job_ended, job)

    def _job_ended(self, job: Any) -> None:
        if self.job is job:
            self.job = None
            self.job_description = ""

    def action_cancel_job(self) -> None:
        self.cancel_job()

    def cancel_job(self, quiet: bool = False) -> None:
        job = self.job
        if job is None:
            if not quiet:
                self.notify("nothing is running")
            return
        self.job = None
        self.job_description = ""
        job.cancel()
        if not quiet:
            self.explorer.post_message(EmbeddingFailed(job.params.describe(), "", cancelled=True))

    def quality_path(self, params: Any) -> Path | None:
        """Where a map's quality figures are kept: beside its cache entry."""
        if self.inputs.coords is not None:
            return None
        from digitmap_tui.cache import embedding_key

        key = embedding_key(self.session.dataset.fingerprint(), params)
        entry = self.inputs.cache.path_for(key)
        return None if entry is None else entry.with_suffix(".quality.json")

    # ----- app-wide keys ---------------------------------------------------------------------------
    async def action_quit(self) -> None:
        self.cancel_job(quiet=True)
        self.explorer.hide_pixels()
        self.exit(0)

    def on_unmount(self) -> None:
        self.cancel_job(quiet=True)

    def action_help(self) -> None:
        light = not self.current_theme.dark
        self.push_screen(HelpScreen(keymap.help_sections(self.keys), light=light))

    def action_save_screenshot(self) -> None:
        self.explorer.action_save_screenshot()

    @property
    def selection(self) -> np.ndarray:
        """What the explorer selects now, in list order (printed by ``--print-selection``)."""
        s = self.session
        return s.selected() if s.ready else np.zeros(0, dtype=np.int64)

    def get_system_commands(self, screen: Screen[Any]) -> Iterable[SystemCommand]:
        """Textual's commands, then every action of the key table by name."""
        yield from super().get_system_commands(screen)
        for row, key in keymap.all_keys(self.keys):
            target = self if row.app else self.explorer
            shown = keymap.keys_text(key)
            help_text = f"{shown} · {row.text}" if shown else row.text
            yield SystemCommand(key.title, help_text, partial(target.run_action, key.action))

    # ----- errors inside the app ---------------------------------------------------------------------
    def get_line_filters(self) -> Sequence[LineFilter]:
        """Textual's filters, less ANSIToTruecolor: the map and tiles use no 16-colour ANSI
        codes for it to turn into the theme's colours, and running it over every segment of
        every refreshed line costs about a millisecond per key. NO_COLOR keeps Textual's
        greys (through the fixed monochrome filter)."""
        filters = [f for f in super().get_line_filters() if not isinstance(f, ANSIToTruecolor)]
        return compat.line_filters(filters)

    def report_error(self, error: Exception) -> bool:
        """Show a failed operation as a notification; False (let it propagate) under --debug
        or before the screen is up, where there is nothing to notify on."""
        if self.options.debug or not self.started:
            return False
        self.notify(
            f"{type(error).__name__}: {markup(one_line(error))}", severity="error", timeout=8
        )
        if os.environ.get("DIGITMAP_DEBUG") == "1":
            traceback.print_exception(error)
        return True
