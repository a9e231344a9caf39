"""The image panel's room: its width (keys, the mouse on its border, remembered) and its tiles'
size (the tile scale, fitted to the panel), and true pixels kept off covered screens.

:class:`TilingActions` is mixed into the explorer screen. The panel is as wide as its grid
wants (its tiles at most half the screen) until the user sets a width with ``(`` ``)`` or by dragging
its left border; that width is remembered between runs (:mod:`digitmap_tui.prefs`). Tiles
are the image at its own size times the scale (``,`` ``.``, ``--tile-scale``), at most
:data:`TILE_MAX_COLS` times the scale wide, shrunk without cutting until the grid fits
(:meth:`ImagePanel.fit_grid`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from textual import events

from digitmap_tui import prefs
from digitmap_tui.glyphs import tile_size
from digitmap_tui.widgets.panel import ImagePanel

if TYPE_CHECKING:
    from digitmap_tui.session import Session

#: The widest a tile is drawn at scale 1 (columns); a scale of k allows k times as much.
TILE_MAX_COLS = 14
PANEL_MIN_WIDTH = 26
#: Columns the map keeps however wide the panel is made.
MAP_MIN_WIDTH = 24
#: Columns one ``(`` or ``)`` takes from or gives to the panel.
PANEL_STEP = 4
MAX_SCALE = 8
#: The panel's border and padding (app.tcss: ``border-left``, ``padding-left: 1``).
PANEL_GUTTER = 2


class TilingActions:
    """Panel width and tile scale actions, the panel's layout, and hiding true pixels."""

    session: Session
    app: Any
    color: bool
    style_name: str

    if TYPE_CHECKING:

        @property
        def panel(self) -> ImagePanel: ...

        def sync(self) -> None: ...
        def say(self, message: str, *, severity: str = ..., timeout: float = ...) -> None: ...
        def call_after_refresh(self, callback: Any, *args: Any) -> bool: ...

    def init_tiling(self, tile_scale: int, images: str) -> None:
        self.tile_scale = min(max(1, int(tile_scale)), MAX_SCALE)
        self.images = images
        #: The width the user chose (remembered from an earlier run), else None: automatic.
        self.panel_width: int | None = prefs.remembered_panel_width()

    @property
    def max_tile_cols(self) -> int:
        return TILE_MAX_COLS * self.tile_scale

    def configure_panel(self) -> None:
        ds = self.session.dataset
        cols, rows = tile_size(ds.image_shape, self.style_name, self.max_tile_cols, self.tile_scale)
        self.panel.configure(
            ds.images, self.session.labels, ds.value_range(), self.style_name, self.color,
            cols, rows,
            label_names=ds.label_names, scale=self.tile_scale, protocol=self.images,
        )  # fmt: skip

    def _layout(self, width: int | None = None) -> None:
        """The panel's width: the user's, else as wide as the grid wants at the tile scale,
        its tiles at most half the screen; the map keeps at least :data:`MAP_MIN_WIDTH`."""
        width = self.app.size.width if width is None else width
        limit = max(PANEL_MIN_WIDTH, width - MAP_MIN_WIDTH)
        if self.panel_width is not None:
            panel_width = min(max(self.panel_width, PANEL_MIN_WIDTH), limit)
        else:
            ds = self.session.dataset
            cols = self.session.state.grid[1]
            native, _ = tile_size(
                ds.image_shape, self.style_name, self.max_tile_cols, self.tile_scale
            )
            want = cols * (native + 1) - 1 + PANEL_GUTTER
            half = width // 2 + PANEL_GUTTER
            panel_width = max(PANEL_MIN_WIDTH, min(want, half, limit))
        self.panel.styles.width = panel_width
        self.layout_changed(width)

    def layout_changed(self, width: int) -> None:
        """After a layout: what other parts of the screen place around the panel."""

    def fit_panel(self) -> tuple[int, int]:
        """Size the tiles for what the panel shows now; the tile rows and columns shown."""
        s = self.session
        grid = None if s.state.list_mode or s.subset is not None else s.state.grid
        self.panel.fit_grid(grid, self.max_tile_cols)
        return self.panel.fit()

    # ----- keys and the mouse --------------------------------------------------------------------
    def action_tile_scale(self, step: int) -> None:
        scale = min(max(1, self.tile_scale + step), MAX_SCALE)
        if scale == self.tile_scale:
            self.say(f"tile scale is already {scale}× (1–{MAX_SCALE})", timeout=2)
            return
        self.tile_scale = scale
        self.panel.set_scale(scale)
        self._relayout()
        self.say(f"tile scale {scale}×", timeout=2)

    def action_panel_width(self, step: int) -> None:
        current = self.panel.outer_size.width or PANEL_MIN_WIDTH
        self.set_panel_width(current + step, remember=True)
        self.say(f"panel {self.panel_width} columns wide", timeout=2)

    def on_image_panel_border_dragged(self, event: ImagePanel.BorderDragged) -> None:
        self.set_panel_width(event.width, remember=event.done)

    def set_panel_width(self, width: int, *, remember: bool) -> None:
        """The panel ``width`` columns wide (as far as the screen allows), remembered for
        the next start when ``remember``."""
        limit = max(PANEL_MIN_WIDTH, self.app.size.width - MAP_MIN_WIDTH)
        self.panel_width = min(max(int(width), PANEL_MIN_WIDTH), limit)
        if remember:
            prefs.remember_panel_width(self.panel_width)
        self._relayout()

    def _relayout(self) -> None:
        self._layout()
        # The panel's new room is known after the layout pass that follows.
        self.call_after_refresh(self.sync)
        self.sync()

    # ----- true pixels ---------------------------------------------------------------------------
    def hide_pixels(self) -> None:
        """Take the panel's pictures off the screen (a dialog covers it, the terminal is too
        small for it, or the app ends)."""
        self.panel.hide_pixels()

    def on_screen_suspend(self, event: events.ScreenSuspend) -> None:
        self.hide_pixels()

    def on_screen_resume(self, event: events.ScreenResume) -> None:
        if self.panel.pixels:
            self.panel.refresh()
