"""Embedding methods (PCA, t-SNE, UMAP, optional PaCMAP) behind one call.

Importing this module is cheap: scikit-learn, openTSNE, umap and numba are imported only
inside the method that needs them, so a start-up with a cached embedding never pays for them.
"""

from __future__ import annotations

import functools
import importlib.util
import inspect
import math
import os
import re
import sys
import types
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from .errors import InputError

ProgressFn = Callable[[float, str], None]
"""Progress callback: (fraction done 0..1, phase text)."""

StopFn = Callable[[], bool]
"""Polled during long runs; returning True stops the run with `Cancelled`."""

BASE_METHODS: tuple[str, ...] = ("pca", "tsne", "umap")


def _pacmap_available() -> bool:
    # find_spec locates the package without importing it (PaCMAP pulls in numba too).
    try:
        return importlib.util.find_spec("pacmap") is not None
    except (ImportError, ValueError):
        return False


METHODS: tuple[str, ...] = BASE_METHODS + (("pacmap",) if _pacmap_available() else ())

MIN_POINTS = 5
"""Fewer points than this cannot make a meaningful map with any method."""

MAX_SEED = 2**32 - 1  # numpy's RandomState, used by openTSNE and umap, takes 32-bit seeds

_LABELS = {"pca": "PCA", "tsne": "t-SNE", "umap": "UMAP", "pacmap": "PaCMAP"}

# Distributions whose versions change the coordinates a method produces (cache key).
_DISTRIBUTIONS = {
    "pca": ("numpy",),
    "tsne": ("openTSNE",),
    "umap": ("umap-learn", "pynndescent", "numba"),
    "pacmap": ("pacmap",),
}

# What `pip install` needs for each method's library.
_PIP_NAMES = {"tsne": "openTSNE", "umap": "umap-learn", "pacmap": "pacmap"}

UMAP_IMPORT_PHASE = "importing umap (first run compiles, ~15 s)"

# Below this many matrix elements PCA runs an SVD of the centred data; above it, the
# eigenvectors of the D x D covariance accumulated in row chunks, so 70,000 x 784 never
# needs a centred float64 copy (440 MB) plus the same again for U.
_SVD_MAX_ELEMENTS = 4_000_000
_CHUNK_ROWS = 8192

# umap-learn finds neighbours exactly below 4096 points and with pynndescent above. The
# pynndescent path compiles ~20 s of numba code in every fresh process (its functions take
# other jitted functions as arguments, which numba cannot cache), so up to this much work
# (N*N*D multiply-adds, a few seconds of BLAS) we find the exact neighbours ourselves.
# Measured, fresh process, 5,391 points: 4.7 s vs 27.4 s, same trustworthiness (0.995).
# Changing these limits changes UMAP results: bump cache.CACHE_FORMAT_VERSION.
_UMAP_OWN_KNN_MAX_POINTS = 20_000
_UMAP_OWN_KNN_MAX_WORK = 1e11
_UMAP_OWN_KNN_MIN_POINTS = 4096  # below this umap is exact and fast already


class Cancelled(Exception):
    """The run was stopped on request; no (partial) embedding is returned."""


class MissingLibraryError(ImportError, InputError):
    """An optional embedding library is not installed; the message says what to pip install."""


def available_methods() -> tuple[str, ...]:
    """The methods that can run here (PaCMAP only when its package is installed)."""
    return METHODS


def _check_method(method: object) -> str:
    if method == "pacmap" and "pacmap" not in METHODS:
        raise InputError("method 'pacmap' needs the pacmap package: pip install pacmap")
    if not isinstance(method, str) or method not in METHODS:
        raise InputError(f"unknown method {method!r} (choose from {', '.join(METHODS)})")
    return method


def _is_int(value: object) -> bool:
    return isinstance(value, (int, np.integer)) and not isinstance(value, (bool, np.bool_))


def _is_real(value: object) -> bool:
    return _is_int(value) or (isinstance(value, (float, np.floating)) and math.isfinite(value))


