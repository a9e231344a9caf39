"""Selections out of the explorer: export, clipboard, bookmarks and screenshots.

:class:`OutputActions` is mixed into the explorer screen. What is written comes from the
session (:meth:`~digitmap_tui.session.Session.provenance`, ``to_dict``), the files from
:mod:`digitmap_tui.export` and :mod:`digitmap_tui.bookmarks`.

In a browser (``digitmap serve``: Textual's web driver) the server's disk is not the user's:
exports, screenshots and the bookmarks file are delivered to the browser as downloads
(``App.deliver_binary``/``deliver_text``), with the same bytes a terminal session writes.
"""

from __future__ import annotations

import io
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

from digitmap_tui.errors import InputError
from digitmap_tui.text import markup
from digitmap_tui.widgets import compat
from digitmap_tui.widgets.screens import PromptScreen

if TYPE_CHECKING:
    from digitmap_tui.session import Session


class OutputActions:
    """Export, copy, bookmark and screenshot actions of the explorer screen."""

    session: Session
    app: Any

    if TYPE_CHECKING:

        def say(self, message: str, *, severity: str = ..., timeout: float = ...) -> None: ...
        def apply_bookmark(self, state: dict[str, Any]) -> None: ...

    @property
    def in_browser(self) -> bool:
        """Whether the explorer runs in a web browser: files go to it as downloads."""
        return bool(getattr(self.app, "is_web", False))

    # ----- export ----------------------------------------------------------------------------
    def action_export(self) -> None:
        from digitmap_tui.export import default_export_name

        s = self.session
        default = default_export_name(s.source.dataset, s.params.method, len(s.shown()), ".csv")
        web = self.in_browser

        def write(answer: str | None) -> None:
            if answer is None or not answer.strip():
                return
            if web:
                self.deliver_selection(Path(answer.strip()).name)
            else:
                self.export_selection_to(Path(answer.strip()).expanduser())

        question = (
            "Download the selection as (.csv, .json or .npy):"
            if web
            else "Export the selection to (.csv, .json or .npy):"
        )
        queue = getattr(self, "queue", None)
        if queue is not None and queue.log.decisions:
            question = question.replace("the selection", "the selection (E: corrected labels)")
        self.app.push_screen(PromptScreen(question, value=default.name), write)

    def deliver_selection(self, name: str) -> bool:
        """The selection as a download named ``name`` (the format by its suffix)."""
        from digitmap_tui.export import encode_selection

        s = self.session
        assert s.coords is not None
        indices = s.selected()
        suffix = Path(name).suffix.lower()
        try:
            data = encode_selection(
                suffix, indices=indices, labels=s.dataset.labels, coords=s.coords,
                meta=s.provenance(),
            )  # fmt: skip
        except InputError as exc:
            self.say(f"{markup(name)}: {markup(exc)}", severity="error", timeout=6)
            return False
        mime = {".csv": "text/csv", ".json": "application/json"}.get(suffix)
        self.app.deliver_binary(
            io.BytesIO(data), save_filename=name, mime_type=mime or "application/octet-stream"
        )
        self.say(f"{len(indices)} points sent to the browser as {markup(name)}", timeout=6)
        return True

    def export_selection_to(self, path: Path) -> Path | None:
        """Write the selection with its provenance; never overwrites (a notification says why)."""
        from digitmap_tui.export import export_selection

        s = self.session
        assert s.coords is not None
        indices = s.selected()  # in the order the user sees them
        try:
            written = export_selection(
                path,
                indices=indices,
                labels=s.labels,  # as shown: corrected in a review
                coords=s.coords,
                meta=s.provenance(),
                paths=s.dataset.paths,  # an image folder's files, one per point
                label_names=s.dataset.label_names,
            )
        except InputError as exc:
            self.say(markup(exc), severity="error", timeout=6)
            return None
        self.say(f"exported {len(indices)} points to {markup(written)}", timeout=6)
        return written

    # ----- clipboard ---------------------------------------------------------------------------
    def action_copy_selection(self) -> None:
        """The indices to the clipboard with OSC 52 (works over SSH); through tmux's
        passthrough when inside tmux, which swallows a bare OSC 52 by default."""
        from digitmap_tui.clipboard import osc52

        indices = self.session.selected()
        text = " ".join(str(int(i)) for i in indices)
        if os.environ.get("TMUX"):
            try:
                sequence = osc52(text, os.environ)
            except InputError as exc:
                self.say(markup(exc), severity="error", timeout=6)
                return
            if not compat.copy_through_tmux(self.app, text, sequence):
                self.app.copy_to_clipboard(text)
        else:
            try:
                osc52(text, {})  # the size check
            except InputError as exc:
                self.say(markup(exc), severity="error", timeout=6)
                return
            self.app.copy_to_clipboard(text)
        self.say(f"copied {len(indices)} indices (OSC 52)")

    # ----- bookmarks ---------------------------------------------------------------------------
    def _bookmark_store(self) -> Any:
        from digitmap_tui.bookmarks import BookmarkStore

        store = BookmarkStore()
        try:
            problem = store.load()
        except InputError as exc:  # an untrusted data directory, a newer file format
            self.say(markup(exc), severity="error", timeout=10)
            return None
        if problem:
            self.say(markup(problem), severity="warning", timeout=10)
        return store

    def bookmark_scope(self) -> str:
        from digitmap_tui.bookmarks import scope_key

        s = self.session
        return scope_key(s.source.fingerprint, s.source.describe(s.params))

    def action_bookmark_save(self) -> None:
        def save(answer: str | None) -> None:
            if answer is None or not answer.strip():
                return
            s = self.session
            store = self._bookmark_store()
            if store is None:
                return
            state = s.to_dict()
            state["command"] = s.render_command()
            try:
                name = store.save(
                    self.bookmark_scope(), answer, state,
                    dataset=s.source.dataset, embedding=s.source.describe(s.params),
                )  # fmt: skip
            except InputError as exc:
                self.say(markup(exc), severity="error", timeout=6)
                return
            self.say(f"bookmarked as {markup(repr(name))} (digitmap --bookmark NAME)", timeout=5)

        self.app.push_screen(PromptScreen("Bookmark name:", "e.g. sevens"), save)

    def action_bookmarks(self) -> None:
        from digitmap_tui.widgets.screens import BookmarksScreen

        store = self._bookmark_store()
        if store is not None:
            self.app.push_screen(
                BookmarksScreen(store, self.bookmark_scope()), self._bookmark_chosen
            )

    def _bookmark_chosen(self, state: dict[str, Any] | None) -> None:
        if state is not None:
            self.apply_bookmark(state)

    def bookmarks_text(self) -> str | None:
        """This map's bookmarks as JSON (None, with a notification, when there are none)."""
        from digitmap_tui.fileio import json_dumps

        store = self._bookmark_store()
        if store is None:
            return None
        marks = store.list(self.bookmark_scope())
        if not marks:
            self.say("no bookmarks of this map yet (b saves one)", severity="warning")
            return None
        s = self.session
        record = {
            "digitmap_bookmarks": 1,
            "dataset": s.source.dataset,
            "embedding": s.source.describe(s.params),
            "bookmarks": [{"name": name, **state} for name, state in marks],
        }
        return json_dumps(record, indent=1) + "\n"

    def action_bookmarks_file(self) -> None:
        import re

        text = self.bookmarks_text()
        if text is None:
            return
        stem = re.sub(r"[^A-Za-z0-9._]+", "-", self.session.source.dataset).strip("-.")
        name = f"digitmap-{stem or 'data'}-bookmarks.json"
        if self.in_browser:
            self.app.deliver_text(
                io.StringIO(text), save_filename=name, mime_type="application/json"
            )
            self.say(f"bookmarks sent to the browser as {markup(name)}", timeout=6)
            return

        def save(answer: str | None) -> None:
            from digitmap_tui.export import write_atomic

            if answer is None or not answer.strip():
                return
            path = Path(answer.strip()).expanduser()
            try:
                write_atomic(path, lambda fh: fh.write(text.encode("utf-8")), overwrite=False)
            except InputError as exc:
                self.say(markup(exc), severity="error", timeout=6)
                return
            except OSError as exc:
                why = markup(exc.strerror or exc)
                self.say(f"{markup(path)}: cannot write ({why})", severity="error", timeout=6)
                return
            self.say(f"bookmarks written to {markup(path)}", timeout=6)

        self.app.push_screen(PromptScreen("Save the bookmarks (JSON) to:", value=name), save)

    # ----- screenshots ---------------------------------------------------------------------------
    def action_save_screenshot(self) -> None:
        from digitmap_tui.export import default_screenshot_path

        default = default_screenshot_path()
        if self.in_browser:
            self.deliver_screenshots(default.stem)
            return

        def save(answer: str | None) -> None:
            if answer is None or not answer.strip():
                return
            self.save_screenshots(Path(answer.strip()).expanduser())

        self.app.push_screen(
            PromptScreen("Save screenshot (SVG, plus .txt beside it) to:", value=default.name), save
        )

    def save_screenshots(self, path: Path) -> tuple[Path, Path] | None:
        """Write the screen as SVG and as plain text (same name, .txt); never overwrites."""
        from digitmap_tui.export import write_atomic

        svg_path = path if path.suffix.lower() == ".svg" else path.with_suffix(".svg")
        txt_path = svg_path.with_suffix(".txt")
        svg = self.app.export_screenshot(title=f"digitmap · {self.session.source.dataset}")
        text = compat.screen_text(self.app)
        try:
            write_atomic(svg_path, lambda fh: fh.write(svg.encode("utf-8")), overwrite=False)
            write_atomic(txt_path, lambda fh: fh.write(text.encode("utf-8")), overwrite=False)
        except InputError as exc:
            self.say(markup(exc), severity="error", timeout=6)
            return None
        self.say(f"screenshot saved: {markup(svg_path)} and {markup(txt_path.name)}", timeout=6)
        return svg_path, txt_path

    def deliver_screenshots(self, stem: str) -> tuple[str, str]:
        """The screen as SVG and as plain text, downloads named ``stem``.svg/.txt."""
        svg = self.app.export_screenshot(title=f"digitmap · {self.session.source.dataset}")
        text = compat.screen_text(self.app)
        names = (f"{stem}.svg", f"{stem}.txt")
        self.app.deliver_text(io.StringIO(svg), save_filename=names[0], mime_type="image/svg+xml")
        self.app.deliver_text(io.StringIO(text), save_filename=names[1], mime_type="text/plain")
        self.say(f"screenshot sent to the browser: {markup(names[0])} and {markup(names[1])}")
        return names
