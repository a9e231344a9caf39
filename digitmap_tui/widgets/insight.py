"""Insight: misfits, the point inspector, splits, mean grids, the twin map and map quality.

:class:`InsightActions` holds the explorer's insight actions (mixed into the explorer screen);
the screens below show their results. The computations themselves are pure functions in
:mod:`digitmap_tui.analysis`, run in worker threads that post their results back.
"""

from __future__ import annotations

import json
import threading
from dataclasses import replace
from typing import TYPE_CHECKING, Any

import numpy as np
from rich.console import Group
from rich.segment import Segment
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Static

from digitmap_tui.glyphs import label_style, tile_segments, tiles_to_lines
from digitmap_tui.methods import registry
from digitmap_tui.text import markup, safe
from digitmap_tui.widgets.compat import GuardedMixin

if TYPE_CHECKING:
    from digitmap_tui.session import Session
    from digitmap_tui.widgets.mapview import MapView
    from digitmap_tui.widgets.panel import ImagePanel

#: A point is "torn" when it keeps fewer than this share of its neighbours in the twin map.
TORN = 0.3


def lines_to_text(lines: list[list[Segment]]) -> Text:
    """Tile lines (segments) as one Rich Text, for a Static."""
    text = Text()
    for i, line in enumerate(lines):
        if i:
            text.append("\n")
        for seg in line:
            text.append(seg.text, seg.style)
    return text


def upscale(image: np.ndarray, factor: int) -> np.ndarray:
    """Each pixel repeated ``factor`` times both ways (a large view of a small image); an
    (H, W, 3) colour image keeps its channels."""
    img = np.asarray(image, dtype=np.float64)
    return img.repeat(factor, axis=0).repeat(factor, axis=1)


def label_text(label: int, names: tuple[str, ...] | None, color: bool) -> Text:
    """A label as shown: its class name when known (escaped), in the label's colour."""
    shown = safe(names[label]) if names is not None and 0 <= label < len(names) else str(label)
    return Text(shown, label_style(label) if color else "")


def _name(label: int | None, names: tuple[str, ...] | None) -> str | None:
    if label is None or names is None or not 0 <= label < len(names):
        return None
    return names[label]


