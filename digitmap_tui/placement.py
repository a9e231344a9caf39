"""Embeddings of data too large for one fit: fit on a sample, place the rest in chunks.

``digitmap embed --data big.npy --fit-sample M --out coords.npy`` fits the method on a seeded
random sample of M rows and places every other row with the library's own ``transform``
(openTSNE's ``TSNEEmbedding.transform``, umap-learn's ``UMAP.transform``; for PCA the
projection itself), chunk by chunk, in local processes or on a Dask cluster.

The data is never loaded whole: the parent reads one chunk at a time through a short-lived
memory map (so its pages leave the process with it), projects it onto the sample's principal
components and hands the small (rows, 50) block to a worker. Ten million 28 x 28 images
(7.8 GB of uint8) thus cost a few hundred MB in every process.

Resumable. Work goes to ``<out>.parts/`` next to ``--out``: ``manifest.json`` (what is being
computed: the source file's identity, the method and every parameter), the fitted model as
plain ``.npy`` arrays, and one ``chunk-<i>.npy`` per finished chunk, each written atomically.
A rerun with the same settings keeps the finished chunks and computes only the rest; another
setting is refused (or, with ``--force``, started afresh). At the end the coordinates are
written to ``--out`` atomically and the work directory is removed.

No pickle from disk. Nothing here is ever stored as a pickle, and a library's model is never
saved: the fitted state kept between runs is the sample's row numbers, its principal
components and its 2-D coordinates, all ``np.load(..., allow_pickle=False)``. Each worker
rebuilds what the library's ``transform`` needs from them, deterministically:

* t-SNE: a ``TSNEEmbedding`` of the stored sample coordinates with affinities recomputed from
  the sample's features (openTSNE's Annoy index, seeded, one thread); ``transform`` uses only
  that index and the fixed reference coordinates, never the sample's own affinities;
* UMAP: a refit on the sample with the same seed (umap-learn seeded runs on one thread and is
  deterministic); the worker checks that its refit matches the stored coordinates and refuses
  to place anything if it does not (e.g. another umap-learn version);
* PCA: the stored mean and components.

A chunk's coordinates depend only on the model and the chunk's rows (fixed by
``chunk_rows``), never on which worker ran it or how many there were, so a resumed run
gives the same file as an uninterrupted one. Models reach Dask workers through Dask's own
serialisation (in memory, over the cluster's connections), never through a file.
"""

from __future__ import annotations

import json
import math
import os
import shutil
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np

from .errors import InputError
from .methods import registry
from .methods.compute import compute_embedding
from .methods.params import EmbedParams, MissingLibraryError, library_version
from .methods.pca import reduces
from .methods.registry import MIN_POINTS
from .text import either, safe

FORMAT = 1
PARTS_SUFFIX = ".parts"
MANIFEST = "manifest.json"
DEFAULT_CHUNK_ROWS = 10_000
DASK_MISSING = "--dask needs the dask extra: pip install 'digitmap-tui[dask]'"
_MANIFEST_MAX_BYTES = 1 << 20
_MODEL_FILES = ("sample_rows", "sample_coords", "pca_mean", "pca_components")


def placeable_methods() -> tuple[str, ...]:
    """The methods that can place new rows onto a fitted map (the registry says which)."""
    return tuple(m.name for m in registry.iter_methods() if m.placeable)


PlacementProgress = Callable[[int, int, str], None]
"""Progress callback: (chunks done, chunks in all, phase text)."""


# --- the source: rows read as short-lived memory maps ----------------------------------------


