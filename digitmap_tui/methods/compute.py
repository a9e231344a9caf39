"""Embedding methods behind one call: `compute_embedding`, and the instant PCA `preview_coords`.

Importing this module is cheap: scikit-learn, openTSNE, umap and numba are imported only
inside the runner of the method that needs them (named in the registry), so a start-up with a
cached embedding never pays for them.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from digitmap_tui.errors import Cancelled, InputError

from .params import EmbedParams, ProgressFn, StopFn
from .pca import fit_pca, sample_rows, take_rows
from .registry import MIN_POINTS, Method
from .threads import ThreadLimit

_CHUNK_ROWS = 8192  # rows checked for NaN at a time

Runner = Callable[..., np.ndarray]
"""``run(features, params, progress, stop, limit) -> (N, 2)``: one method's code."""


def runner(method: Method) -> Runner:
    """The function that runs `method`: ``registry`` names it as ``"module:function"``
    (``".tsne:run"``: a module of this package), imported on first use (its library with it)."""
    module, _, name = method.runner.partition(":")
    found: Runner = getattr(importlib.import_module(module, "digitmap_tui.methods"), name)
    return found


def _row_chunks(n: int) -> range:
    return range(0, n, _CHUNK_ROWS)


def as_features(features: Any) -> np.ndarray:
    array = features if isinstance(features, np.ndarray) else np.asarray(features)
    if array.ndim != 2:
        raise InputError(f"features must be a 2-D array (N, D), got shape {array.shape}")
    if array.shape[1] == 0:
        raise InputError("features have no columns (shape (N, 0))")
    if not (np.issubdtype(array.dtype, np.number) and not np.iscomplexobj(array)):
        raise InputError(f"features must be real numbers, got dtype {array.dtype}")
    if np.issubdtype(array.dtype, np.floating):
        for start in _row_chunks(array.shape[0]):
            if not np.isfinite(array[start : start + _CHUNK_ROWS]).all():
                raise InputError("features contain NaN or infinite values")
    return array


def compute_embedding(
    features: Any,
    params: EmbedParams,
    progress: ProgressFn | None = None,
    should_stop: StopFn | None = None,
) -> np.ndarray:
    """Embed (N, D) `features` into (N, 2) float64 coordinates with `params.method`.

    `auto` runs the method `params.choose(N)` picks. t-SNE, UMAP and PaCMAP first reduce data
    wider than `params.pca_dims` to that many principal components, and run on
    `params.thread_count()` threads (BLAS and numba pools held to it for the run).
    `progress(fraction, phase)` is called with non-decreasing fractions ending at 1.0.
    `should_stop()` is polled where the library allows (t-SNE every 10 iterations, UMAP every
    epoch); when it returns True, `Cancelled` is raised and no coordinates are returned.
    Bad input raises `InputError`; a missing library `MissingLibraryError` (an ImportError).
    """
    array = as_features(features)
    params = params.choose(array.shape[0])
    params.validate(array.shape[0])
    report = _monotonic(progress)
    if should_stop is not None and should_stop():
        raise Cancelled(f"{params.entry.label} cancelled")
    with ThreadLimit(params.thread_count()) as limit:
        coords = runner(params.entry)(array, params, report, should_stop, limit)
    coords = np.ascontiguousarray(coords, dtype=np.float64)
    if coords.shape != (array.shape[0], 2) or not np.isfinite(coords).all():
        raise InputError(
            f"{params.describe()} produced unusable coordinates (shape {coords.shape}, "
            "non-finite values?); the data may be degenerate"
        )
    report(1.0, "done")
    return coords


def preview_coords(features: Any, max_fit_rows: int = 5_000, seed: int = 0) -> Preview:
    """A 2-D PCA map of `features` within seconds at any N, for showing while a method runs.

    Up to `max_fit_rows` points it is exactly the `pca` method's map; above, the two
    components are fitted on a seeded sample of that many rows and every row is projected in
    float32 (in chunks: a memory-mapped file is never converted whole). Pass the images as
    they are (e.g. `dataset.images.reshape(n, -1)`, uint8), not a float copy. Raises
    `InputError` on unusable features, like `compute_embedding`.
    """
    array = as_features(features)
    n = int(array.shape[0])
    if n < MIN_POINTS:
        raise InputError(f"PCA needs at least {MIN_POINTS} points, the data has {n}")
    rows = sample_rows(n, max_fit_rows, seed)
    # One BLAS thread: these products are small, and on busy cores two threads made the fit
    # 5x slower (measured: 2.5-3.7 s against 0.5 s for 5,000 x 784 on 2 shared cores).
    with ThreadLimit(1):
        fit_on = array if rows.size == n else take_rows(array, rows)
        basis = fit_pca(fit_on, 2, seed=seed)
        if rows.size == n:  # the whole data: exactly the `pca` method's map
            return Preview(basis.project(array, np.float64, width=2), n, n)
        coords = basis.project(array, np.float32, width=2).astype(np.float64)  # float32: a preview
    return Preview(coords, int(rows.size), n)


@dataclass(frozen=True)
class Preview:
    """An instant PCA map: `coords` (N, 2), its components fitted on `fitted_on` of `n` rows."""

    coords: np.ndarray
    fitted_on: int
    n: int

    def describe(self) -> str:
        """E.g. "PCA preview" or "PCA preview (fitted on 20,000 of 70,000 points)"."""
        if self.fitted_on >= self.n:
            return "PCA preview"
        return f"PCA preview (fitted on {self.fitted_on:,} of {self.n:,} points)"


def _monotonic(progress: ProgressFn | None) -> ProgressFn:
    """Wrap `progress` so fractions never go backwards and stay within 0..1."""
    best = 0.0

    def report(fraction: float, phase: str) -> None:
        nonlocal best
        best = max(best, min(max(float(fraction), 0.0), 1.0))
        if progress is not None:
            progress(best, phase)

    return report
