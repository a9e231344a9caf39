"""The explorer driven by real key presses (Textual Pilot), checked against the engine's rules."""

from __future__ import annotations

import numpy as np
import pytest

from digitmap_tui.app import ExploreOptions
from digitmap_tui.grid import list_select
from digitmap_tui.widgets.mapview import MapView
from digitmap_tui.widgets.panel import ImagePanel
from digitmap_tui.widgets.screens import HelpScreen, PromptScreen
from tests.factory import expected_slots, fixed_coords, make_app


async def test_startup_shows_cached_map_and_grid(cache_dir):
    app = make_app(cache_dir)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause()
        m = app.query_one(MapView)
        assert app.coords is not None
        assert np.array_equal(app.coords, fixed_coords())
        assert m.box is not None
        assert "digits (1797)" in str(app.query_one("#title").render())
        assert np.array_equal(app.query_one(ImagePanel).content.slots, expected_slots(app))


async def test_arrow_keys_and_hjkl_move_the_box_and_the_panel_follows(cache_dir):
    app = make_app(cache_dir)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause()
        m = app.query_one(MapView)
        start = m.box
        await pilot.press("right", "right", "l", "down", "j")
        await pilot.pause()
        assert (m.box.col, m.box.row) == (start.col + 3, start.row + 2)
        assert np.array_equal(app.query_one(ImagePanel).content.slots, expected_slots(app))
        assert (
            app.selection.tolist()
            == list_select(app.coords, m.box_rect(), app.dataset.labels, app.sort).tolist()
        )
        await pilot.press("left", "h", "up", "k")
        await pilot.pause()
        assert (m.box.col, m.box.row) == (start.col + 1, start.row)


async def test_shift_arrows_and_HJKL_resize_and_the_box_stays_in_the_map(cache_dir):
    app = make_app(cache_dir)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        m = app.query_one(MapView)
        start = m.box
        await pilot.press("shift+right", "L", "shift+down", "J")
        await pilot.pause()
        assert (m.box.width, m.box.height) == (start.width + 2, start.height + 2)
        await pilot.press(*(["L"] * 45), *(["J"] * 20), *(["l"] * 45))
        await pilot.pause()
        w, h = m.map_size
        assert m.box.col + m.box.width <= w and m.box.row + m.box.height <= h
        await pilot.press(*(["H"] * 50), *(["K"] * 20))
        await pilot.pause()
        assert (m.box.width, m.box.height) == (1, 1)
        assert np.array_equal(app.query_one(ImagePanel).content.slots, expected_slots(app))


async def test_list_mode_sort_and_pages(cache_dir):
    app = make_app(cache_dir)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause()
        await pilot.press(*(["L"] * 15), *(["J"] * 8))  # a big box: several pages
        await pilot.press("g")
        await pilot.pause()
        assert app.list_mode
        assert app.query_one(ImagePanel).content.title.startswith("list")
        assert np.array_equal(app.query_one(ImagePanel).content.slots, expected_slots(app))
        for expected in ("y", "label", "index", "x"):
            await pilot.press("s")
            await pilot.pause()
            assert app.sort == expected
            assert np.array_equal(app.query_one(ImagePanel).content.slots, expected_slots(app))
        await pilot.press("pagedown")
        await pilot.pause()
        assert app.page == 1
        assert np.array_equal(app.query_one(ImagePanel).content.slots, expected_slots(app))
        await pilot.press("g")
        await pilot.pause()
        assert not app.list_mode and app.query_one(ImagePanel).content.title.startswith("grid")


async def test_grid_size_keys(cache_dir):
    app = make_app(cache_dir)
    async with app.run_test(size=(160, 50)) as pilot:
        await pilot.pause()
        await pilot.press("[", "}")
        await pilot.pause()
        assert app.grid_shape == (5, 3)
        assert np.array_equal(app.query_one(ImagePanel).content.slots, expected_slots(app))


async def test_map_modes_cycle(cache_dir):
    app = make_app(cache_dir)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause()
        m = app.query_one(MapView)
        seen = [m.mode]
        for _ in range(3):
            await pilot.press("m")
            await pilot.pause()
            seen.append(m.mode)
        assert seen == ["label", "density", "purity", "label"]


async def test_zoom_and_reset(cache_dir):
    app = make_app(cache_dir)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause()
        m = app.query_one(MapView)
        full = m.view
        await pilot.press("+")
        await pilot.pause()
        assert m.view.width == pytest.approx(full.width / 2)
        await pilot.press("z")
        await pilot.pause()
        assert m.view.width < full.width / 2
        await pilot.press("0")
        await pilot.pause()
        assert m.view == full
        assert np.array_equal(app.query_one(ImagePanel).content.slots, expected_slots(app))


