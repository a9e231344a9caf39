"""What the map means: label clusters, neighbours, misfits, sub-clusters, map quality.

Pure numpy at import time; scikit-learn / scipy are imported inside the functions that use them.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from digitmap_tui.grid import Rect, cell_of, grid_candidates, grid_hull, inside


@dataclass(frozen=True)
class Cluster:
    """A connected patch of map cells whose majority is one label."""

    label: int
    points: int  # points of any label in the patch's cells
    rows: tuple[int, int]  # first row, last row (inclusive)
    cols: tuple[int, int]  # first col, last col (inclusive)

    @property
    def center(self) -> tuple[int, int]:
        """(col, row) of the patch's bounding-box centre."""
        return (self.cols[0] + self.cols[1]) // 2, (self.rows[0] + self.rows[1]) // 2


def label_clusters(
    majority: np.ndarray, counts: np.ndarray, label: int, min_points: int = 1
) -> list[Cluster]:
    """Connected patches (8-neighbourhood) of cells whose majority is ``label``, largest first.

    A patch must hold at least ``min_points`` points; isolated strays are left out by raising it.
    """
    mask = majority == label
    h, w = mask.shape
    seen = np.zeros_like(mask)
    out: list[Cluster] = []
    for r0, c0 in np.argwhere(mask):
        if seen[r0, c0]:
            continue
        stack = [(int(r0), int(c0))]
        seen[r0, c0] = True
        rows: list[int] = []
        cols: list[int] = []
        total = 0
        while stack:
            r, c = stack.pop()
            rows.append(r)
            cols.append(c)
            total += int(counts[r, c])
            for dr in (-1, 0, 1):
                for dc in (-1, 0, 1):
                    rr, cc = r + dr, c + dc
                    if 0 <= rr < h and 0 <= cc < w and mask[rr, cc] and not seen[rr, cc]:
                        seen[rr, cc] = True
                        stack.append((rr, cc))
        if total >= min_points:
            out.append(Cluster(label, total, (min(rows), max(rows)), (min(cols), max(cols))))
    out.sort(key=lambda cl: (-cl.points, cl.rows, cl.cols))
    return out


# --------------------------------------------------------------------------------------------
# Insight: neighbours, misfits, sub-clusters, mean images, twin maps, quality.
#
# scikit-learn and scipy are imported inside the functions that need them: importing them costs
# about a second, and the app must start at the cost of importing Textual.
# --------------------------------------------------------------------------------------------

#: Extra neighbours fetched beyond ``k + 1`` so that ties in distance at the k-th place can be
#: re-ordered by index (the trees return equidistant points in no promised order).
_TIE_MARGIN = 4

#: Pairs of (point, cell) processed per step when summing images per cell (bounds memory).
_CHUNK = 65536


def _as_coords(coords: np.ndarray, name: str = "coords") -> np.ndarray:
    xy = np.asarray(coords, dtype=np.float64)
    if xy.ndim != 2 or xy.shape[1] != 2:
        raise ValueError(f"{name}: expected an (N, 2) array, got shape {xy.shape}")
    if not np.isfinite(xy).all():
        raise ValueError(f"{name}: coordinates must be finite")
    return xy


def _as_labels(labels: np.ndarray | None, n: int) -> np.ndarray:
    if labels is None:
        raise ValueError("labels: this analysis needs labels")
    lab = np.asarray(labels)
    if lab.shape != (n,):
        raise ValueError(f"labels: expected shape ({n},), got {lab.shape}")
    if lab.size and (not np.issubdtype(lab.dtype, np.integer) or lab.min() < 0):
        raise ValueError("labels: expected non-negative integers")
    return lab.astype(np.int64, copy=False)


def _as_features(features: np.ndarray, n: int | None = None) -> np.ndarray:
    """``(N, D)`` view of ``(N, D)`` or ``(N, H, W)`` features, without copying a memmap."""
    if features.ndim < 2:
        raise ValueError(f"features: expected (N, D) or (N, H, W), got shape {features.shape}")
    x = features.reshape(features.shape[0], -1)
    if n is not None and x.shape[0] != n:
        raise ValueError(f"features: {x.shape[0]} rows, but the map has {n} points")
    return x