@dataclass(frozen=True)
class EmbedParams:
    """Which method to run and its parameters; stored as given, checked by `validate`."""

    method: str = "tsne"
    seed: int = 0
    perplexity: float = 30.0
    n_neighbors: int = 15
    min_dist: float = 0.1

    def validate(self, n: int) -> None:
        """Raise `InputError` (one line) unless the method can run on `n` points."""
        method = _check_method(self.method)
        label = _LABELS[method]
        if n < MIN_POINTS:
            raise InputError(f"{label} needs at least {MIN_POINTS} points, the data has {n}")
        if method == "pca":
            return  # PCA has no parameters and no randomness
        if not _is_int(self.seed) or not 0 <= self.seed <= MAX_SEED:
            raise InputError(f"seed must be an integer from 0 to {MAX_SEED}, got {self.seed!r}")
        if method == "tsne":
            perplexity = self.perplexity
            if not _is_real(perplexity) or perplexity <= 0:
                raise InputError(f"perplexity must be a number > 0, got {perplexity!r}")
            # openTSNE asks for int(3 * perplexity) neighbours; zero of them fails deep inside
            # its neighbour search (affinity.PerplexityBasedNN), after seconds of work.
            if int(3 * perplexity) < 1:
                raise InputError(
                    f"perplexity {perplexity:g} is too small (t-SNE needs perplexity >= 1/3:"
                    " each point needs 3 x perplexity neighbours)"
                )
            # openTSNE refuses 3 * perplexity >= N - 1 (each point needs 3*perplexity neighbours).
            limit = (n - 1) / 3
            if perplexity >= limit:
                raise InputError(
                    f"perplexity {perplexity:g} is too large for {n} points "
                    f"(t-SNE needs perplexity < (N-1)/3 = {limit:.4g})"
                )
        if method in ("umap", "pacmap"):
            k = self.n_neighbors
            if not _is_int(k) or not 2 <= k <= n - 1:
                raise InputError(
                    f"n_neighbors must be an integer from 2 to N-1 = {n - 1}, got {k!r}"
                )
        if method == "umap":
            # umap also needs min_dist <= spread; we keep its default spread of 1.0.
            d = self.min_dist
            if not _is_real(d) or not 0 <= d <= 1:
                raise InputError(f"min_dist must be a number from 0 to 1, got {d!r}")

    def relevant(self) -> dict[str, object]:
        """The parameters the method uses (seed included where it matters), canonical types."""
        method = self.method
        if method == "tsne":
            return {"perplexity": float(self.perplexity), "seed": int(self.seed)}
        if method == "umap":
            return {
                "n_neighbors": int(self.n_neighbors),
                "min_dist": float(self.min_dist),
                "seed": int(self.seed),
            }
        if method == "pacmap":
            return {"n_neighbors": int(self.n_neighbors), "seed": int(self.seed)}
        return {}  # PCA is deterministic: no parameters, no seed

    def describe(self) -> str:
        """A short human label, e.g. "t-SNE perplexity 30 seed 0"."""
        label = _LABELS.get(self.method, str(self.method))
        words = [label]
        for name, value in self.relevant().items():
            words += [name, f"{value:g}" if isinstance(value, float) else str(value)]
        return " ".join(words)


def library_version(method: str) -> str:
    """The versions of the libraries behind `method`, e.g. "openTSNE 1.0.4", without importing them."""
    from importlib.metadata import PackageNotFoundError, version

    if method not in _DISTRIBUTIONS:
        raise InputError(f"unknown method {method!r} (choose from {', '.join(METHODS)})")
    parts = []
    for dist in _DISTRIBUTIONS[method]:
        try:
            parts.append(f"{dist} {version(dist)}")
        except PackageNotFoundError:
            parts.append(f"{dist} not installed")
    return ", ".join(parts)


# --- numba's on-disk cache -------------------------------------------------------------------

_cache_all_numba_functions = False


def uses_numba(method: str) -> bool:
    """Whether `method` runs on numba (and so profits from `enable_numba_cache`)."""
    return method in ("umap", "pacmap")


