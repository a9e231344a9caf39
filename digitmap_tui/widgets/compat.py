"""Every place digitmap touches a private part of Textual, in one module, version-gated.

Each patch is installed explicitly (:func:`install`, called when the app is built) and only
over the Textual versions it was written and tested against (:data:`TESTED`); outside that
range the stock behaviour stays and the app still works, only less well (more bytes per
frame, a handler error ends the app, a NO_COLOR crash). ``tests/test_compat.py`` has one
test per patch that fails loudly when the gate turns it off, so an upgrade is noticed.

- ``chops``: partial screen updates render only the dirty lines of each widget and write
  only their dirty cells (Textual 8 renders every line of every widget that meets the
  bounding box of the dirty regions, so a box move that dirties the map, the panel and the
  status line walked the whole screen, containers included; and it writes each dirty span
  of a line from the widget's left edge: the whole map left of the box, again).
- ``guard``: an exception in a message handler becomes a notification instead of ending the
  message loop (a frozen session: no key is handled any more, ``q`` included).
- ``monochrome``: Textual's NO_COLOR filter without its crash on unstyled segments.
- ``colors``: ``--colors`` chooses the colour depth Textual's console is built with.
- ``screen_text``: the screen as plain text (for the text half of a screenshot).
- ``tmux_clipboard``: OSC 52 wrapped in tmux's passthrough, written to the terminal.
- ``raw_write``: a sequence written to the terminal between frames (kitty images deleted
  when a dialog covers the panel or the app ends).
- ``bindings``: one App or Screen gets its own bindings of the key table (a user's
  ``[keys]``): Textual's keymap can move a key but not leave an action without one, nor
  give a key to an action that had none.
"""

from __future__ import annotations

import io
import itertools
import os
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from rich.cells import cell_len
from rich.segment import Segment
from textual.color import Color
from textual.filter import LineFilter, Monochrome, monochrome_style
from textual.message import Message
from textual.widget import Widget

#: Textual versions the patches were tested on: [lowest, next major).
TESTED = ((8, 0), (9, 0))

PATCHES = (
    "chops", "guard", "monochrome", "colors", "screen_text", "tmux_clipboard", "raw_write",
    "bindings",
)  # fmt: skip
_active: dict[str, bool] = dict.fromkeys(PATCHES, False)


def textual_version() -> tuple[int, ...]:
    from importlib.metadata import version

    parts = []
    for word in version("textual").split(".")[:3]:
        digits = "".join(ch for ch in word if ch.isdigit())
        parts.append(int(digits or 0))
    return tuple(parts)


def in_tested_range(v: tuple[int, ...] | None = None) -> bool:
    v = textual_version() if v is None else v
    return TESTED[0] <= v[:2] < TESTED[1]


def install(version: tuple[int, ...] | None = None) -> dict[str, bool]:
    """Install every patch the running Textual is known to take; returns which are on."""
    ok = in_tested_range(version)
    for name in PATCHES:
        if name == "chops":
            _active[name] = ok and _install_chops() and _install_partial()
        else:
            _active[name] = ok
    return dict(_active)


def active(name: str) -> bool:
    return _active.get(name, False)


# ----- chops: cropped partial updates ---------------------------------------------------------
#: Dirty stretches of a line closer than this are sent as one: a cursor move costs ~8 bytes
#: and a span of its own, a few unchanged cells in between cost about as much.
MERGE_GAP = 3