class InspectorScreen(GuardedMixin, ModalScreen[None]):
    """One point: its image large, index, label, coordinates, and its nearest neighbours in
    the original pixel space as tiles (their places are highlighted on the map behind)."""

    DEFAULT_CSS = """
    InspectorScreen { align: right top; background: $background 30%; }
    InspectorScreen > VerticalScroll {
        width: 64; max-width: 70%; height: 100%; border: round $accent;
        background: $surface; padding: 0 1;
    }
    """
    BINDINGS = [Binding("escape,q,v", "close", "Close")]

    def __init__(
        self,
        *,
        index: int,
        image: np.ndarray,
        label: int | None,
        xy: tuple[float, float],
        neighbours: list[tuple[int, int | None, np.ndarray]],
        neighbour_note: str,
        style: str,
        value_range: tuple[float, float],
        tile_cols: int,
        color: bool,
        label_names: tuple[str, ...] | None = None,
        scale: int = 1,
    ) -> None:
        super().__init__()
        self.label_names = label_names
        self.scale = scale
        self.index = index
        self.image = image
        self.label = label
        self.xy = xy
        self.neighbours = neighbours
        self.neighbour_note = neighbour_note
        self.style_name = style
        self.value_range = value_range
        self.tile_cols = tile_cols
        self.color = color

    def compose(self) -> ComposeResult:
        h, w = self.image.shape[:2]
        factor = max(1, min(4, 32 // max(h, w)))
        big = upscale(self.image, factor)
        big_lines = tile_segments(
            big,
            index=self.index,
            label=self.label,
            style=self.style_name,
            value_range=self.value_range,
            cols=min(w * factor, 56),
            color=self.color,
            label_name=_name(self.label, self.label_names),
        )
        title = Text(f"point {self.index}", style="bold")
        if self.label is not None:
            title.append("  label ")
            title.append_text(label_text(self.label, self.label_names, self.color))
        title.append(f"  at x {self.xy[0]:.4g}, y {self.xy[1]:.4g}")
        tiles = [
            tile_segments(
                img,
                index=i,
                label=lab,
                style=self.style_name,
                value_range=self.value_range,
                cols=self.tile_cols,
                color=self.color,
                label_name=_name(lab, self.label_names),
                scale=self.scale,
            )
            for i, lab, img in self.neighbours
        ]
        per_row = max(1, 58 // (self.tile_cols + 1))
        rows: list[list[Segment]] = []
        for start in range(0, len(tiles), per_row):
            rows.extend(tiles_to_lines(tiles[start : start + per_row]))
        with VerticalScroll():
            yield Static(title)
            yield Static(lines_to_text(big_lines[1:]))
            yield Static(Text(f"\n{len(self.neighbours)} nearest in pixel space", style="bold"))
            yield Static(Text(self.neighbour_note, style="dim"))
            yield Static(lines_to_text(rows))
            yield Static(
                Text("\nhighlighted on the map: the neighbours' places · Esc closes", style="dim")
            )

    def action_close(self) -> None:
        self.dismiss(None)


class SplitScreen(GuardedMixin, ModalScreen[int | None]):
    """Sub-clusters of the selection in pixel space: mean image, size, label mix; 1-9 picks."""

    DEFAULT_CSS = """
    SplitScreen { align: center middle; }
    SplitScreen > VerticalScroll {
        width: 90; max-width: 100%; height: auto; max-height: 100%; border: round $accent;
        background: $surface; padding: 0 1;
    }
    """
    BINDINGS = [
        Binding("escape,q", "close", "Close"),
        *(Binding(str(i), f"pick({i})", f"Pick {i}", show=False) for i in range(1, 10)),
    ]

    def __init__(
        self,
        *,
        clusters: list[dict[str, Any]],
        total: int,
        scores: dict[int, float],
        style: str,
        value_range: tuple[float, float],
        tile_cols: int,
        color: bool,
        label_names: tuple[str, ...] | None = None,
        scale: int = 1,
    ) -> None:
        super().__init__()
        self.label_names = label_names
        self.scale = scale
        self.clusters = clusters
        self.total = total
        self.scores = scores
        self.style_name = style
        self.value_range = value_range
        self.tile_cols = tile_cols
        self.color = color

    def compose(self) -> ComposeResult:
        k = len(self.clusters)
        head = Text(
            f"{self.total} points in {k} sub-clusters (k-means in pixel space", style="bold"
        )
        if self.scores:
            head.append(
                ", k by silhouette: "
                + " ".join(f"{kk}:{v:.2f}" for kk, v in sorted(self.scores.items()))
            )
        head.append(")")
        tiles = []
        for i, cl in enumerate(self.clusters, start=1):
            lines = tile_segments(
                cl["mean"],
                index=None,
                label=None,
                style=self.style_name,
                value_range=self.value_range,
                cols=self.tile_cols,
                color=self.color,
                scale=self.scale,
            )
            lines[0] = [Segment(f"{i}: {cl['size']}"[: self.tile_cols].ljust(self.tile_cols))]
            tiles.append(lines)
        mix = Text()
        for i, cl in enumerate(self.clusters, start=1):
            mix.append(f"{i}: {cl['size']} points · ")
            for label, count in cl["mix"]:
                mix.append_text(label_text(label, self.label_names, self.color))
                mix.append(f":{count} ")
            mix.append("\n")
        with VerticalScroll():
            yield Static(head)
            yield Static(Group(lines_to_text(tiles_to_lines(tiles[:9])), Text("")))
            yield Static(mix)
            yield Static(
                Text("1-9: select only that sub-cluster's points · Esc closes", style="dim")
            )

    def action_pick(self, i: int) -> None:
        if 1 <= i <= len(self.clusters):
            self.dismiss(i - 1)

    def action_close(self) -> None:
        self.dismiss(None)


class InsightActions:
    """The explorer's insight actions; mixed into :class:`ExplorerScreen`, whose ``session``,
    ``sync``, ``say``, ``run_analysis`` and widgets they use."""

    session: Session
    app: Any
    _twin_frame: Any

    if TYPE_CHECKING:

        @property
        def map(self) -> MapView: ...
        @property
        def twin(self) -> MapView: ...
        @property
        def panel(self) -> ImagePanel: ...

        def sync(self) -> None: ...
        def say(self, message: str, *, severity: str = ..., timeout: float = ...) -> None: ...
        def run_analysis(self, kind: str, key: Any, compute: Any) -> None: ...
        def go_to(self, index: int) -> None: ...
        def twin_view(self, coords: np.ndarray) -> Any: ...

    def init_insight(self) -> None:
        self.misfits: dict[str, list[Any]] = {}
        #: The label-review ranking of each map (digitmap_tui.suspects), found with its misfits.
        self.suspects: dict[str, Any] = {}
        self._ranking: str | None = None  # the map whose misfits are being found
        self.stopping = threading.Event()  # set when the screen goes: long analyses stop
        self.misfit_pos = -1
        self.show_misfits = False
        self._after_misfits: tuple[str, int] | None = None
        self.quality: dict[str, dict[str, float]] = {}
        self.twin_method: str | None = None
        self.twin_overlap: np.ndarray | None = None
        self.show_torn = False
        self.last_split: Any = None

    def _map_name(self) -> str:
        s = self.session
        if s.source.embedding:
            return "embedding"
        return f"{s.params.method}-preview" if s.preview else s.params.method

    def embedding_changed(self) -> None:
        """A new map: misfits and highlights of the old one no longer apply."""
        self.misfit_pos = -1
        self.show_misfits = False
        self.show_torn = False
        self.start_quality()
        if self.twin_method is not None:
            self._start_overlap()

    def clear_insight(self) -> None:
        self.show_misfits = False
        self.show_torn = False

    def _refresh_highlight(self) -> None:
        """What the map emphasises: a picked sub-cluster, torn points, or the misfits."""
        s = self.session
        if s.subset is not None:
            s.set_highlight(s.subset, "subset")
        elif self.show_torn and self.twin_overlap is not None:
            s.set_highlight(np.flatnonzero(self.twin_overlap < TORN), "torn")
        elif self.show_misfits and self._map_name() in self.misfits:
            found = self.misfits[self._map_name()]
            s.set_highlight(np.array([f.index for f in found], dtype=np.int64), "misfits")
        else:
            s.clear_highlight()

    # ----- misfits -------------------------------------------------------------------------------
    def _with_misfits(self, then: str | None, step: int = 0) -> bool:
        """True when the misfits of this map are known; else start finding them and run
        ``action_<then>(step)`` when they are (``then`` None: nothing but
        :meth:`suspects_ranked`).

        Misfits (label unlike the majority of the 10 nearest map neighbours) are listed most
        suspicious first, by the label-review score (:mod:`digitmap_tui.suspects`, which also
        weighs the pixel-space neighbours), as ``render --misfits`` lists them; the scores
        are kept for the review (``self.suspects``)."""
        s = self.session
        if s.dataset.labels is None:
            self.say("misfits need labels", severity="warning")
            return False
        name = self._map_name()
        if name in self.misfits:
            return True
        if then is not None:
            self._after_misfits = (then, step)
        if self._ranking == name:
            return False  # already being found
        from digitmap_tui.analysis import misfits
        from digitmap_tui.errors import Cancelled
        from digitmap_tui.suspects import cached_suspects

        coords, ds, cache = s.coords, s.dataset, self.app.inputs.cache
        labels = ds.labels
        assert coords is not None and labels is not None
        self._ranking = name
        stopping = self.stopping

        def stop() -> bool:
            return stopping.is_set() or self._ranking != name

        def rank() -> tuple[list[Any], Any] | None:
            found = misfits(coords, labels, k=10)
            try:
                scored = cached_suspects(cache, ds, coords, stop=stop)
            except Cancelled:
                return None  # the screen went, or another map is shown
            order = scored.rank()
            found.sort(key=lambda f: order[f.index])
            return found, scored

        self.say("ranking suspected label errors (map and pixel neighbours)…", timeout=2)
        self.run_analysis("misfits", name, rank)
        return False

    def got_misfits(self, name: str, result: tuple[list[Any], Any] | None) -> None:
        if self._ranking == name:
            self._ranking = None
        if result is None:
            return
        self.misfits[name], self.suspects[name] = result
        self.suspects_ranked(name)
        after, self._after_misfits = self._after_misfits, None
        if after is not None and name == self._map_name():
            action, step = after
            getattr(self, f"action_{action}")(*((step,) if action == "misfit" else ()))

    def failed_misfits(self) -> None:
        self._ranking = None
        self._after_misfits = None

    def suspects_ranked(self, name: str) -> None:
        """Called when the ranking of map ``name`` is known (the review picks it up)."""

    def action_misfit(self, step: int) -> None:
        if not self._with_misfits("misfit", step):
            return
        found = self.misfits[self._map_name()]
        if not found:
            self.say("no misfits: every point agrees with its neighbours")
            return
        if self.misfit_pos < 0:
            self.misfit_pos = 0 if step > 0 else len(found) - 1
        else:
            self.misfit_pos = (self.misfit_pos + step) % len(found)
        self._jump_to_misfit(found[self.misfit_pos], self.misfit_pos, len(found))

    def _jump_to_misfit(self, mf: Any, pos: int, total: int) -> None:
        self.go_to(mf.index)
        name = self.session.dataset.label_name  # class names of an image folder
        score = self.suspects[self._map_name()].score[mf.index]
        self.say(
            markup(
                f"misfit {pos + 1}/{total}: #{mf.index} label {name(mf.label)} among "
                f"{name(mf.neighbour_label)}s (score {score:.2f}; {mf.agreement:.0%} of its "
                "10 neighbours agree)"
            ),
            timeout=4,
        )

    def action_misfit_list(self) -> None:
        from digitmap_tui.widgets.screens import ChoiceScreen

        if not self._with_misfits("misfit_list"):
            return
        found = self.misfits[self._map_name()]
        if not found:
            self.say("no misfits")
            return
        name = self.session.dataset.label_name
        scored = self.suspects[self._map_name()]
        rows = [
            safe(
                f"#{f.index:<6} label {name(f.label)} → {name(int(scored.suggested[f.index]))}?"
                f"  score {scored.score[f.index]:5.2f}  neighbours {name(f.neighbour_label)}"
                f"  agree {f.agreement:.0%}"
            )
            for f in found
        ]

        def chosen(i: int | None) -> None:
            if i is not None:
                self.misfit_pos = i
                self._jump_to_misfit(found[i], i, len(found))

        title = (
            f"{len(found)} misfits (label ≠ majority of 10 map neighbours), most suspicious first"
        )
        self.app.push_screen(ChoiceScreen(title, rows), chosen)

    def action_toggle_misfits(self) -> None:
        if not self._with_misfits("toggle_misfits"):
            return
        self.show_misfits = not self.show_misfits
        self._refresh_highlight()
        self.sync()
        found = self.misfits[self._map_name()]
        state = "shown" if self.show_misfits else "hidden"
        self.say(f"{len(found)} misfits {state} on the map", timeout=2)

    # ----- the inspector ---------------------------------------------------------------------------
    def inspect_target(self) -> int | None:
        """The marked point when it is in the box, else the point nearest the box's centre."""
        s = self.session
        sel = s.selection()
        mark = s.state.mark
        if mark is not None and mark in sel.indices:
            return int(mark)
        nearest = int(sel.grid(1, 1)[0, 0])
        return None if nearest < 0 else nearest

    def action_inspect(self) -> None:
        from digitmap_tui.analysis import pixel_neighbours

        s = self.session
        index = self.inspect_target()
        if index is None or s.coords is None:
            self.say("no point in the box to inspect", severity="warning")
            return
        ds = s.dataset
        near = pixel_neighbours(ds.images, index, k=8)  # rows converted where used
        labels = s.labels  # corrected in a review, as the map shows them
        in_box = int(np.isin(near, s.selection().indices).sum())
        d = np.hypot(*(s.coords[near] - s.coords[index]).T)
        span = max(s.view.width, s.view.height)
        note = (
            f"{in_box} of {len(near)} lie in the box; map distance median {np.median(d):.3g} "
            f"({np.median(d) / span:.0%} of the view)"
        )
        s.set_mark(index)
        s.set_highlight(near, "neighbours")
        self.sync()
        panel = self.panel
        screen = InspectorScreen(
            index=index,
            image=np.asarray(ds.images[index]),
            label=None if labels is None else int(labels[index]),
            xy=(float(s.coords[index, 0]), float(s.coords[index, 1])),
            neighbours=[
                (int(j), None if labels is None else int(labels[j]), np.asarray(ds.images[j]))
                for j in near
            ],
            neighbour_note=note,
            style=panel.style_name,
            value_range=panel.value_range,
            tile_cols=panel.tile_cols,
            color=panel.color,
            label_names=ds.label_names,
            scale=panel.scale,
        )
        self.inspected = (index, near)

        def closed(_: Any) -> None:
            self._refresh_highlight()
            self.sync()

        self.app.push_screen(screen, closed)

    # ----- splitting the selection ------------------------------------------------------------------
    def action_split(self) -> None:
        from digitmap_tui.analysis import split_selection

        s = self.session
        selection = s.selection().indices
        if len(selection) < 4:
            self.say("put at least 4 points in the box to split it", severity="warning")
            return
        ds = s.dataset
        images, labels, n_labels = ds.images, ds.labels, ds.n_labels or None
        self.say(f"splitting {len(selection)} points (k-means in pixel space)…", timeout=2)
        self.run_analysis(
            "split",
            len(selection),
            lambda: split_selection(images, selection, labels=labels, n_labels=n_labels),
        )

    def got_split(self, total: int, split: Any) -> None:
        self.last_split = split
        shape = self.session.dataset.images.shape[1:]  # (H, W) or (H, W, 3)
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
            members = np.asarray(split.clusters[i].members, dtype=np.int64)
            self.session.pick_subset(members, f"sub-cluster {i + 1}/{len(split.clusters)}")
            self.sync()

        self.app.push_screen(
            SplitScreen(
                clusters=clusters, total=total, scores=dict(split.scores),
                style=panel.style_name, value_range=panel.value_range,
                tile_cols=panel.tile_cols, color=panel.color,
                label_names=self.session.dataset.label_names, scale=panel.scale,
            ),
            picked,
        )  # fmt: skip

    def action_toggle_mean_grid(self) -> None:
        self.session.toggle_mean_grid()
        self.sync()
        mean = self.session.state.mean_grid
        self.say(
            "grid: mean image per cell" if mean else "grid: point nearest each centre", timeout=2
        )

    # ----- the twin map --------------------------------------------------------------------------------
    def action_twin(self) -> None:
        s = self.session
        if self.twin_method is not None:
            self.twin_method = None
            self.twin_overlap = None
            self.show_torn = False
            self._twin_frame = None
            self.twin.remove_class("shown")
            self._refresh_highlight()
            self.sync()
            return
        other = registry.twin_of("" if s.source.embedding else s.params.method)
        coords = self.app.request_embedding(replace(s.params, method=other), "twin")
        if coords is not None:
            self.show_twin(other, coords)
        else:
            self.say(f"computing {other} for the twin map…")

    def show_twin(self, method: str, coords: np.ndarray) -> None:
        from digitmap_tui.grid import PointIndex
        from digitmap_tui.widgets.mapview import MapFrame

        s = self.session
        self.twin_method = method
        self.twin.add_class("shown")
        index = PointIndex(coords, s.labels, s.n_labels or None)
        self._twin_frame = MapFrame(index, self.twin_view(coords), self.session.state.mode)
        self._start_overlap()
        self.sync()

    def _start_overlap(self) -> None:
        from digitmap_tui.analysis import neighbourhood_overlap

        method = self.twin_method
        frame = self._twin_frame
        s = self.session
        if method is None or frame is None or s.coords is None:
            return
        a, b = s.coords, frame.index.xy
        self.twin_overlap = None
        self.run_analysis("overlap", method, lambda: neighbourhood_overlap(a, b, k=10))

    def got_overlap(self, method: str, overlap: np.ndarray) -> None:
        if self.twin_method == method:
            self.twin_overlap = overlap
            self._refresh_highlight()
            self.sync()

    def twin_status(self) -> str:
        if self.twin_method is None:
            return ""
        text = f"   twin: {self.twin_method}"
        shown = self.session.shown()
        if self.twin_overlap is not None and len(shown):
            kept = float(self.twin_overlap[shown].mean())
            text += f", box keeps {kept:.0%} of neighbours (all {self.twin_overlap.mean():.0%})"
        return text

    def action_toggle_torn(self) -> None:
        if self.twin_overlap is None:
            self.say("open the twin map first (w)", severity="warning")
            return
        self.show_torn = not self.show_torn
        torn = int((self.twin_overlap < TORN).sum())
        self._refresh_highlight()
        self.sync()
        self.say(
            f"{torn} points keep < 30% of their 10 neighbours in {self.twin_method}"
            + ("" if self.show_torn else " (hidden)")
        )

    # ----- map quality -----------------------------------------------------------------------------------
    def start_quality(self) -> None:
        """Trustworthiness and 10-NN accuracy of this map: from disk, or computed once."""
        s = self.session
        if not getattr(self.app, "options", None) or not self.app.options.quality:
            return
        name = self._map_name()
        if s.coords is None or name in self.quality or s.preview:
            return
        path = self.app.quality_path(s.params)
        if path is not None and path.exists():
            from digitmap_tui.errors import InputError
            from digitmap_tui.fileio import read_json

            try:
                record = read_json(path, 4096)  # a few numbers; anything larger is not ours
                self.quality[name] = {k: float(v) for k, v in record.items() if v is not None}
                return
            except (InputError, OSError, ValueError, TypeError, AttributeError):
                pass  # damaged: recompute and replace
        from digitmap_tui.analysis import knn_accuracy, trustworthiness

        coords, labels, images = s.coords, s.dataset.labels, s.dataset.images

        def compute() -> dict[str, float | None]:
            return {
                # sklearn's trustworthiness holds N x N matrices: score a 2,000-point sample
                # on large maps (exact below that).
                "trustworthiness": trustworthiness(images, coords, k=10, max_points=2000),
                "knn_accuracy": None if labels is None else knn_accuracy(coords, labels, k=10),
            }

        self.run_analysis("quality", (name, path), compute)

    def got_quality(self, key: tuple[str, Any], record: dict[str, float | None]) -> None:
        name, path = key
        self.quality[name] = {k: float(v) for k, v in record.items() if v is not None}
        if path is not None:
            from digitmap_tui.errors import InputError
            from digitmap_tui.fileio import write_atomic

            try:
                write_atomic(path, lambda fh: fh.write(json.dumps(record).encode("utf-8")))
            except (OSError, InputError):
                pass  # a read-only cache: the figures are still shown
        self.sync()

    def quality_text(self) -> str:
        q = self.quality.get(self._map_name())
        if q is None:
            return ""
        text = f" · trustworthiness {q['trustworthiness']:.3f}"
        if q.get("knn_accuracy") is not None:
            text += f" · 10-NN accuracy {q['knn_accuracy']:.1%}"
        return text


__all__ = ["InsightActions", "InspectorScreen", "SplitScreen", "markup"]
