"""A one-line text widget that repaints without a layout pass (``Static.update`` lays out)."""

from __future__ import annotations

from rich.segment import Segment
from rich.style import Style
from rich.text import Text
from textual.strip import Strip
from textual.widget import Widget

from digitmap_tui.widgets.theme import ThemedLines


class StatusLine(ThemedLines, Widget):
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
            return Strip.blank(width, self.line_style)
        base = self.line_style
        segments = [
            Segment(seg.text, base + seg.style if isinstance(seg.style, Style) else base)
            for seg in self._text.render(self.app.console)
            if seg.text != "\n"
        ]
        return Strip(segments).adjust_cell_length(width, base).crop(0, width)


class ProgressLine(ThemedLines, Widget):
    """``t-SNE perplexity 30 seed 0: optimising ▕█████░░░░░▏ 42%`` in one line.

    The bar and the percentage always show; the label is shortened first (an 80-column
    terminal must still see how far the computation is).
    """

    DEFAULT_CSS = """
    ProgressLine { height: 1; width: 1fr; }
    """

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.label = ""
        self.fraction = 0.0
        self.color = "#4ea1d3"  # the bar's colour (the theme's: set_color)

    def set_color(self, color: str) -> None:
        if color != self.color:
            self.color = color
            self.refresh()

    def set(self, label: str, fraction: float) -> None:
        fraction = min(max(float(fraction), 0.0), 1.0)
        if (label, round(fraction, 3)) == (self.label, round(self.fraction, 3)):
            return
        self.label = label
        self.fraction = fraction
        self.refresh()

    def line_text(self, width: int) -> tuple[str, str, str]:
        """(label, bar, percentage) cut to ``width`` cells, label first."""
        pct = f" {self.fraction:4.0%}"
        bar_w = max(4, min(30, width // 3))
        filled = round(self.fraction * bar_w)
        bar = "▕" + "█" * filled + "░" * (bar_w - filled) + "▏"
        room = max(0, width - len(bar) - len(pct) - 1)
        label = self.label if len(self.label) <= room else self.label[: max(0, room - 1)] + "…"
        return label[:room].ljust(room) + " ", bar, pct

    def render_line(self, y: int) -> Strip:
        width = self.size.width
        if y != 0:
            return Strip.blank(width, self.line_style)
        label, bar, pct = self.line_text(width)
        base = self.line_style
        segments = [
            Segment(label, base),
            Segment(bar, base + Style(color=self.color)),
            Segment(pct, base),
        ]
        return Strip(segments).adjust_cell_length(width, base).crop(0, width)
