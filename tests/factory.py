"""The app factory that Pilot tests and snapshot tests share: a fixed embedding, pinned looks."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np

from digitmap_tui.app import DigitmapApp, ExploreOptions
from digitmap_tui.cache import EmbeddingCache
from digitmap_tui.data import load_digits
from digitmap_tui.inputs import Inputs
from digitmap_tui.methods.params import EmbedParams

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
    store: bool = True,
) -> DigitmapApp:
    """An explorer on the built-in digits with the fixed t-SNE map already in its cache.

    With ``precomputed`` the coordinates come in as ``--embedding`` would bring them; otherwise
    they are stored in the (isolated) cache so the app finds them as a user's second start does
    (unless ``store`` is False: then the app computes the embedding itself).
    """
    dataset = load_digits(cache_dir)
    params = EmbedParams(method=method)
    cache = EmbeddingCache(cache_dir)
    xy = fixed_coords() if coords is None else coords
    if not precomputed and store:
        from digitmap_tui.cache import embedding_key

        cache.store(embedding_key(dataset.fingerprint(), params), xy, {"fixture": True})
    inputs = Inputs(
        dataset, params, cache, xy if precomputed else None, "fixed.npy" if precomputed else None
    )
    # Quality figures are off unless asked for: they land in the title a moment later.
    app = DigitmapApp(inputs, replace(options or ExploreOptions(color=True), quality=quality))
    app.theme = "textual-dark"
    return app


def explorer(app: DigitmapApp):
    """The explorer screen (under any dialog)."""
    return app.explorer


def shown_slots(app: DigitmapApp) -> np.ndarray:
    """What the panel shows now."""
    from digitmap_tui.widgets.panel import ImagePanel

    return app.explorer.query_one(ImagePanel).content.slots


def expected_slots(app: DigitmapApp) -> np.ndarray:
    """What the panel must show for the current state, by the seed's rules computed here from
    the plain definitions (no spatial index, no panel plan): an independent check.

    Grid mode: the seed grid of the box (``grid_select``), the marked point in the cell that
    holds it (by floor division), cut to the rows and columns that fit; as mean grid, a custom tile ``-2 - k``
    for each non-empty cell in reading order. List mode, or a picked sub-cluster: the current
    page in list order (``np.argsort(kind="stable")`` on x, y or label), padded with -1.
    """
    from digitmap_tui.analysis import grid_mean_images
    from digitmap_tui.grid import grid_select, inside
    from digitmap_tui.widgets.panel import ImagePanel

    s = app.session
    st = s.state
    panel = app.explorer.query_one(ImagePanel)
    rows_fit, cols_fit = panel.fit()
    coords, labels, box = s.coords, s.labels, s.box  # corrected in a review, as shown
    assert coords is not None
    if st.list_mode or s.subset is not None:
        chosen = np.sort(np.asarray(s.subset if s.subset is not None else inside(coords, box)))
        key = {"x": coords[chosen, 0], "y": coords[chosen, 1]}.get(st.sort)
        if key is None and st.sort == "label" and labels is not None:
            key = labels[chosen]
        if key is not None:
            chosen = chosen[np.argsort(key, kind="stable")]
        per_page = rows_fit * cols_fit
        page = chosen[st.page * per_page : (st.page + 1) * per_page]
        slots = np.full(per_page, -1, dtype=np.int64)
        slots[: len(page)] = page
        return slots.reshape(rows_fit, cols_fit)
    if st.mean_grid:
        _, counts = grid_mean_images(coords, s.dataset.features(), box, *st.grid)
        full = np.full(counts.shape, -1, dtype=np.int64)
        nonempty = np.flatnonzero(counts.ravel() > 0)
        full.ravel()[nonempty] = -2 - np.arange(len(nonempty))
        return full[:rows_fit, :cols_fit]
    grid = grid_select(coords, box, *st.grid)
    mark = st.mark
    if mark is not None and len(inside(coords[mark : mark + 1], box)):
        rows, cols = st.grid
        x, y = coords[mark]
        col = int(min(max((x - box.x0) / box.width * cols, 0), cols - 1))
        row = int(min(max((box.y1 - y) / box.height * rows, 0), rows - 1))
        grid[row, col] = mark
    return grid[:rows_fit, :cols_fit]
