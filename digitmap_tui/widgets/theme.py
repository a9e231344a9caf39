"""The map and the panel follow the active Textual theme.

Textual's CSS recolours the chrome (title, footer, dialogs) when the theme changes; the map
and the panel draw their own colours, so the explorer turns the theme's variables into a
:class:`~digitmap_tui.palette.Palette` (light themes get darker label colours, a light box
tint, density that darkens as it grows) and hands it to them: their cached lines are keyed
by it, so the next frame is drawn in the new colours.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from rich.style import Style
from textual.color import Color

from digitmap_tui.palette import DARK, Palette, palette_for

if TYPE_CHECKING:
    from digitmap_tui.widgets.mapview import MapView
    from digitmap_tui.widgets.panel import ImagePanel


def _hex(value: str | None) -> str | None:
    """A theme variable as ``#rrggbb`` (None for ANSI defaults and the like)."""
    if not value:
        return None
    try:
        color = Color.parse(value)
    except Exception:  # "ansi_default", "auto 87%": no fixed colour
        return None
    if color.ansi is not None or color.a < 1:
        return None
    return color.hex[:7]


def palette_of(app: Any) -> Palette:
    """The palette for the app's active theme (its background, foreground and primary)."""
    variables = app.get_css_variables()
    return palette_for(
        _hex(variables.get("background")),
        _hex(variables.get("foreground")),
        _hex(variables.get("primary")),
        bool(app.current_theme.dark),
    )


class ThemeFollower:
    """Keeps the explorer's map, twin map, panel and status lines in the theme's colours."""

    app: Any
    palette: Palette = DARK

    if TYPE_CHECKING:

        @property
        def map(self) -> MapView: ...
        @property
        def twin(self) -> MapView: ...
        @property
        def panel(self) -> ImagePanel: ...
        def sync(self) -> None: ...
        def query_one(self, selector: Any, expect_type: Any = ...) -> Any: ...

    def follow_theme(self) -> None:
        """Take the theme's colours now, and again whenever the theme changes."""
        self.apply_palette(palette_of(self.app))
        self.app.theme_changed_signal.subscribe(self, self._theme_changed)

    def _theme_changed(self, _theme: Any) -> None:
        self.apply_palette(palette_of(self.app))
        self.sync()

    def apply_palette(self, palette: Palette) -> None:
        from digitmap_tui.widgets.status import ProgressLine

        self.palette = palette
        self.map.set_palette(palette)
        self.twin.set_palette(palette)
        self.panel.set_palette(palette)
        self.query_one(ProgressLine).set_color(palette.progress)


class ThemedLines:
    """``line_style``: the widget's ``rich_style`` (the theme's background and foreground
    under every cell it draws), worked out once per theme and style update. Textual's
    ``rich_style`` walks every ancestor's styles, and the Line-API widgets ask for it on
    every line they draw: at a box move that was a fifth of the frame's work."""

    app: Any
    rich_style: Style
    _line_style: tuple[str, Style] | None = None

    @property
    def line_style(self) -> Style:
        theme = self.app.theme
        cached = self._line_style
        if cached is None or cached[0] != theme:
            cached = self._line_style = (theme, self.rich_style)
        return cached[1]

    def notify_style_update(self) -> None:
        self._line_style = None
        super().notify_style_update()  # type: ignore[misc]
