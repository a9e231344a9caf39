"""Label review in the explorer: walk the suspects, confirm, relabel or reject, undo, export.

:class:`ReviewActions` is mixed into the explorer screen. ``R`` starts a review: the suspects
(:mod:`digitmap_tui.suspects`, ranked in the background with the misfits) are visited most
suspicious first; the box centres on each, the point is marked, and :class:`ReviewPane`
(beside the map, which stays in view) shows its image large with its 8 nearest images in
pixel space, whose places are highlighted on the map. The point under review is the marked
one, so ``i``, ``n``/``N`` or the misfit list can bring any point up for a decision.

Every decision goes to the dataset's :class:`~digitmap_tui.review.ReviewLog` at once (appended
and fsynced); the log is replayed when the explorer starts, so the corrected labels show from
the first frame. The walk itself is :class:`~digitmap_tui.reviewqueue.ReviewQueue` (pure).
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from rich.segment import Segment
from rich.style import Style
from rich.text import Text
from textual import events
from textual.strip import Strip
from textual.widget import Widget

from digitmap_tui.errors import InputError
from digitmap_tui.glyphs import label_style, tile_segments, tiles_to_lines
from digitmap_tui.text import markup
from digitmap_tui.widgets.status import StatusLine
from digitmap_tui.widgets.theme import ThemedLines

if TYPE_CHECKING:
    from digitmap_tui.reviewqueue import ReviewQueue
    from digitmap_tui.session import Session
    from digitmap_tui.widgets.panel import ImagePanel

#: Actions that only make sense on a point under review (hidden from the footer otherwise).
REVIEW_ONLY = frozenset({"review_confirm", "review_invalid", "review_skip", "review_ask"})
#: Below this terminal width the review pane takes the image panel's place (the map keeps
#: the room it needs to show the point's neighbourhood).
NARROW = 110
#: Columns of the pane's content: four 8-column tiles and their gaps, or the large image
#: (16 columns) with the point's text beside it.
PANE_COLS = 36
BIG_COLS = 16
NEAR_COLS = 8
#: The review line's key reminder (cut on a narrow terminal: the pane lists them too).
HINT = "⏎ ok  0-9 relabel  X invalid  ␣ skip  U undo"
KEYS_HELP = (
    "⏎ label ok · 0-9 relabel · X invalid",
    "␣ skip · U undo · * box · Esc end",
)
BOLD = Style(bold=True)
DIM = Style(dim=True)


class ReviewPane(ThemedLines, Widget):
    """The point under review, large, with its pixel-space neighbours (Line API)."""

    DEFAULT_CSS = """
    ReviewPane { width: 38; height: 1fr; }
    """

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.lines: list[list[Segment]] = []

    @property
    def text(self) -> str:
        """What the pane shows, as plain text (tests, screenshots)."""
        return "\n".join("".join(seg.text for seg in line) for line in self.lines)

    def set_lines(self, lines: list[list[Segment]]) -> None:
        if lines != self.lines:
            self.lines = lines
            self.refresh()

    def render_line(self, y: int) -> Strip:
        width = self.size.width
        if y >= len(self.lines):
            return Strip.blank(width, self.line_style)
        base = self.line_style
        line = Segment.apply_style(self.lines[y], base)
        return Strip(line).adjust_cell_length(width, base).crop(0, width)


def pane_lines(
    *,
    heading: str,
    progress: str,
    index: int | None,
    about: list[list[Segment]],
    image: np.ndarray | None,
    near: list[list[list[Segment]]] | None,
    style: str,
    value_range: tuple[float, float],
    color: bool,
) -> list[list[Segment]]:
    """The pane's lines: a heading and the progress, the image large with ``about`` beside
    it, and the neighbours' tiles four to a row (``None``: still being found)."""
    lines: list[list[Segment]] = [[Segment(heading[:PANE_COLS], BOLD)]]
    if progress:
        lines.append([Segment(progress[:PANE_COLS], DIM)])
    side = about
    if image is None or index is None:
        lines += side
    else:
        w = int(image.shape[1])
        big = tile_segments(
            image, index=None, label=None, style=style, value_range=value_range,
            cols=BIG_COLS, color=color, scale=max(1, BIG_COLS // max(w, 1)),
        )[1:]  # fmt: skip
        for y in range(max(len(big), len(side))):
            row = list(big[y]) if y < len(big) else [Segment(" " * BIG_COLS)]
            if y < len(side):
                row += [Segment("  "), *side[y]]
            lines.append(row)
    lines.append([])
    if index is not None:
        if near is None:
            lines.append([Segment("finding the 8 nearest in pixel space…", DIM)])
        elif near:
            lines.append([Segment(f"{len(near)} nearest in pixel space", BOLD)])
            for start in range(0, len(near), 4):
                lines += tiles_to_lines(near[start : start + 4])
    lines.append([])
    for part in KEYS_HELP:
        lines.append([Segment(part, DIM)])
    return lines


class ReviewActions:
    """The explorer's label-review actions; mixed into :class:`ExplorerScreen`, whose
    ``session``, ``sync``, ``say``, ``go_to``, ``run_analysis`` and misfit ranking they use."""

    session: Session
    app: Any
    misfits: dict[str, list[Any]]
    suspects: dict[str, Any]

    if TYPE_CHECKING:

        @property
        def panel(self) -> ImagePanel: ...

        def sync(self) -> None: ...
        def say(self, message: str, *, severity: str = ..., timeout: float = ...) -> None: ...
        def run_analysis(self, kind: str, key: Any, compute: Any) -> None: ...
        def go_to(self, index: int) -> None: ...
        def query_one(self, selector: Any, expect_type: Any = ...) -> Any: ...
        def has_class(self, *names: str) -> bool: ...
        def set_class(self, add: bool, *class_names: str, update: bool = True) -> Any: ...
        def _map_name(self) -> str: ...
        def _with_misfits(self, then: str | None, step: int = 0) -> bool: ...
        def _refresh_highlight(self) -> None: ...
        def _layout(self, width: int | None = None) -> None: ...

    # ----- start-up --------------------------------------------------------------------------
    def init_review(self) -> None:
        """Open the dataset's review log and show its corrected labels from the first frame."""
        from digitmap_tui.review import ReviewLog
        from digitmap_tui.reviewqueue import ReviewQueue

        self.reviewing = False
        self.queue: ReviewQueue | None = None
        self.review_note: str | None = None
        self._review_version = 0
        self._review_drawn: tuple[Any, ...] | None = None
        self._review_near: tuple[int, np.ndarray] | None = None
        self._review_start: int | None = None  # the mark when R was pressed
        self._near_asked: int | None = None  # whose pixel neighbours are being found
        ds = self.session.dataset
        if ds.labels is None:
            return
        try:
            log = ReviewLog.for_dataset(ds)
        except (InputError, OSError, ValueError) as exc:
            self.review_note = f"label review unavailable: {exc}"
            return
        queue = ReviewQueue(log, ds.labels)
        if log.decisions:
            try:
                self.session.set_labels(queue.labels())
            except ValueError as exc:  # a hand-made file: labels the map cannot show
                self.review_note = f"{log.path}: not shown and not continued ({exc})"
                return
        self.queue = queue
        self.review_note = log.problem or log.warning

    def review_mounted(self) -> None:
        """The panel exists: give it the review's marks, and say what the log had to say."""
        if self.queue is not None and self.queue.log.decisions:
            self.panel.set_labels(self.session.labels, self.queue.flags())
        if self.review_note:
            self.say(markup(self.review_note), severity="warning", timeout=10)

    # ----- layout and drawing ---------------------------------------------------------------
    def layout_changed(self, width: int) -> None:
        self.review_layout(width)

    def review_layout(self, width: int) -> None:
        """Below :data:`NARROW` columns the pane replaces the image panel while reviewing."""
        narrow = self.reviewing and width < NARROW
        if self.has_class("narrow") != narrow:  # a class change restyles the whole screen
            self.set_class(narrow, "narrow")

    def review_sync(self) -> None:
        """Part of every ``sync``: the pane and the review line follow the marked point."""
        if not self.reviewing or self.queue is None:
            return
        s = self.session
        mark = s.state.mark
        near = self._review_near
        key = (mark, self._review_version, id(self.queue.suspects), near is not None and near[0])
        if key == self._review_drawn:
            return
        self._review_drawn = key
        if mark is not None and (near is None or near[0] != mark) and self._near_asked != mark:
            self._find_near(mark)
        self.query_one("#review-line", StatusLine).set(self._review_line(mark))
        self.query_one(ReviewPane).set_lines(self._pane(mark))

    def _review_line(self, mark: int | None) -> Text:
        q = self.queue
        assert q is not None
        line = Text("review ", style="bold")
        if q.suspects is None:
            line.append("ranking suspects… ")
        elif mark is None:
            line.append("no point marked (space: next suspect) ")
        else:
            line.append(q.describe(mark))
            line.append(" ")
        if q.suspects is not None:
            line.append("│ " + q.progress().describe() + " ")
        line.append("│ " + HINT, style="dim")
        return line

    def _pane(self, mark: int | None) -> list[list[Segment]]:
        q = self.queue
        assert q is not None
        panel = self.panel
        if q.suspects is None:
            heading = "review · ranking suspects…"
        else:
            pos = None if mark is None else q.position(mark)
            total = q.suspects.count
            heading = (
                f"review · suspect {pos + 1} of {total}"
                if pos is not None
                else f"review · {total} suspects"
            )
        progress = "" if q.suspects is None else q.progress().describe()
        if mark is None:
            about = [[Segment("space: the next suspect")]]
            return pane_lines(
                heading=heading, progress=progress, index=None, about=about, image=None, near=None,
                style=panel.style_name, value_range=panel.value_range, color=panel.color,
            )  # fmt: skip
        about = self._about(mark)
        near = None
        if self._review_near is not None and self._review_near[0] == mark:
            near = [panel.tile_at(int(j), NEAR_COLS) for j in self._review_near[1]]
        return pane_lines(
            heading=heading, progress=progress, index=mark, about=about,
            image=np.asarray(self.session.dataset.images[mark]), near=near,
            style=panel.style_name, value_range=panel.value_range, color=panel.color,
        )  # fmt: skip

    def _about(self, index: int) -> list[list[Segment]]:
        """The text beside the large image: index, label and suggestion, score, decision."""
        q = self.queue
        assert q is not None
        color = self.panel.color
        old = int(q.original[index])

        def lab(value: int) -> Segment:
            return Segment(str(value), label_style(value) if color else None)

        label = [Segment("L:"), lab(old)]
        decision = q.log.decision_of(index)
        sus = q.suspects
        if decision == "relabel":
            new = q.log.label_of(index)
            assert new is not None
            label += [Segment(" → "), lab(new)]
        elif sus is not None and sus.score[index] > 0 and decision is None:
            label += [Segment(" → "), lab(int(sus.suggested[index])), Segment("?")]
        out = [[Segment(f"#{index}", BOLD)], label]
        if sus is not None:
            out.append([Segment(f"score {float(sus.score[index]):.2f}")])
        out.append([])
        names = {"confirm": "label confirmed", "relabel": "relabelled", "invalid": "not valid"}
        out.append([Segment(names.get(decision or "", "no decision yet"), DIM)])
        return out

    def _find_near(self, index: int) -> None:
        from digitmap_tui.analysis import pixel_neighbours

        self._near_asked = index
        images = self.session.dataset.images
        self.run_analysis("review_near", index, lambda: pixel_neighbours(images, index, k=8))

    def failed_review_near(self) -> None:
        self._near_asked = None

    def got_review_near(self, index: int, near: np.ndarray) -> None:
        if self._near_asked == index:
            self._near_asked = None
        if not self.reviewing or self.session.state.mark != index:
            return
        self._review_near = (index, near)
        self.session.set_highlight(near, "neighbours")
        self.sync()

    # ----- entering and leaving ----------------------------------------------------------------
    def action_review(self) -> None:
        """R: start (or end) the review of this map's suspects, at the marked point when it is
        a suspect without a decision, else at the most suspicious one without one."""
        if self.reviewing:
            self.leave_review()
            return
        if self.queue is None:
            self.say(markup(self.review_note or "label review needs labels"), severity="warning")
            return
        self.reviewing = True
        self.set_class(True, "reviewing")
        self._review_drawn = None
        self._review_start = self.session.state.mark
        self._layout()
        self.queue.set_suspects(None)
        if self._with_misfits(None):  # else: ranked in the background, then back here
            self.suspects_ranked(self._map_name())
        else:
            self.sync()

    def suspects_ranked(self, name: str) -> None:
        """The suspects of map ``name`` are known (called by the misfit ranking)."""
        q = self.queue
        if not self.reviewing or q is None or name != self._map_name():
            return
        if q.suspects is self.suspects[name]:
            return
        q.set_suspects(self.suspects[name])
        count = self.suspects[name].count
        progress = q.progress().describe()
        first = q.next_suspect()
        mark = self.session.state.mark
        if first is None:
            self.say(f"each of the {count} suspects has a decision ({progress})", timeout=4)
            self.sync()
        elif mark is not None and (
            mark != self._review_start  # chosen while the ranking ran
            or (q.position(mark) is not None and q.log.decision_of(mark) is None)
        ):
            self.sync()  # the marked point is up for review: it stays
        else:
            self.say(f"reviewing {count} suspects, most suspicious first: {progress}", timeout=4)
            self.go_to(first)

    def leave_review(self) -> bool:
        """Esc in review mode: end it (decisions are saved as they are made). False if not in it."""
        if not self.reviewing:
            return False
        self.reviewing = False
        self.set_class(False, "reviewing")
        self._review_near = None
        self._refresh_highlight()
        self._layout()
        self.sync()
        self.say("review paused: every decision is saved; R resumes", timeout=3)
        return True

    def review_embedding_changed(self) -> None:
        """Another map: its suspects are ranked anew (the decisions stay: they are on points)."""
        self._review_near = None
        if self.reviewing and self.queue is not None:
            self.queue.set_suspects(None)
            self._review_start = self.session.state.mark
            if self._with_misfits(None):
                self.suspects_ranked(self._map_name())

    # ----- decisions -------------------------------------------------------------------------
    def _current(self) -> int | None:
        mark = self.session.state.mark if self.reviewing else None
        if mark is None:
            self.say("no point under review (space: the next suspect)", severity="warning")
        return mark

    def _decide(self, op: str, indices: Any, label: int | None = None) -> bool:
        q = self.queue
        if q is None:
            self.say(markup(self.review_note or "label review needs labels"), severity="warning")
            return False
        try:
            q.decide(op, indices, label)
        except (InputError, ValueError) as exc:
            self.say(f"not saved: {markup(exc)}", severity="error", timeout=8)
            return False
        self._decisions_changed()
        return True

    def _decisions_changed(self) -> None:
        q = self.queue
        assert q is not None
        self._review_version += 1
        s = self.session
        try:
            s.set_labels(q.labels())
        except ValueError as exc:  # another session wrote a label the map cannot show
            self.say(f"corrected labels not shown: {markup(exc)}", severity="error", timeout=8)
        self.panel.set_labels(s.labels, q.flags())
        twin = getattr(self, "_twin_frame", None)
        if twin is not None and twin.index is not None:
            relabelled = twin.index.relabelled(s.labels, s.n_labels or None)
            self._twin_frame = replace(twin, index=relabelled)

    def _next(self, after: int) -> None:
        q = self.queue
        assert q is not None
        following = q.next_suspect(after)
        if following is None:
            self.say(
                f"all {q.suspects.count if q.suspects else 0} suspects have a decision "
                f"({q.progress().describe()}); Esc ends the review",
                timeout=6,
            )
            self.sync()
        else:
            self.go_to(following)

    def review_relabel(self, label: int) -> None:
        """A digit key in review mode: the point under review is ``label``."""
        index = self._current()
        if index is not None and self._decide("relabel", [index], label):
            self._next(index)

    def action_review_confirm(self) -> None:
        index = self._current()
        if index is not None and self._decide("confirm", [index]):
            self._next(index)

    def action_review_invalid(self) -> None:
        index = self._current()
        if index is not None and self._decide("invalid", [index]):
            self._next(index)

    def action_review_skip(self) -> None:
        if not self.reviewing or self.queue is None:
            return
        mark = self.session.state.mark
        following = self.queue.next_suspect(mark)
        if following is None:
            self.say("no suspect is left without a decision", timeout=3)
        else:
            self.go_to(following)

    def action_review_ask(self) -> None:
        """Relabel the point under review with a label typed in (for labels past 9)."""
        from digitmap_tui.widgets.screens import PromptScreen

        index = self._current()
        if index is None:
            return

        def answered(answer: str | None) -> None:
            label = self._parse_label(answer)
            if label is not None and self._decide("relabel", [index], label):
                self._next(index)

        self.app.push_screen(PromptScreen(f"Relabel point {index} as:", "a label"), answered)

    def _parse_label(self, answer: str | None) -> int | None:
        from digitmap_tui.data import MAX_LABEL

        if answer is None or not answer.strip():
            return None
        text = answer.strip()
        if not (text.isascii() and text.isdigit() and int(text) <= MAX_LABEL):
            self.say(f"not a label (0…{MAX_LABEL}): {markup(answer)}", severity="error")
            return None
        return int(text)

    def action_review_undo(self) -> None:
        """U: take back the latest decision (a whole selection's at once)."""
        q = self.queue
        if q is None:
            self.say(markup(self.review_note or "label review needs labels"), severity="warning")
            return
        try:
            undone = q.undo()
        except InputError as exc:
            self.say(f"not undone: {markup(exc)}", severity="error", timeout=8)
            return
        if undone is None:
            self.say("no decision to undo", timeout=2)
            return
        self._decisions_changed()
        what = {"confirm": "confirmed", "relabel": f"relabelled {undone.label}"}.get(
            undone.op, "not valid"
        )
        points = (
            f"point {undone.indices[0]}"
            if len(undone.indices) == 1
            else f"{len(undone.indices)} points"
        )
        self.say(f"undone: {points} {what}", timeout=3)
        if self.reviewing and len(undone.indices) == 1:
            self.go_to(undone.indices[0])
        else:
            self.sync()

    def action_review_box(self) -> None:
        """*: one decision for every point shown (the box, or a picked sub-cluster)."""
        from digitmap_tui.widgets.screens import PromptScreen

        if self.queue is None:
            self.say(markup(self.review_note or "label review needs labels"), severity="warning")
            return
        points = np.asarray(self.session.shown(), dtype=np.int64)
        if not len(points):
            self.say("no point in the box", severity="warning")
            return
        n = len(points)

        def answered(answer: str | None) -> None:
            if answer is None or not answer.strip():
                return
            word = answer.strip().lower()
            if word in ("c", "ok", "confirm"):
                op, label, done = "confirm", None, "confirmed"
            elif word in ("x", "invalid"):
                op, label, done = "invalid", None, "marked not valid"
            else:
                label = self._parse_label(answer)
                if label is None:
                    return
                op, done = "relabel", f"relabelled {label}"
            if self._decide(op, points, label):
                self.say(f"{n} points {done} (U undoes all {n} at once)", timeout=4)
                self.sync()

        question = f"All {n} points shown: a label relabels them, c confirms, x marks not valid:"
        self.app.push_screen(PromptScreen(question, "e.g. 7"), answered)

    # ----- keys that are not bindings ------------------------------------------------------------
    def on_key(self, event: events.Key) -> None:
        """Digits relabel in review mode (outside it, 0 resets the view as bound)."""
        if not self.reviewing or self.has_class("too-small") or not self.session.ready:
            return
        if len(event.key) == 1 and event.key in "0123456789":
            event.stop()
            event.prevent_default()
            # On the App's loop, as bound keys run: a failure is reported, the session goes on.
            self.app.call_later(self.review_relabel, int(event.key))

    # ----- out -------------------------------------------------------------------------------------
    def action_export_labels(self) -> None:
        """E: the corrected labels (and the list of changes beside them) to new files."""
        from digitmap_tui.export import default_export_name
        from digitmap_tui.widgets.screens import PromptScreen

        if self.queue is None:
            self.say(markup(self.review_note or "label review needs labels"), severity="warning")
            return
        s = self.session
        default = default_export_name(s.source.dataset, "labels", s.dataset.n, ".npy")

        def write(answer: str | None) -> None:
            if answer is not None and answer.strip():
                self.export_labels_to(Path(answer.strip()).expanduser())

        self.app.push_screen(
            PromptScreen(
                "Export the corrected labels to (.npy or .csv; the changes go beside it):",
                value=default.name,
            ),
            write,
        )

    def export_labels_to(self, path: Path) -> tuple[Path, Path] | None:
        """Write the corrected labels (-1: not valid) to ``path`` and the decisions to
        ``<stem>-changes.csv`` beside it; never overwrites (a notification says why)."""
        from digitmap_tui.review import check_out_path, write_changes, write_labels

        q = self.queue
        assert q is not None
        changes = path.with_name(f"{path.stem}-changes.csv")
        try:
            check_out_path(path, (".npy", ".csv"))
            check_out_path(changes, (".csv",))
            written = write_labels(path, q.log.labels(q.original))
            rows = q.log.changes(q.original)
            write_changes(changes, rows)
        except InputError as exc:
            self.say(markup(exc), severity="error", timeout=6)
            return None
        self.say(
            f"{len(q.original)} labels to {markup(written)} ({len(rows)} decisions in "
            f"{markup(changes.name)})",
            timeout=6,
        )
        return written, changes


__all__ = ["NARROW", "REVIEW_ONLY", "ReviewActions", "ReviewPane", "pane_lines"]