def _check_k(k: int, n: int) -> int:
    """``k`` bounded by the ``n - 1`` other points; ``k < 1`` is an error."""
    if int(k) != k or k < 1:
        raise ValueError(f"k={k!r}: expected a whole number >= 1")
    return min(int(k), max(n - 1, 0))


#: Rows per KD-tree query in knn_indices: bounds the candidate arrays' memory.
_QUERY_CHUNK = 1 << 16


def _order_neighbours(
    idx: np.ndarray, dist: np.ndarray, k: int, rows: np.ndarray | None = None
) -> np.ndarray:
    """From candidate lists (each row may contain the point itself), the first ``k`` others.

    Rows are re-sorted by (distance, index) so ties in distance go to the smaller index; the
    point itself is put first (distance -1) and dropped. If a point has more exact duplicates
    than candidates it may be missing from its own row; then the first ``k`` are kept.
    ``rows`` names the point each row belongs to (default: row i is point i).
    """
    # The trees return rows sorted by distance; only rows with an equal pair need re-sorting
    # (usually few), which keeps a million-point query at the cost of the tree search.
    tied = np.flatnonzero((dist[:, 1:] == dist[:, :-1]).any(axis=1))
    out = idx[:, 1 : k + 1].astype(np.int64)  # untied: the point itself is alone at distance 0
    if len(tied):
        own = tied if rows is None else np.asarray(rows)[tied]
        ti = idx[tied]
        td = np.where(ti == own[:, None], -1.0, dist[tied])
        ti = np.take_along_axis(ti, np.lexsort((ti, td), axis=-1), axis=-1)
        has_self = ti[:, 0] == own
        out[tied] = np.where(has_self[:, None], ti[:, 1 : k + 1], ti[:, :k])
    return out


def knn_indices(points: np.ndarray, k: int = 10) -> np.ndarray:
    """``(N, k)`` indices of each point's ``k`` nearest neighbours, nearest first, self excluded.

    Euclidean distance. Equal distances go to the smaller index (exact unless more than a few
    points tie at the k-th place). 2-D/3-D points use a KD-tree (scipy ``cKDTree``, all cores;
    about 2 s per million 2-D points on two cores); higher dimensions use scikit-learn's
    ``NearestNeighbors`` (brute force or ball tree, O(N^2 D) worst case). ``k`` is capped at
    ``N - 1``.
    """
    x = np.asarray(points).reshape(len(points), -1)
    n = len(x)
    k = _check_k(k, n)
    if k == 0:
        return np.zeros((n, 0), dtype=np.int64)
    kq = min(n, k + 1 + _TIE_MARGIN)
    if x.shape[1] <= 3:
        from scipy.spatial import cKDTree

        pts = np.asarray(x, dtype=np.float64)
        tree = cKDTree(pts)
        # Query in the tree's leaf order: neighbouring queries walk the same nodes, which is
        # ~2.5x faster at 1M points than querying in index order; then put rows back. In
        # chunks, so the candidate lists never all exist at once (1M points: ~50 MB, not 500).
        leaf_order = tree.indices
        out = np.empty((n, k), dtype=np.int64)
        for s in range(0, n, _QUERY_CHUNK):
            rows = leaf_order[s : s + _QUERY_CHUNK]
            dist, idx = tree.query(pts[rows], k=kq, workers=-1)
            dist = np.asarray(dist, dtype=np.float64).reshape(len(rows), kq)
            idx = np.asarray(idx).reshape(len(rows), kq)
            out[rows] = _order_neighbours(idx, dist, k, rows)
        return out
    else:
        from sklearn.neighbors import NearestNeighbors

        nn = NearestNeighbors(n_neighbors=kq).fit(x)
        dist, idx = nn.kneighbors(x)
    return _order_neighbours(np.asarray(idx), np.asarray(dist, dtype=np.float64), k)


