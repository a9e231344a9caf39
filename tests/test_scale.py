"""Scale: MNIST-sized data end to end, and the spatial index behind a million-point map.

Generated data only (no downloads): 70,000 images of 28x28 pixels in a ``.npy`` file, opened
as a user opens theirs, embedded with PCA in the background worker while the progress row is
shown, then explored: the box moves and the panel shows 14-column tiles of the 28x28 images.
"""

from __future__ import annotations

import asyncio
import time

import numpy as np
import pytest

from digitmap_tui.app import DigitmapApp, ExploreOptions
from digitmap_tui.cache import EmbeddingCache
from digitmap_tui.data import load_dataset
from digitmap_tui.grid import PointIndex, bin_points, bounds, list_select
from digitmap_tui.inputs import Inputs
from digitmap_tui.methods.params import EmbedParams
from digitmap_tui.selection import Cells
from digitmap_tui.widgets.status import ProgressLine
from tests.factory import expected_slots, shown_slots

N, SIDE = 70_000, 28


def mnist_like(n: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """(n, 28, 28) uint8 strokes on black whose slant depends on the label, and the labels."""
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, 10, n)
    yy, xx = np.mgrid[0:SIDE, 0:SIDE].astype(np.float32) - (SIDE - 1) / 2
    images = np.empty((n, SIDE, SIDE), dtype=np.uint8)
    for start in range(0, n, 10_000):
        lab = labels[start : start + 10_000]
        angle = (lab * np.pi / 10 + rng.normal(0, 0.1, len(lab))).astype(np.float32)
        d = np.abs(yy * np.cos(angle)[:, None, None] - xx * np.sin(angle)[:, None, None])
        ink = np.clip(2.5 - d, 0, 1) * (np.hypot(yy, xx) < 10)
        images[start : start + 10_000] = (ink * 255).astype(np.uint8)
    return images, labels


async def test_mnist_sized_images_embed_with_progress_and_tiles_that_fit(tmp_path, cache_dir):
    images, labels = mnist_like(N)
    np.save(tmp_path / "images.npy", images)
    np.save(tmp_path / "labels.npy", labels)
    dataset = load_dataset(tmp_path / "images.npy", labels=str(tmp_path / "labels.npy"))
    assert isinstance(dataset.images, np.memmap)  # 55 MB: mapped, not read
    inputs = Inputs(dataset, EmbedParams(method="pca"), EmbeddingCache(cache_dir), None, None)
    app = DigitmapApp(inputs, ExploreOptions(color=True, glyphs="blocks", quality=False))
    app.theme = "textual-dark"
    async with app.run_test(size=(120, 40)) as pilot:
        progress_seen = []
        deadline = time.monotonic() + 120
        s = app.session
        while not s.ready and time.monotonic() < deadline:
            bar = app.explorer.query_one(ProgressLine)
            if bar.has_class("running") and bar.display:
                progress_seen.append(bar.label)
            await asyncio.sleep(0.05)
        assert s.ready, "PCA of 70,000 images did not finish"
        assert progress_seen and "PCA" in progress_seen[0]
        await pilot.pause()
        e = app.explorer
        panel = e.panel
        e.go_to(0)  # strokes embed as a ring: start the box on points
        await pilot.pause()
        start = s.box
        px, py = Cells(s.view, *e.map.map_size).pitch
        await pilot.press("right", "right", "down")
        await pilot.pause()
        assert s.box.x0 == pytest.approx(start.x0 + 2 * px)
        assert s.box.y0 == pytest.approx(start.y0 - py)
        assert np.array_equal(shown_slots(app), expected_slots(app))
        assert len(app.selection) == len(list_select(s.coords, s.box))
        # 28x28 pixels downsampled to half blocks that fit four columns in the panel (tiles
        # at most half of 120 columns): 14 columns x 7 rows, under a header; no tile is cut.
        assert (panel.tile_cols, panel.tile_rows) == (14, 7)
        assert 4 * (panel.tile_cols + 1) - 1 <= panel.size.width
        shown = [int(i) for i in shown_slots(app).ravel() if i >= 0]
        assert shown
        tile = panel.tile(shown[0])
        assert len(tile) == 8
        assert all(sum(len(seg.text) for seg in line) == 14 for line in tile)
        assert any("▀" in seg.text or "▄" in seg.text for line in tile[1:] for seg in line)
        # the map's bins are the definition's, from the index built once for these points
        w, h = e.map.map_size
        expected = bin_points(s.coords, dataset.labels, s.view, w, h, dataset.n_labels)
        assert e.map._binned is not None
        assert np.array_equal(e.map._binned.counts, expected.counts)


def test_index_at_a_million_points_agrees_with_the_full_pass():
    rng = np.random.default_rng(3)
    centres = rng.normal(size=(10, 2)) * 20
    labels = rng.integers(0, 10, 1_000_000)
    xy = centres[labels] + rng.normal(size=(1_000_000, 2)) * 3
    index = PointIndex(xy, labels, 10)
    view = bounds(xy)
    for v in (view, view.__class__(view.x0 / 3, view.x1 / 4, view.y0 / 5, view.y1 / 2)):
        a = index.bin(v, 80, 37)
        b = bin_points(xy, labels, v, 80, 37, 10)
        assert np.array_equal(a.counts, b.counts) and np.array_equal(a.majority, b.majority)
        assert np.array_equal(a.purity, b.purity)
