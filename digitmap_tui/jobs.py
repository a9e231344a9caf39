"""Embeddings computed in a separate *spawn* process, so quitting never waits for them.

A thread worker kept the app alive for 37 s after quit (DESIGN §7); a process can be
terminated at once. The parent hands the features over in a temporary `.npy` file (never
through a pickled pipe), the child reports progress through a `multiprocessing.Queue`,
stores the finished coordinates in the cache itself (atomically) and leaves them in a
result `.npy` for the parent. A terminated child can leave at most a temp file that the
cache never reads, so a cancelled run is never cached.
"""

from __future__ import annotations

import multiprocessing
import os
import queue
import shutil
import sys
import tempfile
import threading
import time
import weakref
from dataclasses import dataclass
from multiprocessing.process import BaseProcess
from pathlib import Path
from typing import Any, TypeAlias

import numpy as np

from .cache import EmbeddingCache, embedding_key, embedding_meta
from .embed import (
    EmbedParams,
    ProgressFn,
    compute_embedding,
    enable_numba_cache,
    uses_numba,
)
from .errors import InputError

TERMINATE_GRACE_SECONDS = 0.2  # after SIGTERM, wait this long before SIGKILL
_PROGRESS_INTERVAL = 0.1  # seconds between progress messages of the same phase


@dataclass
class Progress:
    """The job is `fraction` (0..1) done and in `phase` (e.g. "optimising")."""

    fraction: float
    phase: str


@dataclass
class Finished:
    """The job is done: (N, 2) float64 coordinates; `cache_path` where they were cached."""

    coords: np.ndarray
    cache_path: Path | None = None
    cache_warning: str | None = None


@dataclass
class Failed:
    """The job failed; `message` is one line for the user."""

    message: str


Event: TypeAlias = Progress | Finished | Failed


def numba_cache_dir(cache: EmbeddingCache | None) -> Path | None:
    """Where compiled numba code is kept: beside the embeddings, or nowhere when disabled."""
    if cache is None or cache.directory is None:
        return None
    return cache.directory / "numba"


