"""Suspected label errors: every point ranked by how strongly its neighbours vote for another label.

The score
---------
Each point ``i`` collects weighted votes for every label from its neighbours in two spaces:

* the **feature space** (the pixels; above :data:`MAX_RAW_DIMS` dimensions, their first
  :data:`REDUCED_DIMS` principal components), with ``k`` = 10 neighbours, and
* the **map** (the 2-D embedding the user sees), with ``k_map`` = 10 neighbours.

A vote from neighbour ``j`` weighs ``exp(-(d_ij / d_ik)^2)``, where ``d_ik`` is the distance to
``i``'s k-th neighbour: near neighbours count more, and the scale adapts to the local density.
The neighbourhood is *symmetric*: ``j`` votes for ``i`` if ``j`` is among ``i``'s k nearest or
``i`` among ``j``'s (with the weight of that edge). Each space's votes are normalised to
shares that sum to 1 and mixed, ``P = (1 - map_weight) P_features + map_weight P_map`` with
``map_weight`` = 0.2. Then

    score_i = max over labels c != y_i of P_i(c)  -  P_i(y_i)      (in [-1, 1])

and ``suggested_i`` is that most-voted other label. A second pass repeats the vote with every
neighbour whose score was above 0 voting for its suggested label instead of its own, so that
a mislabelled neighbour does not vouch for a mislabelled point. Points are ranked by score,
then by the share of votes for their own label (lower first), then by index. A score above 0
means the neighbours, taken together, prefer another label: those points are the *suspects*.

Why this score
--------------
The design was chosen for precision at the top of the list, measured on the built-in digits
with 5 % and 10 % of the labels flipped (uniformly, or between look-alikes 1↔7, 3↔8, 4↔9,
5↔9), ten seeds each: 40 conditions; the figures below are the mean precision at k (k = the
number flipped) over them. ``benchmarks/label_noise.py`` reproduces the comparison.

* Counting how many of the 10 nearest pixel neighbours share the label (the plain baseline,
  0.936) leaves many ties and ranks a typical digit with a flipped label (9 of 10 neighbours
  of one other label) level with a genuinely odd image (neighbours of many labels). The
  *margin* (most-voted other label minus own label) ranks the confident case first, and
  distance weights break the ties: 0.948.
* The *symmetric* neighbourhood adds the points that count ``i`` as a neighbour: a flipped
  image sits inside its true class and is a neighbour of many of its members, whereas an odd
  image at the edge of a class is a neighbour of few. This gave the largest gain, 0.964, most
  of it on look-alike noise.
* The *second pass* (cleaned neighbour labels) helps where flipped labels are many or
  cluster (look-alike noise, 10 % noise): 0.969.
* The *map* vote carries 20 %: on the digits it moves precision at k by less than one label
  in 90 either way (0.967 with it; the t-SNE map is itself built from pixel neighbourhoods),
  but it keeps the ranking consistent with what the user sees (a point deep inside another
  label's island in the map is never ranked low). Where pixels are a poor metric it may well
  deserve more weight; ``map_weight`` is a parameter (not measured beyond the digits).
* Plain pixels beat standardised or whitened pixels and square-root intensities on the digits;
  PCA to 30 dimensions was level with raw pixels, so only wide features are reduced (to
  bound the cost of the search, which is brute force and exact).

About five clean digits are so odd (indices 5, 794, 1553, 1658, 1662) that neighbour votes
rank them among the first; they bound precision at k near 0.96 at 5 % noise.

Cost and memory
---------------
The feature-space search is exact brute force over row chunks (about 32 MB of distances at a
time, never an N x N matrix): O(N^2 d). The map search uses a KD-tree. Votes are summed over
row chunks. Memory is O(N k) besides the input. Above :data:`FEATURE_SEARCH_MAX` points
:func:`cached_suspects` (what the CLI and the explorer use) scores on the map alone unless
asked otherwise. :func:`suspects` is a pure function: the app
runs it in a worker; ``stop`` is polled between chunks and raises
:class:`digitmap_tui.errors.Cancelled`.

Cache
-----
:func:`suspects_key` names a result by the dataset's content hash, the coordinates' bytes and
the parameters; :func:`save_suspects` / :func:`load_suspects` keep it as a non-pickle ``.npz``
next to the embedding cache entries (``<cache>/embeddings/<key>.suspects.npz``, see
:func:`suspects_path`); :func:`cached_suspects` loads or computes and stores.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from digitmap_tui.cache import EmbeddingCache
    from digitmap_tui.data import Dataset

#: Features wider than this are reduced by PCA before the neighbour search.
MAX_RAW_DIMS = 64
#: Principal components kept for wide features.
REDUCED_DIMS = 50
#: Above this many points :func:`cached_suspects` scores on the map alone by default: the exact
#: pixel-space search is O(N^2 d) (about a minute at this size on two cores).
FEATURE_SEARCH_MAX = 50_000
#: Bump when the score or the file layout changes: older cached results become misses.
SUSPECTS_FORMAT = 1

#: Bytes of float32 distances per chunk of the brute-force search.
_CHUNK_BYTES = 32 << 20
#: Candidates fetched beyond k, so that equal distances can be ordered by index.
_TIE_MARGIN = 4
#: Rows per chunk of the KD-tree query and of the vote (bounded temporaries).
_ROW_CHUNK = 1 << 16

StopFn = Callable[[], bool]


@dataclass(frozen=True)
class SuspectParams:
    """The knobs of :func:`suspects`, stored with a cached result."""

    k: int = 10
    k_map: int = 10
    map_weight: float = 0.2
    passes: int = 2

    def validate(self) -> None:
        for name in ("k", "k_map", "passes"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
                raise ValueError(f"{name}={value!r}: expected a whole number >= 1")
        if not 0.0 <= float(self.map_weight) <= 1.0:
            raise ValueError(f"map_weight={self.map_weight!r}: expected 0..1")


@dataclass(frozen=True, eq=False)
class Suspects:
    """Per-point suspicion of a label error, and the ranking (see the module docstring)."""

    score: np.ndarray  # (N,) float64 in [-1, 1]; > 0: the neighbours prefer another label
    suggested: np.ndarray  # (N,) int64: the most-voted other label (own label if none voted)
    confidence: np.ndarray  # (N,) float64: share of the votes for the point's own label
    order: np.ndarray  # (N,) int64: every index, most suspicious first
    params: SuspectParams = field(default_factory=SuspectParams)

    @property
    def n(self) -> int:
        return len(self.score)

    @property
    def count(self) -> int:
        """Number of suspects (score above 0)."""
        return int(np.count_nonzero(self.score > 0))

    @property
    def flagged(self) -> np.ndarray:
        """Indices of the suspects, most suspicious first (the start of :attr:`order`)."""
        return self.order[: self.count]

    def rank(self) -> np.ndarray:
        """``(N,)`` position of each point in :attr:`order` (0 = most suspicious)."""
        out = np.empty(self.n, dtype=np.int64)
        out[self.order] = np.arange(self.n, dtype=np.int64)
        return out


# --------------------------------------------------------------------------- the score


def suspects(
    features: np.ndarray,
    coords: np.ndarray | None,
    labels: np.ndarray,
    *,
    k: int = 10,
    k_map: int = 10,
    map_weight: float = 0.2,
    passes: int = 2,
    stop: StopFn | None = None,
) -> Suspects:
    """Score every point's label against its neighbours in feature space and in the map.

    ``features`` is ``(N, D)`` or ``(N, H, W)`` (a memmap is read in chunks), ``coords`` the
    ``(N, 2)`` map (``None`` or ``map_weight=0`` uses the features alone), ``labels`` ``(N,)``
    non-negative integers. Deterministic. See the module docstring for the score.
    """
    params = SuspectParams(k=k, k_map=k_map, map_weight=float(map_weight), passes=passes)
    params.validate()
    x = np.asarray(features) if not isinstance(features, np.memmap) else features
    if x.ndim < 2:
        raise ValueError(f"features: expected (N, D) or (N, H, W), got shape {x.shape}")
    x = x.reshape(x.shape[0], int(np.prod(x.shape[1:])))
    n = x.shape[0]
    lab = np.asarray(labels)
    if lab.shape != (n,):
        raise ValueError(f"labels: expected shape ({n},), got {lab.shape}")
    if n and (not np.issubdtype(lab.dtype, np.integer) or lab.min() < 0):
        raise ValueError("labels: expected non-negative integers")
    lab = lab.astype(np.int64, copy=False)
    use_map = coords is not None and params.map_weight > 0
    if use_map:
        xy = np.asarray(coords, dtype=np.float64)
        if xy.shape != (n, 2):
            raise ValueError(f"coords: expected shape ({n}, 2), got {xy.shape}")
        if not np.isfinite(xy).all():
            raise ValueError("coords: coordinates must be finite")
    n_labels = int(lab.max()) + 1 if n else 1

    graphs: list[tuple[np.ndarray, np.ndarray, float]] = []
    if not (use_map and params.map_weight == 1.0):  # the map alone needs no pixel search
        fd, fi = feature_neighbours(x, params.k, stop=stop)
        graphs.append((fi, _weights(fd), 1.0 - params.map_weight if use_map else 1.0))
    if use_map:
        md, mi = map_neighbours(xy, params.k_map)
        graphs.append((mi, _weights(md), params.map_weight))

    voters = lab
    for pass_no in range(params.passes):
        score, suggested, own = _vote(graphs, voters, lab, n_labels, stop)
        if pass_no + 1 < params.passes:
            voters = np.where(score > 0, suggested, lab)
    order = np.lexsort((np.arange(n), own, -score)).astype(np.int64)
    return Suspects(score, suggested, own, order, params)


def _weights(dist: np.ndarray) -> np.ndarray:
    """Gaussian weights with each point's distance to its k-th neighbour as the scale."""
    if dist.shape[1] == 0:
        return dist.astype(np.float64)
    scale = dist[:, -1:]
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = np.where(scale > 0, dist / scale, 0.0)  # all neighbours at distance 0: weight 1
    return np.exp(-(ratio**2))