@dataclass(frozen=True)
class RowSource:
    """The rows of an `.npy` or uncompressed IDX file, read chunk by chunk."""

    path: Path
    offset: int
    dtype: np.dtype[Any]
    n: int
    row_shape: tuple[int, ...]

    @property
    def d(self) -> int:
        """Values per row (e.g. 784 for 28 x 28 images)."""
        return int(math.prod(self.row_shape))

    def read(self, start: int, stop: int) -> np.ndarray:
        """Rows [start, stop) as an (m, D) array of the file's dtype (a copy)."""
        m = max(0, min(stop, self.n) - start)
        if m == 0 or self.d == 0:
            return np.empty((m, self.d), dtype=self.dtype)
        row_bytes = self.d * self.dtype.itemsize
        mapped = np.memmap(
            self.path, dtype=self.dtype, mode="r", offset=self.offset + start * row_bytes,
            shape=(m, self.d),
        )  # fmt: skip
        rows = np.array(mapped)
        del mapped  # the last reference: the pages are unmapped now, not at some later GC
        return rows

    def take(self, rows: np.ndarray, block: int = DEFAULT_CHUNK_ROWS) -> np.ndarray:
        """The sorted `rows`, read window by window."""
        out = np.empty((rows.size, self.d), dtype=self.dtype)
        done = 0
        while done < rows.size:
            lo = int(rows[done])
            upto = int(np.searchsorted(rows, lo + block, side="left"))
            window = self.read(lo, min(lo + block, self.n))
            out[done:upto] = window[rows[done:upto] - lo]
            done = upto
        return out

    def identity(self) -> dict[str, object]:
        """What names this data in a manifest: the file, its size and time, shape and dtype."""
        stat = self.path.stat()
        return {
            "path": str(self.path),
            "size": stat.st_size,
            "mtime_ns": stat.st_mtime_ns,
            "n": self.n,
            "row_shape": list(self.row_shape),
            "dtype": self.dtype.str,
        }


def open_rows(path: str | Path) -> RowSource:
    """Open an `.npy` (C order, numbers, (N, D) or (N, H, W)) or uncompressed IDX file."""
    path = Path(path).expanduser().absolute()
    shown = safe(str(path))
    if not path.is_file():
        raise InputError(f"{shown}: no such file")
    name = path.name.lower()
    try:
        with open(path, "rb") as handle:
            if name.endswith(".npy"):
                dtype, shape, offset = _npy_header(handle, shown)
            elif name.endswith((".gz", ".npz", ".csv", ".txt")):
                raise InputError(
                    f"{shown}: --fit-sample reads .npy or uncompressed IDX files chunk by "
                    "chunk; convert this file to .npy first"
                )
            else:
                from .data import _idx_header

                dtype, shape, offset = _idx_header(handle.read(20), shown)
                dtype = dtype.newbyteorder("=") if dtype.itemsize == 1 else dtype
    except OSError as exc:
        raise InputError(f"{shown}: cannot read: {exc.strerror or exc}") from exc
    if dtype.kind not in "uif" or dtype.hasobject:
        raise InputError(f"{shown}: images must be numbers, got dtype {dtype}")
    if len(shape) not in (2, 3) or shape[0] == 0 or math.prod(shape[1:]) == 0:
        raise InputError(f"{shown}: expected (N, D) or (N, H, W) images, got shape {shape}")
    need = offset + math.prod(shape) * dtype.itemsize
    if path.stat().st_size < need:
        raise InputError(f"{shown}: truncated: shape {shape} needs {need} bytes")
    return RowSource(path, offset, dtype, int(shape[0]), tuple(int(v) for v in shape[1:]))


def _npy_header(handle: Any, shown: str) -> tuple[np.dtype[Any], tuple[int, ...], int]:
    fmt = np.lib.format
    try:
        version = fmt.read_magic(handle)
        if version == (1, 0):
            shape, fortran, dtype = fmt.read_array_header_1_0(handle)
        else:
            shape, fortran, dtype = fmt.read_array_header_2_0(handle)
    except (ValueError, OSError) as exc:
        raise InputError(f"{shown}: not a readable .npy file ({exc})".splitlines()[0]) from exc
    if fortran:
        raise InputError(f"{shown}: Fortran-ordered .npy; save it with np.ascontiguousarray")
    return np.dtype(dtype), tuple(int(v) for v in shape), int(handle.tell())


# --- the model: plain arrays, rebuilt into a library object in each worker -------------------


