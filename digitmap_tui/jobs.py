"""Embeddings computed in a separate process, so quitting never waits for them.

A thread worker kept the app alive for 37 s after quit (DESIGN §7); a process can be ended at
once. The worker is a fresh Python interpreter started with ``subprocess`` (not
``multiprocessing``: no resource tracker left behind, no pickles on any pipe):

* its **stdin** brings the parameters (JSON) and the features (raw array bytes), then stays
  open as a lifeline: when the parent closes it, exits or is killed (even by SIGKILL), the
  worker sees end-of-file and exits at once. On Linux the kernel also kills it when the
  parent dies (``PR_SET_PDEATHSIG``), and it checks ``getppid()`` twice a second;
* its **stdout** carries framed messages: progress, failure, the result (raw float64);
* it **writes no file**: no temporary folder (the features never touch the disk) and no cache
  entry. The parent caches the result when it arrives and only if the job is still wanted, so
  an abandoned or cancelled run is never cached.

Every started job is registered until it ends; :func:`cancel_all` stops them all (signal
handlers call it, see :mod:`digitmap_tui.lifecycle`).
"""

from __future__ import annotations

import json
import os
import select
import shutil
import signal
import struct
import subprocess
import sys
import tempfile
import threading
import time
import weakref
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any, TypeAlias

import numpy as np

from .cache import EmbeddingCache, embedding_key, embedding_meta
from .errors import InputError
from .methods.compute import compute_embedding
from .methods.numba_cache import enable_numba_cache, numba_cache_problem, uses_numba
from .methods.params import EmbedParams, ProgressFn
from .text import one_line

TERMINATE_GRACE_SECONDS = 0.2  # after SIGTERM, wait this long before SIGKILL
_PROGRESS_INTERVAL = 0.1  # seconds between progress messages of the same phase
_PARENT_CHECK_SECONDS = 0.5  # the worker's getppid() check, besides the pipe
_FEED_CHUNK_BYTES = 8 * 2**20
_STALE_JOB_DIR_SECONDS = 3600.0

# Frames on the worker's stdout: one kind byte, an 8-byte big-endian length, the payload.
_FRAME = struct.Struct(">cQ")
_PROGRESS, _FAILED, _NOTE, _RESULT = b"P", b"F", b"N", b"R"


@dataclass
class Progress:
    """The job is `fraction` (0..1) done and in `phase` (e.g. "optimising")."""

    fraction: float
    phase: str


@dataclass
class Finished:
    """The job is done: (N, 2) float64 coordinates; `cache_path` where they were cached.

    `cache_warning` is one line when the result could not be cached, or when numba's disk
    cache was not used (an untrusted directory); None otherwise.
    """

    coords: np.ndarray
    cache_path: Path | None = None
    cache_warning: str | None = None

    def __post_init__(self) -> None:
        if self.cache_warning is not None:  # it names a directory: escaped like any path
            self.cache_warning = one_line(self.cache_warning)


@dataclass
class Failed:
    """The job failed; `message` is one line for the user, control characters escaped.

    It may quote a file name or a library's error: show it as text, not as Rich markup.
    """

    message: str

    def __post_init__(self) -> None:
        self.message = one_line(self.message)


Event: TypeAlias = Progress | Finished | Failed

# Jobs whose worker may still run; weak, so a dropped job is still collected (and stopped).
_LIVE: weakref.WeakSet[EmbeddingJob] = weakref.WeakSet()


def live_jobs() -> list[EmbeddingJob]:
    """The started jobs that have not finished, failed or been cancelled."""
    try:
        return [job for job in list(_LIVE) if not job.done]
    except RuntimeError:  # the set changed under us (a signal arrived mid-update): try again
        return [job for job in list(_LIVE) if not job.done]


def cancel_all() -> int:
    """Stop every live job's worker now (SIGKILL); none of them will cache anything.

    Safe to call from a signal handler: it only marks the jobs cancelled and sends signals;
    their pipes are closed and their workers reaped by `cancel` (or at exit). Returns how many
    jobs were stopped.
    """
    jobs = live_jobs()
    for job in jobs:
        job._abort()
    return len(jobs)


