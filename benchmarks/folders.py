"""Reading an image folder: one process against the process pool, and the cached reopen.

Two synthetic folders are written once to a temporary directory: ``photos`` (N JPEG
"photos", 640x480 colour noise blurred into smooth shapes, 10 classes) and ``tiles`` (N
28x28 grey PNGs, the MNIST kind). Each is read without a cache by :func:`load_folder` with
``workers=1`` (every file in this process), with the pool forced on (``os.cpu_count()``
spawn workers, whatever the estimate says) and with the default (the first files timed,
the pool used only when the rest would take longer than starting it); then reopened from
the cache. Every figure is the median of several runs in this process, so the ratios hold
on a noisy machine.

Run as ``python -m benchmarks.folders [N] [REPEATS]`` (one JSON object on stdout).
"""

from __future__ import annotations

import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from benchmarks import _common  # noqa: F401 - puts the repository on sys.path
from digitmap_tui import folder


def write_folders(root: Path, n: int) -> tuple[Path, Path]:
    from PIL import Image, ImageFilter

    rng = np.random.default_rng(0)
    photos, tiles = root / "photos", root / "tiles"
    for k in range(n):
        cls = f"class{k % 10}"
        (photos / cls).mkdir(parents=True, exist_ok=True)
        (tiles / cls).mkdir(parents=True, exist_ok=True)
        noise = rng.integers(0, 256, (60, 80, 3), dtype=np.uint8)
        photo = Image.fromarray(noise).resize((640, 480)).filter(ImageFilter.GaussianBlur(6))
        photo.save(photos / cls / f"{k:05d}.jpg", quality=85)
        digit = rng.integers(0, 256, (28, 28), dtype=np.uint8)
        Image.fromarray(digit).save(tiles / cls / f"{k:05d}.png")
    return photos, tiles


def timed(fn, repeats: int) -> list[float]:  # type: ignore[no-untyped-def]
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return times


def measure(path: Path, repeats: int, cache: Path) -> dict[str, float]:
    workers = os.cpu_count() or 1
    saved = folder.POOL_WORTH_SECONDS
    one = timed(lambda: folder.load_folder(path, workers=1), repeats)
    folder.POOL_WORTH_SECONDS = 0.0
    try:
        pool = timed(lambda: folder.load_folder(path, workers=workers), repeats)
    finally:
        folder.POOL_WORTH_SECONDS = saved
    auto = timed(lambda: folder.load_folder(path), repeats)
    folder.load_folder(path, cache_dir=cache)
    cached = timed(lambda: folder.load_folder(path, cache_dir=cache), repeats)
    return {
        "one_process_s": statistics.median(one),
        "one_process_min_max_s": [min(one), max(one)],
        "pool_s": statistics.median(pool),
        "pool_min_max_s": [min(pool), max(pool)],
        "default_s": statistics.median(auto),
        "cached_s": statistics.median(cached),
        "pool_speedup": statistics.median(one) / statistics.median(pool),
        "workers": workers,
    }


def main() -> int:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 400
    repeats = int(sys.argv[2]) if len(sys.argv) > 2 else 3
    with tempfile.TemporaryDirectory(prefix="digitmap-folders-") as tmp:
        photos, tiles = write_folders(Path(tmp), n)
        out = {
            "n": n,
            "photos": measure(photos, repeats, Path(tmp) / "cache"),
            "tiles": measure(tiles, repeats, Path(tmp) / "cache"),
        }
    print(json.dumps(out))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