def _vote(neighbour_labels: np.ndarray) -> np.ndarray:
    """Majority label per row; ties go to the tied label met first in neighbour order."""
    n, k = neighbour_labels.shape
    counts = np.empty((n, k), dtype=np.int32)
    for j in range(k):
        counts[:, j] = (neighbour_labels == neighbour_labels[:, j : j + 1]).sum(axis=1)
    # argmax returns the first column with the highest count: the nearest of the tied labels.
    first = counts.argmax(axis=1)
    return neighbour_labels[np.arange(n), first]


def _majority_and_agreement(
    coords: np.ndarray, labels: np.ndarray | None, k: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray, int]:
    xy = _as_coords(coords)
    lab = _as_labels(labels, len(xy))
    nbr = knn_indices(xy, k)
    kk = nbr.shape[1]
    if kk == 0:
        # A lone point has no neighbours to disagree with: it counts as agreeing with itself.
        return lab.copy(), np.zeros(len(lab), dtype=np.int64), lab, 0
    # In row chunks: the (N, k) label and count temporaries never exist whole.
    majority = np.empty(len(lab), dtype=lab.dtype)
    agree = np.empty(len(lab), dtype=np.int64)
    for s in range(0, len(lab), _QUERY_CHUNK):
        nl = lab[nbr[s : s + _QUERY_CHUNK]]
        agree[s : s + _QUERY_CHUNK] = (nl == lab[s : s + _QUERY_CHUNK, None]).sum(axis=1)
        majority[s : s + _QUERY_CHUNK] = _vote(nl)
    return majority, agree, lab, kk


def neighbour_majority(coords: np.ndarray, labels: np.ndarray, k: int = 10) -> np.ndarray:
    """``(N,)`` majority label among each point's ``k`` nearest 2-D neighbours (self excluded).

    Neighbours are ordered by distance, then index (see :func:`knn_indices`). A tie between
    labels goes to the tied label whose closest member is nearest to the point, i.e. the one
    met first in that order. With fewer than two points, each point's own label is returned.
    """
    return _majority_and_agreement(coords, labels, k)[0]


@dataclass(frozen=True)
class Misfit:
    """A point whose label differs from the majority label of its 2-D neighbours."""

    index: int
    label: int
    neighbour_label: int  # the neighbours' majority label (tie rule of neighbour_majority)
    agreement: float  # share of the k neighbours that carry the point's own label, 0..1


def misfits(coords: np.ndarray, labels: np.ndarray, k: int = 10) -> list[Misfit]:
    """Points whose label is not the majority label of their ``k`` nearest 2-D neighbours.

    Majority and ties as in :func:`neighbour_majority` (closest tied label wins). Sorted most
    confident first: lowest agreement, then smallest index. ``k`` is capped at ``N - 1``.
    """
    majority, agree, lab, kk = _majority_and_agreement(coords, labels, k)
    bad = np.flatnonzero(majority != lab)
    # Sort on the integer count, not the float share, so the order never depends on rounding.
    bad = bad[np.lexsort((bad, agree[bad]))]
    return [Misfit(int(i), int(lab[i]), int(majority[i]), int(agree[i]) / kk) for i in bad]


def knn_accuracy(coords: np.ndarray, labels: np.ndarray, k: int = 10) -> float:
    """Leave-one-out kNN label accuracy in 2-D: the share of points that are not misfits.

    Majority vote with the tie rule of :func:`neighbour_majority`, so it equals
    ``1 - len(misfits(coords, labels, k)) / N``. 1.0 for an empty map.
    """
    majority, _, lab, _ = _majority_and_agreement(coords, labels, k)
    if len(lab) == 0:
        return 1.0
    # Written as 1 - share so that it equals the documented identity to the last bit.
    return float(1.0 - np.count_nonzero(majority != lab) / len(lab))


