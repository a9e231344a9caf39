"""Search (``/``) and stepping through its hits (``n``/``N``), as vim and less do.

:class:`SearchActions` is mixed into the explorer screen. What a query means and the order
hits are visited in are pure (:mod:`digitmap_tui.search`, through
:meth:`~digitmap_tui.session.Session.search_for`); here they are asked for, shown (the hits
highlighted on the map, the box on the current one, ``hit 3/17`` on the status line) and
explained when nothing matches.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from digitmap_tui.errors import InputError
from digitmap_tui.search import HOWTO
from digitmap_tui.text import markup
from digitmap_tui.widgets.screens import PromptScreen

if TYPE_CHECKING:
    from digitmap_tui.search import Hits
    from digitmap_tui.session import Session


class SearchActions:
    """``/``, ``n`` and ``N`` of the explorer screen."""

    session: Session
    app: Any

    if TYPE_CHECKING:

        def say(self, message: str, *, severity: str = ..., timeout: float = ...) -> None: ...
        def sync(self) -> None: ...
        def go_to(self, index: int) -> None: ...

    def action_search(self) -> None:
        def go(answer: str | None) -> None:
            if answer is None or not answer.strip():
                return
            self.search(answer)

        last = self.session.search
        self.app.push_screen(
            PromptScreen(
                "Search: an index (1118 or #1118), a label (L:3) or a class name",
                "e.g. L:3",
                value="" if last is None else last.query.text,
            ),
            go,
        )

    def search(self, text: str) -> Hits | None:
        """Run a search; the box goes to the first hit at or after its centre."""
        s = self.session
        try:
            hits = s.search_for(text)
        except InputError as exc:
            self._forget_search_highlight()
            self.sync()
            self.say(f"no hit: {markup(exc)}", severity="warning", timeout=5)
            return None
        if hits is None:
            self._forget_search_highlight()
            self.sync()
            self.say(f"no hit for {markup(text.strip())} ({HOWTO})", severity="warning")
            return None
        s.set_highlight(hits.order, "search")
        self.go_to(hits.current)
        more = "; n / N: next / previous" if len(hits) > 1 else ""
        self.say(f"{markup(hits.status())}{more}", timeout=3)
        return hits

    def action_search_step(self, step: int) -> None:
        s = self.session
        hits = s.step_search(step)
        if hits is None:
            self.say("nothing searched yet: / searches (an index, L:3 or a class name)")
            return
        if s.highlight_kind in ("", "search"):
            s.set_highlight(hits.order, "search")
        self.go_to(hits.current)

    def search_status(self) -> str:
        """``hit 3/17 · L:3 │ `` while the box is on a hit, for the start of the status line."""
        hits = self.session.search
        if hits is None or self.session.state.mark != hits.current:
            return ""
        return f"{hits.status()} │ "

    def _forget_search_highlight(self) -> None:
        if self.session.highlight_kind == "search":
            self.session.clear_highlight()
