"""One key table: the bindings, the help screen and the command palette come from it."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

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
        assert titles["Map mode: next"].help.startswith("tab · map mode")
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


# ----- the config's names and a user's keys ----------------------------------------------------
def test_every_action_has_a_unique_config_name():
    import re

    ids = keymap.ids()
    assert len(ids) == len(set(ids)), "give Key a name= where an action takes arguments"
    assert all(re.fullmatch(r"[a-z_][a-z0-9_]*", i) for i in ids)
    assert {"search", "search_next", "search_previous", "split", "misfit_next"} <= set(ids)
    assert {"misfit", "misfit_list"} <= {keymap.action_name(k.action) for _, k in keymap.all_keys()}


def test_the_readme_names_every_action():
    from pathlib import Path

    readme = (Path(__file__).parents[1] / "README.md").read_text(encoding="utf-8")
    missing = [i for i in keymap.ids() if f"`{i}`" not in readme]
    assert missing == [], f"README's key table lacks {missing}"


async def test_key_names_are_the_ones_textual_events_carry():
    """A key typed into a Textual app arrives with the name the table (and remap) use."""
    from textual.app import App

    chars = [chr(c) for c in range(33, 127)]
    seen: list[str] = []

    class Recorder(App[None]):
        def on_key(self, event) -> None:  # type: ignore[no-untyped-def]
            seen.append(event.key)

    app = Recorder()
    async with app.run_test() as pilot:
        await pilot.press(*chars)
        await pilot.pause()
    assert seen == [keymap.key_name(c) for c in chars]
    assert [keymap.shown_key(keymap.key_name(c)) for c in chars] == chars


def test_familiar_keys_are_where_vim_and_less_put_them():
    bound = {key.id: key.key_list for _, key in keymap.all_keys()}
    assert bound["search"] == ("slash",)
    assert bound["search_next"] == ("n",) and bound["search_previous"] == ("N",)
    every = [k for keys in bound.values() for k in keys]
    assert "m" not in every, "m sets a mark in vim and less"


KEY_POOL = ["n", "N", "m", "ctrl+k", "slash", "x", "q", "z", "h", "question_mark", "f5", "tab"]


@settings(max_examples=200, deadline=None)
@given(data=st.data())
def test_a_remap_gives_exactly_the_keys_asked_and_binds_no_key_twice(data):
    ids = keymap.ids()
    chosen = data.draw(st.lists(st.sampled_from(ids), unique=True, max_size=5), label="ids")
    pool = data.draw(st.permutations(KEY_POOL), label="keys")
    overrides: dict[str, list[str]] = {}
    for i, name in enumerate(chosen):
        overrides[name] = pool[2 * i : 2 * i + 2] or ["f12"]
    taken = {k for keys in overrides.values() for k in keys}
    table = keymap.remap(overrides)
    default = {key.id: key.key_list for _, key in keymap.all_keys()}
    now = {key.id: key.key_list for _, key in keymap.all_keys(table)}
    assert set(now) == set(default)
    for name, keys in now.items():
        if name in overrides:
            assert keys == tuple(dict.fromkeys(overrides[name]))
        else:  # the user's keys win: others keep theirs, less the ones given away
            assert keys == tuple(k for k in default[name] if k not in taken)
    every = [k for keys in now.values() for k in keys]
    assert len(every) == len(set(every))
    # A remapped row's help shows its keys; an untouched one keeps its hand-written text.
    for before, after in zip(keymap.TABLE, table, strict=True):
        if before.keys == after.keys:
            assert after.shown == before.shown
        else:
            for key in after.keys:
                assert keymap.keys_text(key) in after.shown


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"nope": ["a"]}, "keys.nope: unknown action"),
        ({"split": ["ctrl+p"]}, "kept by Textual"),
        ({"split": ["k"], "help": ["k"]}, "already bound to 'split'"),
    ],
)
def test_a_remap_that_cannot_work_is_one_line(overrides, message):
    from digitmap_tui.errors import InputError

    with pytest.raises(InputError, match=message):
        keymap.remap(overrides)


async def test_a_remapped_key_shows_in_the_bindings_the_help_and_the_palette(cache_dir):
    """The config's keys reach all three generated views, and the keys do what they say."""
    from digitmap_tui.app import ExploreOptions

    keys = {"split": ["ctrl+k"], "search_next": ["j"], "help": ["z"], "bookmarks_file": ["f5"]}
    app = make_app(cache_dir, ExploreOptions(color=True, keys=keys))
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause()
        active = app.screen.active_bindings
        # bindings: the new keys run the actions; the keys given away are gone from the others
        assert active["ctrl+k"].binding.action == "split"
        assert active["j"].binding.action == "search_step(1)"
        assert active["z"].binding.action == "help"
        assert active["f5"].binding.action == "bookmarks_file"
        assert "percent_sign" not in active and "n" not in active
        assert active["down"].binding.action == "move(0,1)"  # move_down kept its arrow
        from digitmap_tui.widgets.reviewing import REVIEW_ONLY

        bound = {k: b.binding.id for k, b in active.items() if b.binding.id in keymap.ids()}
        want = {  # (review keys are off outside a review: not active now)
            k: key.id
            for _, key in keymap.all_keys(app.keys)
            for k in key.key_list
            if keymap.action_name(key.action) not in REVIEW_ONLY
        }
        assert bound == want  # what is bound is exactly the remapped table
        # help: opened by its new key, it lists the new keys
        await pilot.press("z")
        await pilot.pause()
        assert isinstance(app.screen, HelpScreen)
        rows = dict(line for _, lines in app.screen.sections for line in lines)
        split_text = next(r.text for r in keymap.TABLE if any(k.id == "split" for k in r.keys))
        assert rows.get("ctrl+k") == split_text
        await pilot.press("escape")
        await pilot.pause()
        # palette: the command's help names its key
        commands = {c.title: c for c in app.get_system_commands(app.screen)}
        assert commands["Split the selection into sub-clusters"].help.startswith("ctrl+k · ")
        assert commands["Search: next hit"].help.startswith("j · ")
        # the key does what it is bound to: j steps through a search, not down
        box = app.session.box
        await pilot.press("j")
        await pilot.pause()
        assert app.session.box == box  # nothing searched yet: only a notification
        app.explorer.search("L:3")
        await pilot.pause()
        first = app.session.state.mark
        await pilot.press("j")
        await pilot.pause()
        assert app.session.state.mark != first
        assert app.session.search is not None and app.session.search.position >= 0


