"""Content-addressed cache of embeddings: one `.npz` per (data, method, parameters, library).

Entries are written atomically (a temporary file in the same directory, then `os.replace`),
so readers see either nothing or a whole file. Anything odd about an entry makes `load`
report a miss; the embedding is then recomputed and the entry replaced.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

from .methods.params import EmbedParams, library_version

CACHE_FORMAT_VERSION = 1
"""Bump when the file layout or the meaning of a key changes; old entries become misses."""

ENTRY_SUFFIX = ".npz"
TEMP_SUFFIX = ".partial"  # never matches `<key>.npz`, so a half-written file is never read
STALE_TEMP_SECONDS = 3600.0

_KEY = re.compile(r"^[0-9a-f]{64}$")


def default_cache_dir() -> Path:
    """$DIGITMAP_CACHE_DIR if set, else the platform's user cache directory for digitmap-tui."""
    env = os.environ.get("DIGITMAP_CACHE_DIR")
    if env:
        return Path(env).expanduser()
    import platformdirs

    return Path(platformdirs.user_cache_dir("digitmap-tui"))


def embedding_key(fingerprint: str, params: EmbedParams) -> str:
    """Hex sha256 naming the embedding of the data `fingerprint` with `params`."""
    payload = {
        "format": CACHE_FORMAT_VERSION,
        "fingerprint": fingerprint,
        "method": params.method,
        "params": params.relevant(),
        "library": library_version(params.method),
    }
    text = json.dumps(payload, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def embedding_meta(params: EmbedParams, **extra: object) -> dict[str, object]:
    """The metadata stored next to the coordinates (for people reading the cache)."""
    return {
        "method": params.method,
        "params": params.relevant(),
        "describe": params.describe(),
        "library": library_version(params.method),
        "auto": bool(params.auto_choice) and params.auto_choice == params.method,
        **extra,
    }


class EmbeddingCache:
    """`.npz` files under `<directory>/embeddings/`; `EmbeddingCache(None)` is a disabled cache.

    `warning` holds a one-line note when the cache could not be written (the explorer keeps
    working without it); `last_problem` says why the last `load` treated an entry as a miss.
    """

    def __init__(self, directory: Path | str | None) -> None:
        self.directory = None if directory is None else Path(directory)
        self.warning: str | None = None
        self.last_problem: str | None = None

    def __repr__(self) -> str:
        return f"EmbeddingCache({str(self.directory) if self.directory else None!r})"

    @property
    def enabled(self) -> bool:
        return self.directory is not None

    @property
    def entries_dir(self) -> Path | None:
        return None if self.directory is None else self.directory / "embeddings"

    def path_for(self, key: str) -> Path | None:
        """Where the entry for `key` lives (None when disabled)."""
        if self.directory is None:
            return None
        if not _KEY.match(key):
            raise ValueError(f"not a cache key: {key!r}")
        return self.directory / "embeddings" / f"{key}{ENTRY_SUFFIX}"

    def load(self, key: str) -> np.ndarray | None:
        """The (N, 2) float64 coordinates stored under `key`, or None for a miss.

        Never raises on a bad entry: damaged, truncated, foreign, pickled, wrong-shape or
        non-finite entries are all misses (`last_problem` says which).
        """
        self.last_problem = None
        path = self.path_for(key)
        if path is None or not path.is_file():
            return None
        try:
            return _read_entry(path, key)
        except Exception as exc:  # any bad entry is a miss; it gets recomputed and replaced
            self.last_problem = f"{path.name}: {exc}".splitlines()[0]
            return None

    def store(self, key: str, coords: np.ndarray, meta: dict[str, Any]) -> Path | None:
        """Write `coords` under `key` atomically; the final path, or None if disabled/unwritable."""
        path = self.path_for(key)
        if path is None:
            return None
        coords = np.ascontiguousarray(coords, dtype=np.float64)
        if coords.ndim != 2 or coords.shape[1] != 2 or not np.isfinite(coords).all():
            raise ValueError(f"refusing to cache coordinates of shape {coords.shape} / non-finite")
        record = {
            **meta,
            "format": CACHE_FORMAT_VERSION,
            "key": key,
            "n": int(coords.shape[0]),
            "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        }
        text = json.dumps(record, sort_keys=True, default=str)
        tmp_name: str | None = None
        try:
            path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)  # private, like its parent
            _remove_stale_temps(path.parent)
            with tempfile.NamedTemporaryFile(
                dir=path.parent, prefix=f".{key[:16]}-", suffix=TEMP_SUFFIX, delete=False
            ) as handle:
                tmp_name = handle.name
                # A file object, not a path: np.savez would append ".npz" to a path.
                np.savez(handle, coords=coords, meta=np.array(text))
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(tmp_name, path)
            tmp_name = None
            _fsync_dir(path.parent)
        except OSError as exc:
            self.warning = f"cache not written ({path.parent}): {exc.strerror or exc}"
            return None
        finally:
            if tmp_name is not None:
                _unlink_quietly(Path(tmp_name))
        return path


def _read_entry(path: Path, key: str) -> np.ndarray:
    with np.load(path, allow_pickle=False) as npz:  # raises on pickles, garbage, truncation
        if not isinstance(npz, np.lib.npyio.NpzFile):
            raise ValueError("not an .npz archive")
        if set(npz.files) != {"coords", "meta"}:
            raise ValueError(f"unexpected arrays {sorted(npz.files)}")
        meta_array = npz["meta"]
        if meta_array.shape != () or meta_array.dtype.kind != "U":
            raise ValueError("meta is not a JSON string")
        meta = json.loads(str(meta_array))
        if not isinstance(meta, dict) or meta.get("format") != CACHE_FORMAT_VERSION:
            raise ValueError(
                f"foreign cache format {meta.get('format') if isinstance(meta, dict) else meta!r}"
            )
        if meta.get("key") != key:
            raise ValueError("entry belongs to another key")
        coords = npz["coords"]
    if coords.dtype != np.float64 or coords.ndim != 2 or coords.shape[1] != 2:
        raise ValueError(f"coords have shape {coords.shape} dtype {coords.dtype}")
    if coords.shape[0] != meta.get("n"):
        raise ValueError(f"coords have {coords.shape[0]} rows, meta says {meta.get('n')}")
    if not np.isfinite(coords).all():
        raise ValueError("coords contain NaN or infinite values")
    return np.ascontiguousarray(coords)


def _remove_stale_temps(directory: Path) -> None:
    """Delete temp files left by writers killed over an hour ago (never a live writer's)."""
    cutoff = time.time() - STALE_TEMP_SECONDS
    try:
        for tmp in directory.glob(f".*{TEMP_SUFFIX}"):
            try:
                if tmp.stat().st_mtime < cutoff:
                    tmp.unlink()
            except OSError:
                pass  # another process removed it, or we may not: harmless
    except OSError:
        pass


def _fsync_dir(directory: Path) -> None:
    # Makes the rename durable across a power cut; best effort (not possible everywhere).
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def _unlink_quietly(path: Path) -> None:
    try:
        path.unlink()
    except OSError:
        pass


__all__ = [
    "CACHE_FORMAT_VERSION",
    "EmbeddingCache",
    "default_cache_dir",
    "embedding_key",
    "embedding_meta",
]
