"""One key table: the bindings, the help screen and the command palette come from it."""

from __future__ import annotations

from digitmap_tui import keymap
from digitmap_tui.app import DigitmapApp
from digitmap_tui.widgets.explorer import ExplorerScreen
from digitmap_tui.widgets.screens import HelpScreen
from tests.factory import make_app


def _actions(bindings) -> set[str]:
    return {b.action for b in bindings}


def test_the_bindings_are_the_table():
    table_screen = {k.action for k in keymap.keys(app=False)}
    table_app = {k.action for k in keymap.keys(app=True)}
    assert _actions(ExplorerScreen.BINDINGS) == table_screen
    assert _actions(DigitmapApp.BINDINGS) == table_app
    keys_bound = [
        k for b in [*ExplorerScreen.BINDINGS, *DigitmapApp.BINDINGS] for k in b.key.split(",")
    ]
    assert len(keys_bound) == len(set(keys_bound)), "a key is bound twice"


def test_every_action_in_the_table_exists():
    for row, key in keymap.all_keys():
        owner = DigitmapApp if row.app else ExplorerScreen
        name = keymap.action_name(key.action)
        assert callable(getattr(owner, f"action_{name}", None)), f"{key.action} has no method"


def test_the_help_screen_lists_every_row():
    sections = keymap.help_sections()
    rows = [(shown, text) for _, lines in sections for shown, text in lines]
    assert rows == [(r.shown, r.text) for r in keymap.TABLE]
    assert {name for name, _ in sections} >= {"Selection box", "View", "Panel", "Insight", "Out"}


async def test_the_help_shows_the_table_and_the_palette_offers_every_action(cache_dir):
    app = make_app(cache_dir)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause()
        await pilot.press("question_mark")
        await pilot.pause()
        assert isinstance(app.screen, HelpScreen)
        assert app.screen.sections == keymap.help_sections()
        await pilot.press("escape")
        await pilot.pause()
        titles = {c.title: c for c in app.get_system_commands(app.screen)}
        for _, key in keymap.all_keys():
            assert key.title in titles, f"{key.title!r} is not in the palette"
        # A palette command runs its action: "Map mode: next" cycles the mode.
        await titles["Map mode: next"].callback()
        await pilot.pause()
        assert app.session.state.mode == "density"
        await titles["Box: move right"].callback()
        await pilot.pause()
        assert app.selection.tolist() is not None


async def test_C_asks_for_another_label(cache_dir):
    app = make_app(cache_dir)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause()
        await pilot.press("c", "7", "enter")
        await pilot.pause()
        assert app.explorer.cluster_label == 7
        await pilot.press("C", "3", "enter")
        await pilot.pause()
        assert app.explorer.cluster_label == 3
