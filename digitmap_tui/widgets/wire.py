"""Fewer bytes per frame: Textual's partial screen updates, cropped to the dirty cells.

Textual repaints a partial update line by line in "chops" (the stretch of a line between two
widget edges). When a dirty span starts inside a chop, Textual 8 writes the chop from its
*start* (the widget's left edge) to the span's end, once per span: moving the selection box
in the middle of the map re-sends every cell left of it, and a line holding four changed
tiles sends the panel's line four times over. What the terminal ends up showing is the same
either way; only the bytes differ (DESIGN §7: "Textual does not diff cells").

:func:`install` replaces ``ChopsUpdate.render_segments`` with a version that starts each
write at the span (``move_to`` the span's first cell, then only the span's cells). It keeps
Textual's own behaviour wherever the cut would split a double-width character, and it
installs only over the renderer it was written against (checked by the names its code
uses), so a Textual upgrade that rewrites it falls back to the stock renderer instead of
misdrawing. The widgets shape their refresh regions with :func:`line_spans`: the changed
stretches of a line when writes are cropped, one span per line otherwise.
"""

from __future__ import annotations

from typing import Any

from rich.cells import cell_len

_installed = False


def spans_are_cropped() -> bool:
    """True when partial updates write only the dirty spans (see :func:`install`)."""
    return _installed


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
    if not _installed:
        return [(spans[0][0], max(end for _, end in spans))]
    merged = [spans[0]]
    for start, end in spans[1:]:
        last_start, last_end = merged[-1]
        if start - last_end <= MERGE_GAP:
            merged[-1] = (last_start, max(last_end, end))
        else:
            merged.append((start, end))
    return merged


def install() -> bool:
    """Patch Textual's partial-update renderer once; returns whether writes are cropped."""
    global _installed
    if _installed:
        return True
    try:
        from rich.control import Control
        from textual._compositor import ChopsUpdate
    except ImportError:  # pragma: no cover - Textual's layout changed
        return False
    stock = getattr(ChopsUpdate, "render_segments", None)
    names = set(getattr(getattr(stock, "__code__", None), "co_names", ()))
    if not {"chops", "chop_ends", "spans", "crop", "render", "move_to"} <= names:
        return False  # not the renderer this replacement was written against

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
    _installed = True
    return True


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
