"""Helpers every benchmark shares: medians, synthetic data, the repository on sys.path."""

from __future__ import annotations

import signal
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))


def exit_on_hangup() -> None:
    """SIGTERM and SIGHUP end the benchmark through SystemExit, so that every ``with``
    block (temporary directories, child programs) cleans up, as after Ctrl-C."""

    def stop(signum: int, frame: object) -> None:
        raise SystemExit(128 + signum)

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGHUP, stop)


def median_ms(fn: Callable[[], object], repeats: int, warmup: int = 1) -> float:
    """Median wall time of ``fn()`` in milliseconds over ``repeats`` runs (after ``warmup``)."""
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times) * 1000


def clustered_points(n: int, n_labels: int = 10, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """``n`` labelled 2-D points in Gaussian clusters of different spreads, like a t-SNE map.

    float64 (N, 2) coordinates and int64 labels, deterministic for a seed.
    """
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(n_labels, 2)) * 25
    spread = rng.uniform(1.5, 5.0, n_labels)
    labels = rng.integers(0, n_labels, n)
    xy = centres[labels] + rng.normal(size=(n, 2)) * spread[labels, None]
    return xy, labels.astype(np.int64)


def synthetic_images(labels: np.ndarray, side: int = 8, seed: int = 0) -> np.ndarray:
    """(N, side, side) uint8 images that look like scanned digits: a black background and a
    bright stroke whose place and slant depend on the label, jittered per image.

    Built in chunks, so that a million images never need a float copy in memory.
    """
    n = len(labels)
    out = np.empty((n, side, side), dtype=np.uint8)
    yy, xx = np.mgrid[0:side, 0:side].astype(np.float32)
    rng = np.random.default_rng(seed)
    chunk = 65536
    for start in range(0, n, chunk):
        lab = labels[start : start + chunk].astype(np.float32)
        m = len(lab)
        angle = lab * (np.pi / 10) + rng.normal(0, 0.15, m).astype(np.float32)
        shift = rng.normal(0, side / 16, (m, 2)).astype(np.float32)
        # distance of each pixel from a slanted line through the (jittered) centre
        cy = (side - 1) / 2 + shift[:, 0, None, None]
        cx = (side - 1) / 2 + shift[:, 1, None, None]
        d = np.abs(
            (yy[None] - cy) * np.cos(angle)[:, None, None]
            - (xx[None] - cx) * np.sin(angle)[:, None, None]
        )
        along = np.hypot(yy[None] - cy, xx[None] - cx)
        ink = np.clip(1.6 - d, 0, 1) * (along < side * 0.4)
        out[start : start + chunk] = (ink * 255).astype(np.uint8)
    return out
