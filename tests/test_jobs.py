"""Embedding jobs in a spawn process: events, cancellation, failures; the synchronous path."""

from __future__ import annotations

import gc
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from digitmap_tui import jobs
from digitmap_tui.cache import EmbeddingCache, embedding_key
from digitmap_tui.errors import InputError
from digitmap_tui.jobs import EmbeddingJob, Event, Failed, Finished, Progress, get_or_compute
from digitmap_tui.methods.compute import compute_embedding
from digitmap_tui.methods.params import EmbedParams

KEY = "0f" * 32
POLL_LIMIT_SECONDS = 120.0  # a safety net against a hung test, not a speed claim


@pytest.fixture(scope="module")
def small() -> np.ndarray:
    from sklearn.datasets import load_digits

    return load_digits().data[:300].astype(np.float32)


@pytest.fixture
def cache(tmp_path: Path) -> EmbeddingCache:
    return EmbeddingCache(tmp_path / "cache")


def never(events: list[Event]) -> bool:
    return False


def poll_until(job: EmbeddingJob, condition: Callable[[list[Event]], bool] = never) -> list[Event]:
    """Poll `job` until it is done or `condition(events so far)` holds; return the events."""
    events: list[Event] = []
    deadline = time.monotonic() + POLL_LIMIT_SECONDS
    while not job.done and not condition(events):
        assert time.monotonic() < deadline, f"job still running; events so far: {events}"
        events += job.poll()
        time.sleep(0.02)
    return events


def cached_entries(cache: EmbeddingCache) -> list[Path]:
    assert cache.directory is not None
    return sorted((cache.directory / "embeddings").glob("*.npz"))


def job_files(tmp_root: Path) -> list[Path]:
    return sorted(Path(tmp_root).glob("digitmap-job-*"))


