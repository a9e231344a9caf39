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
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np

from .errors import InputError

ProgressFn = Callable[[float, str], None]
"""Progress callback: (fraction done 0..1, phase text)."""

StopFn = Callable[[], bool]
"""Polled during long runs; returning True stops the run with `Cancelled`."""

BASE_METHODS: tuple[str, ...] = ("pca", "tsne", "umap")
AUTO = "auto"
"""The method name that picks t-SNE or a faster method by the number of points."""


def _pacmap_available() -> bool:
    # find_spec locates the package without importing it (PaCMAP pulls in numba too).
    try:
        return importlib.util.find_spec("pacmap") is not None
    except (ImportError, ValueError):
        return False


METHODS: tuple[str, ...] = (*BASE_METHODS, "pacmap")
"""Every method by name; PaCMAP needs the `pacmap` extra (checked when it is asked for)."""

MIN_POINTS = 5
"""Fewer points than this cannot make a meaningful map with any method."""

MAX_SEED = 2**32 - 1  # numpy's RandomState, used by openTSNE and umap, takes 32-bit seeds

DEFAULT_PCA_DIMS = 50
"""t-SNE, UMAP and PaCMAP first reduce wider data to this many principal components (the
standard practice for pixel data: Kobak & Berens 2019, openTSNE's documentation)."""

MAX_THREADS = 1024

# `--method auto`: t-SNE up to this many points, UMAP above. Where the two take as long, end
# to end on MNIST-like 28x28 images on 2 cores (t-SNE / UMAP with numba's cache filled:
# 6.6 / 17 s at 2,000 points, 14 / 13 s at 5,000, 50 / 19 s at 10,000, 68 / 20 s at 20,000,
# 90 / 35 s at 40,000). Changing it changes which method `auto` runs, never what a named
# method computes.
AUTO_TSNE_MAX_POINTS = 5_000

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

_CHUNK_ROWS = 8192  # rows checked for NaN at a time

# umap-learn finds neighbours exactly below 4096 points and with pynndescent above. The
# pynndescent path compiles ~20 s of numba code in every fresh process (its functions take
# other jitted functions as arguments, which numba cannot cache), so up to this much work
# (N*N*D multiply-adds, D after the PCA reduction) we find the exact neighbours ourselves,
# on every thread. Measured (benchmarks/knn.py, PCA-50 features of the MNIST-like set, 2 busy
# cores), exact vs pynndescent in a fresh process: 20,000 points 4.2 s vs 58 s; 40,000:
# 19 s vs 57 s; 60,000: 32 s vs 33 s; 70,000: 62 s vs 39 s. Exact stops at 60,000.
# Changing these limits changes UMAP results: bump cache.CACHE_FORMAT_VERSION.
_UMAP_OWN_KNN_MAX_POINTS = 60_000
_UMAP_OWN_KNN_MAX_WORK = 2e11
_UMAP_OWN_KNN_MIN_POINTS = 4096  # below this umap is exact and fast already


class Cancelled(Exception):
    """The run was stopped on request; no (partial) embedding is returned."""


class MissingLibraryError(ImportError, InputError):
    """An optional embedding library is not installed; the message says what to pip install."""


PACMAP_MISSING = "method 'pacmap' needs the pacmap extra: pip install 'digitmap-tui[pacmap]'"


def available_methods() -> tuple[str, ...]:
    """The methods that can run here (PaCMAP only when its package is installed)."""
    return tuple(m for m in METHODS if m != "pacmap" or _pacmap_available())


def default_threads() -> int:
    """The threads a run uses unless told: $DIGITMAP_THREADS when it is a whole number >= 1
    (e.g. on a shared machine), else the cores this process may use (its CPU affinity)."""
    env = os.environ.get("DIGITMAP_THREADS", "").strip()
    if env.isascii() and env.isdigit() and 1 <= int(env) <= MAX_THREADS:
        return int(env)
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):  # not on Linux
        return max(1, os.cpu_count() or 1)