def numba_cache_problem(directory: Path | str) -> str | None:
    """Why numba's cache in `directory` must not be used, or None if it may.

    numba's index files (``.nbi``) and compiled code (``.nbc``) are pickles that numba loads,
    i.e. runs: anyone who can write one of them runs code as the user. So the directory, every
    directory above it and every file in it must be ours and writable by us alone
    (:func:`digitmap_tui.fileio.tree_trust_problem`).
    """
    from digitmap_tui.fileio import tree_trust_problem

    return tree_trust_problem(Path(directory))


def enable_numba_cache(directory: Path | str) -> bool:
    """Keep numba's compiled code under `directory` so that a fresh process skips UMAP's JIT.

    Must run before numba is imported (numba reads NUMBA_CACHE_DIR once, at import); returns
    False when it is too late, and when :func:`numba_cache_problem` finds the directory
    untrusted (numba then compiles afresh). A NUMBA_CACHE_DIR the user set is kept. Also makes
    the UMAP path cache every numba function (see `_cache_numba_by_default`): umap-learn
    itself marks one function `cache=True` (pynndescent marks many), so a cache directory
    alone saves the import (~10 s) but not the compiling on every first fit. Measured, fresh process, UMAP on
    digits, medians of 3 on 2 cores: 10.7 s as shipped, 4.5 s with everything cached (24.5 s
    the very first time, while the cache fills).
    """
    global _cache_all_numba_functions
    if "numba" in sys.modules:
        return False
    if numba_cache_problem(directory) is not None:
        return False
    os.environ.setdefault("NUMBA_CACHE_DIR", str(directory))
    _cache_all_numba_functions = True
    return True


def _cache_numba_by_default() -> None:
    """Make numba.njit / numba.jit default to cache=True from now on (idempotent).

    Applied only when `enable_numba_cache` chose the cache directory, i.e. in our own worker
    or CLI process. Functions without a source file on disk are left alone (numba cannot
    locate a cache for them and would raise).
    """
    import numba

    def caching(decorator: Callable[..., Any]) -> Callable[..., Any]:
        if getattr(decorator, "_digitmap_caching", False):
            return decorator

        def options_for(func: Any, kwargs: dict[str, Any]) -> dict[str, Any]:
            code = getattr(func, "__code__", None)
            if code is not None and os.path.isfile(code.co_filename):
                return {"cache": True, **kwargs}
            return kwargs

        @functools.wraps(decorator)
        def patched(*args: Any, **kwargs: Any) -> Any:
            if "cache" in kwargs:
                return decorator(*args, **kwargs)
            if args and inspect.isfunction(args[0]):  # numba.njit(func, ...)
                return decorator(*args, **options_for(args[0], kwargs))

            def apply(func: Any) -> Any:  # @numba.njit(...) / @numba.njit("sig")
                return decorator(*args, **options_for(func, kwargs))(func)

            return apply

        patched._digitmap_caching = True  # type: ignore[attr-defined]
        return patched

    numba.njit = caching(numba.njit)
    numba.jit = caching(numba.jit)


# --- the methods -----------------------------------------------------------------------------


def _row_chunks(n: int) -> range:
    return range(0, n, _CHUNK_ROWS)


def _as_features(features: Any) -> np.ndarray:
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


def _orient(components: np.ndarray) -> np.ndarray:
    """Flip each component so its largest-magnitude loading is positive.

    SVD/eigh may return either sign; fixing it makes the same data give the same picture
    (and matches scikit-learn's svd_flip convention).
    """
    components = components.copy()
    for row in components:
        if row[np.argmax(np.abs(row))] < 0:
            row *= -1
    return components