@pytest.fixture(autouse=True)
def private_tempdir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Job temp files go to a per-test directory so the tests can see them cleaned up."""
    import tempfile

    root = tmp_path / "tmp"
    root.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(root))
    return root


# --- finishing ---------------------------------------------------------------------------------


def test_pca_job_finishes_caches_and_cleans_up(
    small: np.ndarray, cache: EmbeddingCache, private_tempdir: Path
) -> None:
    job = EmbeddingJob(small, EmbedParams("pca"), cache, KEY, meta={"dataset": "digits"})
    assert not job.done and job.poll() == []
    job.start()
    events = poll_until(job)
    assert job.done
    assert isinstance(events[-1], Finished)
    assert all(isinstance(e, Progress) for e in events[:-1])
    np.testing.assert_allclose(events[-1].coords, compute_embedding(small, EmbedParams("pca")))
    assert events[-1].cache_path == cache.path_for(KEY)
    cached = cache.load(KEY)
    assert cached is not None
    np.testing.assert_array_equal(cached, events[-1].coords)
    assert job_files(private_tempdir) == []  # features and result files removed
    assert job.poll() == []
    with pytest.raises(RuntimeError):
        job.start()


def test_a_finished_job_is_reaped_not_left_a_zombie(
    small: np.ndarray, cache: EmbeddingCache
) -> None:
    job = EmbeddingJob(small, EmbedParams("pca"), cache, KEY)
    job.start()
    pid = job.pid
    assert pid is not None
    events: list[Event] = []
    while not job.done:
        events += job.poll(timeout=0.1)  # the explorer's watcher blocks like this
    assert isinstance(events[-1], Finished)
    job.reap()
    status = Path(f"/proc/{pid}/status")
    assert not status.exists() or "State:\tZ" not in status.read_text()


def test_cancel_from_another_thread_while_polling_is_safe(
    small: np.ndarray, cache: EmbeddingCache
) -> None:
    import threading

    job = EmbeddingJob(small, EmbedParams("tsne", perplexity=10), cache, KEY)
    job.start()
    errors: list[BaseException] = []

    def watch() -> None:
        try:
            while not job.done:
                job.poll(timeout=0.05)
        except BaseException as exc:  # pragma: no cover - what the test looks for
            errors.append(exc)

    watcher = threading.Thread(target=watch)
    watcher.start()
    time.sleep(0.3)
    job.cancel()
    watcher.join(5)
    assert not watcher.is_alive() and errors == []
    assert cache.load(KEY) is None


def test_tsne_job_reports_monotonic_progress_to_one(
    small: np.ndarray, cache: EmbeddingCache, capfd: pytest.CaptureFixture[str]
) -> None:
    params = EmbedParams("tsne", perplexity=20)
    job = EmbeddingJob(small, params, cache, KEY)
    job.start()
    events = poll_until(job)
    progress = [e for e in events if isinstance(e, Progress)]
    fractions = [p.fraction for p in progress]
    assert fractions == sorted(fractions)
    assert fractions[-1] == 1.0
    assert {"early exaggeration", "optimising"} <= {p.phase for p in progress}
    finished = events[-1]
    assert isinstance(finished, Finished)
    np.testing.assert_array_equal(finished.coords, compute_embedding(small, params))
    assert len(cached_entries(cache)) == 1
    out, err = capfd.readouterr()
    assert out == "" and err == ""  # the child never writes on the terminal


def test_job_from_an_npy_path_leaves_the_file_alone(
    small: np.ndarray, tmp_path: Path, cache: EmbeddingCache
) -> None:
    path = tmp_path / "features.npy"
    np.save(path, small)
    job = EmbeddingJob(path, EmbedParams("pca"), cache, KEY)
    job.start()
    assert isinstance(poll_until(job)[-1], Finished)
    assert path.exists()


def test_job_without_a_cache_still_finishes(small: np.ndarray) -> None:
    job = EmbeddingJob(small, EmbedParams("pca"), EmbeddingCache(None), KEY)
    job.start()
    finished = poll_until(job)[-1]
    assert isinstance(finished, Finished) and finished.cache_path is None
    assert finished.coords.shape == (300, 2)


# --- cancelling --------------------------------------------------------------------------------


def test_cancel_mid_tsne_kills_the_child_and_caches_nothing(
    small: np.ndarray, cache: EmbeddingCache, private_tempdir: Path
) -> None:
    job = EmbeddingJob(small, EmbedParams("tsne", perplexity=20), cache, KEY)
    job.start()
    assert job._process is not None
    process = job._process

    def optimising(events: list[Event]) -> bool:
        return any(isinstance(e, Progress) and 0 < e.fraction < 1 for e in events)

    events = poll_until(job, optimising)
    assert not any(isinstance(e, Finished) for e in events), "run finished before the cancel"
    job.cancel()
    assert process.poll() is not None  # cancel() returns only once the child is gone
    assert job.done and job.cancelled
    assert job.poll() == []
    assert cache.load(KEY) is None
    assert cached_entries(cache) == []
    assert job_files(private_tempdir) == []
    job.cancel()  # harmless twice


def test_dropping_a_job_stops_its_child(small: np.ndarray, cache: EmbeddingCache) -> None:
    job = EmbeddingJob(small, EmbedParams("tsne", perplexity=20), cache, KEY)
    job.start()
    assert job._process is not None
    process = job._process
    del job
    gc.collect()
    assert process.poll() is not None
    assert cached_entries(cache) == []


# --- failing -----------------------------------------------------------------------------------


def test_bad_parameters_fail_without_starting_a_process(
    small: np.ndarray, cache: EmbeddingCache
) -> None:
    job = EmbeddingJob(small[:30], EmbedParams("tsne", perplexity=30), cache, KEY)
    job.start()
    assert job.pid is None and job.done
    events = job.poll()
    assert len(events) == 1 and isinstance(events[0], Failed)
    assert "perplexity 30 is too large for 30 points" in events[0].message
    assert job.poll() == []


def test_unknown_method_fails_cleanly(small: np.ndarray, cache: EmbeddingCache) -> None:
    job = EmbeddingJob(small, EmbedParams("nope"), cache, KEY)
    job.start()
    events = job.poll()
    assert isinstance(events[0], Failed) and "unknown method 'nope'" in events[0].message


def test_unreadable_features_file_fails(tmp_path: Path, cache: EmbeddingCache) -> None:
    path = tmp_path / "garbage.npy"
    path.write_bytes(b"not an npy file")
    job = EmbeddingJob(path, EmbedParams("pca"), cache, KEY)
    job.start()
    events = job.poll()
    assert (
        isinstance(events[0], Failed) and "garbage.npy: cannot read features" in events[0].message
    )


def test_bad_data_fails_in_the_child_with_one_line(
    small: np.ndarray, cache: EmbeddingCache
) -> None:
    features = small.copy()
    features[5, 5] = np.nan
    job = EmbeddingJob(features, EmbedParams("pca"), cache, KEY)
    job.start()
    assert job.pid is not None
    failed = poll_until(job)[-1]
    assert isinstance(failed, Failed)
    assert failed.message == "features contain NaN or infinite values"
    assert cached_entries(cache) == []


def test_a_child_that_dies_is_reported(small: np.ndarray, cache: EmbeddingCache) -> None:
    job = EmbeddingJob(small, EmbedParams("tsne", perplexity=20), cache, KEY)
    job.start()
    assert job.pid is not None
    poll_until(job, lambda events: bool(events))  # the child is up and reporting
    os.kill(job.pid, signal.SIGKILL)
    failed = poll_until(job)[-1]
    assert isinstance(failed, Failed)
    assert "exited unexpectedly" in failed.message and "-9" in failed.message
    assert cached_entries(cache) == []


# --- synchronous path --------------------------------------------------------------------------


class FakeDataset:
    name = "fake"

    def __init__(self, features: np.ndarray) -> None:
        self._features = features
        self.n = len(features)
        self.feature_calls = 0

    def features(self) -> np.ndarray:
        self.feature_calls += 1
        return self._features

    def fingerprint(self) -> str:
        return "1234" * 16


def test_get_or_compute_stores_then_hits(
    small: np.ndarray, cache: EmbeddingCache, monkeypatch: pytest.MonkeyPatch
) -> None:
    dataset = FakeDataset(small)
    params = EmbedParams("pca")
    seen: list[float] = []
    first = get_or_compute(dataset, params, cache, progress=lambda f, p: seen.append(f))
    assert seen[-1] == 1.0
    assert cache.load(embedding_key(dataset.fingerprint(), params)) is not None

    def no_compute(*args: object, **kwargs: object) -> np.ndarray:
        raise AssertionError("should have been a cache hit")

    monkeypatch.setattr(jobs, "compute_embedding", no_compute)
    second = get_or_compute(dataset, params, cache)
    np.testing.assert_array_equal(first, second)
    assert dataset.feature_calls == 1  # a hit does not even build the features


def test_get_or_compute_without_cache_and_with_bad_params(small: np.ndarray) -> None:
    dataset = FakeDataset(small)
    coords = get_or_compute(dataset, EmbedParams("pca"), None)
    assert coords.shape == (300, 2)
    with pytest.raises(InputError, match="n_neighbors"):
        get_or_compute(dataset, EmbedParams("umap", n_neighbors=300), EmbeddingCache(None))
    with pytest.raises(InputError, match="perplexity must be a number"):
        get_or_compute(dataset, EmbedParams("tsne", perplexity="30"), EmbeddingCache(None))  # type: ignore[arg-type]


# --- UMAP in the worker (slow: numba compiles on a cold cache) -------------------------------


@pytest.mark.slow
def test_umap_job_reports_phases_and_fills_the_numba_cache(
    small: np.ndarray, cache: EmbeddingCache
) -> None:
    job = EmbeddingJob(small, EmbedParams("umap"), cache, KEY)
    job.start()
    events = poll_until(job)
    assert isinstance(events[-1], Finished)
    phases = [e.phase for e in events if isinstance(e, Progress)]
    assert phases[0].startswith("importing umap")
    assert "nearest neighbours" in phases and "optimising" in phases
    assert cache.directory is not None
    assert list((cache.directory / "numba").rglob("*.nbi"))  # compiled code kept for next time


# --- quitting ----------------------------------------------------------------------------------

EXIT_SCRIPT = """
import sys, time
import numpy as np
from digitmap_tui.cache import EmbeddingCache
from digitmap_tui.methods.params import EmbedParams
from digitmap_tui.jobs import EmbeddingJob, Progress