@dataclass
class PlacementModel:
    """What placing a chunk needs: the method, the sample's reduced features and coordinates.

    Only arrays and numbers: stored as `.npy` between runs and shipped to Dask workers in
    memory. `sample_features` are the sample rows in the reduced space the chunks arrive in.
    """

    params: EmbedParams
    sample_features: np.ndarray
    sample_coords: np.ndarray
    token: str = ""  # names this model, so a worker builds its placer once


_PLACERS: dict[str, Callable[[np.ndarray], np.ndarray]] = {}


def _placer(model: PlacementModel) -> Callable[[np.ndarray], np.ndarray]:
    """The library object that places new rows, built once per process and model."""
    found = _PLACERS.get(model.token)
    if found is None:
        _PLACERS.clear()  # one model at a time per worker
        found = _build_placer(model)
        _PLACERS[model.token] = found
    return found


def _build_placer(model: PlacementModel) -> Callable[[np.ndarray], np.ndarray]:
    import warnings

    params = model.params
    if params.method == "tsne":
        from openTSNE import TSNEEmbedding
        from openTSNE.affinity import PerplexityBasedNN

        # transform() asks the index for 3 x 5 (its perplexity) and 25 neighbours of each new
        # row; the sample's own affinities are never used, so the cheapest perplexity will do.
        perplexity = min(5.0, (model.sample_features.shape[0] - 2) / 3)
        affinities = PerplexityBasedNN(
            np.ascontiguousarray(model.sample_features, dtype=np.float64),
            perplexity=perplexity,
            method="annoy",
            n_jobs=1,
            random_state=int(params.seed),
        )
        reference = TSNEEmbedding(
            np.array(model.sample_coords, dtype=np.float64),
            affinities,
            random_state=int(params.seed),
            n_jobs=1,
        )

        def place_tsne(rows: np.ndarray) -> np.ndarray:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                placed = reference.transform(np.ascontiguousarray(rows, dtype=np.float64))
            return np.asarray(placed, dtype=np.float64)

        return place_tsne
    if params.method == "umap":
        reducer = _fit_umap(model.sample_features, params)
        refit = np.asarray(reducer.embedding_, dtype=np.float64)
        scale = max(1.0, float(np.abs(model.sample_coords).max()))
        if refit.shape != model.sample_coords.shape or not np.allclose(
            refit, model.sample_coords, atol=1e-6 * scale
        ):
            raise InputError(
                "UMAP refitted on the sample differs from the stored fit (another umap-learn "
                "or numba?); remove the .parts directory and run again"
            )

        def place_umap(rows: np.ndarray) -> np.ndarray:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                placed = reducer.transform(np.asarray(rows, dtype=np.float32))
            return np.asarray(placed, dtype=np.float64)

        return place_umap
    raise ValueError(f"no placer for {params.method!r}")


def _fit_umap(features: np.ndarray, params: EmbedParams) -> Any:
    """umap-learn fitted on `features` with its own neighbour index (transform needs it)."""
    import warnings

    from .methods.umap import import_umap, make_reducer

    reducer = make_reducer(import_umap(None), params)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        reducer.fit(np.asarray(features, dtype=np.float32))
    return reducer


def place_chunk(model: PlacementModel, rows: np.ndarray) -> np.ndarray:
    """(m, 2) coordinates of `rows` (reduced features) placed onto the model's embedding."""
    if rows.shape[0] == 0:
        return np.empty((0, 2))
    return _placer(model)(rows)


# --- local worker processes ------------------------------------------------------------------

_LOCAL_MODEL: PlacementModel | None = None


def _worker_init(model: PlacementModel, numba_dir: str | None) -> None:
    global _LOCAL_MODEL
    _die_with_parent()
    devnull = os.open(os.devnull, os.O_RDWR)  # library prints must not reach the terminal
    for fd in (0, 1, 2):
        os.dup2(devnull, fd)
    os.close(devnull)
    if numba_dir is not None:
        from .methods.numba_cache import enable_numba_cache

        enable_numba_cache(numba_dir)
    _LOCAL_MODEL = model


def _worker_place(index: int, rows: np.ndarray) -> tuple[int, np.ndarray]:
    assert _LOCAL_MODEL is not None
    return index, place_chunk(_LOCAL_MODEL, rows)


