"""Exact nearest neighbours by blocks of rows (BLAS), shared among threads."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import numpy as np

from digitmap_tui.errors import Cancelled

from .params import StopFn

# umap-learn finds neighbours exactly below 4096 points and with pynndescent above. The
# pynndescent path compiles ~20 s of numba code in every fresh process (its functions take
# other jitted functions as arguments, which numba cannot cache), so up to this much work
# (N*N*D multiply-adds, D after the PCA reduction) we find the exact neighbours ourselves,
# on every thread. Measured (benchmarks/knn.py, PCA-50 features of the MNIST-like set, 2 busy
# cores), exact vs pynndescent in a fresh process: 20,000 points 4.2 s vs 58 s; 40,000:
# 19 s vs 57 s; 60,000: 32 s vs 33 s; 70,000: 62 s vs 39 s. Exact stops at 60,000.
# Changing these limits changes UMAP results: bump cache.CACHE_FORMAT_VERSION.
OWN_KNN_MAX_POINTS = 60_000
OWN_KNN_MAX_WORK = 2e11
OWN_KNN_MIN_POINTS = 4096  # below this umap is exact and fast already


def exact_knn(
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
        with ThreadPoolExecutor(max_workers=threads) as pool:
            for future in [pool.submit(one_block, start) for start in starts]:
                future.result()  # re-raises Cancelled from any block
    return indices, dists


def uses_own_knn(n: int, d: int) -> bool:
    return OWN_KNN_MIN_POINTS <= n <= OWN_KNN_MAX_POINTS and float(n) * n * d <= OWN_KNN_MAX_WORK
