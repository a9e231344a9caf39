"""Helpers every benchmark shares: medians, synthetic data, the repository on sys.path."""

from __future__ import annotations

import itertools
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


def _arc(cx: float, cy: float, rx: float, ry: float, a0: float, a1: float, n: int = 8) -> list:
    """Points along an ellipse from angle a0 to a1 (degrees; y grows downwards)."""
    angles = np.radians(np.linspace(a0, a1, n + 1))
    return list(zip(cx + rx * np.cos(angles), cy + ry * np.sin(angles), strict=True))


#: Strokes (polylines in a unit box, y down) of each digit, two or three styles per digit, so
#: that the classes have sub-clusters (the plain and the hooked 1, the open and the closed 4...).
_DIGIT_STYLES: list[list[list[list[tuple[float, float]]]]] = [
    [[_arc(0.5, 0.5, 0.26, 0.38, 0, 360, 16)], [_arc(0.5, 0.5, 0.2, 0.4, 0, 360, 16)]],
    [
        [[(0.5, 0.1), (0.5, 0.9)]],
        [[(0.32, 0.28), (0.5, 0.1), (0.5, 0.9)]],
        [[(0.62, 0.1), (0.4, 0.9)], [(0.3, 0.9), (0.55, 0.9)]],
    ],
    [
        [[*_arc(0.5, 0.32, 0.24, 0.22, 180, 360), (0.25, 0.9), (0.8, 0.9)]],
        [
            [
                *_arc(0.5, 0.3, 0.22, 0.2, 160, 380),
                (0.3, 0.85),
                *_arc(0.45, 0.85, 0.15, 0.08, 180, 0),
            ]
        ],
    ],
    [
        [_arc(0.45, 0.3, 0.25, 0.2, 220, 450), _arc(0.45, 0.7, 0.27, 0.2, 270, 500)],
        [[(0.25, 0.1), (0.72, 0.1), (0.45, 0.45)], _arc(0.45, 0.68, 0.27, 0.22, 270, 500)],
    ],
    [
        [[(0.65, 0.1), (0.2, 0.62), (0.82, 0.62)], [(0.65, 0.1), (0.65, 0.9)]],
        [[(0.3, 0.1), (0.28, 0.55), (0.78, 0.55)], [(0.68, 0.3), (0.66, 0.9)]],
    ],
    [
        [[(0.75, 0.1), (0.32, 0.1), (0.28, 0.45)], _arc(0.45, 0.65, 0.28, 0.22, 230, 500)],
        [[(0.72, 0.12), (0.35, 0.1), (0.3, 0.5)], _arc(0.48, 0.68, 0.24, 0.2, 200, 480)],
    ],
    [
        [
            [(0.65, 0.08), *_arc(0.65, 0.6, 0.35, 0.52, 270, 180, 6)],
            _arc(0.5, 0.68, 0.2, 0.2, 0, 360),
        ],
        [[(0.6, 0.1), (0.3, 0.62)], _arc(0.48, 0.7, 0.2, 0.18, 0, 360)],
    ],
    [
        [[(0.2, 0.12), (0.8, 0.12), (0.42, 0.9)]],
        [[(0.2, 0.12), (0.8, 0.12), (0.42, 0.9)], [(0.35, 0.52), (0.72, 0.52)]],
    ],
    [
        [_arc(0.5, 0.3, 0.18, 0.18, 0, 360), _arc(0.5, 0.7, 0.23, 0.2, 0, 360)],
        [_arc(0.52, 0.3, 0.2, 0.17, 0, 360), _arc(0.46, 0.7, 0.2, 0.22, 0, 360)],
    ],
    [
        [_arc(0.48, 0.32, 0.2, 0.2, 0, 360), [(0.68, 0.32), (0.6, 0.9)]],
        [
            _arc(0.5, 0.3, 0.22, 0.18, 0, 360),
            [(0.72, 0.3), *_arc(0.45, 0.55, 0.27, 0.35, 0, 110, 5)],
        ],
    ],
]


def _segments(strokes: list[list[tuple[float, float]]]) -> np.ndarray:
    """(S, 2, 2) segments (start, end) x (x, y) of a style's polylines."""
    segs = [(a, b) for line in strokes for a, b in itertools.pairwise(line)]
    return np.asarray(segs, dtype=np.float32)