def _die_with_parent() -> None:
    """Linux: a worker gets SIGTERM when the parent dies (a dropped session leaves none)."""
    if not sys.platform.startswith("linux"):
        return
    try:
        import ctypes
        import signal

        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(1, int(signal.SIGTERM))  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass


class _LocalRunner:
    """A spawn process pool of `workers` processes, each holding the model."""

    def __init__(self, model: PlacementModel, workers: int, numba_dir: str | None) -> None:
        import multiprocessing
        from concurrent.futures import ProcessPoolExecutor

        context = multiprocessing.get_context("spawn")
        self._before = set(multiprocessing.active_children())
        self.pool = ProcessPoolExecutor(
            workers, mp_context=context, initializer=_worker_init, initargs=(model, numba_dir)
        )
        self.capacity = 2 * workers

    def submit(self, index: int, rows: np.ndarray) -> Any:
        return self.pool.submit(_worker_place, index, rows)

    def wait_one(self, pending: list[Any]) -> tuple[Any, tuple[int, np.ndarray]]:
        from concurrent.futures import FIRST_COMPLETED, wait
        from concurrent.futures.process import BrokenProcessPool

        future = next(iter(wait(pending, return_when=FIRST_COMPLETED).done))
        try:
            return future, future.result()
        except BrokenProcessPool:
            raise RuntimeError(
                "a placement worker process died (out of memory?); run again to continue"
            ) from None

    def close(self, ok: bool) -> None:
        import multiprocessing

        if ok:
            self.pool.shutdown(wait=True)
            return
        # Interrupted or failed: stop the workers now rather than after their current chunk.
        self.pool.shutdown(wait=False, cancel_futures=True)
        for child in set(multiprocessing.active_children()) - self._before:
            child.terminate()
        for child in set(multiprocessing.active_children()) - self._before:
            child.join(2.0)
            if child.is_alive():
                child.kill()


def require_dask() -> None:
    """Raise `MissingLibraryError` naming the extra unless dask.distributed can be imported."""
    import importlib.util

    try:
        found = importlib.util.find_spec("distributed") is not None
    except (ImportError, ValueError):
        found = False
    if not found:
        raise MissingLibraryError(DASK_MISSING)


class _DaskRunner:
    """Chunks as tasks on a Dask cluster; the model scattered once to every worker."""

    def __init__(self, model: PlacementModel, address: str) -> None:
        try:
            from distributed import Client
        except ImportError as exc:
            raise MissingLibraryError(DASK_MISSING) from exc
        try:
            self.client = Client(address, timeout="15s", set_as_default=False)
        except (OSError, TimeoutError, ValueError) as exc:
            raise InputError(f"--dask {safe(address)}: cannot reach the scheduler ({exc})") from exc
        workers = len(self.client.scheduler_info().get("workers", {})) or 1
        self.capacity = 2 * workers
        [self.model] = self.client.scatter([model], broadcast=True)

    def submit(self, index: int, rows: np.ndarray) -> Any:
        return self.client.submit(_dask_place, self.model, index, rows, pure=False)

    def wait_one(self, pending: list[Any]) -> tuple[Any, tuple[int, np.ndarray]]:
        while True:  # polled: distributed.wait() wants a default client, and ours is not one
            for future in pending:
                if future.done():
                    return future, future.result()
            time.sleep(0.02)

    def close(self, ok: bool) -> None:
        self.client.close()


def _dask_place(model: PlacementModel, index: int, rows: np.ndarray) -> tuple[int, np.ndarray]:
    return index, place_chunk(model, rows)


# --- the run ---------------------------------------------------------------------------------


@dataclass
class PlacementResult:
    """What a run did: the coordinates' file, and how many chunks it computed or reused."""

    out: Path
    n: int
    sample_size: int
    params: EmbedParams
    chunks: int
    computed: int
    reused: int
    seconds: float
    notes: list[str] = field(default_factory=list)


def parts_dir(out: Path) -> Path:
    """The work directory of a run writing `out`: `<out>.parts` beside it."""
    return out.with_name(out.name + PARTS_SUFFIX)