def _pca(features: np.ndarray) -> np.ndarray:
    n, d = features.shape
    mean = np.zeros(d)
    for start in _row_chunks(n):
        mean += features[start : start + _CHUNK_ROWS].sum(axis=0, dtype=np.float64)
    mean /= n
    if n * d <= _SVD_MAX_ELEMENTS:
        centred = np.asarray(features, dtype=np.float64) - mean
        _, _, vt = np.linalg.svd(centred, full_matrices=False)
        components = vt[:2]
    else:
        cov = np.zeros((d, d))
        for start in _row_chunks(n):
            chunk = np.asarray(features[start : start + _CHUNK_ROWS], dtype=np.float64) - mean
            cov += chunk.T @ chunk
        values, vectors = np.linalg.eigh(cov)
        order = np.argsort(values)[::-1][:2]
        components = vectors[:, order].T
    components = _orient(components)
    coords = np.zeros((n, 2))
    for start in _row_chunks(n):
        chunk = np.asarray(features[start : start + _CHUNK_ROWS], dtype=np.float64) - mean
        coords[start : start + _CHUNK_ROWS, : components.shape[0]] = chunk @ components.T
    return coords


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


def _tsne(
    features: np.ndarray, params: EmbedParams, progress: ProgressFn | None, stop: StopFn | None
) -> np.ndarray:
    try:
        from openTSNE import TSNE
    except ImportError as exc:
        raise MissingLibraryError(
            f"t-SNE needs openTSNE: pip install {_PIP_NAMES['tsne']}"
        ) from exc
    early, main = 250, 500  # openTSNE's defaults, spelled out for the progress fraction
    monitor = _TSNEMonitor([(early, "early exaggeration"), (main, "optimising")], progress, stop)
    tsne = TSNE(
        n_components=2,
        perplexity=float(params.perplexity),
        early_exaggeration_iter=early,
        n_iter=main,
        random_state=int(params.seed),
        # One thread: openTSNE's result depends on the thread count (measured: n_jobs=1 and 2
        # differ), so a fixed count keeps a seed's picture the same on every machine; and
        # on 2 busy cores n_jobs=2 ran 1.5-5x slower than 1 (3.7 s vs 5.4-18 s on digits).
        n_jobs=1,
        callbacks=monitor,
        callbacks_every_iters=10,
        verbose=False,
    )
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


def _import_umap(progress: ProgressFn | None) -> Any:
    if "umap" not in sys.modules and progress is not None:
        progress(0.0, UMAP_IMPORT_PHASE)
    try:
        # numba first: it is umap-learn's dependency, and the caching patch needs it too.
        if _cache_all_numba_functions:
            _cache_numba_by_default()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            import umap
    except ImportError as exc:
        missing = f" ({exc.name} is missing)" if exc.name and exc.name != "umap" else ""
        raise MissingLibraryError(
            f"UMAP needs umap-learn{missing}: pip install {_PIP_NAMES['umap']}"
        ) from exc
    return umap


def _exact_knn(features: np.ndarray, k: int, stop: StopFn | None) -> tuple[np.ndarray, np.ndarray]:
    """The k nearest neighbours of every row (itself first), as umap's precomputed_knn wants."""
    n = features.shape[0]
    x = np.asarray(features, dtype=np.float32)
    norms = np.einsum("ij,ij->i", x, x)
    indices = np.empty((n, k), dtype=np.int64)
    dists = np.empty((n, k), dtype=np.float32)
    block = 1024
    for start in range(0, n, block):
        if stop is not None and stop():
            raise Cancelled("UMAP cancelled")
        rows = np.arange(start, min(start + block, n))
        d2 = norms[rows, None] - 2 * (x[rows] @ x.T) + norms[None, :]
        d2[np.arange(len(rows)), rows] = -1.0  # each point is its own first neighbour
        part = np.argpartition(d2, k - 1, axis=1)[:, :k]
        part_d2 = np.take_along_axis(d2, part, axis=1)
        order = np.lexsort((part, part_d2), axis=1)  # by distance, ties by index
        indices[rows] = np.take_along_axis(part, order, axis=1)
        dists[rows] = np.sqrt(np.maximum(np.take_along_axis(part_d2, order, axis=1), 0))
    return indices, dists