def mnist_like(n: int, seed: int = 0, chunk: int = 8192):
    """Yield (images (m, 28, 28) uint8, labels (m,) int64) chunks of ``n`` MNIST-like digits.

    Each image is a digit's strokes (one of two or three styles) under a random affine map
    (rotation, slant, scale, shift) with a random pen width, anti-aliased, plus a little
    noise: ten classes with sub-clusters and continuous variation inside each, as in MNIST.
    Deterministic for a seed; built chunk by chunk so ten million images never sit in memory.
    """
    side = 28
    yy, xx = np.mgrid[0:side, 0:side].astype(np.float32)
    pixels = np.stack([xx.ravel(), yy.ravel()], axis=1) + 0.5  # (784, 2), pixel centres
    styles = [[_segments(s) for s in digit] for digit in _DIGIT_STYLES]
    rng = np.random.default_rng(seed)
    for start in range(0, n, chunk):
        m = min(chunk, n - start)
        labels = rng.integers(0, 10, m)
        style = rng.integers(0, 6, m)
        angle = rng.normal(0, 0.18, m)
        shear = rng.normal(0, 0.2, m)
        scale = rng.uniform(0.75, 1.05, m) * side
        aspect = rng.uniform(0.8, 1.15, m)
        shift = rng.normal(0, 1.3, (m, 2))
        width = rng.uniform(0.9, 2.1, m).astype(np.float32)
        images = np.zeros((m, side * side), dtype=np.float32)
        for digit in range(10):
            for s, segs in enumerate(styles[digit]):
                rows = np.flatnonzero((labels == digit) & (style % len(styles[digit]) == s))
                if rows.size == 0:
                    continue
                c, si = np.cos(angle[rows]), np.sin(angle[rows])
                # per image: p' = A (p - 0.5) * scale + centre + shift
                a11 = c * scale[rows] * aspect[rows]
                a12 = (shear[rows] * c - si) * scale[rows]
                a21 = si * scale[rows] * aspect[rows]
                a22 = (shear[rows] * si + c) * scale[rows]
                p = segs - 0.5  # (S, 2, 2)
                x = a11[:, None, None] * p[None, :, :, 0] + a12[:, None, None] * p[None, :, :, 1]
                y = a21[:, None, None] * p[None, :, :, 0] + a22[:, None, None] * p[None, :, :, 1]
                x = (x + side / 2 + shift[rows, 0, None, None]).astype(np.float32)
                y = (y + side / 2 + shift[rows, 1, None, None]).astype(np.float32)
                ax, ay = x[:, :, 0], y[:, :, 0]  # (r, S)
                dx, dy = x[:, :, 1] - ax, y[:, :, 1] - ay
                length2 = np.maximum(dx * dx + dy * dy, 1e-6)
                best = np.full((rows.size, side * side), np.inf, dtype=np.float32)
                for k in range(segs.shape[0]):
                    px = pixels[None, :, 0] - ax[:, k, None]
                    py = pixels[None, :, 1] - ay[:, k, None]
                    t = np.clip(
                        (px * dx[:, k, None] + py * dy[:, k, None]) / length2[:, k, None], 0, 1
                    )
                    ex, ey = px - t * dx[:, k, None], py - t * dy[:, k, None]
                    np.minimum(best, ex * ex + ey * ey, out=best)
                ink = np.clip(width[rows, None] + 0.5 - np.sqrt(best), 0, 1)
                images[rows] = ink
        images += rng.normal(0, 0.04, images.shape).astype(np.float32)
        out = np.clip(images * 255, 0, 255).astype(np.uint8).reshape(m, side, side)
        yield out, labels.astype(np.int64)


def write_mnist_like(path: Path, n: int, seed: int = 0) -> np.ndarray:
    """Write ``n`` MNIST-like images to the ``.npy`` file ``path`` chunk by chunk; the labels."""
    images = np.lib.format.open_memmap(path, mode="w+", dtype=np.uint8, shape=(n, 28, 28))
    labels = np.empty(n, dtype=np.int64)
    done = 0
    for chunk, lab in mnist_like(n, seed):
        images[done : done + len(chunk)] = chunk
        labels[done : done + len(chunk)] = lab
        done += len(chunk)
    images.flush()
    del images
    return labels
