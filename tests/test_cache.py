"""The embedding cache: keys, round trips, damaged entries, atomic and concurrent writes."""

from __future__ import annotations

import io
import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from digitmap_tui import cache as cache_module
from digitmap_tui.cache import (
    CACHE_FORMAT_VERSION,
    TEMP_SUFFIX,
    EmbeddingCache,
    default_cache_dir,
    embedding_key,
    embedding_meta,
)
from digitmap_tui.methods.params import EmbedParams

ROOT = Path(__file__).resolve().parents[1]
KEY = "ab" * 32
COORDS = np.arange(20, dtype=np.float64).reshape(10, 2)


@pytest.fixture
def cache(tmp_path: Path) -> EmbeddingCache:
    return EmbeddingCache(tmp_path / "cache")


def entry_path(cache: EmbeddingCache, key: str = KEY) -> Path:
    path = cache.path_for(key)
    assert path is not None
    return path


def child(code: str) -> subprocess.Popen[str]:
    """Start a fresh interpreter running `code` with the project importable."""
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.Popen(
        [sys.executable, "-c", textwrap.dedent(code)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


# --- where and under which name ---------------------------------------------------------------


def test_default_cache_dir_honours_the_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DIGITMAP_CACHE_DIR", str(tmp_path / "here"))
    assert default_cache_dir() == tmp_path / "here"
    monkeypatch.delenv("DIGITMAP_CACHE_DIR")
    assert default_cache_dir().name == "digitmap-tui"


def test_key_is_stable_hex_and_covers_what_changes_the_result(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    base = embedding_key("f" * 64, EmbedParams("tsne"))
    assert len(base) == 64 and int(base, 16) >= 0
    assert embedding_key("f" * 64, EmbedParams("tsne")) == base
    # Irrelevant parameters and int/float spelling do not matter ...
    assert embedding_key("f" * 64, EmbedParams("tsne", n_neighbors=3, min_dist=0.9)) == base
    assert embedding_key("f" * 64, EmbedParams("tsne", perplexity=30)) == base
    assert embedding_key("f" * 64, EmbedParams("pca", seed=1)) == embedding_key(
        "f" * 64, EmbedParams("pca", seed=2)
    )
    # ... everything else does.
    others = {
        embedding_key("e" * 64, EmbedParams("tsne")),
        embedding_key("f" * 64, EmbedParams("umap")),
        embedding_key("f" * 64, EmbedParams("tsne", seed=1)),
        embedding_key("f" * 64, EmbedParams("tsne", perplexity=31)),
    }
    assert base not in others and len(others) == 4
    monkeypatch.setattr(cache_module, "library_version", lambda method: "openTSNE 9.9")
    assert embedding_key("f" * 64, EmbedParams("tsne")) != base


# --- round trip --------------------------------------------------------------------------------


def test_round_trip(cache: EmbeddingCache) -> None:
    meta = embedding_meta(EmbedParams("tsne"), dataset="digits")
    path = cache.store(KEY, COORDS, meta)
    assert path == entry_path(cache) and path.parent.name == "embeddings"
    loaded = cache.load(KEY)
    assert loaded is not None and loaded.dtype == np.float64
    np.testing.assert_array_equal(loaded, COORDS)
    # The metadata is a JSON string: readable without pickle.
    with np.load(path, allow_pickle=False) as npz:
        stored = json.loads(str(npz["meta"]))
    assert stored["describe"] == "t-SNE perplexity 30 seed 0"
    assert stored["format"] == CACHE_FORMAT_VERSION and stored["key"] == KEY
    assert stored["n"] == 10 and stored["dataset"] == "digits"
    assert [p.name for p in path.parent.iterdir()] == [path.name]  # no temp file left


def test_miss_when_nothing_stored(cache: EmbeddingCache) -> None:
    assert cache.load(KEY) is None
    assert cache.last_problem is None


def test_store_refuses_unusable_coordinates(cache: EmbeddingCache) -> None:
    with pytest.raises(ValueError):
        cache.store(KEY, np.array([[0.0, np.nan]]), {})
    with pytest.raises(ValueError):
        cache.store(KEY, np.zeros((4, 3)), {})
    assert not entry_path(cache).exists()


def test_keys_must_be_hex_digests(cache: EmbeddingCache) -> None:
    with pytest.raises(ValueError):
        cache.load("../../etc/passwd")


# --- damaged entries: every kind is a miss, then replaced -------------------------------------


def npz_bytes(**arrays: object) -> bytes:
    buffer = io.BytesIO()
    np.savez(buffer, **arrays)  # type: ignore[arg-type]
    return buffer.getvalue()


def meta_text(**changes: object) -> np.ndarray:
    meta = {"format": CACHE_FORMAT_VERSION, "key": KEY, "n": 10, **changes}
    return np.array(json.dumps(meta))


def truncated(path: Path) -> bytes:
    return path.read_bytes()[: path.stat().st_size // 2]


DAMAGE: dict[str, Callable[[Path], bytes]] = {
    "truncated": truncated,
    "empty": lambda path: b"",
    "garbage": lambda path: os.urandom(3000),
    "flipped bytes": lambda path: path.read_bytes()[:200] + b"\xff" * 200 + path.read_bytes()[400:],
    "pickled object array": lambda path: npz_bytes(
        coords=np.array([{"x": 1}], dtype=object), meta=meta_text()
    ),
    "pickled meta dict": lambda path: npz_bytes(
        coords=COORDS, meta=np.array({"format": 1}, dtype=object)
    ),
    "foreign version": lambda path: npz_bytes(coords=COORDS, meta=meta_text(format=999)),
    "other key": lambda path: npz_bytes(coords=COORDS, meta=meta_text(key="cd" * 32)),
    "meta not json": lambda path: npz_bytes(coords=COORDS, meta=np.array("{nope")),
    "wrong shape": lambda path: npz_bytes(coords=np.zeros((10, 3)), meta=meta_text()),
    "wrong row count": lambda path: npz_bytes(coords=COORDS, meta=meta_text(n=11)),
    "wrong dtype": lambda path: npz_bytes(coords=COORDS.astype(np.float32), meta=meta_text()),
    "NaN": lambda path: npz_bytes(coords=np.where(COORDS > 5, np.nan, COORDS), meta=meta_text()),
    "extra array": lambda path: npz_bytes(coords=COORDS, meta=meta_text(), extra=np.zeros(1)),
    "plain npy": lambda path: np.lib.format.magic(1, 0) + b"\x00" * 100,
}


@pytest.mark.parametrize("damage", sorted(DAMAGE))
def test_damaged_entry_is_a_miss_and_gets_replaced(cache: EmbeddingCache, damage: str) -> None:
    path = cache.store(KEY, COORDS, {})
    assert path is not None
    path.write_bytes(DAMAGE[damage](path))
    assert cache.load(KEY) is None
    assert cache.last_problem  # says what was wrong, for a log line
    assert "\n" not in cache.last_problem
    replacement = COORDS + 1
    assert cache.store(KEY, replacement, {}) == path
    loaded = cache.load(KEY)
    assert loaded is not None
    np.testing.assert_array_equal(loaded, replacement)


def test_a_directory_in_place_of_an_entry_is_a_miss(cache: EmbeddingCache) -> None:
    entry_path(cache).mkdir(parents=True)
    assert cache.load(KEY) is None


# --- atomic and concurrent writes --------------------------------------------------------------


def test_two_processes_storing_the_same_key_leave_one_valid_file(cache: EmbeddingCache) -> None:
    code = """
        import numpy as np
        from digitmap_tui.cache import EmbeddingCache
        cache = EmbeddingCache({directory!r})
        for i in range(40):
            assert cache.store({key!r}, np.full((500, 2), {value} + i), {{"writer": {value}}})
        print("ok")
    """
    writers = [
        child(code.format(directory=str(cache.directory), key=KEY, value=value))
        for value in (1000.0, 2000.0)
    ]
    outputs = [writer.communicate(timeout=120) for writer in writers]
    for writer, (out, err) in zip(writers, outputs, strict=True):
        assert writer.returncode == 0, err
        assert out.strip() == "ok"
    loaded = cache.load(KEY)
    assert loaded is not None and loaded.shape == (500, 2)
    assert loaded[0, 0] in (1039.0, 2039.0)  # one writer's last value, whole
    assert (loaded == loaded[0, 0]).all()
    assert [p.name for p in entry_path(cache).parent.iterdir()] == [f"{KEY}.npz"]


def test_a_writer_killed_mid_write_leaves_nothing_that_reads_as_valid(
    cache: EmbeddingCache,
) -> None:
    # The child writes and fsyncs its temp file, then hangs where it would rename it.
    writer = child(
        f"""
        import os, time, numpy as np
        from digitmap_tui.cache import EmbeddingCache
        os.replace = lambda *args: (print("written", flush=True), time.sleep(600))
        EmbeddingCache({str(cache.directory)!r}).store({KEY!r}, np.ones((50, 2)), {{}})
        """
    )
    assert writer.stdout is not None
    assert writer.stdout.readline().strip() == "written"
    writer.send_signal(signal.SIGKILL)
    writer.wait(timeout=10)
    leftovers = list(entry_path(cache).parent.iterdir())
    assert len(leftovers) == 1 and leftovers[0].name.endswith(TEMP_SUFFIX)
    assert cache.load(KEY) is None  # the temp file is never read
    # A fresh temp file might belong to a live writer: kept. An hour-old one is removed.
    cache.store("cd" * 32, COORDS, {})
    assert leftovers[0].exists()
    old = time.time() - 2 * 3600
    os.utime(leftovers[0], (old, old))
    cache.store("cd" * 32, COORDS, {})
    assert not leftovers[0].exists()


def test_a_store_that_fails_midway_removes_its_temp_file(
    cache: EmbeddingCache, monkeypatch: pytest.MonkeyPatch
) -> None:
    def failing_replace(src: object, dst: object) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "replace", failing_replace)
    assert cache.store(KEY, COORDS, {}) is None
    assert cache.warning is not None and "No space left on device" in cache.warning
    assert list(entry_path(cache).parent.iterdir()) == []


# --- disabled and unwritable -------------------------------------------------------------------


def test_disabled_cache_is_a_no_op() -> None:
    disabled = EmbeddingCache(None)
    assert not disabled.enabled
    assert disabled.path_for(KEY) is None
    assert disabled.store(KEY, COORDS, {}) is None
    assert disabled.load(KEY) is None
    assert disabled.warning is None


def test_unwritable_directory_stores_nothing_and_says_so(tmp_path: Path) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("not a directory")
    unwritable = EmbeddingCache(blocker / "cache")  # mkdir fails even for root
    assert unwritable.store(KEY, COORDS, {}) is None
    assert unwritable.warning is not None and "cache not written" in unwritable.warning
    assert unwritable.load(KEY) is None


@pytest.mark.skipif(os.geteuid() == 0, reason="root can write anywhere")
def test_read_only_directory_stores_nothing(tmp_path: Path) -> None:
    directory = tmp_path / "ro"
    (directory / "embeddings").mkdir(parents=True)
    (directory / "embeddings").chmod(0o500)
    try:
        assert EmbeddingCache(directory).store(KEY, COORDS, {}) is None
    finally:
        (directory / "embeddings").chmod(0o700)