def numba_cache_dir(cache: EmbeddingCache | None) -> Path | None:
    """Where compiled numba code is kept: beside the embeddings, or None.

    None when the cache is disabled, and when ``<cache>/numba`` or anything in it could have
    been written by someone else (numba *loads pickles* from there, i.e. runs them): then
    numba compiles afresh and nothing is read from disk.
    """
    if cache is None or cache.directory is None:
        return None
    directory = cache.directory / "numba"
    if numba_cache_problem(directory) is not None:
        return None
    return directory


class EmbeddingJob:
    """One embedding run in a child process; `start`, then `poll` until `done`.

    `features` is an (N, D) array (streamed to the child through a pipe) or the path of an
    `.npy` file (read by the child directly, never deleted). Start jobs from the main thread
    where possible: on Linux the worker is then also killed by the kernel when the parent dies.
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
        self._meta: dict[str, Any] = {}
        self._features = features
        self._process: subprocess.Popen[bytes] | None = None
        self._buffer = bytearray()
        self._note: str | None = None
        self._pending: list[Event] = []
        self._done = False
        self._n = 0
        self.cancelled = False
        self._finalizer: weakref.finalize | None = None
        # poll() may run on a watcher thread while cancel() comes from the UI thread.
        self._lock = threading.RLock()

    @property
    def done(self) -> bool:
        """True once the job finished, failed or was cancelled."""
        return self._done

    @property
    def pid(self) -> int | None:
        """The child's process id (None before `start`)."""
        return None if self._process is None else self._process.pid

    def start(self) -> None:
        """Validate, start a fresh worker process and hand it the features (returns at once)."""
        if self._process is not None or self._done:
            raise RuntimeError("an EmbeddingJob can be started only once")
        try:
            array, path = self._features_source()
            n = int(array.shape[0])
            self.params.validate(n)
            self._meta = embedding_meta(self.params, **self._extra_meta)
        except InputError as exc:
            self._finish(Failed(str(exc)))
            return
        self._n = n
        _remove_stale_job_dirs()
        numba_dir = numba_cache_dir(self.cache) if uses_numba(self.params.method) else None
        config = {
            "params": {
                "method": str(self.params.method),
                "seed": int(self.params.seed),
                "perplexity": float(self.params.perplexity),
                "n_neighbors": int(self.params.n_neighbors),
                "min_dist": float(self.params.min_dist),
            },
            "features_path": None if path is None else str(path),
            "shape": list(array.shape),
            "dtype": array.dtype.str,
            "numba_dir": None if numba_dir is None else str(numba_dir),
            "parent": os.getpid(),
            # PR_SET_PDEATHSIG fires when the *thread* that started the child ends: only ask
            # for it when that thread is the main thread, which lives as long as the process.
            "deathsig": threading.current_thread() is threading.main_thread(),
        }
        if numba_dir is None and uses_numba(self.params.method) and self.cache.directory:
            problem = numba_cache_problem(self.cache.directory / "numba")
            self._note = f"numba cache not used ({problem})" if problem else None
        try:
            process = subprocess.Popen(
                [sys.executable, "-c", _CHILD_CODE, str(Path(__file__).resolve().parent.parent)],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=subprocess.DEVNULL,
                close_fds=True,
            )
        except OSError as exc:
            self._finish(Failed(f"could not start the embedding process: {exc}"))
            return
        self._process = process
        assert process.stdout is not None and process.stdin is not None
        os.set_blocking(process.stdout.fileno(), False)
        _LIVE.add(self)
        # If the job is dropped without cancel(), still stop the child (also at exit).
        self._finalizer = weakref.finalize(self, _release, process)
        feeder = threading.Thread(
            target=_feed,
            args=(process.stdin, config, None if path is not None else array),
            name="digitmap-feed",
            daemon=True,
        )
        feeder.start()

    def poll(self, timeout: float = 0.0) -> list[Event]:
        """Events since the last call: Progress..., then Finished or Failed. Waits up to
        ``timeout`` seconds for the worker to write something (0: never blocks)."""
        process = self._process
        if timeout > 0 and not self._done and process is not None and process.stdout:
            try:
                select.select([process.stdout.fileno()], [], [], timeout)
            except (OSError, ValueError):  # closed by cancel() meanwhile
                pass
        with self._lock:
            return self._poll()

    def _poll(self) -> list[Event]:
        events, self._pending = self._pending, []
        process = self._process
        if self._done or process is None:
            return events
        if self.cancelled:  # cancel_all() (a signal) killed the child: end quietly
            self._done = True
            self._close()
            return events
        alive = process.poll() is None  # before draining: all a dead child wrote is in the pipe
        eof = self._drain(process)
        while not self._done:
            frame = self._next_frame()
            if frame is None:
                break
            event = self._translate(*frame)
            if event is not None:
                events.append(event)
        if not self._done and (not alive or eof):
            if process.poll() is None:
                _stop_process(process)
            code = process.returncode
            failure = Failed(f"the embedding process exited unexpectedly (exit code {code})")
            events.append(failure)
            self._finish(failure)
        return events

    def cancel(self) -> None:
        """Stop the child now (SIGTERM, then SIGKILL after 0.2 s); nothing is cached."""
        with self._lock:
            if self._done and not self.cancelled:
                return
            self.cancelled = True
            self._done = True
            if self._process is not None:
                _stop_process(self._process)
            self._close()

    def reap(self, timeout: float = 2.0) -> None:
        """Wait for a finished child to exit (no zombie is left behind)."""
        process = self._process
        if process is not None and process.returncode is None:
            try:
                process.wait(timeout)
            except subprocess.TimeoutExpired:
                pass

    def _abort(self) -> None:
        """Signal-handler half of `cancel`: mark cancelled, kill the child; no I/O, no waiting."""
        self.cancelled = True
        process = self._process
        if process is not None:
            try:
                process.send_signal(signal.SIGKILL)
            except (OSError, ValueError):
                pass

    def _features_source(self) -> tuple[np.ndarray, Path | None]:
        """The features as an array (a memory map for a path) and the path, if one was given."""
        if isinstance(self._features, (str, Path)):
            path = Path(self._features)
            try:
                array = np.load(path, mmap_mode="r", allow_pickle=False)
            except (OSError, ValueError, EOFError) as exc:
                raise InputError(f"{path}: cannot read features: {exc}") from exc
        else:
            path = None
            array = np.asarray(self._features)
        if not isinstance(array, np.ndarray) or array.ndim != 2:
            raise InputError(f"features must be a 2-D array (N, D), got shape {array.shape}")
        if array.dtype.kind not in "biuf":
            raise InputError(f"features must be real numbers, got dtype {array.dtype}")
        return array, path

    def _drain(self, process: subprocess.Popen[bytes]) -> bool:
        """Read what the child has written so far; True at end of file."""
        assert process.stdout is not None
        fd = process.stdout.fileno()
        while True:
            try:
                data = os.read(fd, 2**20)
            except BlockingIOError:
                return False
            except OSError:
                return True
            if not data:
                return True
            self._buffer += data

    def _next_frame(self) -> tuple[bytes, bytes] | None:
        if len(self._buffer) < _FRAME.size:
            return None
        kind, length = _FRAME.unpack_from(self._buffer)
        end = _FRAME.size + length
        if len(self._buffer) < end:
            return None
        payload = bytes(self._buffer[_FRAME.size : end])
        del self._buffer[:end]
        return kind, payload

    def _translate(self, kind: bytes, payload: bytes) -> Event | None:
        if kind == _PROGRESS:
            message = json.loads(payload)
            return Progress(float(message["fraction"]), str(message["phase"]))
        if kind == _NOTE:
            self._note = str(json.loads(payload)["note"])
            return None
        if kind == _FAILED:
            failure = Failed(str(json.loads(payload)["message"]))
            self._finish(failure)
            return failure
        if kind == _RESULT:
            try:
                coords = _read_result(payload, self._n)
            except ValueError as exc:
                failure = Failed(f"could not read the embedding from the worker: {exc}")
                self._finish(failure)
                return failure
            if self.cancelled:  # a signal arrived while we read it: do not cache
                self._finish(Failed("cancelled"))
                return None
            stored = self.cache.store(self.key, coords, self._meta)
            warning = self.cache.warning or self._note
            finished = Finished(coords, stored, warning)
            self._finish(finished)
            return finished
        return None

    def _finish(self, event: Event) -> None:
        self._done = True
        self._close()
        if self._process is None:  # failed before starting: deliver through poll()
            self._pending.append(event)

    def _close(self) -> None:
        _LIVE.discard(self)
        process = self._process
        if process is not None:
            if process.poll() is None:
                _stop_process(process)
            else:
                process.wait()
            _close_pipes(process)
        if self._finalizer is not None:
            self._finalizer.detach()


