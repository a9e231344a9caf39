"""A one-line text widget that repaints without a layout pass (``Static.update`` lays out)."""

from __future__ import annotations

from rich.segment import Segment
from rich.style import Style
from rich.text import Text
from textual.strip import Strip
from textual.widget import Widget


class StatusLine(Widget):
    """One line of text; ``set`` repaints only when the text changes."""

    DEFAULT_CSS = """
    StatusLine { height: 1; width: 1fr; }
    """

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self._text = Text()

    @property
    def plain(self) -> str:
        return self._text.plain

    def set(self, text: str | Text) -> None:
        new = Text(text) if isinstance(text, str) else text
        if new.plain == self._text.plain and new.spans == self._text.spans:
            return
        self._text = new
        self.refresh()

    def render_line(self, y: int) -> Strip:
        width = self.size.width
        if y != 0:
            return Strip.blank(width, self.rich_style)
        base = self.rich_style
        segments = [
            Segment(seg.text, base + seg.style if isinstance(seg.style, Style) else base)
            for seg in self._text.render(self.app.console)
            if seg.text != "\n"
        ]
        return Strip(segments).adjust_cell_length(width, base).crop(0, width)
