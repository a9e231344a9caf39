"""Errors inside the explorer: a failed operation is a notification and the session goes on;
under ``--debug`` it propagates. Plus regressions the fuzzer (tests/test_fuzz.py) found."""

from __future__ import annotations

import pytest

from digitmap_tui.app import DigitmapApp, ExploreOptions
from digitmap_tui.widgets.explorer import ExplorerScreen
from digitmap_tui.widgets.mapview import MapView
from digitmap_tui.widgets.screens import PromptScreen
from tests.factory import expected_slots, make_app, shown_slots

SIZE = (120, 40)


def boom(*args: object, **kwargs: object) -> None:
    raise RuntimeError("boom")


def error_messages(app: DigitmapApp) -> list[str]:
    return [n.message for n in app._notifications if n.severity == "error"]


async def test_a_failing_key_action_is_a_notification_and_keys_still_work(
    cache_dir, monkeypatch
) -> None:
    # Regression: Textual ends the app's message loop on an exception; the explorer froze
    # (no key handled, q included) while only a notification said something had failed.
    monkeypatch.setattr(ExplorerScreen, "action_cycle_mode", boom)
    app = make_app(cache_dir)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        start = app.session.box
        await pilot.press("tab")
        await pilot.pause()
        assert error_messages(app) == ["RuntimeError: boom"]
        await pilot.press("right", "down")
        await pilot.pause()
        assert app.session.box != start
        await pilot.press("tab")  # fails again, and again is only a notification
        await pilot.pause()
        assert len(error_messages(app)) == 2
        await pilot.press("q")
    assert app.return_code == 0


async def test_a_failing_message_handler_keeps_the_session(cache_dir, monkeypatch) -> None:
    monkeypatch.setattr(ExplorerScreen, "_update_status", boom)
    app = make_app(cache_dir)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        await pilot.press("right", "l")
        await pilot.pause()
        assert error_messages(app) and all("boom" in e for e in error_messages(app))
        await pilot.press("g")
        await pilot.pause()
        assert app.session.state.list_mode
        await pilot.press("q")
    assert app.return_code == 0


async def test_a_failing_map_mouse_handler_leaves_the_map_working(cache_dir, monkeypatch) -> None:
    # The map has its own message loop: after a failed drag it must still take the wheel.
    monkeypatch.setattr(MapView, "on_mouse_down", boom)
    app = make_app(cache_dir)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        await pilot.click(MapView, offset=(10, 5))
        await pilot.pause()
        assert error_messages(app) == ["RuntimeError: boom"]
        view = app.session.view
        from textual.events import MouseScrollUp

        await pilot._post_mouse_events([MouseScrollUp], MapView, (20, 10))
        await pilot.pause()
        assert app.session.view.width < view.width
        await pilot.press("q")
    assert app.return_code == 0


async def test_with_debug_the_exception_propagates(cache_dir, monkeypatch) -> None:
    monkeypatch.setattr(ExplorerScreen, "action_cycle_mode", boom)
    app = make_app(cache_dir, ExploreOptions(color=True, debug=True))
    with pytest.raises(RuntimeError, match="boom"):
        async with app.run_test(size=SIZE) as pilot:
            await pilot.pause()
            await pilot.press("tab")
            await pilot.pause()
    assert app.return_code == 1


@pytest.mark.parametrize("answer", ["[/]", "[bold", "x[/b]y"])
async def test_prompt_answers_that_look_like_markup_are_shown_as_typed(cache_dir, answer) -> None:
    # Regression: notifications quoted the answer as Textual markup; "[/]" raised a MarkupError.
    app = make_app(cache_dir, ExploreOptions(color=True, debug=True))
    async with app.run_test(size=SIZE, notifications=True) as pilot:
        await pilot.pause()
        await pilot.press("i")
        await pilot.pause()
        assert isinstance(app.screen, PromptScreen)
        await pilot.press(*answer, "enter")
        await pilot.pause()
        assert error_messages(app)
        from textual.widgets._toast import Toast

        toasts = [toast.render().plain for toast in app.screen.query(Toast)]
        assert any(answer in text for text in toasts), toasts
        await pilot.press("q")
    assert app.return_code == 0


async def test_textual_s_own_notifications_keep_their_markup(cache_dir) -> None:
    """No override of notify: Textual's toasts ("Press ctrl+q to quit") render their markup."""
    assert "notify" not in DigitmapApp.__dict__
    app = make_app(cache_dir)
    async with app.run_test(size=SIZE, notifications=True) as pilot:
        await pilot.pause()
        app.notify("Press [b]ctrl+q[/b] to quit the app")
        await pilot.pause()
        from textual.widgets._toast import Toast

        toasts = [toast.render().plain for toast in app.screen.query(Toast)]
        assert "Press ctrl+q to quit the app" in toasts, toasts


async def test_a_marked_point_survives_resizes(cache_dir) -> None:
    # Regression: between a resize and the rebin after it, the map drew the marked point (and
    # highlighted ones) at the new size over rows of the old one: IndexError in render_line.
    app = make_app(cache_dir, ExploreOptions(color=True, debug=True))
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        await pilot.press("i", *"1118", "enter")
        await pilot.pause()
        assert app.session.state.mark == 1118
        for size in ((96, 58), (70, 20), (250, 80), (61, 17), SIZE):
            await pilot.resize_terminal(*size)
            await pilot.pause()
            assert app._exception is None
            assert 1118 in shown_slots(app)
        m = app.explorer.map
        cells = m.cells()
        assert cells is not None
        cell = cells.cell_of(*app.session.coords[1118])
        span = cells.span(app.session.box)
        assert cell is not None and span is not None and span.contains_cell(*cell)
        await pilot.press("q")
    assert app.return_code == 0


async def test_the_panel_follows_the_engine_after_every_kind_of_event(cache_dir) -> None:
    # A short fixed walk through what the fuzzer found sensitive: dialogs, resizes, mean grid.
    app = make_app(cache_dir, ExploreOptions(color=True, debug=True))
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        for step in (("a",), ("L", "J"), ("question_mark",), ("escape",), ("g",), ("s",)):
            await pilot.press(*step)
            await pilot.pause()
            assert (shown_slots(app) == expected_slots(app)).all(), step
        await pilot.press("q")
    assert app.return_code == 0
