"""Modal screens: the help screen, a one-line prompt and the bookmarks list."""

from __future__ import annotations

from typing import Any

from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Input, OptionList, Static
from textual.widgets.option_list import Option

from digitmap_tui.errors import InputError
from digitmap_tui.text import markup, safe
from digitmap_tui.widgets.compat import GuardedMixin


class HelpScreen(GuardedMixin, ModalScreen[None]):
    """Every key the explorer understands, grouped; Esc, q or ? closes it."""

    DEFAULT_CSS = """
    HelpScreen { align: center middle; }
    HelpScreen > VerticalScroll {
        width: 100; max-width: 100%; height: auto; max-height: 100%;
        border: round $accent; background: $surface; padding: 0 1;
    }
    """
    BINDINGS = [
        Binding("escape,q,question_mark", "dismiss_help", "Close", show=True),
    ]

    def __init__(
        self, sections: list[tuple[str, list[tuple[str, str]]]], *, light: bool = False
    ) -> None:
        super().__init__()
        self.sections = sections
        # The terminal's cyan and magenta read on a dark theme; a light one gets darker ones.
        self.help_styles = (
            ("bold #005f87", "bold #87005f") if light else ("bold cyan", "bold magenta")
        )

    def compose(self) -> ComposeResult:
        table = Table.grid(padding=(0, 2))
        table.add_column(style=self.help_styles[0], no_wrap=True)
        table.add_column()
        for title, rows in self.sections:
            table.add_row(Text(title, style=self.help_styles[1]), "")
            for keys, what in rows:
                table.add_row(keys, what)
            table.add_row("", "")
        with VerticalScroll():
            yield Static(Text("digitmap · keys  (scroll with ↑ ↓ · Esc closes)", style="bold"))
            yield Static(table)

    def action_dismiss_help(self) -> None:
        self.dismiss(None)


class PromptScreen(GuardedMixin, ModalScreen[str | None]):
    """Ask for one line of text; Enter returns it, Esc returns None."""

    DEFAULT_CSS = """
    PromptScreen { align: center middle; }
    PromptScreen > Vertical {
        width: 60; max-width: 100%; height: auto; border: round $accent;
        background: $surface; padding: 0 1;
    }
    """
    BINDINGS = [Binding("escape", "cancel", "Cancel")]

    def __init__(self, question: str, placeholder: str = "", value: str = "") -> None:
        super().__init__()
        self.question = question
        self.placeholder = placeholder
        self.value = value

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Static(Text(safe(self.question)))  # it may quote a name: never markup
            yield Input(value=self.value, placeholder=self.placeholder, id="prompt-input")

    def on_input_submitted(self, event: Input.Submitted) -> None:
        self.dismiss(event.value)

    def action_cancel(self) -> None:
        self.dismiss(None)


class BookmarksScreen(GuardedMixin, ModalScreen[dict[str, Any] | None]):
    """The bookmarks of this dataset and embedding: Enter jumps, r renames, d deletes."""

    DEFAULT_CSS = """
    BookmarksScreen { align: center middle; }
    BookmarksScreen > Vertical {
        width: 80; max-width: 100%; height: auto; max-height: 80%;
        border: round $accent; background: $surface; padding: 0 1;
    }
    BookmarksScreen OptionList { height: auto; max-height: 20; }
    """
    BINDINGS = [
        Binding("escape,q", "close", "Close"),
        Binding("r", "rename", "Rename"),
        Binding("d", "delete", "Delete"),
    ]

    def __init__(self, store: Any, scope: str) -> None:
        super().__init__()
        self.store = store
        self.scope = scope

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Static("Bookmarks · Enter jumps · r renames · d deletes · Esc closes")
            yield OptionList(id="bookmark-list")

    def on_mount(self) -> None:
        self._fill()

    def _fill(self) -> None:
        options = self.query_one(OptionList)
        options.clear_options()
        marks = self.store.list(self.scope)
        if not marks:
            options.add_option(
                Option("(no bookmarks yet: press b on the map to save one)", disabled=True)
            )
            return
        for name, state in marks:
            box = state.get("box") or []
            where = ", ".join(f"{v:.3g}" for v in box if isinstance(v, (int, float)))
            method = safe(state.get("method", "?"))
            # Names and states come from a file: shown as text, never as markup.
            options.add_option(Option(Text(f"{safe(name)}  ·  {method}  box [{where}]"), id=name))
        options.highlighted = 0

    def _current(self) -> str | None:
        options = self.query_one(OptionList)
        if options.highlighted is None:
            return None
        option = options.get_option_at_index(options.highlighted)
        return None if option.disabled else option.id

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        if event.option.id is not None:
            self.dismiss(self.store.get(self.scope, event.option.id))

    def action_close(self) -> None:
        self.dismiss(None)

    def action_delete(self) -> None:
        name = self._current()
        if name is None:
            return
        self.store.delete(self.scope, name)
        self.app.notify(f"deleted bookmark {markup(repr(name))}", timeout=3)
        self._fill()

    def action_rename(self) -> None:
        name = self._current()
        if name is None:
            return

        def rename(answer: str | None) -> None:
            if answer is None or not answer.strip():
                return
            try:
                new = self.store.rename(self.scope, name, answer)
            except InputError as exc:
                self.app.notify(markup(exc), severity="error", timeout=6)
                return
            self.app.notify(f"renamed {markup(repr(name))} to {markup(repr(new))}", timeout=3)
            self._fill()

        self.app.push_screen(PromptScreen(f"Rename bookmark {name!r} to:", value=name), rename)


class ChoiceScreen(GuardedMixin, ModalScreen[int | None]):
    """Pick one line of a list (Enter), or Esc for none; returns the line's position."""

    DEFAULT_CSS = """
    ChoiceScreen { align: center middle; }
    ChoiceScreen > Vertical {
        width: 80; max-width: 100%; height: auto; max-height: 90%;
        border: round $accent; background: $surface; padding: 0 1;
    }
    ChoiceScreen OptionList { height: auto; max-height: 24; }
    """
    BINDINGS = [Binding("escape,q", "close", "Close")]

    def __init__(self, title: str, rows: list[str]) -> None:
        super().__init__()
        self.title_text = title
        self.rows = rows

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Static(Text(self.title_text))
            yield OptionList(*(Option(Text(row), id=str(i)) for i, row in enumerate(self.rows)))

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        self.dismiss(int(event.option.id or 0))

    def action_close(self) -> None:
        self.dismiss(None)
