"""Selections out of the app: export, clipboard, bookmarks, screenshots (real key presses)."""

from __future__ import annotations

import json

import numpy as np
import pytest

from digitmap_tui.bookmarks import BookmarkStore
from digitmap_tui.cli import main
from digitmap_tui.grid import Rect, list_select
from digitmap_tui.widgets.screens import BookmarksScreen
from tests.factory import TSNE_FIXTURE, make_app


async def _type_path(pilot, path) -> None:
    await pilot.press("ctrl+u", *str(path), "enter")
    await pilot.pause()


async def test_export_round_trip_matches_the_engine_list_rule(cache_dir, tmp_path):
    app = make_app(cache_dir)
    out = tmp_path / "sel.npy"
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause()
        await pilot.press("l", "l", "L", "J")
        await pilot.press("e")
        await pilot.pause()
        await _type_path(pilot, out)
        s = app.session
        expected = list_select(s.coords, s.box, s.dataset.labels, s.state.sort)  # as listed
        assert out.exists()
        assert np.load(out, allow_pickle=False).tolist() == expected.tolist()
        before = out.read_bytes()
        await pilot.press("l", "e")  # a new selection, same name: refused, file untouched
        await pilot.pause()
        await _type_path(pilot, out)
        assert out.read_bytes() == before
        assert any("exists" in n.message for n in app._notifications)


async def test_export_json_carries_provenance_and_command(cache_dir, tmp_path, capsys):
    app = make_app(cache_dir)
    out = tmp_path / "sel.json"
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause()
        await pilot.press("e")
        await pilot.pause()
        await _type_path(pilot, out)
        selection = app.selection.tolist()
    record = json.loads(out.read_text())
    assert record["indices"] == selection
    assert record["method"] == "tsne" and record["dataset"] == "digits"
    assert record["box"] == app.session.box.as_list()
    assert record["command"].startswith("digitmap render")
    # The command reproduces the same selection from the cache.
    import shlex

    argv = [*shlex.split(record["command"])[1:], "--json", "--list", "--sort", "index"]
    assert main(argv) == 0
    printed = json.loads(capsys.readouterr().out)
    assert sorted(printed["indices"]) == sorted(selection)


async def test_copy_selection_writes_osc52(cache_dir):
    app = make_app(cache_dir)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause()
        await pilot.press("y")
        await pilot.pause()
        assert app._clipboard == " ".join(str(i) for i in app.selection)
        assert any("copied" in n.message for n in app._notifications)


async def test_bookmark_save_jump_and_render(cache_dir, capsys):
    app = make_app(cache_dir)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause()
        await pilot.press("l", "l", "l", "J", "tab")
        saved_box = app.session.box
        await pilot.press("b")
        await pilot.pause()
        await pilot.press(*"sevens", "enter")
        await pilot.pause()
        await pilot.press("h", "h", "h", "h", "h", "tab", "tab")
        await pilot.pause()
        assert app.session.box != saved_box
        await pilot.press("B")
        await pilot.pause()
        assert isinstance(app.screen, BookmarksScreen)
        await pilot.press("enter")
        await pilot.pause()
        assert app.session.box == saved_box
        assert app.session.state.mode == "density"
    store = BookmarkStore()
    assert any("sevens" in store.names(key) for key, *_ in store.scopes())
    assert main(["render", "--bookmark", "sevens", "--json"]) == 0
    printed = json.loads(capsys.readouterr().out)
    assert Rect(*printed["box"]) == saved_box
    assert printed["box"] == pytest.approx(saved_box.as_list())


async def test_bookmark_missing_is_one_line_exit_2(cache_dir, capsys):
    assert main(["render", "--bookmark", "nope", "--embedding", str(TSNE_FIXTURE)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "nope" in err


async def test_screenshot_svg_and_text(cache_dir, tmp_path):
    app = make_app(cache_dir)
    target = tmp_path / "shot.svg"
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause()
        await pilot.press("ctrl+s")
        await pilot.pause()
        await _type_path(pilot, target)
        assert target.exists() and target.read_text().lstrip().startswith("<svg")
        text = target.with_suffix(".txt").read_text()
        assert "digitmap · digits (1797)" in text
        await pilot.press("ctrl+s")
        await pilot.pause()
        await _type_path(pilot, target)  # exists: refused
        assert any("exists" in n.message for n in app._notifications)


async def test_a_cancelled_computation_leaves_an_honest_title_and_export(
    cache_dir, tmp_path, capsys
):
    """After `x` the PCA preview stays: the title says the method was cancelled (not that it
    is computing), and an export records the preview's map, whose command selects the same
    points."""
    import shlex

    app = make_app(cache_dir, store=False)  # nothing cached: t-SNE starts, the preview shows
    out = tmp_path / "sel.json"
    async with app.run_test(size=(120, 40)) as pilot:
        for _ in range(100):
            await pilot.pause(0.05)
            if app.session.ready:
                break
        assert app.session.preview
        await pilot.press("x")
        await pilot.pause()
        title = app.session.describe()
        assert "cancelled" in title and "computing" not in title, title
        await pilot.press("e")
        await pilot.pause()
        await _type_path(pilot, out)
        selection = app.selection.tolist()
    record = json.loads(out.read_text())
    assert record["method"] == "pca" and record["params"] == {}
    assert " --method pca " in record["command"]
    argv = [*shlex.split(record["command"])[1:], "--json", "--cache-dir", str(cache_dir)]
    assert main(argv) == 0
    printed = json.loads(capsys.readouterr().out)
    assert sorted(printed["indices"]) == sorted(selection) and len(selection) > 0