def fit_sample(
    data: str | Path,
    out: str | Path,
    params: EmbedParams,
    sample_size: int,
    *,
    chunk_rows: int = DEFAULT_CHUNK_ROWS,
    dask: str | None = None,
    workers: int | None = None,
    force: bool = False,
    numba_dir: str | None = None,
    progress: PlacementProgress | None = None,
) -> PlacementResult:
    """Fit `params.method` on `sample_size` seeded random rows of `data`, place every row,
    write the (N, 2) coordinates to `out` (.npy or .csv) atomically; see the module docstring.

    `workers` local processes (default: the thread count) or the Dask scheduler at `dask`.
    `progress(done, total, phase)` after every chunk; an exception it raises (or Ctrl-C)
    stops the run with the finished chunks kept for the next one.
    """
    started = time.perf_counter()
    out = Path(out)
    if dask is not None:
        require_dask()  # before the fit, which may take minutes
    source = open_rows(data)
    n = source.n
    if not _is_count(sample_size) or sample_size < MIN_POINTS:
        raise InputError(f"--fit-sample must be a whole number >= {MIN_POINTS}, got {sample_size}")
    if not _is_count(chunk_rows) or chunk_rows < 1:
        raise InputError(f"--chunk-rows must be a whole number >= 1, got {chunk_rows}")
    sample_size = min(int(sample_size), n)
    params = params.resolved(sample_size)
    params.validate(sample_size)
    if not params.entry.placeable:
        raise InputError(
            f"--fit-sample places new points with {either(placeable_methods())},"
            f" not {params.method}"
        )
    work = parts_dir(out)
    manifest = {
        "format": FORMAT,
        "source": source.identity(),
        "method": params.method,
        "params": params.relevant(),
        "library": library_version(params.method),
        "sample_size": sample_size,
        "chunk_rows": int(chunk_rows),
    }
    _prepare_workdir(work, manifest, force)
    report = progress or (lambda done, total, phase: None)
    total = math.ceil(n / chunk_rows)

    sample_rows = _sample_rows_of(n, sample_size, int(params.seed))
    model, basis = _load_model(work, params, source, sample_rows)
    if model is None:
        fitting = f"fitting {params.describe()} on {sample_size:,} of {n:,} rows"
        report(0, total, fitting)

        def fit_progress(fraction: float, phase: str) -> None:
            report(0, total, f"{fitting}: {phase} {fraction:.0%}")

        model, basis = _fit_model(source, params, sample_rows, fit_progress)
        _save_model(work, model, basis, sample_rows)
    model.token = f"{os.getpid()}-{time.monotonic_ns()}"

    done = {i for i in range(total) if _valid_part(work, i, _chunk_len(n, chunk_rows, i))}
    reused = len(done)
    todo = [i for i in range(total) if i not in done]
    report(len(done), total, "placing")

    def features_of(i: int) -> tuple[np.ndarray, np.ndarray]:
        lo = i * chunk_rows
        raw = source.read(lo, lo + chunk_rows)
        _check_finite(raw, lo, source)
        mine = np.arange(lo, lo + raw.shape[0])
        in_sample = np.isin(mine, sample_rows, assume_unique=True)
        return basis_project(basis, raw[~in_sample], params.method), in_sample

    def finish(i: int, placed: np.ndarray, in_sample: np.ndarray) -> None:
        lo = i * chunk_rows
        coords = np.empty((in_sample.size, 2))
        coords[~in_sample] = placed
        positions = np.searchsorted(sample_rows, np.arange(lo, lo + in_sample.size)[in_sample])
        coords[in_sample] = model.sample_coords[positions]
        _save_npy(work / _part_name(i), coords)
        done.add(i)
        report(len(done), total, "placing")

    if params.method == "pca" or not todo:
        for i in todo:  # the projection is the placement: no workers needed
            features, in_sample = features_of(i)
            finish(i, features[:, :2], in_sample)
    else:
        _run_chunks(
            model, todo, features_of, finish, dask, workers or params.thread_count(), numba_dir
        )

    coords = np.empty((n, 2))
    for i in range(total):
        lo = i * chunk_rows
        coords[lo : lo + _chunk_len(n, chunk_rows, i)] = _read_part(work, i)
    if not np.isfinite(coords).all():
        raise InputError(
            f"{params.describe()} produced non-finite coordinates; the data may be degenerate"
        )
    from .export import write_atomic_array

    try:
        write_atomic_array(out, coords)
    except OSError as exc:
        raise InputError(f"--out {safe(str(out))}: cannot write: {exc.strerror or exc}") from exc
    shutil.rmtree(work, ignore_errors=True)
    return PlacementResult(
        out, n, sample_size, params, total, total - reused, reused, time.perf_counter() - started
    )