if __name__ == "__main__":
    method, ending = sys.argv[1], sys.argv[2]
    features = np.random.default_rng(0).normal(size=(400, 16)).astype(np.float32)
    job = EmbeddingJob(features, EmbedParams(method), EmbeddingCache(sys.argv[3]), "ab" * 32)
    job.start()
    seen = []
    while not any(isinstance(e, Progress) and e.phase == "optimising" for e in seen):
        seen += job.poll()
        assert not job.done, seen
        time.sleep(0.02)
    if ending == "cancel":
        job.cancel()
    print("leaving", flush=True)
"""


def run_exit_script(tmp_path: Path, method: str, ending: str) -> subprocess.CompletedProcess[str]:
    script = tmp_path / "quit.py"
    script.write_text(EXIT_SCRIPT)
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1])}
    return subprocess.run(
        [sys.executable, str(script), method, ending, str(tmp_path / "cache")],
        capture_output=True,
        text=True,
        env=env,
        timeout=POLL_LIMIT_SECONDS,
        check=False,
    )


@pytest.mark.parametrize("ending", ["cancel", "leave running"])
def test_quitting_with_a_job_prints_nothing_and_caches_nothing(tmp_path: Path, ending: str) -> None:
    result = run_exit_script(tmp_path, "tsne", ending)
    assert result.returncode == 0, result.stderr
    assert result.stdout == "leaving\n"
    assert result.stderr == ""  # no traceback, no resource-tracker warning on the terminal
    assert not list((tmp_path / "cache").rglob("*.npz"))


@pytest.mark.slow
def test_cancelling_umap_mid_epochs_leaves_no_semaphore_behind(tmp_path: Path) -> None:
    result = run_exit_script(tmp_path, "umap", "cancel")
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""


# --- parents that vanish, signals, the numba cache -----------------------------------------------

ORPHAN_SCRIPT = """
import sys, time
import numpy as np
from digitmap_tui.cache import EmbeddingCache
from digitmap_tui.methods.params import EmbedParams
from digitmap_tui.jobs import EmbeddingJob, Progress