async def test_goto_index_centres_and_marks_the_point(cache_dir):
    app = make_app(cache_dir)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause()
        await pilot.press("i")
        await pilot.pause()
        assert isinstance(app.screen, PromptScreen)
        await pilot.press(*"1118", "enter")
        await pilot.pause()
        m = app.query_one(MapView)
        assert m.marked == 1118
        col, row = m.cell_of_point(1118)
        assert m.box.contains_cell(col, row)
        assert 1118 in app.selection


async def test_goto_bad_index_notifies_and_keeps_running(cache_dir):
    app = make_app(cache_dir)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause()
        await pilot.press("i", *"99999", "enter")
        await pilot.pause()
        assert any("out of range" in n.message for n in app._notifications)
        await pilot.press("i", *"abc", "enter")
        await pilot.pause()
        assert any("not an index" in n.message for n in app._notifications)
        assert app.query_one(MapView).marked is None


async def test_cluster_jump_puts_the_box_on_the_label(cache_dir):
    app = make_app(cache_dir)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause()
        await pilot.press("c", "7", "enter")
        await pilot.pause()
        hist = np.bincount(app.dataset.labels[app.selection], minlength=10)
        assert hist.argmax() == 7


async def test_focus_labels_dims_others(cache_dir):
    app = make_app(cache_dir)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause()
        await pilot.press("f", "3", "space", "7", "enter")
        await pilot.pause()
        assert app.query_one(MapView).focus_labels == frozenset({3, 7})
        await pilot.press("f", "enter")
        await pilot.pause()
        assert app.query_one(MapView).focus_labels is None


async def test_help_screen_opens_and_closes(cache_dir):
    app = make_app(cache_dir)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause()
        await pilot.press("question_mark")
        await pilot.pause()
        assert isinstance(app.screen, HelpScreen)
        await pilot.press("escape")
        await pilot.pause()
        assert not isinstance(app.screen, HelpScreen)


async def test_small_terminal_shows_a_message_then_recovers(cache_dir):
    app = make_app(cache_dir)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause()
        await pilot.resize_terminal(40, 10)
        await pilot.pause()
        assert app.screen.has_class("too-small")
        await pilot.resize_terminal(200, 60)
        await pilot.pause()
        assert not app.screen.has_class("too-small")
        assert np.array_equal(app.query_one(ImagePanel).content.slots, expected_slots(app))


async def test_resize_keeps_the_box_in_data_coordinates(cache_dir):
    app = make_app(cache_dir)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause()
        m = app.query_one(MapView)
        before = m.box_rect()
        await pilot.resize_terminal(200, 60)
        await pilot.pause()
        after = m.box_rect()
        assert after.center == pytest.approx(
            before.center, abs=max(before.width, before.height) / 4
        )
        await pilot.resize_terminal(80, 24)
        await pilot.pause()
        assert np.array_equal(app.query_one(ImagePanel).content.slots, expected_slots(app))


async def test_precomputed_embedding_disables_method_keys(cache_dir):
    app = make_app(cache_dir, precomputed=True)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause()
        assert "fixed.npy" in str(app.query_one("#title").render())
        await pilot.press("u")
        await pilot.pause()
        assert app.job is None
        assert any("--embedding" in n.message for n in app._notifications)


async def test_start_options_view_and_box(cache_dir):
    from digitmap_tui.grid import Rect

    box = Rect(10, 30, 30, 50)
    app = make_app(cache_dir, ExploreOptions(box=box, list_mode=True, sort="label", color=True))
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause()
        assert app.list_mode and app.sort == "label"
        rect = app.query_one(MapView).box_rect()
        assert rect.center == pytest.approx(box.center, abs=2.0)
        assert np.array_equal(app.query_one(ImagePanel).content.slots, expected_slots(app))


async def test_mouse_drag_draws_a_box(cache_dir):
    app = make_app(cache_dir)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause()
        m = app.query_one(MapView)
        await pilot.mouse_down(MapView, offset=(5, 3))
        await pilot.hover(MapView, offset=(15, 9))
        await pilot.mouse_up(MapView, offset=(15, 9))
        await pilot.pause()
        assert m.box.col == 5 and m.box.row == 3
        assert np.array_equal(app.query_one(ImagePanel).content.slots, expected_slots(app))


async def test_pca_switch_computes_in_the_background(cache_dir):
    app = make_app(cache_dir)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause()
        await pilot.press("p")
        for _ in range(100):
            await pilot.pause(0.1)
            if app.params.method == "pca":
                break
        await pilot.pause()
        assert app.params.method == "pca"
        assert "PCA" in str(app.query_one("#title").render())
        assert np.array_equal(app.query_one(ImagePanel).content.slots, expected_slots(app))
        await pilot.press("t")  # back to t-SNE: in memory already, instant
        await pilot.pause()
        assert app.params.method == "tsne"
        assert np.array_equal(app.coords, fixed_coords())


async def test_quit_returns_zero(cache_dir):
    app = make_app(cache_dir)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause()
        await pilot.press("q")
    assert app.return_code == 0
