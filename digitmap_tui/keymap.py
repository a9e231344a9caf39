"""Every key of the explorer in one table: the bindings, the ``?`` help screen and the command
palette are all generated from it, so they cannot drift apart.

A :class:`Row` is one line of the help screen (``"← ↓ ↑ →  h j k l"  move the box one cell``)
with the :class:`Key` bindings behind it; each binding carries the action it runs and the
title it has in the command palette. Rows without keys (the mouse) only appear in the help.
No Textual here: the widgets turn the table into ``Binding``s and palette commands.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass


@dataclass(frozen=True)
class Key:
    """One binding: Textual key names (comma-separated), the action, its palette title."""

    keys: str
    action: str
    title: str
    footer: str = ""  # a label in the footer; "" keeps it out of the footer
    display: str | None = None  # how the footer shows the key (default: Textual's)


@dataclass(frozen=True)
class Row:
    """One line of the help screen."""

    section: str
    shown: str
    text: str
    keys: tuple[Key, ...] = ()
    app: bool = False  # bound on the App (works on every screen), not on the explorer


def _k(keys: str, action: str, title: str, footer: str = "", display: str | None = None) -> Key:
    return Key(keys, action, title, footer, display)


BOX, VIEW, PANEL, FIND, EMBED, INSIGHT, REVIEW, OUT, APP = (
    "Selection box", "View", "Panel", "Finding things", "Embedding", "Insight", "Review", "Out",
    "App",
)  # fmt: skip

TABLE: tuple[Row, ...] = (
    Row(BOX, "← ↓ ↑ →  h j k l", "move the box one cell (the map scrolls at its edges)", (
        _k("left,h", "move(-1,0)", "Box: move left"),
        _k("down,j", "move(0,1)", "Box: move down"),
        _k("up,k", "move(0,-1)", "Box: move up"),
        _k("right,l", "move(1,0)", "Box: move right"),
    )),
    Row(BOX, "shift+arrows  H J K L", "resize the box (shrink left/up, grow right/down)", (
        _k("shift+left,H", "resize(-1,0)", "Box: narrower"),
        _k("shift+down,J", "resize(0,1)", "Box: taller"),
        _k("shift+up,K", "resize(0,-1)", "Box: shorter"),
        _k("shift+right,L", "resize(1,0)", "Box: wider"),
    )),
    Row(BOX, "mouse drag", "draw a new box"),
    Row(VIEW, "+ / =   -", "zoom in / out around the box", (
        _k("plus,equals_sign", "zoom(0.5)", "View: zoom in", "Zoom", "+"),
        _k("minus", "zoom(2.0)", "View: zoom out"),
    )),
    Row(VIEW, "mouse wheel", "zoom around the pointer"),
    Row(VIEW, "z", "zoom to the box", (_k("z", "zoom_box", "View: zoom to the box"),)),
    Row(VIEW, "0", "reset the view to all points", (_k("0", "reset_view", "View: reset"),)),
    Row(VIEW, "ctrl+arrows  W A S D", "pan the view (the box stays where it is in the data)", (
        _k("ctrl+left,A", "pan(-4,0)", "View: pan left"),
        _k("ctrl+down,S", "pan(0,2)", "View: pan down"),
        _k("ctrl+up,W", "pan(0,-2)", "View: pan up"),
        _k("ctrl+right,D", "pan(4,0)", "View: pan right"),
    )),
    Row(VIEW, "m", "map mode: label → density → purity", (
        _k("m", "cycle_mode", "Map mode: next", "Map mode"),
    )),
    Row(PANEL, "g", "grid mode ↔ list mode", (
        _k("g", "toggle_list", "Panel: grid ↔ list", "Grid/List"),
    )),
    Row(PANEL, "s", "list order: x → y → label → index", (
        _k("s", "cycle_sort", "List: next sort order"),
    )),
    Row(PANEL, "[ ]", "grid: fewer / more columns", (
        _k("left_square_bracket", "grid(0,-1)", "Grid: fewer columns"),
        _k("right_square_bracket", "grid(0,1)", "Grid: more columns"),
    )),
    Row(PANEL, "{ }", "grid: fewer / more rows", (
        _k("left_curly_bracket", "grid(-1,0)", "Grid: fewer rows"),
        _k("right_curly_bracket", "grid(1,0)", "Grid: more rows"),
    )),
    Row(PANEL, "pageup pagedown  < >", "list: previous / next page", (
        _k("pageup,less_than_sign", "page(-1)", "List: previous page"),
        _k("pagedown,greater_than_sign", "page(1)", "List: next page"),
    )),
    Row(FIND, "i", "go to a point by index (the box centres on it, it is marked)", (
        _k("i", "goto_index", "Go to a point by index", "Go to #"),
    )),
    Row(FIND, "c / C", "jump to a label's clusters (again: the next one) / ask for a label", (
        _k("c", "next_cluster", "Jump to a label's next cluster"),
        _k("C", "ask_cluster", "Jump to the clusters of another label"),
    )),
    Row(FIND, "f", "show only some labels (others dimmed); empty answer shows all", (
        _k("f", "focus_labels", "Show only some labels"),
    )),
    Row(EMBED, "t u p", "switch to t-SNE, UMAP, PCA (computed in the background if not cached)", (
        _k("t", "method('tsne')", "Embedding: t-SNE"),
        _k("u", "method('umap')", "Embedding: UMAP"),
        _k("p", "method('pca')", "Embedding: PCA"),
    )),
    Row(EMBED, "x", "cancel a running computation", (
        _k("x", "cancel_job", "Cancel the running computation"),
    ), app=True),
    Row(INSIGHT, "n / N", "next / previous misfit, most suspicious first (label ≠ map neighbours')", (
        _k("n", "misfit(1)", "Misfits: next", "Misfit"),
        _k("N", "misfit(-1)", "Misfits: previous"),
    )),
    Row(INSIGHT, "M", "list the misfits with score and suggested label; Enter jumps", (
        _k("M", "misfit_list", "Misfits: list"),
    )),
    Row(INSIGHT, "!", "highlight all misfits on the map", (
        _k("exclamation_mark", "toggle_misfits", "Misfits: highlight all"),
    )),
    Row(INSIGHT, "v", "inspect a point: large image, 8 nearest in pixel space (shown on the map)", (
        _k("v", "inspect", "Inspect a point"),
    )),
    Row(INSIGHT, "/", "split the selection into sub-clusters (k-means in pixel space); 1-9 picks one", (
        _k("slash", "split", "Split the selection into sub-clusters"),
    )),
    Row(INSIGHT, "a", "grid mode: mean image of each cell ↔ the point nearest its centre", (
        _k("a", "toggle_mean_grid", "Grid: mean images ↔ nearest points"),
    )),
    Row(INSIGHT, "w", "twin map: t-SNE ↔ UMAP side by side, the selection highlighted in both", (
        _k("w", "twin", "Twin map: show / hide"),
    )),
    Row(INSIGHT, "o", "(twin) highlight points that keep < 30% of their neighbours in the other map", (
        _k("o", "toggle_torn", "Twin map: highlight torn points"),
    )),
    Row(INSIGHT, "Esc", "clear highlights, the marked point and a picked sub-cluster", (
        _k("escape", "clear", "Clear highlights and the mark"),
    )),
    Row(REVIEW, "R", "label review: walk the suspects, most suspicious first (again: end it)", (
        _k("R", "review", "Review: start / end the label review"),
    )),
    Row(REVIEW, "Enter  0-9  X", "(review) label right / relabel as that digit / not a valid sample", (
        _k("enter", "review_confirm", "Review: the label is right"),
        _k("X", "review_invalid", "Review: not a valid sample"),
    )),
    Row(REVIEW, "#", "(review) relabel the point with any label (asks)", (
        _k("number_sign", "review_ask", "Review: relabel the point (asks for the label)"),
    )),
    Row(REVIEW, "space", "(review) skip to the next suspect without a decision", (
        _k("space", "review_skip", "Review: skip to the next suspect"),
    )),
    Row(REVIEW, "U", "undo the latest decision (a whole box's at once)", (
        _k("U", "review_undo", "Review: undo the latest decision"),
    )),
    Row(REVIEW, "*", "decide for every point in the box: a label, c (right), x (not valid)", (
        _k("asterisk", "review_box", "Review: decide for every point in the box"),
    )),
    Row(REVIEW, "Esc", "(review) end the review; every decision is already saved"),
    Row(REVIEW, "E", "export the corrected labels (.npy / .csv) and the list of changes", (
        _k("E", "export_labels", "Export the corrected labels"),
    )),
    Row(OUT, "e", "export the selection to .csv / .json / .npy (asks for a file name)", (
        _k("e", "export", "Export the selection"),
    )),
    Row(OUT, "y", "copy the selection's indices to the clipboard (OSC 52, works over SSH)", (
        _k("y", "copy_selection", "Copy the selection's indices"),
    )),
    Row(OUT, "b", "bookmark this view (method, view, box, mode, grid)", (
        _k("b", "bookmark_save", "Bookmark this view"),
    )),
    Row(OUT, "B", "bookmarks: Enter jumps, r renames, d deletes", (
        _k("B", "bookmarks", "Bookmarks: list"),
    )),
    Row(OUT, "ctrl+s", "screenshot: SVG and plain text (asks for a path)", (
        _k("ctrl+s", "save_screenshot", "Save a screenshot"),
    ), app=True),
    Row(APP, "ctrl+p", "command palette: every action by name"),
    Row(APP, "?", "this help", (_k("question_mark", "help", "Help: list every key", "Help", "?"),),
        app=True),
    Row(APP, "q", "quit", (_k("q", "quit", "Quit", "Quit"),), app=True),
)  # fmt: skip


def keys(*, app: bool) -> Iterator[Key]:
    """The bindings of the App (``app=True``) or of the explorer screen, in table order."""
    for row in TABLE:
        if row.app == app:
            yield from row.keys


def all_keys() -> Iterator[tuple[Row, Key]]:
    for row in TABLE:
        for key in row.keys:
            yield row, key


def help_sections() -> list[tuple[str, list[tuple[str, str]]]]:
    """The help screen: ``(section, [(keys as shown, what they do)])`` in table order."""
    sections: dict[str, list[tuple[str, str]]] = {}
    for row in TABLE:
        sections.setdefault(row.section, []).append((row.shown, row.text))
    return list(sections.items())


def action_name(action: str) -> str:
    """``"move(-1,0)"`` -> ``"move"``: the method is ``action_<name>``."""
    return action.split("(", 1)[0]
