"""Insight in the app: misfits, inspector, split, mean grid, twin map, quality (real keys)."""

from __future__ import annotations

import json

import numpy as np

from digitmap_tui.analysis import grid_mean_images, knn_accuracy, misfits, pixel_neighbours
from digitmap_tui.cache import embedding_key
from digitmap_tui.cli import main
from digitmap_tui.grid import inside
from digitmap_tui.methods.params import EmbedParams
from digitmap_tui.suspects import suspects
from digitmap_tui.widgets.insight import InspectorScreen, SplitScreen
from digitmap_tui.widgets.screens import ChoiceScreen
from tests.factory import TSNE_FIXTURE, fixed_coords, make_app, shown_slots


async def _settle(app, pilot) -> None:
    await app.workers.wait_for_complete()
    await pilot.pause()


async def test_next_misfit_jumps_to_a_point_unlike_its_neighbours(cache_dir):
    """n/N step through the misfits most suspicious first, as ``render --misfits`` lists them."""
    app = make_app(cache_dir)
    ds = app.session.dataset
    expected = misfits(fixed_coords(), ds.labels, k=10)
    rank = suspects(ds.images, fixed_coords(), ds.labels).rank()
    expected.sort(key=lambda f: rank[f.index])
    assert [f.index for f in expected][:2] == [1553, 1662]  # the two top suspects
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause()
        await pilot.press("right_parenthesis")
        await _settle(app, pilot)
        s = app.session
        assert s.state.mark == expected[0].index
        assert expected[0].index in inside(s.coords, s.box)
        assert expected[0].index in shown_slots(app)
        await pilot.press("right_parenthesis", "left_parenthesis", "left_parenthesis")
        await pilot.pause()
        assert s.state.mark == expected[-1].index


async def test_misfit_list_has_the_seed_three_among_the_sevens(cache_dir):
    app = make_app(cache_dir)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause()
        await pilot.press("M")
        await _settle(app, pilot)
        assert isinstance(app.screen, ChoiceScreen)
        row = next(r for r in app.screen.rows if r.startswith("#1118 "))
        assert "label 3 → 7?" in row and "score  0.61" in row and "neighbours 7" in row
        assert app.screen.rows[0].startswith("#1553 "), "most suspicious first"
        i = app.screen.rows.index(row)
        await pilot.press(*(["down"] * i), "enter")
        await pilot.pause()
        assert app.session.state.mark == 1118
        assert 1118 in app.selection


async def test_misfit_highlight_toggles(cache_dir):
    app = make_app(cache_dir)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause()
        await pilot.press("exclamation_mark")
        await _settle(app, pilot)
        expected = sorted(f.index for f in misfits(fixed_coords(), app.session.dataset.labels))
        assert sorted(app.explorer.map.frame.highlight.tolist()) == expected
        await pilot.press("escape")
        await pilot.pause()
        assert app.explorer.map.frame.highlight is None


async def test_render_misfits_json_lists_1118(cache_dir, capsys):
    assert main(["render", "--embedding", str(TSNE_FIXTURE), "--misfits", "--json"]) == 0
    record = json.loads(capsys.readouterr().out)
    by_index = {m["index"]: m for m in record["misfits"]}
    assert by_index[1118]["label"] == 3 and by_index[1118]["neighbour_label"] == 7
    assert record["count"] == len(misfits(fixed_coords(), _digits_labels(cache_dir)))


def _digits_labels(cache_dir):
    from digitmap_tui.data import load_digits

    return load_digits(cache_dir).labels


async def test_inspector_shows_pixel_neighbours_and_marks_them(cache_dir):
    app = make_app(cache_dir)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause()
        await pilot.press("i", *"1118", "enter")
        await pilot.pause()
        await pilot.press("v")
        await pilot.pause()
        assert isinstance(app.screen, InspectorScreen)
        assert app.screen.index == 1118
        near = pixel_neighbours(app.session.dataset.features(), 1118, k=8)
        assert [n[0] for n in app.screen.neighbours] == near.tolist()
        assert sorted(app.explorer.map.frame.highlight.tolist()) == sorted(near.tolist())
        await pilot.press("escape")
        await pilot.pause()
        assert not isinstance(app.screen, InspectorScreen)
        assert app.explorer.map.frame.highlight is None