def _vote(
    graphs: list[tuple[np.ndarray, np.ndarray, float]],
    voters: np.ndarray,
    labels: np.ndarray,
    n_labels: int,
    stop: StopFn | None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(score, suggested, own share) from the symmetric weighted votes of every graph."""
    n = len(labels)
    score: np.ndarray = np.zeros(n, dtype=np.float64)
    suggested = labels.copy()
    own = np.zeros(n, dtype=np.float64)
    rows = max(1, min(_ROW_CHUNK, (1 << 22) // max(n_labels, 1)))  # P chunk <= 32 MB
    for s in range(0, n, rows):
        e = min(n, s + rows)
        _check_stop(stop)
        share = np.zeros((e - s, n_labels), dtype=np.float64)
        for idx, w, mix in graphs:
            if idx.shape[1] == 0 or mix == 0:
                continue
            votes: np.ndarray = np.zeros((e - s) * n_labels, dtype=np.float64)
            # i's own neighbours vote for i ...
            local = np.arange(e - s, dtype=np.int64)[:, None] * n_labels
            votes += np.bincount(
                (local + voters[idx[s:e]]).ravel(), weights=w[s:e].ravel(), minlength=votes.size
            )
            # ... and so does every point that counts i among its neighbours.
            src, col = np.nonzero((idx >= s) & (idx < e))
            if len(src):
                flat = (idx[src, col] - s) * n_labels + voters[src]
                votes += np.bincount(flat, weights=w[src, col], minlength=votes.size)
            votes = votes.reshape(e - s, n_labels)
            total = votes.sum(axis=1, keepdims=True)
            np.divide(votes, total, out=votes, where=total > 0)
            share += mix * votes
        r = np.arange(e - s)
        own_share = share[r, labels[s:e]]
        share[r, labels[s:e]] = -1.0
        best = share.argmax(axis=1)
        best_share = share[r, best]
        own[s:e] = own_share
        score[s:e] = np.maximum(best_share, 0.0) - own_share
        suggested[s:e] = np.where(best_share > 0, best, labels[s:e])
    return score, suggested, own


def _check_stop(stop: StopFn | None) -> None:
    if stop is not None and stop():
        from digitmap_tui.errors import Cancelled

        raise Cancelled("suspects: stopped")


# --------------------------------------------------------------------------- neighbours


def feature_neighbours(
    features: np.ndarray, k: int, *, stop: StopFn | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """``(dist, idx)``, each ``(N, k)``: every point's ``k`` nearest others in feature space.

    Euclidean and exact, ties in index order: candidates come from a float32 brute-force
    search over row chunks (never an N x N matrix), with a margin for float32 rounding and
    every point tied at the k-th distance; their distances are then recomputed in float64 and
    ordered by (distance, index). Features wider than :data:`MAX_RAW_DIMS` are first
    projected on their leading :data:`REDUCED_DIMS` principal components (the distances are
    then those of the projection). ``k`` is capped at ``N - 1``.
    """
    x = features.reshape(features.shape[0], int(np.prod(features.shape[1:])))
    n = x.shape[0]
    k = max(0, min(int(k), n - 1))
    if k == 0:
        return np.zeros((n, 0), dtype=np.float64), np.zeros((n, 0), dtype=np.int64)
    exact = _reduce(x, stop) if x.shape[1] > MAX_RAW_DIMS else _as_float64(x)
    # Centred before the float32 products: smaller norms, smaller rounding errors.
    x32 = (exact - exact.mean(axis=0)).astype(np.float32)
    sq = np.einsum("ij,ij->i", x32, x32, dtype=np.float32)
    # |a|^2 + |b|^2 - 2ab in float32 is off by at most a few eps x (|a|^2 + |b|^2).
    slack = 8 * float(np.finfo(np.float32).eps) * (sq + sq.max())
    kq = min(n - 1, k + _TIE_MARGIN)
    rows = max(1, min(n, _CHUNK_BYTES // (4 * n)))
    dist = np.empty((n, k), dtype=np.float64)
    idx = np.empty((n, k), dtype=np.int64)
    for s in range(0, n, rows):
        e = min(n, s + rows)
        _check_stop(stop)
        block = x32[s:e] @ x32.T
        block *= -2.0
        block += sq[None, :]
        block += sq[s:e, None]
        block[np.arange(e - s), np.arange(s, e)] = np.inf  # never one's own neighbour
        cand = np.argpartition(block, kq - 1, axis=1)[:, :kq]
        near = np.take_along_axis(block, cand, axis=1)
        # Everything within rounding of the k-th smallest must be a candidate.
        limit = np.partition(near, k - 1, axis=1)[:, k - 1] + slack[s:e]
        within = np.count_nonzero(block <= limit[:, None], axis=1)
        d_k, i_k = _closest(exact, s, cand, k)
        dist[s:e], idx[s:e] = d_k, i_k
        for r in np.flatnonzero(within > kq):  # many ties: take every tied point (rare)
            row_cand = np.flatnonzero(block[r] <= limit[r])[None, :]
            d_r, i_r = _closest(exact, s + int(r), row_cand, k)
            dist[s + r], idx[s + r] = d_r[0], i_r[0]
    return dist, idx


def _closest(
    exact: np.ndarray, start: int, cand: np.ndarray, k: int
) -> tuple[np.ndarray, np.ndarray]:
    """The ``k`` candidates nearest in float64 to rows ``start, start+1, ...``, by (distance, index)."""
    own = exact[start : start + len(cand)]
    cd = np.empty(cand.shape, dtype=np.float64)
    step = max(1, (8 << 20) // max(1, cand.shape[1] * exact.shape[1] * 8))  # bounded diff
    for a in range(0, len(cand), step):
        diff = exact[cand[a : a + step]] - own[a : a + step, None, :]
        cd[a : a + step] = np.sqrt(np.einsum("ijk,ijk->ij", diff, diff))
    cd[~np.isfinite(cd)] = np.inf
    pick = np.lexsort((cand, cd), axis=-1)[:, :k]
    return np.take_along_axis(cd, pick, axis=1), np.take_along_axis(cand, pick, axis=1)


def map_neighbours(coords: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """``(dist, idx)``, each ``(N, k)``: every point's ``k`` nearest others in the 2-D map.

    KD-tree (scipy), queried in chunks; exact, ties in distance ordered by index (points tied
    at the k-th distance beyond the first candidates are fetched by a radius query); ``k`` is
    capped at ``N - 1``.
    """
    from scipy.spatial import cKDTree

    xy = np.asarray(coords, dtype=np.float64)
    n = len(xy)
    k = max(0, min(int(k), n - 1))
    if k == 0:
        return np.zeros((n, 0), dtype=np.float64), np.zeros((n, 0), dtype=np.int64)
    kq = min(n, k + 1 + _TIE_MARGIN)
    tree = cKDTree(xy)
    dist = np.empty((n, k), dtype=np.float64)
    idx = np.empty((n, k), dtype=np.int64)
    for s in range(0, n, _ROW_CHUNK):
        e = min(n, s + _ROW_CHUNK)
        cd, cand = tree.query(xy[s:e], k=kq, workers=-1)
        cd = np.asarray(cd, dtype=np.float64).reshape(e - s, kq)
        cand = np.asarray(cand, dtype=np.int64).reshape(e - s, kq)
        cd = np.where(cand == np.arange(s, e)[:, None], np.inf, cd)  # drop the point itself
        pick = np.lexsort((cand, cd), axis=-1)[:, :k]
        idx[s:e] = np.take_along_axis(cand, pick, axis=1)
        dist[s:e] = np.take_along_axis(cd, pick, axis=1)
        # Candidates all at or below the k-th distance: more points may tie beyond them.
        farthest = np.where(np.isinf(cd), -np.inf, cd).max(axis=1)
        tied = np.flatnonzero(farthest <= dist[s:e, -1]) if kq < n else np.zeros(0, np.int64)
        for r in tied.tolist():
            i = s + r
            radius = dist[i, -1] * (1 + 1e-9) + 1e-300
            near = np.asarray(tree.query_ball_point(xy[i], radius), dtype=np.int64)
            near = near[near != i]
            d = np.sqrt(((xy[near] - xy[i]) ** 2).sum(axis=1))
            order = np.lexsort((near, d))[:k]
            idx[i], dist[i] = near[order], d[order]
    return dist, idx


def _as_float64(x: np.ndarray) -> np.ndarray:
    return np.ascontiguousarray(x, dtype=np.float64)


def _reduce(x: np.ndarray, stop: StopFn | None) -> np.ndarray:
    """``(N, REDUCED_DIMS)`` projection on the leading principal components, in row chunks.

    The covariance (D x D) is accumulated chunk by chunk, so a memmap is never copied whole.
    """
    n, d = x.shape
    rows = max(1, (16 << 20) // (8 * d))
    total = np.zeros(d, dtype=np.float64)
    for s in range(0, n, rows):
        total += np.asarray(x[s : s + rows], dtype=np.float64).sum(axis=0)
    mean = total / max(n, 1)
    cov = np.zeros((d, d), dtype=np.float64)
    for s in range(0, n, rows):
        _check_stop(stop)
        c = np.asarray(x[s : s + rows], dtype=np.float64) - mean
        cov += c.T @ c
    _, vectors = np.linalg.eigh(cov)  # ascending eigenvalues
    comps = vectors[:, ::-1][:, : min(REDUCED_DIMS, d)]
    out = np.empty((n, comps.shape[1]), dtype=np.float64)
    for s in range(0, n, rows):
        out[s : s + rows] = (np.asarray(x[s : s + rows], dtype=np.float64) - mean) @ comps
    return out


# --------------------------------------------------------------------------- cache


def suspects_key(fingerprint: str, coords: np.ndarray | None, params: SuspectParams) -> str:
    """Hex sha256 naming a result: the dataset's content hash, the map's bytes, the params."""
    h = hashlib.sha256()
    meta = {"format": SUSPECTS_FORMAT, "fingerprint": fingerprint, "params": asdict(params)}
    h.update(json.dumps(meta, sort_keys=True).encode())
    if coords is None:
        h.update(b"no map")
    else:
        xy = np.ascontiguousarray(coords, dtype=np.float64)
        h.update(f"coords {xy.shape}\n".encode())
        h.update(xy.data.cast("B"))
    return h.hexdigest()


def suspects_path(cache: EmbeddingCache, key: str) -> Path | None:
    """Where the result named ``key`` lives: next to the embeddings (None: cache disabled)."""
    entry = cache.path_for(key)
    return None if entry is None else entry.with_name(f"{key}.suspects.npz")


def save_suspects(path: Path, result: Suspects, key: str) -> bool:
    """Write ``result`` atomically as a plain ``.npz`` (no pickle); False if it could not be."""
    from digitmap_tui.errors import InputError
    from digitmap_tui.export import write_atomic

    meta = json.dumps(
        {"format": SUSPECTS_FORMAT, "key": key, "n": result.n, "params": asdict(result.params)}
    )

    def write(fh: IO[bytes]) -> None:
        np.savez(
            fh,
            score=np.ascontiguousarray(result.score, dtype=np.float64),
            suggested=np.ascontiguousarray(result.suggested, dtype=np.int64),
            confidence=np.ascontiguousarray(result.confidence, dtype=np.float64),
            order=np.ascontiguousarray(result.order, dtype=np.int64),
            meta=np.array(meta),
        )

    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        write_atomic(path, write)
    except (OSError, InputError):
        return False  # the cache is a convenience: the result is simply recomputed next time
    return True


def load_suspects(path: Path, key: str, n: int) -> Suspects | None:
    """The result stored at ``path`` for ``key`` and ``n`` points, or None if absent or bad.

    Never raises on a bad file: damaged, foreign, pickled or inconsistent files are misses.
    """
    try:
        with np.load(path, allow_pickle=False) as npz:
            if not isinstance(npz, np.lib.npyio.NpzFile):
                return None
            if set(npz.files) != {"score", "suggested", "confidence", "order", "meta"}:
                return None
            meta = json.loads(str(npz["meta"]))
            arrays = {name: npz[name] for name in ("score", "suggested", "confidence", "order")}
    except Exception:  # missing, damaged, truncated, pickled: a miss either way
        return None
    if not isinstance(meta, dict) or meta.get("format") != SUSPECTS_FORMAT:
        return None
    if meta.get("key") != key or meta.get("n") != n:
        return None
    try:
        params = SuspectParams(**meta["params"])
        params.validate()
    except (TypeError, ValueError, KeyError):
        return None
    score, suggested, confidence, order = (
        arrays["score"],
        arrays["suggested"],
        arrays["confidence"],
        arrays["order"],
    )
    for arr, kind in ((score, "f"), (suggested, "i"), (confidence, "f"), (order, "i")):
        if arr.shape != (n,) or arr.dtype.kind != kind:
            return None
    if not (np.isfinite(score).all() and np.isfinite(confidence).all()):
        return None
    if n and (suggested.min() < 0 or not np.array_equal(np.sort(order), np.arange(n))):
        return None
    return Suspects(
        score.astype(np.float64),
        suggested.astype(np.int64),
        confidence.astype(np.float64),
        order.astype(np.int64),
        params,
    )


def cached_suspects(
    cache: EmbeddingCache,
    dataset: Dataset,
    coords: np.ndarray | None,
    *,
    stop: StopFn | None = None,
    **options: Any,
) -> Suspects:
    """:func:`suspects` of the dataset's images and labels on ``coords``, from the cache if there.

    ``options`` are :func:`suspects`' keyword parameters. Above :data:`FEATURE_SEARCH_MAX`
    points (with a map, and unless ``map_weight`` is given) the score uses the map alone
    (``map_weight=1``; the result's ``params`` say so). A computed result is stored (best
    effort: an unwritable cache only means it is computed again next time).
    """
    if dataset.labels is None:
        raise ValueError("suspects need labels")
    if coords is not None and dataset.n > FEATURE_SEARCH_MAX and "map_weight" not in options:
        options = {**options, "map_weight": 1.0}
    params = SuspectParams(**options)
    params.validate()
    key = suspects_key(dataset.fingerprint(), coords, params)
    path = suspects_path(cache, key)
    if path is not None:
        found = load_suspects(path, key, dataset.n)
        if found is not None:
            return found
    result = suspects(dataset.images, coords, dataset.labels, stop=stop, **asdict(params))
    if path is not None:
        save_suspects(path, result, key)
    return result


__all__ = [
    "FEATURE_SEARCH_MAX",
    "SuspectParams",
    "Suspects",
    "cached_suspects",
    "feature_neighbours",
    "load_suspects",
    "map_neighbours",
    "save_suspects",
    "suspects",
    "suspects_key",
    "suspects_path",
]
