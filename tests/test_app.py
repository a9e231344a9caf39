"""The explorer driven by real key presses (Textual Pilot), checked against the engine's rules."""

from __future__ import annotations

import numpy as np
import pytest

from digitmap_tui.app import ExploreOptions
from digitmap_tui.grid import Rect, inside, list_select
from digitmap_tui.selection import Cells
from digitmap_tui.widgets.mapview import MapView
from digitmap_tui.widgets.screens import HelpScreen, PromptScreen
from digitmap_tui.widgets.status import ProgressLine
from tests.factory import expected_slots, fixed_coords, make_app, shown_slots


def title_of(app) -> str:
    return app.explorer.query_one("#title").plain


async def test_startup_shows_cached_map_and_grid(cache_dir):
    app = make_app(cache_dir)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause()
        s = app.session
        assert np.array_equal(s.coords, fixed_coords())
        assert s.box is not None and not s.preview
        assert "digits (1797)" in title_of(app)
        assert np.array_equal(shown_slots(app), expected_slots(app))


async def test_arrow_keys_and_hjkl_move_the_box_by_cells_and_the_panel_follows(cache_dir):
    app = make_app(cache_dir)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause()
        s = app.session
        start = s.box
        px, py = Cells(s.view, *app.explorer.map.map_size).pitch
        await pilot.press("right", "right", "l", "down", "j")
        await pilot.pause()
        assert s.box.x0 == pytest.approx(start.x0 + 3 * px)
        assert s.box.y1 == pytest.approx(start.y1 - 2 * py)
        assert (s.box.width, s.box.height) == pytest.approx((start.width, start.height))
        assert np.array_equal(shown_slots(app), expected_slots(app))
        assert np.sort(app.selection).tolist() == inside(s.coords, s.box).tolist()
        await pilot.press("left", "h", "up", "k")
        await pilot.pause()
        assert s.box.x0 == pytest.approx(start.x0 + px)
        assert s.box.y1 == pytest.approx(start.y1)


async def test_shift_arrows_and_HJKL_resize_by_cells_never_below_one(cache_dir):
    app = make_app(cache_dir)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        s = app.session
        start = s.box
        px, py = Cells(s.view, *app.explorer.map.map_size).pitch
        await pilot.press("shift+right", "L", "shift+down", "J")
        await pilot.pause()
        assert s.box.width == pytest.approx(start.width + 2 * px)
        assert s.box.height == pytest.approx(start.height + 2 * py)
        assert (s.box.x0, s.box.y1) == pytest.approx((start.x0, start.y1))
        await pilot.press(*(["H"] * 60), *(["K"] * 30))
        await pilot.pause()
        assert s.box.width == pytest.approx(px) and s.box.height == pytest.approx(py)
        assert np.array_equal(shown_slots(app), expected_slots(app))


async def test_moving_past_the_edge_scrolls_the_view_and_stops_at_the_data(cache_dir):
    app = make_app(cache_dir)
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.pause()
        s = app.session
        await pilot.press(*(["l"] * 200))
        await pilot.pause()
        home = s.home
        # The box's centre never leaves the points' region; the view scrolled to show it.
        assert s.box.center[0] <= home.x1 + 1e-9
        assert s.view.x0 <= s.box.x0 and s.box.x1 <= s.view.x1 + 1e-9
        assert np.array_equal(shown_slots(app), expected_slots(app))


async def test_list_mode_sort_and_pages(cache_dir):
    app = make_app(cache_dir)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause()
        await pilot.press(*(["L"] * 15), *(["J"] * 8))  # a big box: several pages
        await pilot.press("g")
        await pilot.pause()
        s = app.session
        assert s.state.list_mode
        assert app.explorer.plan.title.startswith("list")
        assert np.array_equal(shown_slots(app), expected_slots(app))
        for expected in ("y", "label", "index", "x"):
            await pilot.press("s")
            await pilot.pause()
            assert s.state.sort == expected
            assert np.array_equal(shown_slots(app), expected_slots(app))
        await pilot.press("pagedown")
        await pilot.pause()
        assert s.state.page == 1
        assert np.array_equal(shown_slots(app), expected_slots(app))
        await pilot.press("g")
        await pilot.pause()
        assert not s.state.list_mode and app.explorer.plan.title.startswith("grid")


async def test_grid_size_keys_change_the_grid_not_the_selection(cache_dir):
    app = make_app(cache_dir)
    async with app.run_test(size=(160, 50)) as pilot:
        await pilot.pause()
        before = np.sort(app.selection).tolist()
        await pilot.press("[", "}")
        await pilot.pause()
        assert app.session.state.grid == (5, 3)
        assert np.sort(app.selection).tolist() == before
        assert np.array_equal(shown_slots(app), expected_slots(app))