def auto_method(n: int) -> str:
    """What `--method auto` runs on `n` points: t-SNE up to AUTO_TSNE_MAX_POINTS, then UMAP."""
    return "tsne" if n <= AUTO_TSNE_MAX_POINTS else "umap"


def _check_method(method: object) -> str:
    if method == "pacmap" and not _pacmap_available():
        raise MissingLibraryError(PACMAP_MISSING)
    if not isinstance(method, str) or method not in METHODS:
        raise InputError(f"unknown method {method!r} (choose from {', '.join((AUTO, *METHODS))})")
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
    pca_dims: int = DEFAULT_PCA_DIMS  # 0: never reduce first
    threads: int | None = None  # None: every core this process may use (`default_threads`)
    auto_choice: str = ""  # the method `auto` chose ("" when the user named one)

    def choose(self, n: int) -> EmbedParams:
        """These parameters with `auto` replaced by the method it picks for `n` points."""
        if self.method != AUTO:
            return self
        method = auto_method(n)
        return replace(self, method=method, auto_choice=method)

    def resolved(self, n: int) -> EmbedParams:
        """`choose(n)` with the thread count made explicit: what a run records and describes."""
        chosen = self.choose(n)
        return chosen if chosen.threads is not None else replace(chosen, threads=default_threads())

    def thread_count(self) -> int:
        """The threads a run uses: `threads`, or every core this process may use."""
        return default_threads() if self.threads is None else int(self.threads)

    def validate(self, n: int) -> None:
        """Raise `InputError` (one line) unless the method can run on `n` points."""
        if self.method == AUTO:
            self.choose(n).validate(n)
            return
        method = _check_method(self.method)
        label = _LABELS[method]
        if n < MIN_POINTS:
            raise InputError(f"{label} needs at least {MIN_POINTS} points, the data has {n}")
        if self.threads is not None and (
            not _is_int(self.threads) or not 1 <= self.threads <= MAX_THREADS
        ):
            raise InputError(
                f"threads must be an integer from 1 to {MAX_THREADS}, got {self.threads!r}"
            )
        if method == "pca":
            return  # PCA has no parameters and no randomness
        k = self.pca_dims
        if not _is_int(k) or not (k == 0 or 2 <= k <= 10_000):
            raise InputError(f"pca_dims must be 0 (off) or an integer from 2 to 10000, got {k!r}")
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
        """Everything that changes the method's coordinates, in canonical types (the cache key).

        The seed where it matters; the PCA reduction and the thread count for the methods
        whose result depends on them (openTSNE's does; the kNN of UMAP and PaCMAP run on as
        many threads). `threads` None counts as `default_threads()`.
        """
        method = self.method
        if method == "tsne":
            found: dict[str, object] = {
                "perplexity": float(self.perplexity),
                "seed": int(self.seed),
            }
        elif method == "umap":
            found = {
                "n_neighbors": int(self.n_neighbors),
                "min_dist": float(self.min_dist),
                "seed": int(self.seed),
            }
        elif method == "pacmap":
            found = {"n_neighbors": int(self.n_neighbors), "seed": int(self.seed)}
        else:
            return {}  # PCA is deterministic: no parameters, no seed, any threads
        found["pca_dims"] = int(self.pca_dims)
        found["threads"] = self.thread_count()
        return found

    def describe(self) -> str:
        """A short human label, e.g. "t-SNE perplexity 30 seed 0".

        Settings left at their defaults stay out of it (the PCA reduction to 50, all cores);
        an explicit thread count, another reduction and a choice made by `auto` are shown:
        "t-SNE perplexity 30 seed 0 threads 2 (auto)".
        """
        if self.method == AUTO:
            return f"auto (t-SNE up to {AUTO_TSNE_MAX_POINTS:,} points, UMAP above)"
        label = _LABELS.get(self.method, str(self.method))
        words = [label]
        hidden = ("pca_dims", "threads")
        for name, value in self.relevant().items():
            if name not in hidden:
                words += [name, f"{value:g}" if isinstance(value, float) else str(value)]
        if self.method != "pca":
            if self.pca_dims != DEFAULT_PCA_DIMS:
                words += ["pca", str(self.pca_dims) if self.pca_dims else "off"]
            if self.threads is not None:
                words += ["threads", str(self.threads)]
        if self.auto_choice and self.auto_choice == self.method:
            words.append("(auto)")
        return " ".join(words)


