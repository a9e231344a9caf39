"""Every key of the explorer in one table: the bindings, the ``?`` help screen and the command
palette are all generated from it, so they cannot drift apart.

A :class:`Row` is one line of the help screen (``"← ↓ ↑ →  h j k l"  move the box one cell``)
with the :class:`Key` bindings behind it; each binding carries the action it runs, the title
it has in the command palette and its name in the config file's ``[keys]`` table
(:attr:`Key.id`). Rows without keys (the mouse) only appear in the help; a Key without keys
is a palette command that a user may give a key in the config.
:func:`remap` applies a config's ``[keys]`` to the table: the explorer then generates its
bindings, help and palette from the remapped table, so a user's key shows in all three.
No Textual here: the widgets turn the table into ``Binding``s and palette commands.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, replace

from digitmap_tui.errors import InputError
from digitmap_tui.methods import registry
from digitmap_tui.text import either


@dataclass(frozen=True)
class Key:
    """One binding: Textual key names (comma-separated), the action, its palette title."""

    keys: str
    action: str
    title: str
    footer: str = ""  # a label in the footer; "" keeps it out of the footer
    display: str | None = None  # how the footer shows the key (default: Textual's)
    name: str = ""  # the config's name for it; "" = the action's name (no arguments)

    @property
    def id(self) -> str:
        """The binding's name in the config's ``[keys]`` (and its Textual binding id)."""
        return self.name or action_name(self.action)

    @property
    def key_list(self) -> tuple[str, ...]:
        return tuple(k.strip() for k in self.keys.split(",") if k.strip())


@dataclass(frozen=True)
class Row:
    """One line of the help screen."""

    section: str
    shown: str
    text: str
    keys: tuple[Key, ...] = ()
    app: bool = False  # bound on the App (works on every screen), not on the explorer


def _k(
    keys: str,
    action: str,
    title: str,
    footer: str = "",
    display: str | None = None,
    name: str = "",
) -> Key:
    return Key(keys, action, title, footer, display, name)


BOX, VIEW, PANEL, FIND, EMBED, INSIGHT, REVIEW, OUT, APP = (
    "Selection box", "View", "Panel", "Finding things", "Embedding", "Insight", "Review", "Out",
    "App",
)  # fmt: skip

# Keys a user brings from vim, less, htop, VisiData, lazygit and toolong (the README compares
# them): `/` searches and `n`/`N` step through the hits everywhere; `m` sets a mark in vim and
# less. So the split is `%` (tmux splits a pane with it; vim's `%` needs a bracket under the
# cursor), misfits step with `(` `)` (vim's previous/next sentence; unbound in less, htop,
# lazygit and toolong) and the map mode cycles with tab (htop and lazygit switch their view
# with it; the explorer has one focusable widget, so tab moved no focus).
TABLE: tuple[Row, ...] = (
    Row(BOX, "← ↓ ↑ →  h j k l", "move the box one cell (the map scrolls at its edges)", (
        _k("left,h", "move(-1,0)", "Box: move left", name="move_left"),
        _k("down,j", "move(0,1)", "Box: move down", name="move_down"),
        _k("up,k", "move(0,-1)", "Box: move up", name="move_up"),
        _k("right,l", "move(1,0)", "Box: move right", name="move_right"),
    )),
    Row(BOX, "shift+arrows  H J K L", "resize the box (shrink left/up, grow right/down)", (
        _k("shift+left,H", "resize(-1,0)", "Box: narrower", name="resize_narrower"),
        _k("shift+down,J", "resize(0,1)", "Box: taller", name="resize_taller"),
        _k("shift+up,K", "resize(0,-1)", "Box: shorter", name="resize_shorter"),
        _k("shift+right,L", "resize(1,0)", "Box: wider", name="resize_wider"),
    )),
    Row(BOX, "mouse drag", "draw a new box"),
    Row(VIEW, "+ / =   -", "zoom in / out around the box", (
        _k("plus,equals_sign", "zoom(0.5)", "View: zoom in", "Zoom", "+", name="zoom_in"),
        _k("minus", "zoom(2.0)", "View: zoom out", name="zoom_out"),
    )),
    Row(VIEW, "mouse wheel", "zoom around the pointer"),
    Row(VIEW, "z", "zoom to the box", (_k("z", "zoom_box", "View: zoom to the box"),)),
    Row(VIEW, "0", "reset the view to all points", (_k("0", "reset_view", "View: reset"),)),
    Row(VIEW, "ctrl+arrows  W A S D", "pan the view (the box stays where it is in the data)", (
        _k("ctrl+left,A", "pan(-4,0)", "View: pan left", name="pan_left"),
        _k("ctrl+down,S", "pan(0,2)", "View: pan down", name="pan_down"),
        _k("ctrl+up,W", "pan(0,-2)", "View: pan up", name="pan_up"),
        _k("ctrl+right,D", "pan(4,0)", "View: pan right", name="pan_right"),
    )),
    Row(VIEW, "tab / shift+tab", "map mode: label → density → purity → points (braille dots); shift+tab: back", (
        _k("tab", "cycle_mode", "Map mode: next", "Map mode"),
        _k("shift+tab", "cycle_mode(-1)", "Map mode: previous", name="cycle_mode_back"),
    )),
    Row(PANEL, "g", "grid mode ↔ list mode", (
        _k("g", "toggle_list", "Panel: grid ↔ list", "Grid/List"),
    )),
    Row(PANEL, "s", "list order: x → y → label → index", (
        _k("s", "cycle_sort", "List: next sort order"),
    )),
    Row(PANEL, "[ ]", "grid: fewer / more columns", (
        _k("left_square_bracket", "grid(0,-1)", "Grid: fewer columns", name="grid_fewer_columns"),
        _k("right_square_bracket", "grid(0,1)", "Grid: more columns", name="grid_more_columns"),
    )),
    Row(PANEL, "{ }", "grid: fewer / more rows", (
        _k("left_curly_bracket", "grid(-1,0)", "Grid: fewer rows", name="grid_fewer_rows"),
        _k("right_curly_bracket", "grid(1,0)", "Grid: more rows", name="grid_more_rows"),
    )),
    Row(PANEL, ", .", "tiles smaller / larger (scale 1-8, as --tile-scale)", (
        _k("comma", "tile_scale(-1)", "Tiles: smaller", name="tiles_smaller"),
        _k("full_stop", "tile_scale(1)", "Tiles: larger", name="tiles_larger"),
    )),
    Row(PANEL, "alt+← alt+→", "panel wider / narrower (remembered); or drag its left border", (
        _k("alt+left", "panel_width(4)", "Panel: wider", name="panel_wider"),
        _k("alt+right", "panel_width(-4)", "Panel: narrower", name="panel_narrower"),
    )),
    Row(PANEL, "pageup pagedown  < >", "list: previous / next page", (
        _k("pageup,less_than_sign", "page(-1)", "List: previous page", name="page_previous"),
        _k("pagedown,greater_than_sign", "page(1)", "List: next page", name="page_next"),
    )),
    Row(FIND, "/", "search: an index (1118, #1118), a label (L:3) or a class name", (
        _k("slash", "search", "Search: index, L:label or class name", "Search", "/"),
    )),
    Row(FIND, "n / N", "next / previous search hit (the box centres on it, it is marked)", (
        _k("n", "search_step(1)", "Search: next hit", name="search_next"),
        _k("N", "search_step(-1)", "Search: previous hit", name="search_previous"),
    )),
    Row(FIND, "i", "go to a point by index (the box centres on it, it is marked)", (
        _k("i", "goto_index", "Go to a point by index"),
    )),
    Row(FIND, "c / C", "jump to a label's clusters (again: the next one) / ask for a label", (
        _k("c", "next_cluster", "Jump to a label's next cluster"),
        _k("C", "ask_cluster", "Jump to the clusters of another label"),
    )),
    Row(FIND, "f", "show only some labels (others dimmed); empty answer shows all", (
        _k("f", "focus_labels", "Show only some labels"),
    )),
    Row(EMBED, " ".join(m.key for m in registry.iter_methods()),
        f"switch to {either([m.label for m in registry.iter_methods()])} (computed in the background if not cached)",
        tuple(
            _k(m.key, f"method({m.name!r})", f"Embedding: {m.label}", name=f"method_{m.name}")
            for m in registry.iter_methods()
        ),
    ),
    Row(EMBED, "x", "cancel a running computation", (
        _k("x", "cancel_job", "Cancel the running computation"),
    ), app=True),
    Row(INSIGHT, ") / (", "next / previous misfit, most suspicious first (label ≠ map neighbours')", (
        _k("right_parenthesis", "misfit(1)", "Misfits: next", "Misfit", ")", name="misfit_next"),
        _k("left_parenthesis", "misfit(-1)", "Misfits: previous", name="misfit_previous"),
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
    Row(INSIGHT, "%", "split the selection into sub-clusters (k-means in pixel space); 1-9 picks one", (
        _k("percent_sign", "split", "Split the selection into sub-clusters"),
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
    Row(OUT, "ctrl+p", "bookmarks of this map as a JSON file (a download in the browser)", (
        _k("", "bookmarks_file", "Bookmarks: save as a file"),
    )),
    Row(OUT, "ctrl+s", "screenshot: SVG and plain text (asks for a path; downloads in the browser)", (
        _k("ctrl+s", "save_screenshot", "Save a screenshot"),
    ), app=True),
    Row(APP, "ctrl+p", "command palette: every action by name"),
    Row(APP, "?", "this help", (_k("question_mark", "help", "Help: list every key", "Help", "?"),),
        app=True),
    Row(APP, "q", "quit", (_k("q", "quit", "Quit", "Quit"),), app=True),
)  # fmt: skip

#: Keys Textual keeps for itself: quitting, the command palette, copying text.
RESERVED = ("ctrl+q", "ctrl+p", "ctrl+c")


def keys(*, app: bool, table: Sequence[Row] = TABLE) -> Iterator[Key]:
    """The bindings of the App (``app=True``) or of the explorer screen, in table order
    (palette-only actions, without keys, left out)."""
    for row in table:
        if row.app == app:
            yield from (k for k in row.keys if k.key_list)


def all_keys(table: Sequence[Row] = TABLE) -> Iterator[tuple[Row, Key]]:
    """Every action of the table with its row, keyed or not (what the palette offers)."""
    for row in table:
        for key in row.keys:
            yield row, key


def ids(table: Sequence[Row] = TABLE) -> list[str]:
    """Every action's name in the config's ``[keys]``, in table order."""
    return [key.id for _, key in all_keys(table)]


def help_sections(table: Sequence[Row] = TABLE) -> list[tuple[str, list[tuple[str, str]]]]:
    """The help screen: ``(section, [(keys as shown, what they do)])`` in table order."""
    sections: dict[str, list[tuple[str, str]]] = {}
    for row in table:
        sections.setdefault(row.section, []).append((row.shown, row.text))
    return list(sections.items())


def action_name(action: str) -> str:
    """``"move(-1,0)"`` -> ``"move"``: the method is ``action_<name>``."""
    return action.split("(", 1)[0]


# ----- a user's keys -----------------------------------------------------------------------------
#: Textual's short names for some characters' Unicode names.
_NAME_REPLACEMENTS = {
    "solidus": "slash",
    "reverse_solidus": "backslash",
    "commercial_at": "at",
    "hyphen_minus": "minus",
    "plus_sign": "plus",
    "low_line": "underscore",
}
_SHOWN = {
    "up": "↑", "down": "↓", "left": "←", "right": "→", "escape": "Esc", "enter": "Enter",
    "pageup": "pageup", "pagedown": "pagedown", "space": "space", "tab": "tab",
}  # fmt: skip


def key_name(key: str) -> str:
    """A key as Textual names it in events and bindings: ``"/"`` -> ``"slash"``,
    ``"ctrl+%"`` -> ``"ctrl+percent_sign"``; letters, digits and names stay as they are."""
    *mods, last = key.rsplit("+", 1) if len(key) > 1 and not key.endswith("++") else [key]
    if key.endswith("++") and len(key) > 2:
        mods, last = [key[:-2]], "+"
    if len(last) == 1 and not last.isalnum():
        try:
            last = unicodedata.name(last).lower().replace("-", "_").replace(" ", "_")
        except ValueError:
            last = {"\t": "tab"}.get(last, last)
        last = _NAME_REPLACEMENTS.get(last, last)
    return "+".join([*mods, last])


def shown_key(name: str) -> str:
    """How the help shows a key name: ``"slash"`` -> ``"/"``, ``"ctrl+left"`` -> ``"ctrl+←"``."""
    *mods, last = name.split("+") if not name.endswith("++") else [*name[:-2].split("+"), "+"]
    text = _SHOWN.get(last) or _CHAR_OF.get(last) or last
    return "+".join([*mods, text])


#: Printable ASCII by key name ("slash" -> "/"), for the help.
_CHAR_OF = {key_name(chr(c)): chr(c) for c in range(33, 127)}


def remap(
    overrides: Mapping[str, Sequence[str]] | None, table: Sequence[Row] = TABLE
) -> tuple[Row, ...]:
    """The table with a config's ``[keys]`` (``{id: [keys]}``, checked by
    :func:`digitmap_tui.config.parse_keys`) applied.

    A named action gets exactly the keys given; a key given to one action is taken from every
    other (the user's choice wins; an action left without keys stays in the palette). A
    remapped row's help text shows its new keys, and the footer its first one. Raises
    :class:`InputError` for an unknown name or a key Textual keeps (ctrl+q, ctrl+p, ctrl+c).
    """
    if not overrides:
        return tuple(table)
    known = set(ids(table))
    given: dict[str, tuple[str, ...]] = {}
    owner: dict[str, str] = {}
    for name, values in overrides.items():
        if name not in known:
            raise InputError(f"keys.{name}: unknown action (actions: {', '.join(sorted(known))})")
        names: list[str] = []
        for value in values:
            typed = key_name(value)
            if typed in RESERVED:
                raise InputError(
                    f"keys.{name}: {value!r} is kept by Textual ({', '.join(RESERVED)})"
                )
            if typed in owner and owner[typed] != name:
                raise InputError(f"keys.{name}: {value!r} is already bound to {owner[typed]!r}")
            owner[typed] = name
            if typed not in names:
                names.append(typed)
        given[name] = tuple(names)
    out: list[Row] = []
    for row in table:
        new_keys: list[Key] = []
        for key in row.keys:
            if key.id in given:
                new = given[key.id]
            else:
                new = tuple(k for k in key.key_list if k not in owner)
            if new != key.key_list:
                key = replace(key, keys=",".join(new), display=None)
            new_keys.append(key)
        if tuple(new_keys) != row.keys:
            row = replace(row, keys=tuple(new_keys), shown=_shown_row(new_keys))
        out.append(row)
    return tuple(out)


def _shown_row(row_keys: Sequence[Key]) -> str:
    parts = [" ".join(shown_key(k) for k in key.key_list) for key in row_keys]
    shown = " / ".join(p for p in parts if p)
    return shown or "ctrl+p"


def keys_text(key: Key) -> str:
    """The keys of one binding as the palette and the help show them (``"n"``, ``"ctrl+k"``)."""
    return " ".join(shown_key(k) for k in key.key_list)