if __name__ == "__main__":
    features = np.random.default_rng(0).normal(size=(3000, 32)).astype(np.float32)
    job = EmbeddingJob(features, EmbedParams("tsne"), EmbeddingCache(sys.argv[1]), "ab" * 32)
    if sys.argv[2] == "thread":  # started from a thread: no kernel death signal, the pipe only
        import threading
        starter = threading.Thread(target=job.start)
        starter.start()
        starter.join()
    else:
        job.start()
    seen = []
    while not any(isinstance(e, Progress) for e in seen):
        seen += job.poll()
        assert not job.done, seen
        time.sleep(0.02)
    print(job.pid, flush=True)
    time.sleep(600)
"""


def process_state(pid: int) -> str | None:
    """The state letter of ``pid`` from /proc (None: no such process)."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return None


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="reads /proc")
@pytest.mark.parametrize("started_from", ["main", "thread"])
def test_a_worker_whose_parent_is_killed_ends_at_once_and_caches_nothing(
    tmp_path: Path, private_tempdir: Path, started_from: str
) -> None:
    script = tmp_path / "orphan.py"
    script.write_text(ORPHAN_SCRIPT)
    env = {
        **os.environ,
        "PYTHONPATH": str(Path(__file__).resolve().parents[1]),
        "TMPDIR": str(private_tempdir),
    }
    parent = subprocess.Popen(
        [sys.executable, str(script), str(tmp_path / "cache"), started_from],
        stdout=subprocess.PIPE,
        text=True,
        env=env,
    )
    try:
        assert parent.stdout is not None
        child = int(parent.stdout.readline())
        assert process_state(child) not in (None, "Z")
        parent.send_signal(signal.SIGKILL)
        parent.wait(timeout=10)
        deadline = time.monotonic() + POLL_LIMIT_SECONDS
        while process_state(child) not in (None, "Z") and time.monotonic() < deadline:
            time.sleep(0.05)
        assert process_state(child) in (None, "Z"), "the orphaned worker kept running"
    finally:
        parent.kill()
    assert not list((tmp_path / "cache").rglob("*.npz"))
    assert list(private_tempdir.iterdir()) == []