def library_version(method: str) -> str:
    """The versions of the libraries behind `method`, e.g. "openTSNE 1.0.4", without importing them."""
    from importlib.metadata import PackageNotFoundError, version

    if method not in _DISTRIBUTIONS:
        raise InputError(f"unknown method {method!r} (choose from {', '.join((AUTO, *METHODS))})")
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


def _pca(features: np.ndarray, stop: StopFn | None = None) -> np.ndarray:
    """The 2-D PCA map; memory bounded by the data's size (see `digitmap_tui.pca`)."""
    from .pca import fit_pca

    return fit_pca(features, 2, stop=stop).project(features, np.float64, width=2)


def reduces(params: EmbedParams, n: int, d: int) -> bool:
    """Whether `params.method` first reduces (n, d) data to `params.pca_dims` components."""
    k = params.pca_dims
    return params.method != "pca" and k > 0 and d > k and n > k


def _reduced(
    features: np.ndarray, params: EmbedParams, progress: ProgressFn | None, stop: StopFn | None
) -> np.ndarray:
    """The features the method runs on: the top `pca_dims` principal components when the data
    is wider (float64), else the features themselves."""
    n, d = features.shape
    if not reduces(params, n, d):
        return features
    from .pca import fit_pca

    if progress is not None:
        progress(0.0, f"PCA to {params.pca_dims} dimensions")
    basis = fit_pca(features, params.pca_dims, seed=int(params.seed), stop=stop)
    return basis.project(features, np.float64)


class _ThreadLimit:
    """Hold BLAS/OpenMP pools (and numba, once imported) to `threads` for one run.

    Results of the threaded libraries can depend on the thread count, which is therefore
    part of the cache key; fixing the pools here makes the count the key says the one used.
    """

    def __init__(self, threads: int) -> None:
        self.threads = threads
        self._limits: Any = None
        self._numba_before: int | None = None

    def __enter__(self) -> _ThreadLimit:
        try:
            from threadpoolctl import threadpool_limits
        except ImportError:  # scikit-learn depends on it; without it the pools stay as they are
            return self
        self._limits = threadpool_limits(limits=self.threads)
        return self

    def numba(self) -> None:
        """Apply the limit to numba's pool too (call after numba is imported)."""
        numba = sys.modules.get("numba")
        if numba is None:
            return
        try:
            self._numba_before = int(numba.get_num_threads())
            numba.set_num_threads(min(self.threads, int(numba.config.NUMBA_NUM_THREADS)))
        except (AttributeError, ValueError):
            self._numba_before = None

    def __exit__(self, *exc: object) -> None:
        if self._limits is not None:
            self._limits.unregister()
        if self._numba_before is not None:
            sys.modules["numba"].set_num_threads(self._numba_before)


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
    """openTSNE's TSNE.fit with its defaults, on `threads` threads, after the PCA reduction."""
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
    features = _reduced(features, params, progress, stop)
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


