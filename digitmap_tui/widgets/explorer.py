"""The explorer screen: composes the map, the panel and the status lines, and owns the actions.

Every action is the same three steps: ask the :class:`~digitmap_tui.session.Session` to do
it (pure code, in data coordinates), then :meth:`ExplorerScreen.sync`, which hands the map
and the panel what the session now says, both in the same call, so a key press lands in
one frame. Insight and output actions live in their own mixins (``insight.py``,
``outputs.py``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
from rich.text import Text
from textual import events, on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import Screen
from textual.widgets import Footer, Static

from digitmap_tui import keymap
from digitmap_tui.maprender import legend_segments
from digitmap_tui.panelplan import PanelPlan, plan_panel
from digitmap_tui.selection import Cells, initial_view
from digitmap_tui.text import markup, safe
from digitmap_tui.widgets import compat
from digitmap_tui.widgets.insight import InsightActions
from digitmap_tui.widgets.mapview import MapFrame, MapView
from digitmap_tui.widgets.messages import (
    AnalysisFailed,
    AnalysisFinished,
    EmbeddingFailed,
    EmbeddingFinished,
    EmbeddingProgressed,
)
from digitmap_tui.widgets.outputs import OutputActions
from digitmap_tui.widgets.panel import ImagePanel
from digitmap_tui.widgets.reviewing import REVIEW_ONLY, ReviewActions, ReviewPane
from digitmap_tui.widgets.screens import PromptScreen
from digitmap_tui.widgets.search import SearchActions
from digitmap_tui.widgets.status import ProgressLine, StatusLine
from digitmap_tui.widgets.theme import ThemeFollower
from digitmap_tui.widgets.tiling import TilingActions

if TYPE_CHECKING:
    from digitmap_tui.grid import Rect
    from digitmap_tui.session import Session

MIN_WIDTH = 60
MIN_HEIGHT = 16
#: Actions that work behind the "terminal too small" message, or before the first map.
ALWAYS = frozenset({"quit", "help", "cancel_job", "command_palette"})


def bindings(
    *, app: bool, table: tuple[keymap.Row, ...] = keymap.TABLE
) -> list[Binding | tuple[str, str] | tuple[str, str, str]]:
    """Textual bindings generated from the key table (each with its config name as id)."""
    return [
        Binding(
            k.keys,
            k.action,
            k.footer or k.title,
            show=bool(k.footer),
            key_display=k.display,
            id=k.id,
        )
        for k in keymap.keys(app=app, table=table)
    ]


def use_table(node: Any, table: tuple[keymap.Row, ...], *, app: bool) -> bool:
    """Bind a remapped key table (a user's ``[keys]``) on ``node`` instead of the default."""
    if table == keymap.TABLE:
        return True
    return compat.use_bindings(node, bindings(app=app, table=table), set(keymap.ids()))


class ExplorerScreen(
    compat.GuardedMixin, ReviewActions, InsightActions, OutputActions, SearchActions,
    TilingActions, ThemeFollower, Screen[None],
):  # fmt: skip
    """Map on the left, image panel on the right, the keys in the footer.

    Guarded: a failing handler of a message posted to the screen (a wheel zoom, a drawn
    box, a finished embedding) is a notification, not the end of its message loop."""

    BINDINGS = bindings(app=False)

    def __init__(
        self,
        session: Session,
        *,
        color: bool,
        style: str,
        table: tuple[keymap.Row, ...] = keymap.TABLE,
        tile_scale: int = 1,
        images: str = "blocks",
    ) -> None:
        super().__init__()
        use_table(self, table, app=False)
        self.session = session
        self.color = color
        self.style_name = style
        self.plan: PanelPlan | None = None
        self.cluster_label: int | None = None
        self.cluster_step = 0
        self._twin_frame: MapFrame | None = None
        self.mounted = False
        self._sync_pending = False
        self.init_insight()
        self.init_tiling(tile_scale, images)
        self.init_review()

    # ----- layout ----------------------------------------------------------------------------
    def compose(self) -> ComposeResult:
        yield StatusLine(id="title")
        with Horizontal(id="main"):
            with Vertical(id="left"):
                with Horizontal(id="maps"):
                    braille = self.style_name != "ascii"  # the Linux console has none
                    yield MapView(color=self.color, id="map", braille=braille)
                    yield MapView(color=self.color, id="twin", interactive=False, braille=braille)
                yield ProgressLine(id="progress")
                yield StatusLine(id="coords")
                yield StatusLine(id="legend")
            yield ReviewPane(id="review")
            yield ImagePanel(id="panel")
        yield StatusLine(id="review-line")
        yield Static(id="too-small")
        yield Footer(compact=True)

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
        self.configure_panel()
        self.map.focus()
        self.follow_theme()
        self._layout()
        self._check_size()
        self.mounted = True
        self.review_mounted()
        self.sync()

    def on_unmount(self) -> None:
        self.stopping.set()  # a long analysis in a thread stops, so quitting does not wait

    def on_resize(self, event: events.Resize) -> None:
        if not self.mounted:
            return  # a terminal's first size can arrive before the widgets exist
        self._check_size(event.size.width, event.size.height)
        self._layout(event.size.width)
        # The panel's room is known after the layout pass that follows.
        self.call_after_refresh(self.sync)

    @on(ImagePanel.Resized)
    def _panel_resized(self) -> None:
        if self.mounted:
            # After the refresh, as on_resize does: a failing sync is then the App's to report.
            self.call_after_refresh(self.sync)

    def _check_size(self, width: int | None = None, height: int | None = None) -> None:
        width = self.app.size.width if width is None else width
        height = self.app.size.height if height is None else height
        small = width < MIN_WIDTH or height < MIN_HEIGHT
        if self.has_class("too-small") != small:
            self.set_class(small, "too-small")
            self.refresh_bindings()
            if small:
                self.hide_pixels()
        if small:
            self.query_one("#too-small", Static).update(
                Text(
                    f"Terminal too small: {width}×{height}.\n"
                    f"digitmap needs at least {MIN_WIDTH}×{MIN_HEIGHT}. "
                    "Enlarge the window or press q."
                )
            )

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        """Behind the "too small" message the map has no size, and before the first map
        there is nothing to act on: only quitting, the help and cancelling work then."""
        if action in ALWAYS:
            return True
        if self.has_class("too-small"):
            return False
        if not self.session.ready and action != "method":
            return None
        return self.reviewing or action not in REVIEW_ONLY

    # ----- drawing the session -----------------------------------------------------------------
    def sync(self) -> None:
        """Hand the map, the panel and the status lines what the session says now."""
        if not self.mounted:
            return
        s = self.session
        self._update_title()
        if not s.ready:
            self.map.show(MapFrame(placeholder=self.placeholder))
            return
        st = s.state
        self.map.show(MapFrame(s.index, st.view, st.mode, st.focus, st.box, st.mark, s.highlight))
        if self._twin_frame is not None:
            self._twin_frame = MapFrame(
                self._twin_frame.index, self._twin_frame.view, st.mode,
                highlight=s.shown(),
            )  # fmt: skip
            self.twin.show(self._twin_frame)
        self.review_sync()
        if not self.panel.size:
            # Not laid out yet (the panel is drawn once it has its room), or hidden behind
            # the "too small" message (the resize that ends it syncs again).
            if not self.has_class("too-small") and not self._sync_pending:
                self._sync_pending = True
                self.call_after_refresh(self._pending_sync)
            return
        plan = plan_panel(s, self.fit_panel())
        if plan.page != st.page:
            s.set_page(plan.page)
        self.plan = plan
        self.panel.show(plan)
        self._update_status()

    def _pending_sync(self) -> None:
        self._sync_pending = False
        if self.panel.size:
            self.sync()
        else:
            self._update_status()

    @property
    def placeholder(self) -> str:
        job = getattr(self.app, "job_description", "")
        return f"computing {job} — cached for next time" if job else ""

    def _update_status(self) -> None:
        s = self.session
        st, b, v = s.state, s.box, s.view
        # Most useful first: a narrow terminal cuts the end of the line.
        text = self.search_status()
        text += f"box x {b.x0:.3g}…{b.x1:.3g} y {b.y0:.3g}…{b.y1:.3g}"
        if not s.box_in_view():
            arrow = Cells(v, *self.map.map_size).direction_of(b)
            text += f" {arrow} out of view (z: zoom to it)"
        text += f" │ {st.mode}"
        if st.focus is not None:
            text += " · only " + " ".join(str(v) for v in sorted(st.focus))
        text += f" │ view x {v.x0:.3g}…{v.x1:.3g} y {v.y0:.3g}…{v.y1:.3g}"
        text += self.twin_status()
        self.query_one("#coords", StatusLine).set(text)
        line = Text()
        names = s.dataset.label_names
        for seg in legend_segments(
            s.dataset.n_labels, self.map.drawn_mode, self.color, names, palette=self.palette
        ):  # fmt: skip
            line.append(seg.text, seg.style)
        self.query_one("#legend", StatusLine).set(line)

    def _update_title(self) -> None:
        s = self.session
        title = f"digitmap · {s.source.dataset} ({s.source.n}) · {s.describe()}"
        title += self.quality_text()
        self.query_one("#title", StatusLine).set(Text(title))

    def say(self, message: str, *, severity: str = "information", timeout: float = 3) -> None:
        """A notification; ``message`` is Rich markup: quote user text with ``markup()``."""
        self.app.notify(message, severity=severity, timeout=timeout)  # type: ignore[arg-type]

    # ----- embeddings ---------------------------------------------------------------------------
    def show_embedding(self, coords: np.ndarray, params: Any, *, preview: bool = False) -> None:
        note = self.session.set_coords(coords, params, preview=preview)
        if note:
            self.say(note)
        self.cluster_label = None
        self.embedding_changed()
        self.review_embedding_changed()
        self.sync()

    def got_preview(self, params: Any, preview: Any) -> None:
        """The instant PCA map, shown until the method's own map is ready."""
        if not self.session.ready:
            self.session.preview_text = preview.describe()
            self.show_embedding(preview.coords, params, preview=True)

    def apply_bookmark(self, state: dict[str, Any]) -> None:
        from digitmap_tui.errors import InputError

        try:
            self.session.apply_dict(state)
        except InputError as exc:
            self.say(f"bookmark not applied: {markup(exc)}", severity="error", timeout=8)
            return
        self._layout()
        self.sync()

    @on(EmbeddingProgressed)
    def _progressed(self, event: EmbeddingProgressed) -> None:
        bar = self.query_one(ProgressLine)
        bar.add_class("running")
        bar.set(f"{event.description}: {event.phase}", event.fraction)
        if not self.session.ready:
            self.sync()

    @on(EmbeddingFinished)
    def _finished(self, event: EmbeddingFinished) -> None:
        self.query_one(ProgressLine).remove_class("running")
        if event.target == "twin":
            self.show_twin(event.params.method, event.coords)
        else:
            self.show_embedding(event.coords, event.params)
        self.say(f"{markup(event.params.describe())} ready")
        if event.note:
            self.say(markup(event.note), severity="warning", timeout=8)

    @on(EmbeddingFailed)
    def _failed(self, event: EmbeddingFailed) -> None:
        self.query_one(ProgressLine).remove_class("running")
        if self.session.preview:  # the title must not go on saying "computing"
            self.session.preview_stopped = "cancelled" if event.cancelled else "failed"
        if event.cancelled:
            self.say(f"cancelled {markup(event.description)}; nothing was cached")
        else:
            self.say(f"embedding failed: {markup(event.message)}", severity="error", timeout=8)
        self.sync()

    @on(AnalysisFinished)
    def _analysis_finished(self, event: AnalysisFinished) -> None:
        getattr(self, f"got_{event.kind}")(event.key, event.result)

    @on(AnalysisFailed)
    def _analysis_failed(self, event: AnalysisFailed) -> None:
        failed = getattr(self, f"failed_{event.kind}", None)
        if failed is not None:
            failed()
        self.say(f"{event.kind} failed: {markup(event.message)}", severity="error", timeout=8)

    def run_analysis(self, kind: str, key: Any, compute: Any) -> None:
        """Run ``compute`` in a thread; its result comes back as :class:`AnalysisFinished`
        (handled by ``got_<kind>``), an error as :class:`AnalysisFailed`."""

        def runner() -> None:
            try:
                result = compute()
            except Exception as exc:
                self.post_message(AnalysisFailed(kind, f"{type(exc).__name__}: {safe(exc)}"))
                return
            self.post_message(AnalysisFinished(kind, key, result))

        self.run_worker(runner, thread=True, group=kind, exclusive=True, exit_on_error=False)

    # ----- the box -----------------------------------------------------------------------------
    def action_move(self, dx: int, dy: int) -> None:
        self.session.move_box(dx, dy, self.map.map_size)
        self.sync()

    def action_resize(self, dw: int, dh: int) -> None:
        self.session.resize_box(dw, dh, self.map.map_size)
        self.sync()

    @on(MapView.BoxDrawn)
    def _box_drawn(self, event: MapView.BoxDrawn) -> None:
        if self.session.ready:
            self.session.draw_box(*event.cells, self.map.map_size)
            self.sync()

    # ----- the view ----------------------------------------------------------------------------
    def action_zoom(self, factor: float) -> None:
        self.session.zoom(factor)
        self.sync()

    @on(MapView.Zoomed)
    def _zoomed(self, event: MapView.Zoomed) -> None:
        if self.session.ready:
            self.session.zoom(event.factor, event.center)
            self.sync()

    def action_pan(self, dx: int, dy: int) -> None:
        self.session.pan(dx, dy, self.map.map_size)
        self.sync()

    def action_zoom_box(self) -> None:
        self.session.zoom_to_box()
        self.sync()

    def action_reset_view(self) -> None:
        self.session.reset_view()
        self.sync()

    def action_cycle_mode(self, step: int = 1) -> None:
        mode = self.session.cycle_mode(step)
        self.sync()
        self.say(f"map mode: {mode}", timeout=2)

    # ----- the panel ---------------------------------------------------------------------------
    def action_toggle_list(self) -> None:
        self.session.toggle_list()
        self.sync()

    def action_cycle_sort(self) -> None:
        sort = self.session.cycle_sort()
        self.sync()
        self.say(f"sorted by {sort}", timeout=2)

    def action_grid(self, d_rows: int, d_cols: int) -> None:
        self.session.change_grid(d_rows, d_cols)
        self._layout()
        self.call_after_refresh(self.sync)
        self.sync()

    def action_page(self, step: int) -> None:
        s = self.session
        if not s.state.list_mode and s.subset is None:
            self.say("pages are for list mode (press g)", timeout=2)
            return
        s.turn_page(step)
        self.sync()

    # ----- finding things ----------------------------------------------------------------------
    def go_to(self, index: int) -> None:
        """Centre the box on a point, mark it, and show it in the panel."""
        s = self.session
        s.center_on(index)
        if s.state.list_mode:
            rows, cols = self.panel.fit()
            page = s.page_of(index, rows * cols)
            if page is not None:
                s.set_page(page)
        self.sync()

    def action_goto_index(self) -> None:
        n = self.session.dataset.n

        def go(answer: str | None) -> None:
            if answer is None or not answer.strip():
                return
            text = answer.strip().lstrip("#")
            if not (text.isascii() and text.isdigit()):
                self.say(f"not an index: {markup(answer)}", severity="error")
                return
            index = int(text)
            if not 0 <= index < n:
                self.say(f"index {index} is out of range 0…{n - 1}", severity="error")
                return
            self.go_to(index)
            ds, labels = self.session.dataset, self.session.labels
            label = "" if labels is None else f" L:{ds.label_name(int(labels[index]))}"
            self.say(markup(f"point {index}{label}"))

        self.app.push_screen(PromptScreen("Go to point index:", f"0 … {n - 1}"), go)

    def action_next_cluster(self) -> None:
        if self.cluster_label is None:
            self.action_ask_cluster()
            return
        self.cluster_step += 1
        self._jump_cluster()

    def action_ask_cluster(self) -> None:
        if self.session.dataset.labels is None:
            self.say("no labels to find clusters of", severity="warning")
            return

        def go(answer: str | None) -> None:
            if answer is None or not answer.strip():
                return
            text = answer.strip()
            if not (text.isascii() and text.isdigit()):
                self.say(f"not a label: {markup(answer)}", severity="error")
                return
            self.cluster_label = int(text)
            self.cluster_step = 0
            self._jump_cluster()

        self.app.push_screen(PromptScreen("Jump to the clusters of label:", "e.g. 1"), go)

    def _jump_cluster(self) -> None:
        label = self.cluster_label
        if label is None:
            return
        found = self.session.go_to_cluster(label, self.cluster_step)
        if found is None:
            self.say(f"no cluster of label {label}", severity="warning")
            self.cluster_label = None
            return
        self.sync()
        i, total = found
        count = self.session.selection().count
        self.say(
            f"label {label}: cluster {i + 1} of {total} ({count} points); c: next, C: another label"
        )

    def action_focus_labels(self) -> None:
        def go(answer: str | None) -> None:
            if answer is None:
                return
            words = answer.replace(",", " ").split()
            if not words:
                self.session.set_focus(None)
                self.sync()
                self.say("showing all labels", timeout=2)
                return
            if not all(w.isascii() and w.isdigit() for w in words):
                self.say(f"labels are whole numbers: {markup(answer)}", severity="error")
                return
            labels = frozenset(int(w) for w in words)
            self.session.set_focus(labels)
            self.sync()
            self.say(f"showing labels {' '.join(map(str, sorted(labels)))}; others dimmed")

        self.app.push_screen(PromptScreen("Show only labels (e.g. 3 7; empty = all):"), go)

    # ----- embeddings ---------------------------------------------------------------------------
    def action_method(self, method: str) -> None:
        s = self.session
        if s.source.embedding:
            self.say("this map comes from --embedding; methods are off", severity="warning")
            return
        if method == s.params.method and s.ready and not s.preview:
            self.say(f"already showing {markup(s.describe())}", timeout=2)
            return
        self.app.open_method(method)  # type: ignore[attr-defined]

    def action_clear(self) -> None:
        if self.leave_review():
            return
        self.session.clear()
        self.clear_insight()
        self.sync()

    # ----- helpers for the mixins ---------------------------------------------------------------
    def twin_view(self, coords: np.ndarray) -> Rect:
        return initial_view(coords)