class EmbeddingJob:
    """One embedding run in a child process; `start`, then `poll` until `done`.

    `features` is an (N, D) array (written to a temporary `.npy` for the child) or the path
    of an `.npy` file (read by the child directly, never deleted).
    """

    def __init__(
        self,
        features: np.ndarray | str | Path,
        params: EmbedParams,
        cache: EmbeddingCache | None,
        key: str,
        meta: dict[str, Any] | None = None,
    ) -> None:
        self.params = params
        self.cache = cache if cache is not None else EmbeddingCache(None)
        self.key = key
        self._extra_meta = dict(meta or {})
        self._features = features
        self._process: BaseProcess | None = None
        self._queue: Any = None
        self._workdir: Path | None = None
        self._result_path: Path | None = None
        self._pending: list[Event] = []
        self._done = False
        self.cancelled = False
        self._finalizer: weakref.finalize | None = None

    @property
    def done(self) -> bool:
        """True once the job finished, failed or was cancelled."""
        return self._done

    @property
    def pid(self) -> int | None:
        """The child's process id (None before `start`)."""
        return None if self._process is None else self._process.pid

    def start(self) -> None:
        """Validate, hand the features to a fresh spawn process and start it (returns at once)."""
        if self._process is not None or self._done:
            raise RuntimeError("an EmbeddingJob can be started only once")
        try:
            n = self._count_points()
            self.params.validate(n)
            meta = embedding_meta(self.params, **self._extra_meta)
        except InputError as exc:
            self._finish(Failed(str(exc)))
            return
        workdir = Path(tempfile.mkdtemp(prefix="digitmap-job-"))
        self._workdir = workdir
        self._result_path = workdir / "coords.npy"
        if isinstance(self._features, (str, Path)):
            features_path = Path(self._features)
        else:
            features_path = workdir / "features.npy"
            try:
                with open(features_path, "wb") as handle:
                    np.save(handle, np.asarray(self._features), allow_pickle=False)
            except OSError as exc:
                self._cleanup_files()
                self._finish(Failed(f"could not hand the data to the worker: {exc}"))
                return
        numba_dir = numba_cache_dir(self.cache) if uses_numba(self.params.method) else None
        context = multiprocessing.get_context("spawn")
        _ensure_resource_tracker()
        self._queue = context.Queue()
        self._process = context.Process(
            target=_child_main,
            args=(
                str(features_path),
                self.params,
                None if self.cache.directory is None else str(self.cache.directory),
                self.key,
                meta,
                str(self._result_path),
                None if numba_dir is None else str(numba_dir),
                self._queue,
            ),
            name=f"digitmap-embed-{self.params.method}",
            # A daemon child is terminated by multiprocessing at interpreter exit, so a
            # forgotten job never keeps the app alive.
            daemon=True,
        )
        self._process.start()
        # If the job is dropped without cancel(), still stop the child and remove the files.
        self._finalizer = weakref.finalize(self, _release, self._process, self._queue, workdir)

    def poll(self) -> list[Event]:
        """Events since the last call (non-blocking): Progress..., then Finished or Failed."""
        events, self._pending = self._pending, []
        if self._done or self._process is None:
            return events
        alive = self._process.is_alive()  # checked before draining: a message sent before
        while not self._done:  # the child exited is always in the pipe by now
            try:
                message = self._queue.get_nowait()
            except queue.Empty:
                break
            except (EOFError, OSError, ValueError):
                break
            event = self._translate(message)
            if event is not None:
                events.append(event)
        if not self._done and not alive:
            code = self._process.exitcode
            failure = Failed(f"the embedding process exited unexpectedly (exit code {code})")
            events.append(failure)
            self._finish(failure)
        return events

    def cancel(self) -> None:
        """Stop the child now (SIGTERM, then SIGKILL after 0.2 s); nothing partial is cached."""
        if self._done:
            return
        self.cancelled = True
        self._done = True
        if self._process is not None:
            _stop_process(self._process)
        self._close()

    def _count_points(self) -> int:
        if isinstance(self._features, (str, Path)):
            path = Path(self._features)
            try:
                array = np.load(path, mmap_mode="r", allow_pickle=False)
            except (OSError, ValueError, EOFError) as exc:
                raise InputError(f"{path}: cannot read features: {exc}") from exc
        else:
            array = np.asarray(self._features)
        if not isinstance(array, np.ndarray) or array.ndim != 2:
            raise InputError(f"features must be a 2-D array (N, D), got shape {array.shape}")
        return int(array.shape[0])

    def _translate(self, message: Any) -> Event | None:
        kind = message[0]
        if kind == "progress":
            return Progress(float(message[1]), str(message[2]))
        if kind == "failed":
            failure = Failed(str(message[1]))
            self._finish(failure)
            return failure
        if kind == "finished":
            try:
                coords = _read_result(self._result_path)
            except (OSError, ValueError) as exc:
                failure = Failed(f"could not read the embedding from the worker: {exc}")
                self._finish(failure)
                return failure
            cache_path = Path(message[1]) if message[1] else None
            finished = Finished(coords, cache_path, message[2])
            self._finish(finished)
            return finished
        return None

    def _finish(self, event: Event) -> None:
        self._done = True
        self._close()
        if self._process is None:  # failed before starting: deliver through poll()
            self._pending.append(event)

    def _close(self) -> None:
        if self._queue is not None:
            self._queue.close()
            # Drop it now: its semaphores are unlinked when it is collected, and one still
            # alive at exit makes multiprocessing's resource tracker warn on the terminal.
            self._queue = None
        self._cleanup_files()
        if self._finalizer is not None:
            self._finalizer.detach()

    def _cleanup_files(self) -> None:
        if self._workdir is not None:
            shutil.rmtree(self._workdir, ignore_errors=True)


def _ensure_resource_tracker() -> None:
    """Start multiprocessing's resource tracker with the real stderr.

    The tracker passes ``sys.stderr.fileno()`` to its process; under Textual (which replaces
    sys.stderr while it draws) that is not a valid descriptor and the spawn fails.
    """
    from multiprocessing import resource_tracker

    saved = sys.stderr
    try:
        if sys.__stderr__ is not None:
            sys.stderr = sys.__stderr__
        resource_tracker.ensure_running()
    finally:
        sys.stderr = saved


def _read_result(path: Path | None) -> np.ndarray:
    if path is None:
        raise ValueError("no result file")
    coords = np.load(path, allow_pickle=False)
    if coords.ndim != 2 or coords.shape[1] != 2 or coords.dtype != np.float64:
        raise ValueError(f"result has shape {coords.shape} dtype {coords.dtype}")
    return coords


def _stop_process(process: BaseProcess) -> None:
    if process.is_alive():
        process.terminate()
        process.join(TERMINATE_GRACE_SECONDS)
        if process.is_alive():
            process.kill()
            process.join(1.0)
    else:
        process.join(0)