def _exact_knn(
    features: np.ndarray, k: int, stop: StopFn | None, threads: int = 1
) -> tuple[np.ndarray, np.ndarray]:
    """The k nearest neighbours of every row (itself first), as umap's precomputed_knn wants.

    Exact, by blocks of rows (BLAS for the distances, argpartition for the nearest), the
    blocks shared among `threads` threads (numpy releases the GIL in both). The answer does
    not depend on the thread count: every block is computed the same way.
    """
    n = features.shape[0]
    x = np.asarray(features, dtype=np.float32)
    norms = np.einsum("ij,ij->i", x, x)
    indices = np.empty((n, k), dtype=np.int64)
    dists = np.empty((n, k), dtype=np.float32)
    block = 1024

    def one_block(start: int) -> None:
        if stop is not None and stop():
            raise Cancelled("UMAP cancelled")
        rows = np.arange(start, min(start + block, n))
        d2 = x[rows] @ x.T
        d2 *= -2
        d2 += norms[None, :]
        d2 += norms[rows, None]
        d2[np.arange(len(rows)), rows] = -1.0  # each point is its own first neighbour
        part = np.argpartition(d2, k - 1, axis=1)[:, :k]
        part_d2 = np.take_along_axis(d2, part, axis=1)
        order = np.lexsort((part, part_d2), axis=1)  # by distance, ties by index
        indices[rows] = np.take_along_axis(part, order, axis=1)
        dists[rows] = np.sqrt(np.maximum(np.take_along_axis(part_d2, order, axis=1), 0))

    starts = range(0, n, block)
    if threads <= 1:
        for start in starts:
            one_block(start)
    else:
        from concurrent.futures import ThreadPoolExecutor

        with ThreadPoolExecutor(max_workers=threads) as pool:
            for future in [pool.submit(one_block, start) for start in starts]:
                future.result()  # re-raises Cancelled from any block
    return indices, dists


def _uses_own_knn(n: int, d: int) -> bool:
    return (
        _UMAP_OWN_KNN_MIN_POINTS <= n <= _UMAP_OWN_KNN_MAX_POINTS
        and float(n) * n * d <= _UMAP_OWN_KNN_MAX_WORK
    )


def _umap(
    features: np.ndarray,
    params: EmbedParams,
    progress: ProgressFn | None,
    stop: StopFn | None,
    limit: _ThreadLimit | None = None,
) -> np.ndarray:
    """umap-learn, seeded (so its optimiser runs on one thread), after the PCA reduction; the
    neighbours found on `threads` threads (our exact search, or pynndescent's)."""
    umap = _import_umap(progress)
    if limit is not None:
        limit.numba()
    if stop is not None and stop():
        raise Cancelled("UMAP cancelled")
    features = _reduced(features, params, progress, stop)
    if progress is not None:
        progress(0.05, "nearest neighbours")
    n, d = features.shape
    knn: tuple[Any, ...] = (None, None, None)
    if _uses_own_knn(n, d):
        knn = _exact_knn(features, int(params.n_neighbors), stop, params.thread_count())
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


def _pacmap(
    features: np.ndarray,
    params: EmbedParams,
    progress: ProgressFn | None,
    stop: StopFn | None,
    limit: _ThreadLimit | None = None,
) -> np.ndarray:
    try:
        import pacmap
    except ImportError as exc:
        raise MissingLibraryError(PACMAP_MISSING) from exc
    if limit is not None:
        limit.numba()
    features = _reduced(features, params, progress, stop)
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
    array = _as_features(features)
    params = params.choose(array.shape[0])
    params.validate(array.shape[0])
    report = _monotonic(progress)
    if should_stop is not None and should_stop():
        raise Cancelled(f"{_LABELS[params.method]} cancelled")
    with _ThreadLimit(params.thread_count()) as limit:
        if params.method == "pca":
            report(0.0, "PCA")
            coords = _pca(array, should_stop)
        elif params.method == "tsne":
            coords = _tsne(array, params, report, should_stop)
        elif params.method == "umap":
            coords = _umap(array, params, report, should_stop, limit)
        else:
            coords = _pacmap(array, params, report, should_stop, limit)
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
    from .pca import fit_pca, sample_rows, take_rows

    array = _as_features(features)
    n = int(array.shape[0])
    if n < MIN_POINTS:
        raise InputError(f"PCA needs at least {MIN_POINTS} points, the data has {n}")
    rows = sample_rows(n, max_fit_rows, seed)
    # One BLAS thread: these products are small, and on busy cores two threads made the fit
    # 5x slower (measured: 2.5-3.7 s against 0.5 s for 5,000 x 784 on 2 shared cores).
    with _ThreadLimit(1):
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
