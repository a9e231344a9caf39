"""PaCMAP (the `pacmap` extra, imported when it runs); it reports no progress."""

from __future__ import annotations

import warnings
from typing import TYPE_CHECKING

import numpy as np

from . import registry
from .params import MissingLibraryError
from .pca import reduced

if TYPE_CHECKING:
    from .params import EmbedParams, ProgressFn, StopFn
    from .threads import ThreadLimit


def run(
    features: np.ndarray,
    params: EmbedParams,
    progress: ProgressFn | None,
    stop: StopFn | None,
    limit: ThreadLimit | None = None,
) -> np.ndarray:
    try:
        import pacmap
    except ImportError as exc:
        raise MissingLibraryError(registry.METHODS["pacmap"].missing_message()) from exc
    if limit is not None:
        limit.numba()
    features = reduced(features, params, progress, stop)
    if progress is not None:
        progress(0.0, "PaCMAP (no progress reports)")
    reducer = pacmap.PaCMAP(
        n_components=2,
        n_neighbors=int(params.n_neighbors),
        random_state=int(params.seed),
        # The reduction (if any) is ours, recorded in the key; PaCMAP's own would redo it.
        apply_pca=False,
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        coords = reducer.fit_transform(np.asarray(features, dtype=np.float32), init="pca")
    return np.asarray(coords, dtype=np.float64)
