"""Scale: MNIST-sized data end to end, and the spatial index behind a million-point map.

Generated data only (no downloads): 70,000 images of 28x28 pixels in a ``.npy`` file, opened
as a user opens theirs, embedded with PCA in the background worker while the progress row is
shown, then explored: the box moves and the panel shows 14-column tiles of the 28x28 images.
"""

from __future__ import annotations

import asyncio
import time

import numpy as np

from digitmap_tui.app import DigitmapApp, ExploreOptions
from digitmap_tui.cache import EmbeddingCache
from digitmap_tui.data import load_dataset
from digitmap_tui.embed import EmbedParams
from digitmap_tui.grid import PointIndex, bin_points, bounds, list_select
from digitmap_tui.inputs import Inputs
from digitmap_tui.widgets.mapview import MapView
from digitmap_tui.widgets.panel import ImagePanel
from tests.factory import expected_slots

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


async def test_mnist_sized_images_embed_with_progress_and_show_14_column_tiles(tmp_path, cache_dir):
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
        while app.coords is None and time.monotonic() < deadline:
            row = app.query_one("#progress-row")
            if row.has_class("running") and row.display:
                progress_seen.append(str(app.query_one("#progress-label").render()))
            await asyncio.sleep(0.05)
        assert app.coords is not None, "PCA of 70,000 images did not finish"
        assert progress_seen and "PCA" in progress_seen[0]
        await pilot.pause()
        m = app.query_one(MapView)
        panel = app.query_one(ImagePanel)
        m.center_on_point(0)  # strokes embed as a ring: start the box on points
        await pilot.pause()
        start = m.box
        assert start is not None
        await pilot.press("right", "right", "down")
        await pilot.pause()
        assert m.box is not None
        assert (m.box.col, m.box.row) == (start.col + 2, start.row + 1)
        assert np.array_equal(panel.content.slots, expected_slots(app))
        rect = m.box_rect()
        assert rect is not None
        assert len(app.selection) == len(list_select(app.coords, rect))
        # 28x28 pixels downsampled to 14 columns x 7 rows of half blocks, under a header.
        assert (panel.tile_cols, panel.tile_rows) == (14, 7)
        shown = [int(i) for i in panel.content.slots.ravel() if i >= 0]
        assert shown
        tile = panel.tile(shown[0])
        assert len(tile) == 8
        assert all(sum(len(s.text) for s in line) == 14 for line in tile)
        assert any("▀" in s.text or "▄" in s.text for line in tile[1:] for s in line)
        # the map's bins are the definition's, from the index built once for these points
        w, h = m.map_size
        expected = bin_points(app.coords, dataset.labels, m.view, w, h, dataset.n_labels)
        assert m._binned is not None
        assert np.array_equal(m._binned.counts, expected.counts)


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