async def test_split_the_ones_and_pick_a_sub_cluster(cache_dir):
    app = make_app(cache_dir)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause()
        await pilot.press("c", "1", "enter")
        await pilot.pause()
        ones = app.selection
        assert (app.session.dataset.labels[ones] == 1).mean() > 0.8
        await pilot.press("percent_sign")
        await _settle(app, pilot)
        assert isinstance(app.screen, SplitScreen)
        clusters = app.screen.clusters
        assert len(clusters) > 1
        means = [c["mean"] for c in clusters]
        assert max(np.abs(means[0] - m).max() for m in means[1:]) > 2.0  # different shapes
        await pilot.press("2")
        await pilot.pause()
        members = np.asarray(app.explorer.last_split.clusters[1].members)
        s = app.session
        assert s.subset is not None and sorted(s.subset.tolist()) == sorted(members.tolist())
        assert app.explorer.plan.title.startswith("sub-cluster 2/")
        shown = shown_slots(app)
        assert set(shown[shown >= 0].tolist()) <= set(members.tolist())
        assert sorted(app.explorer.map.frame.highlight.tolist()) == sorted(members.tolist())
        await pilot.press("escape")
        await pilot.pause()
        assert s.subset is None


async def test_mean_grid_shows_each_cells_mean_image(cache_dir):
    app = make_app(cache_dir)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause()
        await pilot.press("L", "L", "J", "a")
        await pilot.pause()
        s = app.session
        means, counts = grid_mean_images(s.coords, s.dataset.features(), s.box, *s.state.grid)
        content = app.explorer.plan
        assert content.title.startswith("mean grid")
        shown = 0
        for (r, c), slot in np.ndenumerate(content.slots):
            if counts[r, c]:
                image, header = content.custom[-2 - slot]
                assert header == f"n={int(counts[r, c])}"
                assert np.allclose(image.reshape(-1), means[r, c])
                shown += 1
            else:
                assert slot == -1
        assert shown > 0
        await pilot.press("a")
        await pilot.pause()
        assert app.explorer.plan.title.startswith("grid")


async def test_twin_map_links_the_selection(cache_dir):
    app = make_app(cache_dir)
    # The twin's UMAP map, already in the cache (a fixed stand-in: the mirrored t-SNE map).
    other = fixed_coords() * np.array([-1.0, 1.0])
    app.inputs.cache.store(
        embedding_key(app.session.dataset.fingerprint(), EmbedParams(method="umap")), other, {}
    )
    async with app.run_test(size=(160, 40)) as pilot:
        await pilot.pause()
        await pilot.press("w")
        await _settle(app, pilot)
        e = app.explorer
        twin = e.twin
        assert e.twin_method == "umap" and twin.display
        assert np.array_equal(twin.frame.index.xy, other)
        assert sorted(twin.frame.highlight.tolist()) == sorted(app.selection.tolist())
        # A mirror keeps every neighbourhood.
        assert e.twin_overlap is not None and np.allclose(e.twin_overlap, 1.0)
        await pilot.press("l", "l")
        await pilot.pause()
        assert sorted(twin.frame.highlight.tolist()) == sorted(app.selection.tolist())
        assert "twin: umap" in e.query_one("#coords").plain
        await pilot.press("w")
        await pilot.pause()
        assert e.twin_method is None and not twin.display


async def test_quality_figures_in_the_title_and_cached(cache_dir):
    app = make_app(cache_dir, quality=True)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause()
        await _settle(app, pilot)
        title = app.explorer.query_one("#title").plain
        assert "trustworthiness 0.99" in title
        acc = knn_accuracy(fixed_coords(), app.session.dataset.labels, k=10)
        assert f"10-NN accuracy {acc:.1%}" in title
    files = list((cache_dir / "embeddings").glob("*.quality.json"))
    assert len(files) == 1
    assert json.loads(files[0].read_text())["knn_accuracy"] == acc