def basis_project(basis: Any, raw: np.ndarray, method: str) -> np.ndarray:
    """Rows in the space the model works in: projected onto the basis, or as float64.

    For PCA that space is the map itself (two columns, the second zero for 1-D data).
    """
    if basis is None:
        return np.asarray(raw, dtype=np.float64)
    return np.asarray(basis.project(raw, np.float64, width=2 if method == "pca" else None))


def _run_chunks(
    model: PlacementModel,
    todo: list[int],
    features_of: Callable[[int], tuple[np.ndarray, np.ndarray]],
    finish: Callable[[int, np.ndarray, np.ndarray], None],
    dask: str | None,
    workers: int,
    numba_dir: str | None,
) -> None:
    runner: _LocalRunner | _DaskRunner
    if dask is not None:
        runner = _DaskRunner(model, dask)
    else:
        runner = _LocalRunner(model, max(1, min(workers, len(todo))), numba_dir)
    ok = False
    try:
        masks: dict[int, np.ndarray] = {}
        pending: list[Any] = []
        queue: Iterator[int] = iter(todo)
        for i in queue:
            rows, masks[i] = features_of(i)
            pending.append(runner.submit(i, rows))
            while len(pending) >= runner.capacity:
                handle, (index, placed) = runner.wait_one(pending)
                pending.remove(handle)
                finish(index, placed, masks.pop(index))
        while pending:
            handle, (index, placed) = runner.wait_one(pending)
            pending.remove(handle)
            finish(index, placed, masks.pop(index))
        ok = True
    finally:
        runner.close(ok)


def _fit_model(
    source: RowSource,
    params: EmbedParams,
    rows: np.ndarray,
    progress: Callable[[float, str], None],
) -> tuple[PlacementModel, Any]:
    from .methods.pca import fit_pca

    sample = source.take(rows)
    _check_finite(sample, None, source)
    basis = None
    if params.method == "pca":
        basis = fit_pca(sample, 2, seed=int(params.seed))
    elif reduces(params, rows.size, source.d):
        basis = fit_pca(sample, params.pca_dims, seed=int(params.seed))
    features = basis_project(basis, sample, params.method)
    del sample
    if params.method == "pca":
        coords = features
    elif params.method == "tsne":
        coords = compute_embedding(features, replace(params, pca_dims=0), progress)
        # openTSNE's transform centres the reference first; centring it here keeps the stored
        # coordinates the very ones every worker places against.
        coords = coords - (coords.max(axis=0) + coords.min(axis=0)) / 2
    else:
        coords = np.asarray(_fit_umap(features, params).embedding_, dtype=np.float64)
    return PlacementModel(params, features, np.ascontiguousarray(coords)), basis


def _sample_rows_of(n: int, size: int, seed: int) -> np.ndarray:
    from .methods.pca import sample_rows

    return sample_rows(n, size, seed)


def _check_finite(raw: np.ndarray, lo: int | None, source: RowSource) -> None:
    if raw.dtype.kind == "f" and not np.isfinite(raw).all():
        where = "" if lo is None else f" (rows {lo:,}–{lo + raw.shape[0] - 1:,})"
        raise InputError(f"{safe(str(source.path))}: contains NaN or infinite values{where}")


def _is_count(value: object) -> bool:
    return isinstance(value, (int, np.integer)) and not isinstance(value, bool)


