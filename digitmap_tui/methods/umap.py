"""UMAP by umap-learn (imported when it runs): progress from its epoch bar, cancel between
epochs, and neighbours found by our exact search where that is faster than pynndescent."""

from __future__ import annotations

import re
import sys
import warnings
from typing import TYPE_CHECKING, Any

import numpy as np

from digitmap_tui.errors import Cancelled

from . import numba_cache, registry
from .neighbours import exact_knn, uses_own_knn
from .params import MissingLibraryError
from .pca import reduced

if TYPE_CHECKING:
    from .params import EmbedParams, ProgressFn, StopFn
    from .threads import ThreadLimit

UMAP_IMPORT_PHASE = "importing umap (first run compiles, ~15 s)"


class _TqdmSink:
    """A file for umap's tqdm bar: turns "n/total" writes into progress, and can stop the run."""

    encoding = "utf-8"
    _COUNT = re.compile(r"(\d+)/(\d+)")

    def __init__(
        self, progress: ProgressFn | None, should_stop: StopFn | None, start: float
    ) -> None:
        self.progress = progress
        self.should_stop = should_stop
        self.start = start

    def write(self, text: str) -> int:
        matches = self._COUNT.findall(text)
        if matches and self.progress is not None:
            done, total = (int(v) for v in matches[-1])
            if total > 0:
                self.progress(self.start + (1 - self.start) * done / total, "optimising")
        if self.should_stop is not None and self.should_stop():
            # Raised through tqdm and umap's epoch loop; nothing partial escapes.
            raise Cancelled("UMAP cancelled")
        return len(text)

    def flush(self) -> None:
        pass

    def isatty(self) -> bool:
        return False


def import_umap(progress: ProgressFn | None) -> Any:
    if "umap" not in sys.modules and progress is not None:
        progress(0.0, UMAP_IMPORT_PHASE)
    try:
        # numba first: it is umap-learn's dependency, and the caching patch needs it too.
        if numba_cache.cache_all_functions():
            numba_cache.cache_numba_by_default()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            import umap
    except ImportError as exc:
        missing = f" ({exc.name} is missing)" if exc.name and exc.name != "umap" else ""
        pip = registry.METHODS["umap"].pip
        raise MissingLibraryError(f"UMAP needs umap-learn{missing}: pip install {pip}") from exc
    return umap


def make_reducer(umap: Any, params: EmbedParams, **options: Any) -> Any:
    """The `umap.UMAP` a run (and a placement's refit on its sample) uses, from `params`."""
    return umap.UMAP(
        n_components=2,
        n_neighbors=int(params.n_neighbors),
        min_dist=float(params.min_dist),
        # An explicit seed makes the map reproducible (and cacheable) but umap then runs its
        # optimiser on one thread; we choose reproducibility. n_jobs=1 says so without a warning.
        random_state=int(params.seed),
        n_jobs=1,
        verbose=False,
        **options,
    )


def run(
    features: np.ndarray,
    params: EmbedParams,
    progress: ProgressFn | None,
    stop: StopFn | None,
    limit: ThreadLimit | None = None,
) -> np.ndarray:
    """umap-learn, seeded (so its optimiser runs on one thread), after the PCA reduction; the
    neighbours found on `threads` threads (our exact search, or pynndescent's)."""
    umap = import_umap(progress)
    if limit is not None:
        limit.numba()
    if stop is not None and stop():
        raise Cancelled("UMAP cancelled")
    features = reduced(features, params, progress, stop)
    if progress is not None:
        progress(0.05, "nearest neighbours")
    n, d = features.shape
    knn: tuple[Any, ...] = (None, None, None)
    if uses_own_knn(n, d):
        knn = exact_knn(features, int(params.n_neighbors), stop, params.thread_count())
    start = 0.2
    reducer = make_reducer(
        umap,
        params,
        precomputed_knn=knn,
        # "disable": False shows the epoch bar without verbose=True's prints to stdout.
        tqdm_kwds={
            "disable": False,
            "file": _TqdmSink(progress, stop, start),
            "bar_format": "{n}/{total}",
            "mininterval": 0.05,
            "miniters": 1,
        },
    )
    with warnings.catch_warnings():
        # numba's "cannot cache" notes and umap's advice would land on the TUI's stderr.
        warnings.simplefilter("ignore")
        coords = reducer.fit_transform(np.asarray(features, dtype=np.float32))
    return np.asarray(coords, dtype=np.float64)