def test_the_explorers_keys_come_from_the_config_file(tmp_path, monkeypatch):
    """cmd_explore reads [keys] once, checked against the table: a bad one is one line, exit 2."""
    import os
    import subprocess
    import sys

    from tests.pty_program import REPO_ROOT

    config = tmp_path / "config"
    config.mkdir()
    (config / "config.toml").write_text('[keys]\nsplit = "ctrl+p"\n', encoding="utf-8")
    env = dict(
        os.environ, PYTHONPATH=str(REPO_ROOT), DIGITMAP_CONFIG_DIR=str(config),
        TEXTUAL_DRIVER="textual.drivers.web_driver:WebDriver",  # no TTY needed to get there
    )  # fmt: skip
    done = subprocess.run(
        [sys.executable, "-m", "digitmap_tui"],
        capture_output=True, text=True, env=env, timeout=60, stdin=subprocess.DEVNULL,
    )  # fmt: skip
    assert done.returncode == 2, done.stderr
    assert done.stderr.count("\n") == 1
    assert "config.toml: keys.split: 'ctrl+p' is kept by Textual" in done.stderr
    (config / "config.toml").write_text('[keys]\nsplat = "k"\n', encoding="utf-8")
    done = subprocess.run(
        [sys.executable, "-m", "digitmap_tui"],
        capture_output=True, text=True, env=env, timeout=60, stdin=subprocess.DEVNULL,
    )  # fmt: skip
    assert done.returncode == 2 and "keys.splat: unknown action" in done.stderr
