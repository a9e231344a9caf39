"""Smoke tests: the explorer starts, takes a key and draws, through public APIs only.

They are what the minimum-versions CI step runs against the oldest Textual, numpy, Rich ...
that pyproject.toml admits (``.ci/min-versions.txt``), so they use nothing but the app's
constructor, Pilot and the rendered screen: no widget classes, no internals that a rewrite of
the explorer would move.
"""

from __future__ import annotations

import html
import re
from pathlib import Path

import numpy as np
import pytest

from digitmap_tui.app import DigitmapApp, ExploreOptions
from digitmap_tui.cache import EmbeddingCache
from digitmap_tui.data import load_digits
from digitmap_tui.inputs import Inputs
from digitmap_tui.methods.params import EmbedParams

pytestmark = pytest.mark.smoke

#: openTSNE (seed 0) on the digits: the map is given, so nothing is computed.
FIXTURE = Path(__file__).parent / "fixtures" / "digits_tsne_seed0.npy"


def _app(cache_dir) -> DigitmapApp:
    dataset = load_digits(cache_dir)
    coords = np.load(FIXTURE, allow_pickle=False)
    inputs = Inputs(dataset, EmbedParams(), EmbeddingCache(cache_dir), coords, "fixed.npy")
    return DigitmapApp(inputs, ExploreOptions(color=True, quality=False))


def _screen_text(app: DigitmapApp) -> str:
    """The characters on the screen, read from Textual's (public) SVG screenshot."""
    svg = app.export_screenshot()
    return html.unescape(re.sub(r"<[^>]*>", "", svg)).replace("\xa0", " ")


async def test_starts_moves_the_box_on_a_key_and_quits(cache_dir):
    app = _app(cache_dir)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause()
        await pilot.pause()
        before = _screen_text(app)
        assert "1797" in before
        assert "L:" in before  # the panel shows image tiles with their labels
        assert len(app.selection) > 0
        selected = app.selection.copy()
        await pilot.press("right", "right", "right")
        await pilot.pause()
        after = _screen_text(app)
        assert after != before
        assert not np.array_equal(app.selection, selected)
        await pilot.press("q")
        await pilot.pause()
    assert app.return_code in (0, None)


async def test_renders_at_a_small_size(cache_dir):
    app = _app(cache_dir)
    async with app.run_test(size=(60, 16)) as pilot:
        await pilot.pause()
        assert "1797" in _screen_text(app)


@pytest.mark.parametrize(
    "method",
    # UMAP compiles for 25 s to 4 min here: only with -m slow (checked on the floors by hand)
    ["pca", "tsne", pytest.param("umap", marks=pytest.mark.slow)],
)
def test_each_method_embeds_a_small_sample(cache_dir, method):
    from digitmap_tui.methods.compute import compute_embedding

    features = load_digits(cache_dir).features()[:300]
    coords = compute_embedding(features, EmbedParams(method=method, perplexity=20.0))
    assert coords.shape == (300, 2) and np.isfinite(coords).all()
    assert np.ptp(coords[:, 0]) > 0 and np.ptp(coords[:, 1]) > 0
