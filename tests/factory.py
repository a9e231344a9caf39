"""The app factory that Pilot tests and snapshot tests share: a fixed embedding, pinned looks."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from digitmap_tui.app import DigitmapApp, ExploreOptions
from digitmap_tui.cache import EmbeddingCache
from digitmap_tui.cli import Inputs
from digitmap_tui.data import load_digits
from digitmap_tui.embed import EmbedParams

FIXTURES = Path(__file__).parent / "fixtures"
#: openTSNE (seed 0) on the digits, rounded to 4 decimals: a fixed picture for every test.
TSNE_FIXTURE = FIXTURES / "digits_tsne_seed0.npy"


def fixed_coords() -> np.ndarray:
    return np.load(TSNE_FIXTURE, allow_pickle=False)


def make_app(
    cache_dir: Path,
    options: ExploreOptions | None = None,
    coords: np.ndarray | None = None,
    *,
    precomputed: bool = False,
    method: str = "tsne",
) -> DigitmapApp:
    """An explorer on the built-in digits with the fixed t-SNE map already in its cache.

    With ``precomputed`` the coordinates come in as ``--embedding`` would bring them; otherwise
    they are stored in the (isolated) cache so the app finds them as a user's second start does.
    """
    dataset = load_digits(cache_dir)
    params = EmbedParams(method=method)
    cache = EmbeddingCache(cache_dir)
    xy = fixed_coords() if coords is None else coords
    if not precomputed:
        from digitmap_tui.cache import embedding_key

        cache.store(embedding_key(dataset.fingerprint(), params), xy, {"fixture": True})
    inputs = Inputs(
        dataset, params, cache, xy if precomputed else None, "fixed.npy" if precomputed else None
    )
    app = DigitmapApp(inputs, options or ExploreOptions(color=True))
    app.theme = "textual-dark"
    return app