def _release(process: BaseProcess, events: Any, workdir: Path) -> None:
    """Finalizer for a dropped job: stop the child, close the queue, remove the files."""
    try:
        _stop_process(process)
    except (OSError, ValueError, AssertionError):
        pass
    try:
        events.close()
    except (OSError, ValueError):
        pass
    shutil.rmtree(workdir, ignore_errors=True)


# --- the child process -----------------------------------------------------------------------


class _Reporter:
    """Progress callback in the child: throttled messages on the queue."""

    def __init__(self, events: Any) -> None:
        self.events = events
        self.phase: str | None = None
        self.last = 0.0

    def __call__(self, fraction: float, phase: str) -> None:
        now = time.monotonic()
        if phase != self.phase or fraction >= 1.0 or now - self.last >= _PROGRESS_INTERVAL:
            self.phase = phase
            self.last = now
            self.events.put(("progress", float(fraction), phase))


def _silence_output() -> None:
    # The TUI draws on the terminal (stderr): library prints, numba warnings and tqdm in
    # the child must not land there, nor may the child read keystrokes from stdin.
    devnull = os.open(os.devnull, os.O_RDWR)
    for fd in (0, 1, 2):
        os.dup2(devnull, fd)
    os.close(devnull)
    sys.stdout = open(os.devnull, "w")  # noqa: SIM115 - lives as long as the process
    sys.stderr = sys.stdout


def _no_process_shared_locks() -> None:
    # tqdm (umap's epoch bar) makes a multiprocessing RLock: a named semaphore that a child
    # terminated by cancel() never unlinks, so the resource tracker would warn on the
    # terminal when the app exits. A thread lock does the same job inside one process.
    try:
        from tqdm import tqdm
    except ImportError:
        return
    tqdm.set_lock(threading.RLock())


def _save_result(path: Path, coords: np.ndarray) -> None:
    tmp = path.with_name(path.name + ".partial")
    with open(tmp, "wb") as handle:
        np.save(handle, coords, allow_pickle=False)
    os.replace(tmp, path)


def _child_main(
    features_path: str,
    params: EmbedParams,
    cache_dir: str | None,
    key: str,
    meta: dict[str, Any],
    result_path: str,
    numba_dir: str | None,
    events: Any,
) -> None:
    _silence_output()
    try:
        if numba_dir is not None:
            enable_numba_cache(numba_dir)  # before anything imports numba
        if uses_numba(params.method):
            _no_process_shared_locks()
        try:
            features = np.load(features_path, mmap_mode="r", allow_pickle=False)
        except (OSError, ValueError, EOFError) as exc:
            raise InputError(f"{features_path}: cannot read features: {exc}") from exc
        coords = compute_embedding(features, params, progress=_Reporter(events))
        _save_result(Path(result_path), coords)
        cache = EmbeddingCache(cache_dir)
        stored = cache.store(key, coords, meta)
        events.put(("finished", None if stored is None else str(stored), cache.warning))
    except InputError as exc:
        events.put(("failed", str(exc)))
    except Exception as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
        events.put(("failed", f"{type(exc).__name__}: {first}" if first else type(exc).__name__))


# --- synchronous path (CLI) ------------------------------------------------------------------


def get_or_compute(
    dataset: Any,
    params: EmbedParams,
    cache: EmbeddingCache | None,
    progress: ProgressFn | None = None,
) -> np.ndarray:
    """Coordinates for `dataset` (anything with .features() and .fingerprint()), in-process.

    A cache hit returns at once; otherwise the embedding is computed here and stored.
    """
    n = getattr(dataset, "n", None)
    features = None
    if not isinstance(n, int):
        features = dataset.features()
        n = int(np.shape(features)[0])
    params = params.choose(n)  # `auto` becomes the method it picks: the key names that one
    params.validate(n)  # before the key: bad parameters are an InputError, not a miss
    fingerprint = dataset.fingerprint()
    key = embedding_key(fingerprint, params)
    if cache is not None:
        coords = cache.load(key)
        if coords is not None and len(coords) == n:
            return coords
    if features is None:
        features = dataset.features()
    numba_dir = numba_cache_dir(cache)
    if numba_dir is not None and uses_numba(params.method):
        enable_numba_cache(numba_dir)
    coords = compute_embedding(features, params, progress=progress)
    if cache is not None:
        name = getattr(dataset, "name", None)
        cache.store(key, coords, embedding_meta(params, fingerprint=fingerprint, dataset=name))
    return coords


__all__ = [
    "EmbeddingJob",
    "Event",
    "Failed",
    "Finished",
    "Progress",
    "get_or_compute",
    "numba_cache_dir",
]