def pixel_neighbours(features: np.ndarray, index: int, k: int = 8) -> np.ndarray:
    """Indices of the ``k`` nearest neighbours of point ``index`` in the original pixel space.

    Exact euclidean distance by brute force over row chunks (works on a memmap; about 0.1 s per
    100k x 784 points); the point itself is excluded; nearest first, equal distances in index
    order. ``k`` is capped at ``N - 1``. ``features`` is ``(N, D)`` or ``(N, H, W)``.
    """
    x = _as_features(features)
    n = len(x)
    if not 0 <= index < n:
        raise IndexError(f"index {index}: expected 0..{n - 1}")
    k = _check_k(k, n)
    if k == 0:
        return np.zeros(0, dtype=np.int64)
    q = np.asarray(x[index], dtype=np.float64)
    d = np.empty(n, dtype=np.float64)
    step = max(1, (1 << 23) // max(x.shape[1], 1))  # ~64 MB of float64 per chunk
    for s in range(0, n, step):
        diff = np.asarray(x[s : s + step], dtype=np.float64) - q
        d[s : s + step] = np.einsum("ij,ij->i", diff, diff)
    d[np.isnan(d)] = np.inf
    d[index] = np.inf
    # Everything at or below the k-th smallest distance, then (distance, index) order: exact
    # tie-breaking even when many points sit at the k-th distance.
    kth = np.partition(d, k - 1)[k - 1]
    cand = np.flatnonzero(d <= kth)
    cand = cand[cand != index]
    return cand[np.lexsort((cand, d[cand]))][:k].astype(np.int64)


@dataclass(frozen=True, eq=False)
class SubCluster:
    """One k-means sub-cluster of a selection."""

    members: np.ndarray  # original point indices, ascending
    size: int
    mean: np.ndarray  # (D,) float64 mean image, flattened (the caller reshapes to H x W)
    label_mix: np.ndarray  # (n_labels,) int64 histogram of dataset labels; empty without labels


@dataclass(frozen=True, eq=False)
class Split:
    """The selection split into sub-clusters in pixel space, largest sub-cluster first."""

    k: int
    indices: np.ndarray  # the selection, as given
    labels: np.ndarray  # (len(indices),) sub-cluster number per selected point, 0 = largest
    clusters: tuple[SubCluster, ...]
    scores: dict[int, float]  # silhouette score per k tried (empty when k was given)


def _distinct_rows(x: np.ndarray, limit: int) -> int:
    """Number of distinct rows of ``x``, counted up to ``limit`` (enough to bound k)."""
    if len(x) == 0:
        return 0
    rows = np.ascontiguousarray(x + 0.0)  # + 0.0 turns -0.0 into 0.0 so the bytes compare
    as_bytes = rows.view(np.dtype((np.void, rows.dtype.itemsize * rows.shape[1]))).ravel()
    return min(len(np.unique(as_bytes)), limit)


def split_selection(
    features: np.ndarray,
    indices: np.ndarray,
    k: int | None = None,
    k_range: tuple[int, int] = (2, 6),
    seed: int = 0,
    *,
    labels: np.ndarray | None = None,
    n_labels: int | None = None,
    n_init: int = 10,
    silhouette_sample: int = 5000,
) -> Split:
    """Split the selected points into sub-clusters by k-means in the original pixel space.

    ``k=None`` tries every k in ``k_range`` (inclusive, bounded by ``len(indices) - 1`` and by
    the number of distinct images) and keeps the best silhouette score; equal scores keep the
    smaller k. Silhouette is computed on at most ``silhouette_sample`` points (drawn with
    ``seed``) since it costs O(n^2). An explicit ``k`` is capped at the number of distinct
    images. Fewer than 3 points (or one distinct image) give a single sub-cluster; an empty
    selection gives ``k=0``. KMeans runs with ``n_init`` restarts and ``random_state=seed``,
    so the result is deterministic. Sub-clusters are ordered by size (descending), then by
    smallest member index. ``labels`` (the dataset's, length N) fill each ``label_mix``, of
    length ``n_labels`` (default ``labels.max() + 1``).
    """
    x_all = _as_features(features)
    idx = np.asarray(indices, dtype=np.int64).ravel()
    n = len(x_all)
    if idx.size and (idx.min() < 0 or idx.max() >= n):
        raise IndexError(f"indices: expected values in 0..{n - 1}")
    lab = None if labels is None else _as_labels(labels, n)
    if lab is not None and n_labels is None:
        n_labels = int(lab.max()) + 1 if lab.size else 0
    m = len(idx)
    if m == 0:
        return Split(0, idx, np.zeros(0, dtype=np.int64), (), {})
    x = np.asarray(x_all[idx], dtype=np.float64)
    scores: dict[int, float] = {}
    if k is not None:
        if int(k) != k or k < 1:
            raise ValueError(f"k={k!r}: expected a whole number >= 1")
        k_use = min(int(k), _distinct_rows(x, int(k)))
        assign = _kmeans(x, k_use, seed, n_init)
    else:
        lo, hi = int(k_range[0]), int(k_range[1])
        if not 2 <= lo <= hi:
            raise ValueError(f"k_range={k_range!r}: expected 2 <= low <= high")
        top = min(hi, m - 1, _distinct_rows(x, hi))
        k_use, assign = 1, np.zeros(m, dtype=np.int64)
        if top >= lo:
            from sklearn.metrics import silhouette_score

            best = -np.inf
            sample = silhouette_sample if m > silhouette_sample else None
            for kk in range(lo, top + 1):
                a = _kmeans(x, kk, seed, n_init)
                s = float(silhouette_score(x, a, sample_size=sample, random_state=seed))
                scores[kk] = s
                if s > best:
                    best, k_use, assign = s, kk, a
    # Renumber: largest first, ties by smallest member index.
    sizes = np.bincount(assign, minlength=k_use)
    firsts = np.array([idx[assign == c].min() if sizes[c] else n for c in range(k_use)])
    order = np.lexsort((firsts, -sizes))
    rank = np.empty(k_use, dtype=np.int64)
    rank[order] = np.arange(k_use)
    new = rank[assign]
    clusters = []
    for c in range(k_use):
        sel = new == c
        members = np.sort(idx[sel])
        mix = (
            np.bincount(lab[members], minlength=n_labels or 0)
            if lab is not None
            else np.zeros(0, dtype=np.int64)
        )
        clusters.append(SubCluster(members, int(sel.sum()), x[sel].mean(axis=0), mix))
    return Split(k_use, idx, new, tuple(clusters), scores)


def _kmeans(x: np.ndarray, k: int, seed: int, n_init: int) -> np.ndarray:
    if k <= 1:
        return np.zeros(len(x), dtype=np.int64)
    from sklearn.cluster import KMeans

    km = KMeans(n_clusters=k, n_init=n_init, random_state=seed).fit(x)
    return np.asarray(km.labels_, dtype=np.int64)


def grid_cell_members(
    xy: np.ndarray, rect: Rect, rows: int, cols: int
) -> tuple[np.ndarray, np.ndarray]:
    """Every (point, cell) pair of the seed grid rule: the points strictly inside each cell.

    The candidate step of :func:`digitmap_tui.grid.grid_select` itself
    (:func:`digitmap_tui.grid.grid_candidates`: the seed's float cell bounds, row 0 at the top,
    ``cell = row * cols + col``; a point inside two neighbouring cells is listed for both).
    Returns ``(points, cells)``, int64, sorted by cell then point.
    """
    if rows < 1 or cols < 1:
        raise ValueError(f"grid {rows}x{cols}: rows and columns must be at least 1")
    xy = _as_coords(xy, "xy")
    p, c, _ = grid_candidates(xy, inside(xy, grid_hull(rect, rows, cols)), rect, rows, cols)
    order = np.lexsort((p, c))
    return p[order], c[order]


def grid_mean_images(
    coords: np.ndarray, features: np.ndarray, rect: Rect, rows: int, cols: int
) -> tuple[np.ndarray, np.ndarray]:
    """Mean image of each cell of the seed grid over ``rect``: ``(means, counts)``.

    ``means`` is ``(rows, cols, D)`` float64 (flattened images; NaN where a cell is empty),
    ``counts`` is ``(rows, cols)`` int64. Cell membership is exactly that of
    :func:`digitmap_tui.grid.grid_select` (see :func:`grid_cell_members`), so a cell is
    non-empty here exactly when ``grid_select`` shows an image there.
    """
    xy = _as_coords(coords)
    x = _as_features(features, len(xy))
    pts, cells = grid_cell_members(xy, rect, rows, cols)
    n_cells = rows * cols
    d = x.shape[1]
    counts = np.bincount(cells, minlength=n_cells).astype(np.int64)
    sums = np.zeros((n_cells, d), dtype=np.float64)
    for s in range(0, len(pts), _CHUNK):
        c = cells[s : s + _CHUNK]
        starts = np.flatnonzero(np.r_[True, c[1:] != c[:-1]])
        block = np.asarray(x[pts[s : s + _CHUNK]], dtype=np.float64)
        # cells are sorted, so each cell is one run; a run cut by the chunk edge is added in two parts.
        sums[c[starts]] += np.add.reduceat(block, starts, axis=0)
    means = np.full((n_cells, d), np.nan, dtype=np.float64)
    full = counts > 0
    means[full] = sums[full] / counts[full, None]
    return means.reshape(rows, cols, d), counts.reshape(rows, cols)


def neighbourhood_overlap(coords_a: np.ndarray, coords_b: np.ndarray, k: int = 10) -> np.ndarray:
    """``(N,)`` share of each point's ``k`` nearest 2-D neighbours that two maps have in common.

    1.0 where both maps give a point the same neighbour set (order does not matter), 0.0 where
    they share none. Neighbours as in :func:`knn_indices`. Fewer than two points: all 1.0.
    """
    a = _as_coords(coords_a, "coords_a")
    b = _as_coords(coords_b, "coords_b")
    if len(a) != len(b):
        raise ValueError(f"coords_b: {len(b)} points, but coords_a has {len(a)}")
    return _overlap(knn_indices(a, k), knn_indices(b, k))


def _overlap(na: np.ndarray, nb: np.ndarray) -> np.ndarray:
    n, k = na.shape
    if k == 0:
        return np.ones(n, dtype=np.float64)
    hits = np.zeros(n, dtype=np.int64)
    for j in range(k):  # a row holds distinct indices, so "is nb[:, j] in na's row" counts once
        hits += (na == nb[:, j : j + 1]).any(axis=1)
    return hits / k


def normalise_map(coords: np.ndarray) -> np.ndarray:
    """The map centred on its mean and scaled so the RMS distance from the centre is 1."""
    xy = _as_coords(coords)
    if len(xy) == 0:
        return xy.copy()
    c = xy - xy.mean(axis=0)
    rms = float(np.sqrt(np.mean(np.sum(c * c, axis=1))))
    return c / rms if rms > 0 else c


def displacement(coords_a: np.ndarray, coords_b: np.ndarray, *, align: bool = False) -> np.ndarray:
    """``(N,)`` distance each point moves between two maps, each normalised by
    :func:`normalise_map` (so the unit is "map radii").

    ``align=True`` also rotates/reflects map b onto map a first (orthogonal Procrustes), which
    is what two t-SNE/UMAP runs need: their orientation is arbitrary.
    """
    a = normalise_map(coords_a)
    b = normalise_map(coords_b)
    if len(a) != len(b):
        raise ValueError(f"coords_b: {len(b)} points, but coords_a has {len(a)}")
    if align and len(a):
        u, _, vt = np.linalg.svd(b.T @ a)
        b = b @ (u @ vt)
    return np.sqrt(np.sum((a - b) ** 2, axis=1))


def trustworthiness(
    features: np.ndarray,
    coords: np.ndarray,
    k: int = 10,
    *,
    max_points: int = 5000,
    seed: int = 0,
) -> float:
    """scikit-learn's ``trustworthiness`` (0..1) of the map with ``k`` neighbours.

    Up to ``max_points`` points this is exactly ``sklearn.manifold.trustworthiness(features,
    coords, n_neighbors=k)``. sklearn builds full N x N distance and rank matrices (about
    24 bytes x N^2: 0.6 GB at 5000 points, ~10 GB at 20000), so larger maps are scored on
    ``max_points`` points drawn without replacement by ``numpy.random.default_rng(seed)``
    (sorted; neighbourhoods are then those among the sample): a deterministic estimate.
    sklearn requires ``k < n / 2``.
    """
    x = _as_features(features)
    xy = _as_coords(coords)
    if len(x) != len(xy):
        raise ValueError(f"features: {len(x)} rows, but the map has {len(xy)} points")
    if len(x) > max_points:
        sel = np.sort(np.random.default_rng(seed).choice(len(x), size=max_points, replace=False))
        x = x[sel]
        xy = xy[sel]
    return _trustworthiness(np.asarray(x, dtype=np.float64), np.asarray(xy, dtype=np.float64), k)


def _trustworthiness(x: np.ndarray, xy: np.ndarray, k: int) -> float:
    """sklearn's formula in numpy (no scikit-learn import: ~150 MB less for the app's worker).

    T(k) = 1 - 2 / (n k (2n - 3k - 1)) * sum over i of sum over j among i's k nearest in the
    map but not in the data of (rank of j among i's neighbours in the data - k).
    """
    n = len(x)
    if not k < n / 2:
        raise ValueError(f"n_neighbors ({k}) should be less than n_samples / 2 ({n / 2})")

    def sq_dist(a: np.ndarray) -> np.ndarray:
        out = a @ a.T  # in place from here on: one n x n array at a time
        d = np.diag(out).copy()
        out *= -2.0
        out += d[:, None]
        out += d[None, :]
        np.fill_diagonal(out, np.inf)  # each point is its own nearest: never a neighbour
        return out

    # Ranks in the data space, as sklearn computes them (a stable argsort of distances).
    order = np.argsort(sq_dist(x), axis=1, kind="stable").astype(np.int32)
    ranks = np.empty((n, n), dtype=np.int32)
    ranks[np.arange(n)[:, None], order] = np.arange(1, n + 1, dtype=np.int32)[None, :]
    del order
    near_map = np.argsort(sq_dist(xy), axis=1, kind="stable")[:, :k]
    penalty = ranks[np.arange(n)[:, None], near_map] - k
    total = float(penalty[penalty > 0].sum())
    return 1.0 - total * (2.0 / (n * k * (2.0 * n - 3.0 * k - 1.0)))


def point_preservation(features: np.ndarray, coords: np.ndarray, k: int = 10) -> np.ndarray:
    """``(N,)`` share of each point's ``k`` nearest pixel-space neighbours that are also among
    its ``k`` nearest 2-D neighbours (1.0 = neighbourhood fully kept).

    The pixel-space search is O(N^2 D) (sklearn ``NearestNeighbors``): fine for digits and for
    tens of thousands of points; compute it once and re-bin with :func:`bin_mean` per view.
    """
    xy = _as_coords(coords)
    x = _as_features(features, len(xy))
    return _overlap(knn_indices(np.asarray(x), k), knn_indices(xy, k))


def bin_mean(
    values: np.ndarray, coords: np.ndarray, view: Rect, width: int, height: int
) -> np.ndarray:
    """``(height, width)`` mean of per-point ``values`` in each map cell (NaN where empty).

    Cells as in :func:`digitmap_tui.grid.bin_points` (row 0 at the top).
    """
    xy = _as_coords(coords)
    v = np.asarray(values, dtype=np.float64)
    if v.shape != (len(xy),):
        raise ValueError(f"values: expected shape ({len(xy)},), got {v.shape}")
    if width < 1 or height < 1:
        raise ValueError("grid must be at least 1x1")
    col, row = cell_of(xy, view, width, height)
    ok = (col >= 0) & (col < width) & (row >= 0) & (row < height)
    flat = (row[ok] * width + col[ok]).astype(np.int64)
    n_cells = width * height
    counts = np.bincount(flat, minlength=n_cells)
    sums = np.bincount(flat, weights=v[ok], minlength=n_cells)
    out = np.full(n_cells, np.nan, dtype=np.float64)
    full = counts > 0
    out[full] = sums[full] / counts[full]
    return out.reshape(height, width)


def per_cell_preservation(
    features: np.ndarray,
    coords: np.ndarray,
    view: Rect,
    width: int,
    height: int,
    k: int = 10,
) -> np.ndarray:
    """``(height, width)`` mean neighbourhood preservation per map cell, NaN where empty.

    :func:`point_preservation` binned by :func:`bin_mean`; for an overlay that follows pans,
    cache ``point_preservation`` and call ``bin_mean`` per frame.
    """
    return bin_mean(point_preservation(features, coords, k), coords, view, width, height)