async def test_map_modes_cycle(cache_dir):
    app = make_app(cache_dir)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause()
        s = app.session
        seen = [s.state.mode]
        for _ in range(4):
            await pilot.press("tab")
            await pilot.pause()
            seen.append(s.state.mode)
            assert app.explorer.map.frame.mode == s.state.mode
        assert seen == ["label", "density", "purity", "points", "label"]
        await pilot.press("shift+tab")  # backwards
        await pilot.pause()
        assert s.state.mode == "points"


async def test_zoom_and_reset_leave_the_selection_alone(cache_dir):
    app = make_app(cache_dir)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause()
        s = app.session
        full = s.view
        before = np.sort(app.selection).tolist()
        await pilot.press("+")
        await pilot.pause()
        assert s.view.width == pytest.approx(full.width / 2)
        await pilot.press("z")
        await pilot.pause()
        assert s.view.width < full.width / 2
        await pilot.press("0")
        await pilot.pause()
        assert s.view == full == s.home
        assert np.sort(app.selection).tolist() == before
        assert np.array_equal(shown_slots(app), expected_slots(app))


async def test_a_box_out_of_view_stays_and_is_pointed_at(cache_dir):
    app = make_app(cache_dir)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause()
        s = app.session
        before = np.sort(app.selection).tolist()
        await pilot.press("+", "+", *(["ctrl+right"] * 40))
        await pilot.pause()
        assert not s.box_in_view()
        assert np.sort(app.selection).tolist() == before
        assert "out of view" in app.explorer.query_one("#coords").plain
        await pilot.press("z")
        await pilot.pause()
        assert s.box_in_view() and np.sort(app.selection).tolist() == before


async def test_goto_index_centres_marks_and_shows_the_point(cache_dir):
    app = make_app(cache_dir)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause()
        await pilot.press("i")
        await pilot.pause()
        assert isinstance(app.screen, PromptScreen)
        await pilot.press(*"1118", "enter")
        await pilot.pause()
        s = app.session
        assert s.state.mark == 1118
        assert s.box.center == pytest.approx(tuple(s.coords[1118]))
        assert 1118 in app.selection
        # In the panel, in its cell (grid mode) …
        assert 1118 in shown_slots(app) and app.explorer.plan.mark == 1118
        assert np.array_equal(shown_slots(app), expected_slots(app))
        # … and on the page that holds it (list mode).
        await pilot.press("g")
        await pilot.press("i", *"1118", "enter")
        await pilot.pause()
        assert 1118 in shown_slots(app)


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
        assert app.session.state.mark is None


async def test_cluster_jump_c_steps_and_C_asks_again(cache_dir):
    app = make_app(cache_dir)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause()
        labels = app.session.dataset.labels
        await pilot.press("c", "7", "enter")
        await pilot.pause()
        assert np.bincount(labels[app.selection], minlength=10).argmax() == 7
        await pilot.press("C", "1", "enter")
        await pilot.pause()
        assert np.bincount(labels[app.selection], minlength=10).argmax() == 1
        first = app.session.box
        await pilot.press("c")
        await pilot.pause()
        assert app.session.box != first or len(app.session.clusters(1)) == 1


async def test_clusters_do_not_depend_on_the_terminal_or_the_history(cache_dir):
    found = []
    for size, keys in (((140, 44), ()), ((90, 28), ("+", "+", "ctrl+left", "p", "t"))):
        app = make_app(cache_dir)
        async with app.run_test(size=size) as pilot:
            await pilot.pause()
            await pilot.press(*keys)
            await pilot.pause()
            await pilot.press("c", "1", "enter")
            await pilot.pause()
            found.append((app.session.home, app.session.box, app.selection.tolist()))
    assert found[0] == found[1]


async def test_focus_labels_dims_others(cache_dir):
    app = make_app(cache_dir)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause()
        await pilot.press("f", "3", "space", "7", "enter")
        await pilot.pause()
        assert app.session.state.focus == frozenset({3, 7})
        assert app.explorer.map.frame.focus == frozenset({3, 7})
        await pilot.press("f", "enter")
        await pilot.pause()
        assert app.session.state.focus is None


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
        before = np.sort(app.selection).tolist()
        await pilot.resize_terminal(40, 10)
        await pilot.pause()
        assert app.explorer.has_class("too-small")
        await pilot.press("l", "L", "+")  # ignored behind the message
        await pilot.resize_terminal(200, 60)
        await pilot.pause()
        assert not app.explorer.has_class("too-small")
        assert np.sort(app.selection).tolist() == before
        assert np.array_equal(shown_slots(app), expected_slots(app))