def _umap(
    features: np.ndarray, params: EmbedParams, progress: ProgressFn | None, stop: StopFn | None
) -> np.ndarray:
    umap = _import_umap(progress)
    if stop is not None and stop():
        raise Cancelled("UMAP cancelled")
    if progress is not None:
        progress(0.05, "nearest neighbours")
    n, d = features.shape
    knn: tuple[Any, ...] = (None, None, None)
    if (
        _UMAP_OWN_KNN_MIN_POINTS <= n <= _UMAP_OWN_KNN_MAX_POINTS
        and float(n) * n * d <= _UMAP_OWN_KNN_MAX_WORK
    ):
        knn = _exact_knn(features, int(params.n_neighbors), stop)
    start = 0.2
    reducer = umap.UMAP(
        n_components=2,
        n_neighbors=int(params.n_neighbors),
        min_dist=float(params.min_dist),
        # An explicit seed makes the map reproducible (and cacheable) but umap then runs its
        # optimiser on one thread; we choose reproducibility. n_jobs=1 says so without a warning.
        random_state=int(params.seed),
        n_jobs=1,
        precomputed_knn=knn,
        verbose=False,
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


def _pacmap(features: np.ndarray, params: EmbedParams, progress: ProgressFn | None) -> np.ndarray:
    try:
        import pacmap
    except ImportError as exc:
        raise MissingLibraryError("PaCMAP needs pacmap: pip install pacmap") from exc
    if progress is not None:
        progress(0.0, "PaCMAP (no progress reports)")
    reducer = pacmap.PaCMAP(
        n_components=2, n_neighbors=int(params.n_neighbors), random_state=int(params.seed)
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        coords = reducer.fit_transform(np.asarray(features, dtype=np.float32), init="pca")
    return np.asarray(coords, dtype=np.float64)


def compute_embedding(
    features: Any,
    params: EmbedParams,
    progress: ProgressFn | None = None,
    should_stop: StopFn | None = None,
) -> np.ndarray:
    """Embed (N, D) `features` into (N, 2) float64 coordinates with `params.method`.

    `progress(fraction, phase)` is called with non-decreasing fractions ending at 1.0.
    `should_stop()` is polled where the library allows (t-SNE every 10 iterations, UMAP every
    epoch); when it returns True, `Cancelled` is raised and no coordinates are returned.
    Bad input raises `InputError`; a missing library `MissingLibraryError` (an ImportError).
    """
    array = _as_features(features)
    params.validate(array.shape[0])
    report = _monotonic(progress)
    if should_stop is not None and should_stop():
        raise Cancelled(f"{_LABELS[params.method]} cancelled")
    if params.method == "pca":
        report(0.0, "PCA")
        coords = _pca(array)
    elif params.method == "tsne":
        coords = _tsne(array, params, report, should_stop)
    elif params.method == "umap":
        coords = _umap(array, params, report, should_stop)
    else:
        coords = _pacmap(array, params, report)
    coords = np.ascontiguousarray(coords, dtype=np.float64)
    if coords.shape != (array.shape[0], 2) or not np.isfinite(coords).all():
        raise InputError(
            f"{params.describe()} produced unusable coordinates (shape {coords.shape}, "
            "non-finite values?); the data may be degenerate"
        )
    report(1.0, "done")
    return coords


def _monotonic(progress: ProgressFn | None) -> ProgressFn:
    """Wrap `progress` so fractions never go backwards and stay within 0..1."""
    best = 0.0

    def report(fraction: float, phase: str) -> None:
        nonlocal best
        best = max(best, min(max(float(fraction), 0.0), 1.0))
        if progress is not None:
            progress(best, phase)

    return report


# --- `from digitmap_tui import embed` --------------------------------------------------------


class _EmbedModule(types.ModuleType):
    """This module is also the API's ``embed`` function (``digitmap_tui.api.embed``).

    The public API is ``from digitmap_tui import embed``, and ``digitmap_tui.embed`` is this
    module: whichever is imported first, the package attribute ends up as the module, so the
    module itself is made callable rather than letting import order decide what a name means.
    """

    def __call__(self, *args: Any, **kwargs: Any) -> np.ndarray:
        from digitmap_tui.api import embed

        return embed(*args, **kwargs)

    @property
    def __signature__(self) -> inspect.Signature:
        from digitmap_tui.api import embed

        return inspect.signature(embed)


sys.modules[__name__].__class__ = _EmbedModule
