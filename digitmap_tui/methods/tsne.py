"""t-SNE by openTSNE (imported when it runs), with progress and cancel through its callbacks."""

from __future__ import annotations

import warnings
from typing import TYPE_CHECKING, Any

import numpy as np

from digitmap_tui.errors import Cancelled

from . import registry
from .params import MissingLibraryError
from .pca import reduced

if TYPE_CHECKING:
    from .params import EmbedParams, ProgressFn, StopFn
    from .threads import ThreadLimit


class _TSNEMonitor:
    """openTSNE callback: maps the exaggeration and main phases onto one 0..1 fraction."""

    def __init__(
        self,
        phases: list[tuple[int, str]],
        progress: ProgressFn | None,
        should_stop: StopFn | None,
    ) -> None:
        self.phases = phases
        self.total = sum(iters for iters, _ in phases)
        self.phase = -1
        self.done_before = 0
        self.progress = progress
        self.should_stop = should_stop
        self.stopped = False

    def optimization_about_to_start(self) -> None:
        # openTSNE calls this before each optimize() run; iteration counts restart at 0.
        if self.phase >= 0:
            self.done_before += self.phases[self.phase][0]
        self.phase = min(self.phase + 1, len(self.phases) - 1)
        self._report(0)

    def _report(self, iteration: int) -> None:
        if self.progress is not None:
            done = min(self.done_before + iteration, self.total)
            self.progress(done / self.total, self.phases[self.phase][1])

    def __call__(self, iteration: int, error: float, embedding: Any) -> bool:
        self._report(iteration)
        if self.should_stop is not None and self.should_stop():
            self.stopped = True
        return self.stopped


def run(
    features: np.ndarray,
    params: EmbedParams,
    progress: ProgressFn | None,
    stop: StopFn | None,
    limit: ThreadLimit | None = None,
) -> np.ndarray:
    """openTSNE's TSNE.fit with its defaults, on `threads` threads, after the PCA reduction."""
    try:
        from openTSNE import TSNE
    except ImportError as exc:
        raise MissingLibraryError(registry.METHODS["tsne"].missing_message()) from exc
    early, main = 250, 500  # openTSNE's defaults, spelled out for the progress fraction
    monitor = _TSNEMonitor([(early, "early exaggeration"), (main, "optimising")], progress, stop)
    tsne = TSNE(
        n_components=2,
        perplexity=float(params.perplexity),
        early_exaggeration_iter=early,
        n_iter=main,
        # openTSNE's recommended set-up, spelled out: PCA initialisation (its default: the top
        # two components rescaled to std 1e-4), on the PCA-reduced data `_reduced` gives it.
        initialization="pca",
        random_state=int(params.seed),
        # openTSNE's result depends on the thread count (measured: n_jobs=1 and 2 differ), so
        # the count is part of the cache key and the description rather than pinned to one.
        n_jobs=params.thread_count(),
        callbacks=monitor,
        callbacks_every_iters=10,
        verbose=False,
    )
    features = reduced(features, params, progress, stop)
    if progress is not None:
        progress(0.0, "nearest neighbours")
    with warnings.catch_warnings():
        # Degenerate data makes openTSNE's PCA init divide by zero; we report that ourselves.
        warnings.simplefilter("ignore")
        embedding = tsne.fit(np.asarray(features, dtype=np.float64))
    if monitor.stopped:
        # openTSNE returns the partial embedding when a callback stops it: never use it.
        raise Cancelled("t-SNE cancelled")
    return np.asarray(embedding, dtype=np.float64)