async def test_resizes_keep_the_box_and_the_selection(cache_dir):
    app = make_app(cache_dir)
    async with app.run_test(size=(140, 44)) as pilot:
        await pilot.pause()
        box, before = app.session.box, np.sort(app.selection).tolist()
        for size in ((100, 30), (140, 44), (200, 60), (80, 24)):
            await pilot.resize_terminal(*size)
            await pilot.pause()
            assert app.session.box == box
            assert np.sort(app.selection).tolist() == before
            assert np.array_equal(shown_slots(app), expected_slots(app))


async def test_precomputed_embedding_disables_method_keys(cache_dir):
    app = make_app(cache_dir, precomputed=True)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause()
        assert "fixed.npy" in title_of(app)
        await pilot.press("u")
        await pilot.pause()
        assert app.job is None
        assert any("--embedding" in n.message for n in app._notifications)


async def test_start_options_view_and_box_are_data_rectangles(cache_dir):
    box = Rect(10, 30, 30, 50)
    app = make_app(cache_dir, ExploreOptions(box=box, list_mode=True, sort="label", color=True))
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause()
        s = app.session
        assert s.state.list_mode and s.state.sort == "label"
        assert s.box == box
        assert np.sort(app.selection).tolist() == inside(s.coords, box).tolist()
        assert np.array_equal(shown_slots(app), expected_slots(app))


async def test_mouse_drag_draws_the_box_under_the_pointer(cache_dir):
    app = make_app(cache_dir)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause()
        s = app.session
        await pilot.mouse_down(MapView, offset=(5, 3))
        await pilot.hover(MapView, offset=(15, 9))
        await pilot.mouse_up(MapView, offset=(15, 9))
        await pilot.pause()
        cells = Cells(s.view, *app.explorer.map.map_size)
        assert s.box == cells.rect(5, 3, 16, 10)
        assert np.sort(app.selection).tolist() == list_select(s.coords, s.box).tolist()
        assert np.array_equal(shown_slots(app), expected_slots(app))


async def test_method_switch_keeps_the_box_on_the_same_points(cache_dir):
    app = make_app(cache_dir)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause()
        s = app.session
        before = set(app.selection.tolist())
        await pilot.press("p")  # PCA: computed at once, it takes milliseconds
        await pilot.pause()
        assert s.params.method == "pca" and "PCA" in title_of(app)
        assert s.home == s.view
        # The box moved to where its points lie in the new map: it holds many of them.
        assert len(before & set(app.selection.tolist())) > 0.3 * len(before)
        assert np.array_equal(shown_slots(app), expected_slots(app))
        await pilot.press("t")  # back to t-SNE: in memory already
        await pilot.pause()
        assert s.params.method == "tsne"
        assert np.array_equal(s.coords, fixed_coords())
        assert s.view == s.home


async def test_a_slow_method_shows_a_pca_preview_then_the_result(cache_dir):
    """No cached t-SNE: a PCA map at once (labelled a preview), the progress line, then the
    t-SNE map with the box on the same points."""
    app = make_app(cache_dir, store=False)
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.pause()
        s = app.session
        for _ in range(100):  # the preview is computed in a worker: a fraction of a second
            if s.ready:
                break
            await pilot.pause(0.05)
        assert s.preview and s.ready and "PCA preview · computing t-SNE" in title_of(app)
        assert app.explorer.query_one(ProgressLine).has_class("running")
        pid = app.job.pid
        await pilot.press("l", "l")  # usable while t-SNE computes
        await pilot.pause()
        for _ in range(600):
            await pilot.pause(0.1)
            if not s.preview:
                break
        assert not s.preview and s.params.method == "tsne"
        assert "preview" not in title_of(app)
        assert not app.explorer.query_one(ProgressLine).has_class("running")
        assert np.array_equal(shown_slots(app), expected_slots(app))
        # The finished worker was reaped: no zombie waits for the explorer to quit.
        await app.workers.wait_for_complete()
        assert not zombie(pid)
        await pilot.press("q")
    assert app.return_code == 0


def zombie(pid: int) -> bool:
    from pathlib import Path

    status = Path(f"/proc/{pid}/status")
    try:
        return "\nState:\tZ" in status.read_text()
    except OSError:
        return False


async def test_quit_returns_zero(cache_dir):
    app = make_app(cache_dir)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause()
        await pilot.press("q")
    assert app.return_code == 0