# The worker imports *this* copy of the package (the directory holding it is argv[1]) without
# putting that directory on sys.path, where it could shadow other modules.
_CHILD_CODE = """\
import importlib.machinery, importlib.util, sys
spec = importlib.machinery.PathFinder.find_spec("digitmap_tui", [sys.argv[1]])
package = importlib.util.module_from_spec(spec)
sys.modules["digitmap_tui"] = package
spec.loader.exec_module(package)
from digitmap_tui.jobs import _child_main
_child_main()
"""


def _feed(stdin: IO[bytes], config: dict[str, Any], array: np.ndarray | None) -> None:
    """Parent side, in a thread: the config, then the features' bytes (row chunks, C order)."""
    try:
        header = json.dumps(config).encode("utf-8")
        stdin.write(struct.pack(">Q", len(header)) + header)
        if array is not None and array.size:
            row_bytes = max(1, array.itemsize * int(array.shape[1]))
            step = max(1, _FEED_CHUNK_BYTES // row_bytes)
            for start in range(0, int(array.shape[0]), step):
                chunk = np.ascontiguousarray(array[start : start + step])
                stdin.write(chunk.reshape(-1).view(np.uint8).data)
        stdin.flush()
    except (OSError, ValueError):
        pass  # the child was stopped (cancel) or died: poll() reports it


def _read_result(payload: bytes, n: int) -> np.ndarray:
    if len(payload) != n * 16:
        raise ValueError(f"expected {n}x2 coordinates, got {len(payload)} bytes")
    coords = np.frombuffer(payload, dtype="<f8").reshape(n, 2).astype(np.float64)
    if not np.isfinite(coords).all():
        raise ValueError("non-finite coordinates")
    return coords


def _stop_process(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        try:
            process.terminate()
            process.wait(TERMINATE_GRACE_SECONDS)
        except subprocess.TimeoutExpired:
            process.kill()
            try:
                process.wait(1.0)
            except subprocess.TimeoutExpired:
                pass
        except OSError:
            pass
    _close_pipes(process)


def _close_pipes(process: subprocess.Popen[bytes]) -> None:
    for pipe in (process.stdin, process.stdout):
        if pipe is not None:
            try:
                pipe.close()
            except (OSError, ValueError):
                pass


def _release(process: subprocess.Popen[bytes]) -> None:
    """Finalizer for a dropped job (or one still running at exit): stop the child."""
    try:
        _stop_process(process)
    except (OSError, ValueError, AssertionError):
        pass


def _remove_stale_job_dirs() -> None:
    """Remove ``digitmap-job-*`` folders an older digitmap left in the temp directory.

    Jobs no longer write any file; this only cleans up after versions that did (and were
    killed), for folders that are ours and over an hour old.
    """
    cutoff = time.time() - _STALE_JOB_DIR_SECONDS
    uid = os.geteuid() if hasattr(os, "geteuid") else None
    try:
        candidates = list(Path(tempfile.gettempdir()).glob("digitmap-job-*"))
    except OSError:
        return
    for folder in candidates:
        try:
            st = folder.lstat()
            if folder.is_dir() and st.st_mtime < cutoff and (uid is None or st.st_uid == uid):
                shutil.rmtree(folder, ignore_errors=True)
        except OSError:
            pass


# --- the child process -----------------------------------------------------------------------


class _Reporter:
    """Progress callback in the child: throttled frames on the message pipe."""

    def __init__(self, out: int) -> None:
        self.out = out
        self.phase: str | None = None
        self.last = 0.0

    def __call__(self, fraction: float, phase: str) -> None:
        now = time.monotonic()
        if phase != self.phase or fraction >= 1.0 or now - self.last >= _PROGRESS_INTERVAL:
            self.phase = phase
            self.last = now
            _send(self.out, _PROGRESS, {"fraction": float(fraction), "phase": phase})


def _send(out: int, kind: bytes, message: dict[str, Any] | bytes) -> None:
    payload = message if isinstance(message, bytes) else json.dumps(message).encode("utf-8")
    data = memoryview(_FRAME.pack(kind, len(payload)) + payload)
    while data:
        written = os.write(out, data)
        data = data[written:]


def _read_exactly(fd: int, size: int, into: memoryview | None = None) -> bytes | None:
    """``size`` bytes from ``fd`` (into ``into`` when given); None if the pipe ends first."""
    buffer = into if into is not None else memoryview(bytearray(size))
    got = 0
    while got < size:
        n = os.readv(fd, [buffer[got:size]])
        if n == 0:
            return None
        got += n
    return b"" if into is not None else bytes(buffer)


def _set_parent_death_signal() -> None:
    """Linux: have the kernel SIGKILL this process when its parent (thread) dies."""
    if not sys.platform.startswith("linux"):
        return
    try:
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        pr_set_pdeathsig = 1
        libc.prctl(pr_set_pdeathsig, int(signal.SIGKILL), 0, 0, 0)
    except (OSError, AttributeError):
        pass


def _watch_parent(parent: int) -> None:
    """Child, in a thread: exit at once when stdin ends (the parent closed it or died)."""
    while True:
        try:
            ready, _, _ = select.select([0], [], [], _PARENT_CHECK_SECONDS)
            if ready and not os.read(0, 4096):
                os._exit(0)
        except OSError:
            os._exit(0)
        if os.getppid() != parent:
            os._exit(0)


def _silence_output() -> int:
    """Redirect fds 1 and 2 to /dev/null (libraries print); return a private copy of stdout."""
    out = os.dup(1)
    devnull = os.open(os.devnull, os.O_RDWR)
    for fd in (1, 2):
        os.dup2(devnull, fd)
    os.close(devnull)
    sys.stdout = open(os.devnull, "w")  # noqa: SIM115 - lives as long as the process
    sys.stderr = sys.stdout
    return out


def _no_process_shared_locks() -> None:
    # tqdm (umap's epoch bar) makes a multiprocessing RLock, a named semaphore; a thread lock
    # does the same job inside one process and leaves nothing behind when we are killed.
    try:
        from tqdm import tqdm
    except ImportError:
        return
    tqdm.set_lock(threading.RLock())


def _child_main() -> None:
    """The worker: read the config and features from stdin, compute, report on stdout."""
    out = _silence_output()
    os.umask(0o077)  # whatever numba writes into its cache is ours alone
    raw = _read_exactly(0, 8)
    if raw is None:
        os._exit(0)
    header = _read_exactly(0, struct.unpack(">Q", raw)[0])
    if header is None:
        os._exit(0)
    config = json.loads(header)
    parent = int(config["parent"])
    if config.get("deathsig"):
        _set_parent_death_signal()
    if os.getppid() != parent:  # the parent died before the death signal was armed
        os._exit(0)
    try:
        params = EmbedParams(**config["params"])
        if config["features_path"]:
            try:
                features = np.load(config["features_path"], mmap_mode="r", allow_pickle=False)
            except (OSError, ValueError, EOFError) as exc:
                raise InputError(f"{config['features_path']}: cannot read features: {exc}") from exc
        else:
            features = np.empty(tuple(config["shape"]), dtype=np.dtype(config["dtype"]))
            into = features.reshape(-1).view(np.uint8).data
            if features.nbytes and _read_exactly(0, features.nbytes, into) is None:
                os._exit(0)  # the parent went away mid-transfer
        threading.Thread(target=_watch_parent, args=(parent,), daemon=True).start()
        numba_dir = config.get("numba_dir")
        if numba_dir is not None and not enable_numba_cache(numba_dir):
            problem = numba_cache_problem(numba_dir)
            if problem:
                _send(out, _NOTE, {"note": f"numba cache not used ({problem})"})
        if uses_numba(params.method):
            _no_process_shared_locks()
        coords = compute_embedding(features, params, progress=_Reporter(out))
        _send(out, _RESULT, np.ascontiguousarray(coords, dtype="<f8").tobytes())
    except InputError as exc:
        _send(out, _FAILED, {"message": str(exc)})
    except Exception as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
        message = f"{type(exc).__name__}: {first}" if first else type(exc).__name__
        _send(out, _FAILED, {"message": message})


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
    "cancel_all",
    "get_or_compute",
    "live_jobs",
    "numba_cache_dir",
]
