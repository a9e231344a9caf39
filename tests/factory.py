"""The app factory that Pilot tests and snapshot tests share: a fixed embedding, pinned looks."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np

from digitmap_tui.app import DigitmapApp, ExploreOptions
from digitmap_tui.cache import EmbeddingCache
from digitmap_tui.data import load_digits
from digitmap_tui.embed import EmbedParams
from digitmap_tui.inputs import Inputs

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
    quality: bool = False,
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
    # Quality figures are off unless asked for: they land in the title a moment later.
    app = DigitmapApp(inputs, replace(options or ExploreOptions(color=True), quality=quality))
    app.theme = "textual-dark"
    return app


def expected_slots(app: DigitmapApp) -> np.ndarray:
    """What the panel must show for the current box, by the engine's own rules.

    Grid mode: the seed grid of the box (or, as mean grid, a custom tile ``-2 - k`` for each
    non-empty cell in reading order), cut to the rows that fit. List mode, or a subset shown
    as a list (misfits, a split): the current page in the list order, padded with -1.
    """
    from digitmap_tui.analysis import grid_mean_images
    from digitmap_tui.grid import grid_select, list_select
    from digitmap_tui.widgets.mapview import MapView
    from digitmap_tui.widgets.panel import ImagePanel

    base = app.screen_stack[0]  # the explorer's screen, even under a dialog
    m = base.query_one("#map", MapView)
    panel = base.query_one(ImagePanel)
    rect = m.box_rect()
    coords = app.coords
    labels = app.dataset.labels
    assert coords is not None and rect is not None
    subset = getattr(app, "subset", None)
    if app.list_mode or subset is not None:
        if subset is None:
            chosen = list_select(coords, rect, labels, app.sort)  # type: ignore[arg-type]
        else:
            chosen = np.sort(np.asarray(subset, dtype=np.int64))
            key = {"x": coords[chosen, 0], "y": coords[chosen, 1]}.get(app.sort)
            if key is None and app.sort == "label" and labels is not None:
                key = labels[chosen]
            if key is not None:
                chosen = chosen[np.argsort(key, kind="stable")]
        rows, cols = panel.fit()
        per_page = rows * cols
        page = chosen[app.page * per_page : (app.page + 1) * per_page]
        slots = np.full(per_page, -1, dtype=np.int64)
        slots[: len(page)] = page
        return slots.reshape(rows, cols)
    rows_fit, _ = panel.fit()
    if getattr(app, "mean_grid", False):
        _, counts = grid_mean_images(coords, app.dataset.features(), rect, *app.grid_shape)
        full = np.full(counts.shape, -1, dtype=np.int64)
        nonempty = np.flatnonzero(counts.ravel() > 0)
        full.ravel()[nonempty] = -2 - np.arange(len(nonempty))
        return full[:rows_fit]
    return grid_select(coords, rect, *app.grid_shape)[:rows_fit]
