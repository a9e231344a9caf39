"""The floor for key-to-screen figures: the least a Textual app can do for a key.

One ``Static`` that shows a counter; ``l`` and ``h`` change it, ``q`` quits. Whatever a key
costs this app (Textual's input parsing, one message, one refresh at its frame rate, the
driver's write) every Textual app pays too. ``python -m benchmarks.floor_app``.
"""

from __future__ import annotations

from textual.app import App, ComposeResult
from textual.binding import Binding
from textual.widgets import Static


class FloorApp(App[None]):
    """A counter in one Static, moved by the same keys as the explorer's box."""

    BINDINGS = [
        Binding("right,l", "step(1)"),
        Binding("left,h", "step(-1)"),
        Binding("q", "quit"),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.moves = 0

    def compose(self) -> ComposeResult:
        yield Static("moves: 0", id="counter")

    def action_step(self, delta: int) -> None:
        self.moves += delta
        self.query_one("#counter", Static).update(f"moves: {self.moves}")


if __name__ == "__main__":
    FloorApp().run()
