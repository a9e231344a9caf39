"""Search in the explorer: ``/`` asks, ``n``/``N`` step through the hits (the box centres on
each, it is marked and shown in the panel), the status line counts them."""

from __future__ import annotations

import numpy as np

from digitmap_tui.grid import inside
from digitmap_tui.widgets.screens import PromptScreen
from digitmap_tui.widgets.status import StatusLine
from tests.factory import expected_slots, make_app, shown_slots

SIZE = (120, 40)


def status(app) -> str:  # type: ignore[no-untyped-def]
    return app.explorer.query_one("#coords", StatusLine).plain


async def test_slash_searches_a_label_and_n_N_step_through_it(cache_dir):
    app = make_app(cache_dir)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        await pilot.press("slash")
        await pilot.pause()
        assert isinstance(app.screen, PromptScreen)
        await pilot.press(*"L:3", "enter")
        await pilot.pause()
        s = app.session
        threes = np.flatnonzero(s.dataset.labels == 3)
        hits = s.search
        assert hits is not None and sorted(hits.order.tolist()) == threes.tolist()
        assert s.state.mark == hits.current
        assert hits.current in inside(s.coords, s.box)
        assert np.array_equal(np.sort(s.highlight), threes)  # every hit shown on the map
        assert status(app).startswith(f"hit {hits.position + 1}/{len(threes)} · L:3 │ box")
        assert np.array_equal(shown_slots(app), expected_slots(app))
        assert hits.current in shown_slots(app)
        visited = [hits.current]
        for _ in range(3):
            await pilot.press("n")
            await pilot.pause()
            visited.append(s.state.mark)
            assert s.state.mark == s.search.current and s.state.mark in shown_slots(app)
        assert len(set(visited)) == 4
        assert status(app).startswith(f"hit {(hits.position + 3) % len(threes) + 1}/")
        await pilot.press("N", "N", "N")
        await pilot.pause()
        assert s.state.mark == visited[0]
        # Esc clears the highlight and the mark, n finds its way back (as vim after :noh)
        await pilot.press("escape")
        await pilot.pause()
        assert s.highlight is None and not status(app).startswith("hit")
        await pilot.press("n")
        await pilot.pause()
        assert s.state.mark == visited[1] and s.highlight is not None


async def test_an_index_search_goes_to_the_point(cache_dir):
    app = make_app(cache_dir)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        await pilot.press("slash", *"#1118", "enter")
        await pilot.pause()
        assert app.session.state.mark == 1118
        assert 1118 in shown_slots(app)
        assert status(app).startswith("hit 1/1 · #1118")


async def test_a_search_with_no_hit_is_a_notification(cache_dir):
    app = make_app(cache_dir)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        box = app.session.box
        await pilot.press("n")  # nothing searched yet
        await pilot.pause()
        await pilot.press("slash", *"L:42", "enter")
        await pilot.pause()
        await pilot.press("slash", *"[red]x", "enter")
        await pilot.pause()
        messages = [n.message for n in app._notifications]
        assert any("nothing searched yet" in m for m in messages)
        assert any("no hit: no label 42: labels go from 0 to 9" in m for m in messages)
        assert any("\\[red]x" in m for m in messages)  # markup from input is shown, escaped
        assert app.session.box == box and app.session.search is None
        assert app.is_running


async def test_search_hits_show_on_their_list_page(cache_dir):
    app = make_app(cache_dir)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        await pilot.press("g", "L", "L", "L", "J", "J")  # list mode, a bigger box
        await pilot.pause()
        await pilot.press("slash", *"L:7", "enter")
        await pilot.pause()
        for _ in range(5):
            await pilot.press("n")
            await pilot.pause()
            assert app.session.state.mark in shown_slots(app)
            assert np.array_equal(shown_slots(app), expected_slots(app))