def line_spans(spans: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """Sorted ``[start, end)`` stretches of one line, as they are best refreshed: nearby
    ones merged when writes are cropped, one from the first to the last otherwise (stock
    Textual writes a widget's line from its left edge for every span, so one is cheapest)."""
    if not spans:
        return []
    spans = sorted(spans)
    if not _active["chops"]:
        return [(spans[0][0], max(end for _, end in spans))]
    merged = [spans[0]]
    for start, end in spans[1:]:
        last_start, last_end = merged[-1]
        if start - last_end <= MERGE_GAP:
            merged[-1] = (last_start, max(last_end, end))
        else:
            merged.append((start, end))
    return merged


def _install_chops() -> bool:
    """Replace ``ChopsUpdate.render_segments`` with a version that starts each write at the
    dirty span (``move_to`` its first cell, then only its cells). It keeps Textual's own
    behaviour wherever the cut would split a double-width character, and it installs only
    over the renderer it was written against (checked by the names its code uses)."""
    try:
        from rich.control import Control
        from textual._compositor import ChopsUpdate
    except ImportError:  # pragma: no cover - Textual's layout changed
        return False
    stock = getattr(ChopsUpdate, "render_segments", None)
    if getattr(stock, "stock", None) is not None:
        return True  # already ours
    names = set(getattr(getattr(stock, "__code__", None), "co_names", ()))
    if not {"chops", "chop_ends", "spans", "crop", "render", "move_to"} <= names:
        return False

    def render_segments(self: Any, console: Any) -> str:
        """Textual's ChopsUpdate.render_segments, writing from the span's start."""
        sequences: list[str] = []
        append = sequences.append
        move_to = Control.move_to
        chops = self.chops
        chop_ends = self.chop_ends
        last_y = self.spans[-1][0]
        for y, x1, x2 in self.spans:
            line = chops[y]
            ends = chop_ends[y]
            for end, (x, strip) in zip(ends, line.items(), strict=False):
                if strip is None:
                    continue
                if x > x2 or end <= x1:
                    continue
                if x2 > x >= x1 and end <= x2:
                    append(move_to(x, y).segment.text)
                    append(strip.render(console))
                    continue
                start = x1 - x if x1 > x and _clean_cut(strip, x1 - x) else 0
                strip = strip.crop(start, min(end, x2) - x)
                append(move_to(x + start, y).segment.text)
                append(strip.render(console))
            if y != last_y:
                append("\n")
        return "".join(sequences)

    render_segments.stock = stock  # type: ignore[attr-defined]
    ChopsUpdate.render_segments = render_segments  # type: ignore[method-assign]
    return True


def uninstall_chops() -> None:
    """Back to Textual's own renderer (tests compare the two)."""
    from textual._compositor import ChopsUpdate, Compositor

    stock = getattr(ChopsUpdate.render_segments, "stock", None)
    if stock is not None:
        ChopsUpdate.render_segments = stock  # type: ignore[method-assign]
    stock = getattr(Compositor.render_partial_update, "stock", None)
    if stock is not None:
        Compositor.render_partial_update = stock  # type: ignore[method-assign]
    _active["chops"] = False


def _install_partial() -> bool:
    """Replace ``Compositor.render_partial_update`` with one that asks each widget only for
    its lines that meet a dirty region (Textual's asks for every line of every widget
    overlapping their bounding box). Same chops where the update writes: a chop a dirty
    region meets is filled by the front-most widget covering it on that line, and every
    widget covering it meets the same region there, so it is rendered."""
    try:
        from textual._compositor import ChopsUpdate, Compositor
        from textual.geometry import Region
    except ImportError:  # pragma: no cover - Textual's layout changed
        return False
    stock = getattr(Compositor, "render_partial_update", None)
    if getattr(stock, "stock", None) is not None:
        return True  # already ours
    names = set(getattr(getattr(stock, "__code__", None), "co_names", ()))
    if not {"_dirty_regions", "_regions_to_spans", "_render_chops", "cuts"} <= names:
        return False
    if not hasattr(Compositor, "visible_widgets"):  # pragma: no cover
        return False

    def render_partial_update(self: Any) -> Any:
        """Textual's Compositor.render_partial_update, rendering only the dirty lines."""
        screen_region = self.size.region
        regions = [r.intersection(screen_region) for r in self._dirty_regions]
        self._dirty_regions.clear()
        regions = [r for r in regions if r]
        if not regions:
            return None
        spans = list(self._regions_to_spans(regions))
        dirty_x: dict[int, list[tuple[int, int]]] = {}
        for y, x1, x2 in spans:
            dirty_x.setdefault(y, []).append((x1, x2))
        cuts = self.cuts
        chops: list[dict[int, Any]] = [dict.fromkeys(cut_set[:-1]) for cut_set in cuts]

        def wanted(y: int, first_cut: int, last_cut: int) -> bool:
            """Whether row ``y`` of a widget spanning these cuts has a chop that is dirty and
            not yet drawn by a widget in front (containers behind their children are not)."""
            line, cut_set = chops[y], cuts[y]
            for a, b in itertools.pairwise(cut_set):
                if a < first_cut or b > last_cut or line[a] is not None:
                    continue
                if any(x1 < b and a < x2 for x1, x2 in dirty_x[y]):
                    return True
            return False

        for widget, (region, clip) in self.visible_widgets.items():  # front to back
            shown = region.intersection(clip)
            if not shown:
                continue
            x, width = shown.x, shown.width
            first_cut, last_cut = shown.column_span
            rows = [
                y
                for y in range(shown.y, shown.bottom)
                if y in dirty_x and wanted(y, first_cut, last_cut)
            ]
            if not rows:
                continue
            for y0, y1 in _runs(rows):
                crop = Region(x - region.x, y0 - region.y, width, y1 - y0)
                for y, strip in zip(range(y0, y1), widget.render_lines(crop), strict=False):
                    line = chops[y]
                    final = [cut for cut in cuts[y] if last_cut >= cut >= first_cut]
                    for cut, piece in zip(
                        final, strip.divide([cut - x for cut in final[1:]]), strict=False
                    ):
                        if line.get(cut) is None:
                            line[cut] = piece
        return ChopsUpdate(chops, spans, [cut_set[1:] for cut_set in cuts])

    render_partial_update.stock = stock  # type: ignore[attr-defined]
    Compositor.render_partial_update = render_partial_update  # type: ignore[method-assign]
    return True


def _runs(rows: list[int]) -> Iterator[tuple[int, int]]:
    """Sorted rows as ``[start, end)`` runs of consecutive rows."""
    start = prev = rows[0]
    for y in rows[1:]:
        if y != prev + 1:
            yield start, prev + 1
            start = y
        prev = y
    yield start, prev + 1


def _clean_cut(strip: Any, at: int) -> bool:
    """Whether cutting ``strip`` at cell ``at`` splits no double-width character."""
    position = 0
    for segment in strip:
        text = segment.text
        width = cell_len(text)
        if position + width > at:
            if position == at or text.isascii():
                return True  # at a segment boundary, or inside plain single-width text
            return _clean_cut_in(text, at - position)
        position += width
    return True


def _clean_cut_in(text: str, at: int) -> bool:
    position = 0
    for char in text:
        if position == at:
            return True
        position += cell_len(char)
        if position > at:
            return False
    return True


# ----- guard: handler errors become notifications ----------------------------------------------
class GuardedMixin:
    """For the App and for widgets whose handlers run user operations (drags, wheel zoom).

    Textual ends a message loop after an exception in one of its handlers; for the app that
    is a frozen session. With the guard on, the app's ``report_error`` shows the error as a
    notification and the loop goes on; under ``--debug`` it declines and the error
    propagates as usual.
    """

    async def _dispatch_message(self, message: Message) -> None:
        try:
            await super()._dispatch_message(message)  # type: ignore[misc]
        except Exception as error:
            if not _active["guard"]:
                raise
            report = getattr(getattr(self, "app", None), "report_error", None)
            if report is None or not report(error):
                raise


class GuardedWidget(GuardedMixin, Widget):
    """A widget whose message loop survives a failing handler."""


class GuardedApp(GuardedMixin):
    """The App's side of the guard: before the screen is up there is nothing to notify on,
    so a failure exits with one line (exit status 1); after, it is reported and the session
    goes on. The App provides ``options.debug``, ``started`` and ``report_error``."""

    def _handle_exception(self, error: Exception) -> None:
        app: Any = self
        if not _active["guard"] or app.options.debug:
            super()._handle_exception(error)  # type: ignore[misc]
            return
        if not getattr(app, "started", False):
            from digitmap_tui.text import one_line

            app.exit(
                return_code=1,
                message=f"digitmap: error: {type(error).__name__}: {one_line(error)}"
                " (run with --debug for details)",
            )
            return
        app.report_error(error)


# ----- monochrome: NO_COLOR without the crash ----------------------------------------------------
class _Monochrome(Monochrome):
    """Textual's NO_COLOR filter, safe for unstyled cells (8.2's reads every segment's colour,
    and the map and panel leave plain cells unstyled: None)."""

    def apply(self, segments: list[Segment], background: Color) -> list[Segment]:
        return [
            Segment(text, None if style is None else monochrome_style(style), None)
            for text, style, _ in segments
        ]


_MONOCHROME = _Monochrome()


def line_filters(filters: list[LineFilter]) -> list[LineFilter]:
    """The app's line filters with Textual's monochrome filter replaced by the safe one."""
    if not _active["monochrome"]:
        return filters
    return [_MONOCHROME if type(f) is Monochrome else f for f in filters]


# ----- colors: the colour depth of --colors ------------------------------------------------------
#: --colors as the colour system Textual's console is built with.
COLOR_SYSTEMS = {"16": "standard", "256": "256", "truecolor": "truecolor"}


@contextmanager
def color_system(colors: str) -> Iterator[None]:
    """While an App is built, make Textual use the colour depth of ``--colors``.

    Textual reads ``TEXTUAL_COLOR_SYSTEM`` (and ``NO_COLOR``) once, when it is imported or
    when ``App.__init__`` builds its console; an explicit depth overrides what TERM and
    COLORTERM say, "none" is ``NO_COLOR`` (Textual then paints in greys), "auto" changes
    nothing.
    """
    import textual.constants

    saved_system = textual.constants.COLOR_SYSTEM
    saved_no_color = os.environ.get("NO_COLOR")
    if colors in COLOR_SYSTEMS and _active["colors"]:
        textual.constants.COLOR_SYSTEM = COLOR_SYSTEMS[colors]  # type: ignore[misc]
        os.environ.pop("NO_COLOR", None)
    elif colors == "auto" and os.environ.get("TERM") == "dumb" and saved_system == "auto":
        if _active["colors"]:
            # Rich finds no colours on a dumb terminal, and Textual then writes 24-bit ones.
            textual.constants.COLOR_SYSTEM = "standard"  # type: ignore[misc]
    elif colors == "none":
        os.environ["NO_COLOR"] = "1"
    try:
        yield
    finally:
        textual.constants.COLOR_SYSTEM = saved_system  # type: ignore[misc]
        if saved_no_color is None:
            os.environ.pop("NO_COLOR", None)
        else:
            os.environ["NO_COLOR"] = saved_no_color


# ----- screen_text: the screen as plain text ------------------------------------------------------
def screen_text(app: Any) -> str:
    """What the screen under any dialog shows, as plain text (the SVG comes from the public
    ``App.export_screenshot``)."""
    from rich.console import Console

    width, height = app.size
    console = Console(
        width=width, height=height, file=io.StringIO(), force_terminal=True,
        color_system="truecolor", record=True, legacy_windows=False, safe_box=False,
    )  # fmt: skip
    if _active["screen_text"]:
        console.print(app.screen._compositor.render_update(full=True))
    return console.export_text()


# ----- tmux_clipboard: OSC 52 through tmux ---------------------------------------------------------
def copy_through_tmux(app: Any, text: str, sequence: str) -> bool:
    """Put ``text`` on the clipboard with ``sequence`` (OSC 52 in tmux's passthrough),
    written to the terminal as is: Textual's ``copy_to_clipboard`` writes a bare OSC 52,
    which tmux swallows by default."""
    driver = getattr(app, "_driver", None)
    if not _active["tmux_clipboard"] or driver is None:
        return False
    app._clipboard = text
    driver.write(sequence)
    driver.flush()
    return True


# ----- raw_write: a sequence between frames ----------------------------------------------------------
def write_raw(app: Any, sequence: str) -> bool:
    """Write ``sequence`` to the terminal as is, outside any frame; False where nothing was
    written (the app has not started, or has ended)."""
    driver = getattr(app, "_driver", None)
    if not _active["raw_write"] or driver is None:
        return False
    driver.write(sequence)
    driver.flush()
    return True


# ----- bindings: a user's keys for one App or Screen -------------------------------------------------
def use_bindings(node: Any, bindings: list[Any], replaced: set[str]) -> bool:
    """Bind ``bindings`` on this one ``node`` (an App or a Screen) in place of its class's
    bindings whose id is in ``replaced``; what Textual itself binds there stays. Returns
    False (the class's bindings stay) when the patch is off."""
    if not _active["bindings"]:
        return False
    from textual.binding import BindingsMap

    kept = [
        binding
        for key_bindings in node._bindings.key_to_bindings.values()
        for binding in key_bindings
        if binding.id not in replaced
    ]
    node._bindings = BindingsMap([*kept, *bindings])
    return True
