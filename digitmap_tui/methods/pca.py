"""Principal components whose memory is bounded by the data's size, never by D².

Three exact-enough routes, chosen by the shape of the (N, D) data:

* D <= 2048: the D x D covariance accumulated over row chunks (at most 32 MB), then `eigh`;
* N <= 4096 (wide data, few rows): the N x N Gram matrix accumulated over column blocks
  (at most 128 MB), then `eigh`; components follow from the eigenvectors. 101 images of
  200 x 200 need a 101 x 101 matrix here, where a covariance would need 12.8 GB;
* otherwise: a randomized SVD (Halko, Martinsson & Tropp) with power iterations, every pass
  over the data in row chunks; memory O((N + D) * (k + 10)). Deterministic for its seed.

Rows are read in chunks and converted one chunk at a time, so a memory-mapped uint8 file is
never copied whole. Signs are fixed (each component's largest loading is positive), so the
same data always gives the same picture.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from digitmap_tui.errors import Cancelled

if TYPE_CHECKING:
    from .params import EmbedParams, ProgressFn
    from .threads import ThreadLimit

CHUNK_ROWS = 8192
_CHUNK_ELEMENTS = 4_000_000  # a float64 chunk is at most 32 MB, however wide the rows
COVARIANCE_MAX_DIM = 2048  # D x D float64 = 32 MB
GRAM_MAX_POINTS = 4096  # N x N float64 = 128 MB
_BLOCK_ELEMENTS = 4_000_000  # a column block of the Gram route: N x block <= 32 MB
_OVERSAMPLING = 10
_POWER_ITERATIONS = 4

StopFn = Callable[[], bool]


@dataclass(frozen=True)
class PCABasis:
    """The data's mean (D,) and its top principal directions as rows (k, D), float64."""

    mean: np.ndarray
    components: np.ndarray
    route: str  # "covariance", "gram" or "randomized": how they were found

    @property
    def k(self) -> int:
        """How many components."""
        return int(self.components.shape[0])

    def project(self, features: Any, dtype: Any = np.float64, width: int | None = None) -> Any:
        """(N, width) coordinates of `features` on the components, computed in row chunks.

        Computed as X @ V - mean @ V in `dtype` (float32 halves the work, for previews), so a
        chunk is converted once and never centred in a second copy. Columns past `k` (when
        `width` > k, e.g. a 2-D map of 1-D data) are zero.
        """
        n = int(features.shape[0])
        out = np.zeros((n, self.k if width is None else width), dtype=dtype)
        cols = min(self.k, out.shape[1])
        work = np.float32 if np.dtype(dtype) == np.float32 else np.float64
        basis = np.ascontiguousarray(self.components[:cols].T, dtype=work)
        offset = (self.mean @ self.components[:cols].T).astype(work)
        step = chunk_rows(self.mean.shape[0])
        for start in range(0, n, step):
            chunk: np.ndarray = np.asarray(features[start : start + step], dtype=work)
            out[start : start + step, :cols] = chunk @ basis - offset
        return out