def _chunk_len(n: int, chunk_rows: int, i: int) -> int:
    return min(chunk_rows, n - i * chunk_rows)


def _part_name(i: int) -> str:
    return f"chunk-{i:07d}.npy"


# --- the work directory ----------------------------------------------------------------------


def _prepare_workdir(work: Path, manifest: dict[str, Any], force: bool) -> None:
    shown = safe(str(work))
    if work.exists() and not work.is_dir():
        raise InputError(f"{shown}: exists and is not a directory")
    if work.is_dir():
        found = _read_manifest(work)
        if found == json.loads(json.dumps(manifest)):
            for stale in work.glob(".*.partial"):  # a write cut short by a kill: never read
                stale.unlink(missing_ok=True)
            return  # the same run: continue it
        if not force:
            raise InputError(
                f"{shown}: an unfinished run with other settings (or data) is there; "
                "rerun with the same settings to continue it, or add --force to start over"
            )
        shutil.rmtree(work)
    try:
        work.mkdir(mode=0o700)
    except OSError as exc:
        raise InputError(
            f"{shown}: cannot create the work directory: {exc.strerror or exc}"
        ) from exc
    _write_atomic(work / MANIFEST, (json.dumps(manifest, sort_keys=True) + "\n").encode())


def _read_manifest(work: Path) -> Any:
    path = work / MANIFEST
    try:
        if path.stat().st_size > _MANIFEST_MAX_BYTES:
            return None
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError, RecursionError):
        return None


def _write_atomic(path: Path, payload: bytes) -> None:
    tmp = path.with_name(f".{path.name}.partial")
    with open(tmp, "wb") as handle:
        handle.write(payload)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(tmp, path)


def _save_npy(path: Path, array: np.ndarray) -> None:
    tmp = path.with_name(f".{path.name}.partial")
    with open(tmp, "wb") as handle:
        np.save(handle, array, allow_pickle=False)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(tmp, path)


def _load_npy(path: Path) -> np.ndarray | None:
    try:
        array = np.load(path, allow_pickle=False)
    except (OSError, ValueError, EOFError):
        return None
    return array if isinstance(array, np.ndarray) else None


def _valid_part(work: Path, i: int, rows: int) -> bool:
    part = _load_npy(work / _part_name(i))
    return (
        part is not None
        and part.shape == (rows, 2)
        and part.dtype == np.float64
        and bool(np.isfinite(part).all())
    )


def _read_part(work: Path, i: int) -> np.ndarray:
    part = _load_npy(work / _part_name(i))
    if part is None:
        raise InputError(f"{safe(str(work))}: chunk {i} went missing; run again to redo it")
    return part


def _save_model(work: Path, model: PlacementModel, basis: Any, rows: np.ndarray) -> None:
    arrays = {
        "sample_rows": rows,
        "sample_coords": model.sample_coords,
        "pca_mean": np.zeros(0) if basis is None else basis.mean,
        "pca_components": np.zeros((0, 0)) if basis is None else basis.components,
    }
    for name, array in arrays.items():
        _save_npy(work / f"{name}.npy", np.asarray(array))


def _load_model(
    work: Path, params: EmbedParams, source: RowSource, expected: np.ndarray
) -> tuple[PlacementModel | None, Any]:
    """The model a previous run stored, or (None, None) when there is none (or it is bad)."""
    from .methods.pca import PCABasis

    arrays = {name: _load_npy(work / f"{name}.npy") for name in _MODEL_FILES}
    rows, coords = arrays["sample_rows"], arrays["sample_coords"]
    mean, components = arrays["pca_mean"], arrays["pca_components"]
    if rows is None or coords is None or mean is None or components is None:
        return None, None
    if (
        not np.array_equal(rows, expected)
        or coords.shape != (rows.size, 2)
        or not np.isfinite(coords).all()
    ):
        return None, None
    basis = None
    if mean.size:
        if mean.shape != (source.d,) or components.ndim != 2 or components.shape[1] != source.d:
            return None, None
        basis = PCABasis(mean, components, "stored")
    features = basis_project(basis, source.take(rows), params.method)
    return PlacementModel(params, features, coords), basis