def test_a_job_writes_no_temporary_file(
    small: np.ndarray, cache: EmbeddingCache, private_tempdir: Path
) -> None:
    job = EmbeddingJob(small, EmbedParams("tsne", perplexity=20), cache, KEY)
    job.start()
    poll_until(job, lambda events: bool(events))  # the worker has the features and runs
    assert list(private_tempdir.iterdir()) == []
    job.cancel()


def test_cancel_all_stops_every_live_job_and_none_caches(
    small: np.ndarray, cache: EmbeddingCache
) -> None:
    first = EmbeddingJob(small, EmbedParams("tsne", perplexity=20), cache, KEY)
    second = EmbeddingJob(small, EmbedParams("tsne", perplexity=25), cache, "1f" * 32)
    for job in (first, second):
        job.start()
    assert set(jobs.live_jobs()) == {first, second}
    poll_until(first, lambda events: bool(events))
    assert jobs.cancel_all() == 2
    for job in (first, second):
        assert job.cancelled
        assert job.poll() == []  # no "failed": a cancel is not a failure
        assert job.done and job._process is not None
        assert job._process.poll() is not None
    assert jobs.live_jobs() == []
    assert cached_entries(cache) == []


def test_an_old_job_folder_is_removed_a_fresh_or_foreign_one_is_kept(
    small: np.ndarray, private_tempdir: Path
) -> None:
    old = private_tempdir / "digitmap-job-old"
    fresh = private_tempdir / "digitmap-job-fresh"
    for folder in (old, fresh):
        folder.mkdir()
        (folder / "features.npy").write_bytes(b"x")
    two_hours_ago = time.time() - 7200
    os.utime(old, (two_hours_ago, two_hours_ago))
    job = EmbeddingJob(small, EmbedParams("pca"), EmbeddingCache(None), KEY)
    job.start()
    poll_until(job)
    assert sorted(p.name for p in private_tempdir.iterdir()) == ["digitmap-job-fresh"]


def test_an_untrusted_numba_cache_is_never_used(tmp_path: Path) -> None:
    cache = EmbeddingCache(tmp_path / "cache")
    numba = tmp_path / "cache" / "numba"
    numba.mkdir(parents=True, mode=0o700)
    (tmp_path / "cache").chmod(0o700)
    assert jobs.numba_cache_dir(cache) == numba
    planted = numba / "umap_layouts-optimize.py311.nbi"
    planted.write_bytes(b"\x80\x04 a pickle that runs code")
    planted.chmod(0o666)  # anyone could have written it
    assert jobs.numba_cache_dir(cache) is None
    planted.chmod(0o600)
    numba.chmod(0o777)
    assert jobs.numba_cache_dir(cache) is None
    assert jobs.numba_cache_dir(EmbeddingCache(None)) is None


def test_a_failure_from_a_file_name_is_one_escaped_line(tmp_path: Path) -> None:
    path = tmp_path / "evil\x1b]0;owned\x07\n.npy"
    path.write_bytes(b"not an npy file")
    job = EmbeddingJob(path, EmbedParams("pca"), EmbeddingCache(None), KEY)
    job.start()
    (failed,) = job.poll()
    assert isinstance(failed, Failed)
    assert "evil\\x1b]0;owned\\x07\\x0a.npy: cannot read features" in failed.message
    assert Failed("a\x9bb\u2028c").message == "a\\x9bb\\u2028c"