def chunk_rows(d: int) -> int:
    """Rows per chunk for D columns: CHUNK_ROWS, fewer for wide rows (<= 32 MB as float64)."""
    return max(1, min(CHUNK_ROWS, _CHUNK_ELEMENTS // max(d, 1)))


def _check(stop: StopFn | None) -> None:
    if stop is not None and stop():
        raise Cancelled("PCA cancelled")


def column_mean(features: Any) -> np.ndarray:
    """The mean of every column, float64, summed in row chunks."""
    n, d = features.shape
    total = np.zeros(d)
    step = chunk_rows(d)
    for start in range(0, n, step):
        total += np.asarray(features[start : start + step]).sum(axis=0, dtype=np.float64)
    return total / max(n, 1)


def fit_pca(features: Any, k: int, seed: int = 0, stop: StopFn | None = None) -> PCABasis:
    """The top `k` principal directions of (N, D) `features` (k is capped at min(N, D))."""
    n, d = (int(v) for v in features.shape)
    k = max(1, min(k, n, d))
    mean = column_mean(features)
    if d <= COVARIANCE_MAX_DIM:
        components, route = _by_covariance(features, mean, k, stop), "covariance"
    elif n <= GRAM_MAX_POINTS:
        components, route = _by_gram(features, mean, k, stop), "gram"
    else:
        components, route = _randomized(features, mean, k, seed, stop), "randomized"
    return PCABasis(mean, orient(components), route)


def orient(components: np.ndarray) -> np.ndarray:
    """Flip each component so its largest-magnitude loading is positive.

    SVD/eigh may return either sign; fixing it makes the same data give the same picture
    (and matches scikit-learn's svd_flip convention).
    """
    components = np.array(components, dtype=np.float64)
    for row in components:
        if row[np.argmax(np.abs(row))] < 0:
            row *= -1
    return components


def _starts(features: Any) -> range:
    return range(0, int(features.shape[0]), chunk_rows(int(np.prod(features.shape[1:]))))


def _centred(features: Any, mean: np.ndarray, start: int) -> np.ndarray:
    """Rows [start, start + chunk) as float64 minus the mean: one new array, centred in place."""
    chunk = np.array(features[start : start + chunk_rows(mean.shape[0])], dtype=np.float64)
    chunk -= mean
    return chunk


def _by_covariance(features: Any, mean: np.ndarray, k: int, stop: StopFn | None) -> np.ndarray:
    d = mean.shape[0]
    cov = np.zeros((d, d))
    for start in _starts(features):
        _check(stop)
        chunk = _centred(features, mean, start)
        cov += chunk.T @ chunk
    _, vectors = top_eigenvectors(cov, k)
    return np.ascontiguousarray(vectors.T)


def _by_gram(features: Any, mean: np.ndarray, k: int, stop: StopFn | None) -> np.ndarray:
    n, d = (int(v) for v in features.shape)
    block = max(1, _BLOCK_ELEMENTS // max(n, 1))
    gram = np.zeros((n, n))
    for lo in range(0, d, block):
        _check(stop)
        cols = np.asarray(features[:, lo : lo + block], dtype=np.float64) - mean[lo : lo + block]
        gram += cols @ cols.T
    values, vectors = top_eigenvectors(gram, k)
    # Directions with no variance (rank-deficient data) stay zero rather than noise / 0.
    scale = np.where(values > values.max(initial=0.0) * 1e-12, 1 / np.sqrt(np.abs(values)), 0.0)
    components = np.zeros((k, d))
    for lo in range(0, d, block):
        cols = np.asarray(features[:, lo : lo + block], dtype=np.float64) - mean[lo : lo + block]
        components[:, lo : lo + block] = (cols.T @ vectors * scale).T
    return components


def top_eigenvectors(matrix: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """The k largest eigenvalues of a symmetric matrix (descending) and their eigenvectors
    (columns), on one BLAS thread.

    Only the k wanted pairs are computed where SciPy is there (scikit-learn brings it): 0.05 s
    for 2 of 784 against 0.27 s for all. One thread because these matrices are small and
    threads fighting for busy cores made numpy's eigh of a 784 x 784 matrix 10x slower
    (2.6 s against 0.27 s, measured on 2 shared cores).
    """
    d = matrix.shape[0]
    k = min(k, d)
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:  # pragma: no cover - scikit-learn depends on it
        threadpool_limits = None
    limit = threadpool_limits(limits=1) if threadpool_limits is not None else None
    try:
        try:
            from scipy.linalg import eigh
        except ImportError:  # pragma: no cover - scikit-learn depends on SciPy
            values, vectors = np.linalg.eigh(matrix)
        else:
            values, vectors = eigh(matrix, subset_by_index=[d - k, d - 1])
    finally:
        if limit is not None:
            limit.unregister()
    order = np.argsort(values)[::-1][:k]
    return values[order], vectors[:, order]


def _times(features: Any, mean: np.ndarray, right: np.ndarray) -> np.ndarray:
    """(X - mean) @ right, in row chunks."""
    n = int(features.shape[0])
    out = np.empty((n, right.shape[1]))
    step = chunk_rows(mean.shape[0])
    for start in range(0, n, step):
        out[start : start + step] = _centred(features, mean, start) @ right
    return out


def _transposed_times(features: Any, mean: np.ndarray, left: np.ndarray) -> np.ndarray:
    """(X - mean).T @ left, accumulated in row chunks."""
    out = np.zeros((mean.shape[0], left.shape[1]))
    step = chunk_rows(mean.shape[0])
    for start in range(0, int(features.shape[0]), step):
        out += _centred(features, mean, start).T @ left[start : start + step]
    return out


def _randomized(
    features: Any, mean: np.ndarray, k: int, seed: int, stop: StopFn | None
) -> np.ndarray:
    n, d = (int(v) for v in features.shape)
    width = min(k + _OVERSAMPLING, n, d)
    omega = np.random.default_rng(seed).standard_normal((d, width))
    q, _ = np.linalg.qr(_times(features, mean, omega))
    for _ in range(_POWER_ITERATIONS):
        _check(stop)
        z, _ = np.linalg.qr(_transposed_times(features, mean, q))
        q, _ = np.linalg.qr(_times(features, mean, z))
    _check(stop)
    small = _transposed_times(features, mean, q).T  # Q.T @ (X - mean), (width, d)
    _, _, vt = np.linalg.svd(small, full_matrices=False)
    return np.ascontiguousarray(vt[:k])


def sample_rows(n: int, size: int, seed: int) -> np.ndarray:
    """`size` distinct row numbers out of `n`, sorted (cheap to read from a memory map)."""
    if size >= n:
        return np.arange(n)
    rng = np.random.default_rng(seed)
    return np.sort(rng.choice(n, size=size, replace=False))


def take_rows(features: Any, rows: np.ndarray) -> np.ndarray:
    """features[rows] read in chunks of sorted rows (a memory map is never read whole)."""
    d = int(np.prod(features.shape[1:]))
    out = np.empty((rows.size, d), dtype=features.dtype)
    for start in range(0, rows.size, CHUNK_ROWS):
        part = rows[start : start + CHUNK_ROWS]
        out[start : start + part.size] = np.asarray(features[part]).reshape(part.size, d)
    return out


# --- the `pca` method, and the reduction before the others -----------------------------------


def run(
    features: np.ndarray,
    params: EmbedParams,
    progress: ProgressFn,
    stop: StopFn | None,
    limit: ThreadLimit | None = None,
) -> np.ndarray:
    """The 2-D PCA map; memory bounded by the data's size."""
    progress(0.0, "PCA")
    return fit_pca(features, 2, stop=stop).project(features, np.float64, width=2)


def reduces(params: EmbedParams, n: int, d: int) -> bool:
    """Whether `params.method` first reduces (n, d) data to `params.pca_dims` components."""
    k = params.pca_dims
    return params.method != "pca" and k > 0 and d > k and n > k


def reduced(
    features: np.ndarray, params: EmbedParams, progress: ProgressFn | None, stop: StopFn | None
) -> np.ndarray:
    """The features the method runs on: the top `pca_dims` principal components when the data
    is wider (float64), else the features themselves."""
    n, d = features.shape
    if not reduces(params, n, d):
        return features
    if progress is not None:
        progress(0.0, f"PCA to {params.pca_dims} dimensions")
    basis = fit_pca(features, params.pca_dims, seed=int(params.seed), stop=stop)
    return basis.project(features, np.float64)
