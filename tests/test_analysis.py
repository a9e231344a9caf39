"""Label clusters, neighbours and misfits, sub-clusters, mean images, twin maps, quality."""

from __future__ import annotations

import subprocess
import sys
from collections import Counter
from pathlib import Path

import numpy as np
import pytest

from digitmap_tui import analysis
from digitmap_tui.analysis import (
    Misfit,
    bin_mean,
    displacement,
    grid_cell_members,
    grid_mean_images,
    knn_accuracy,
    knn_indices,
    label_clusters,
    misfits,
    neighbour_majority,
    neighbourhood_overlap,
    normalise_map,
    per_cell_preservation,
    pixel_neighbours,
    point_preservation,
    split_selection,
    trustworthiness,
)
from digitmap_tui.grid import EMPTY, Rect, grid_select


def test_label_clusters_connected_patches_largest_first():
    m = np.array(
        [
            [1, 1, -1, 1],
            [-1, 1, -1, -1],
            [-1, -1, -1, 1],
            [2, -1, 1, -1],  # the 1 at (3,2) touches (2,3) diagonally
        ]
    )
    counts = np.where(m >= 0, 2, 0)
    counts[0, 3] = 9
    cl = label_clusters(m, counts, 1)
    assert [c.points for c in cl] == [9, 6, 4]
    assert cl[0].rows == (0, 0) and cl[0].cols == (3, 3)
    assert cl[1].rows == (0, 1) and cl[1].cols == (0, 1)
    assert cl[2].rows == (2, 3) and cl[2].cols == (2, 3)
    assert cl[1].center == (0, 0)
    assert label_clusters(m, counts, 1, min_points=5) == cl[:2]
    assert label_clusters(m, counts, 5) == []


# --- Insight: neighbours, misfits, sub-clusters, mean images, twin maps, quality ------------


@pytest.fixture(scope="module")
def digits():
    from sklearn.datasets import load_digits

    d = load_digits()
    return d.data, d.target.astype(np.int64)


@pytest.fixture(scope="module")
def digits_pca(digits):
    x, _ = digits
    xc = x - x.mean(axis=0)
    u, s, _ = np.linalg.svd(xc, full_matrices=False)
    return u[:, :2] * s[:2]


def _reference_majority(xy, labels, k):
    """Brute force: neighbours by (distance, index), self excluded; ties to the nearest label."""
    d = np.sqrt(((xy[:, None, :] - xy[None, :, :]) ** 2).sum(-1))
    out = np.empty(len(xy), dtype=np.int64)
    for i in range(len(xy)):
        order = [j for j in np.lexsort((np.arange(len(xy)), d[i])) if j != i][:k]
        votes = [int(labels[j]) for j in order]
        counts = Counter(votes)
        best = max(counts.values())
        out[i] = next(v for v in votes if counts[v] == best)
    return out


def test_importing_analysis_does_not_import_sklearn_or_scipy():
    code = (
        "import sys, digitmap_tui.analysis\n"
        "bad = sorted(m for m in sys.modules if m.split('.')[0] in ('sklearn', 'scipy'))\n"
        "assert not bad, bad\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, cwd=Path(__file__).parents[1])


def test_misfits_three_clusters_one_intruder():
    square = np.array([(0, 0), (1, 0), (0, 1), (1, 1)], dtype=float)
    xy = np.concatenate(
        [square, [(0.5, 0.5)], square + np.array([10, 0]), square + np.array([0, 10])]
    )
    labels = np.array([0, 0, 0, 0, 1, 1, 1, 1, 1, 2, 2, 2, 2])
    # The intruder (index 4, label 1) has the four 0s at equal distance: the smaller indices
    # 0, 1, 2 win the tie, all label 0. Each 0 has the intruder nearest but two 0s next.
    assert misfits(xy, labels, k=3) == [Misfit(index=4, label=1, neighbour_label=0, agreement=0.0)]
    assert knn_indices(xy, 3)[4].tolist() == [0, 1, 2]
    assert knn_indices(xy, 3)[0].tolist() == [4, 1, 2]
    expected = labels.copy()
    expected[4] = 0
    assert neighbour_majority(xy, labels, k=3).tolist() == expected.tolist()
    assert knn_accuracy(xy, labels, k=3) == 1 - 1 / 13


def test_neighbour_majority_ties_go_to_the_nearest_label():
    # On a line: x = 0, 1, -2, 3, -4 with labels 9, 5, 3, 5, 3.
    xy = np.array([(0, 0), (1, 0), (-2, 0), (3, 0), (-4, 0)], dtype=float)
    labels = np.array([9, 5, 3, 5, 3])
    # Point 0: neighbours 1, 2, 3, 4 -> labels 5, 3, 5, 3: a 2-2 tie, 5 is nearer -> 5.
    # Point 1: 0, 3, 2, 4 -> 9, 5, 3, 3 -> 3.   Point 2: 0 and 4 both at 2 (0 first), 1, 3
    # -> 9, 3, 5, 5 -> 5.   Point 3: 1, 0, 2, 4 -> 5, 9, 3, 3 -> 3.   Point 4: 2, 0, 1, 3 -> 5.
    assert neighbour_majority(xy, labels, k=4).tolist() == [5, 3, 5, 3, 5]
    assert [(m.index, m.neighbour_label, m.agreement) for m in misfits(xy, labels, k=4)] == [
        (0, 5, 0.0),
        (1, 3, 0.25),
        (2, 5, 0.25),
        (3, 3, 0.25),
        (4, 5, 0.25),
    ]
    # Equal distances: the smaller index first.
    assert knn_indices(xy, 1)[2].tolist() == [0]
    assert neighbour_majority(xy, labels, k=1)[2] == 9
    # k larger than N - 1 is capped; a lone point keeps its own label.
    assert (
        neighbour_majority(xy, labels, k=50).tolist() == _reference_majority(xy, labels, 4).tolist()
    )
    assert neighbour_majority(xy[:1], labels[:1]).tolist() == [9]
    assert misfits(xy[:1], labels[:1]) == []
    with pytest.raises(ValueError, match="k=0"):
        misfits(xy, labels, k=0)


def test_misfits_on_digits_pca_match_brute_force(digits, digits_pca):
    _, y = digits
    found = misfits(digits_pca, y, k=10)
    ref = _reference_majority(digits_pca, y, 10)
    assert neighbour_majority(digits_pca, y, k=10).tolist() == ref.tolist()
    assert len(found) > 100  # PCA mixes the classes a lot
    assert [m.index for m in found] != sorted(m.index for m in found)  # ordered by agreement
    assert {m.index for m in found} == set(np.flatnonzero(ref != y).tolist())
    for m in found:
        assert m.label == y[m.index] != m.neighbour_label == ref[m.index]
    agreements = [(m.agreement, m.index) for m in found]
    assert agreements == sorted(agreements)


@pytest.mark.parametrize("k", [1, 5, 10])
def test_knn_accuracy_is_one_minus_misfit_share(digits_pca, digits, k):
    _, y = digits
    assert knn_accuracy(digits_pca, y, k) == 1 - len(misfits(digits_pca, y, k)) / len(y)
    rng = np.random.default_rng(1)
    noise = rng.integers(0, 3, len(y))
    assert knn_accuracy(digits_pca, noise, k) == 1 - len(misfits(digits_pca, noise, k)) / len(y)


def test_pixel_neighbours_match_brute_force_with_ties():
    rng = np.random.default_rng(0)
    x = rng.integers(0, 3, size=(300, 2, 3)).astype(np.float32)  # many equal distances
    flat = x.reshape(300, -1).astype(np.float64)
    for i in (0, 17, 299):
        d = ((flat - flat[i]) ** 2).sum(axis=1)
        order = [j for j in np.lexsort((np.arange(300), d)) if j != i]
        assert pixel_neighbours(x, i, k=8).tolist() == order[:8]
        assert pixel_neighbours(flat, i, k=299).tolist() == order
    assert pixel_neighbours(x[:1], 0).tolist() == []
    with pytest.raises(IndexError):
        pixel_neighbours(x, 300)


def _blobs():
    rng = np.random.default_rng(3)
    centres = rng.normal(0, 10, size=(3, 16))
    sizes = (30, 20, 10)
    x = np.concatenate(
        [c + rng.normal(0, 0.5, size=(s, 16)) for c, s in zip(centres, sizes, strict=True)]
    )
    truth = np.repeat([0, 1, 2], sizes)
    perm = rng.permutation(len(x))
    return x[perm], truth[perm]


def test_split_selection_finds_three_obvious_clusters():
    x, truth = _blobs()
    padded = np.concatenate([np.zeros((5, 16)), x])  # unselected points around the selection
    labels = np.concatenate([np.full(5, 4), truth])
    sel = np.arange(5, 65)[::-1]
    split = split_selection(padded, sel, labels=labels)
    assert split.k == 3
    assert set(split.scores) == {2, 3, 4, 5, 6}
    assert max(split.scores, key=split.scores.__getitem__) == 3
    assert [c.size for c in split.clusters] == [30, 20, 10]
    for c, t in zip(split.clusters, range(3), strict=True):
        assert c.members.tolist() == (np.flatnonzero(truth == t) + 5).tolist()
        assert c.label_mix.tolist() == [0] * t + [c.size] + [0] * (4 - t)
        assert np.allclose(c.mean, padded[c.members].mean(axis=0))
    # labels follow the selection's order and use the size-ordered numbering
    assert split.indices.tolist() == sel.tolist()
    assert split.labels.tolist() == truth[sel - 5].tolist()
    again = split_selection(padded, sel, labels=labels)
    assert again.labels.tolist() == split.labels.tolist()
    assert split_selection(padded, sel, k=2).k == 2


def test_split_selection_small_and_degenerate():
    x = np.arange(20, dtype=float).reshape(10, 2)
    assert split_selection(x, []).k == 0
    one = split_selection(x, [4])
    assert one.k == 1 and one.clusters[0].members.tolist() == [4]
    two = split_selection(x, [4, 2])
    assert (
        two.k == 1 and two.clusters[0].members.tolist() == [2, 4] and two.labels.tolist() == [0, 0]
    )
    assert split_selection(x, [4, 2], k=2).k == 2
    same = np.zeros((6, 3))
    assert split_selection(same, np.arange(6)).k == 1
    assert split_selection(same, np.arange(6), k=3).k == 1
    assert split_selection(x, [1, 2, 3]).clusters[0].label_mix.tolist() == []
    with pytest.raises(ValueError):
        split_selection(x, [1, 2, 3], k_range=(1, 3))


def test_split_selection_digits_ones_have_shape_subclusters(digits):
    x, y = digits
    ones = np.flatnonzero(y == 1)
    split = split_selection(x, ones, labels=y)
    assert split.k > 1
    assert sum(c.size for c in split.clusters) == len(ones)
    assert [c.size for c in split.clusters] == sorted(
        (c.size for c in split.clusters), reverse=True
    )
    assert all(c.label_mix.tolist() == [0, c.size] + [0] * 8 for c in split.clusters)
    means = np.array([c.mean for c in split.clusters])
    gaps = np.linalg.norm(means[:, None] - means[None, :], axis=-1)
    assert gaps[np.triu_indices(split.k, 1)].min() > 10  # 16 grey levels: visibly different


def test_grid_mean_images_use_the_seed_grid_cells(monkeypatch):
    rng = np.random.default_rng(5)
    xy = rng.normal(size=(400, 2))
    feats = rng.random((400, 3, 2))
    rect = Rect(-1.5, 1.2, -1.0, 1.7)
    rows, cols = 6, 5
    chosen = grid_select(xy, rect, rows, cols)
    means, counts = grid_mean_images(xy, feats, rect, rows, cols)
    assert means.shape == (rows, cols, 6) and counts.shape == (rows, cols)
    assert ((counts > 0) == (chosen != EMPTY)).all()
    assert np.isnan(means[counts == 0]).all() and not np.isnan(means[counts > 0]).any()
    # seed loop membership, cell by cell
    px, py = rect.width / cols, rect.height / rows
    flat = feats.reshape(400, -1)
    for r in range(rows):
        cy = rect.y1 - py * r - py / 2
        for c in range(cols):
            cx = rect.x0 + px * c + px / 2
            m = (
                (cx - px / 2 < xy[:, 0])
                & (xy[:, 0] < cx + px / 2)
                & (cy - py / 2 < xy[:, 1])
                & (xy[:, 1] < cy + py / 2)
            )
            assert counts[r, c] == m.sum()
            if m.any():
                assert np.allclose(means[r, c], flat[m].mean(axis=0))
                assert m[chosen[r, c]]
            if m.sum() == 1:
                assert (means[r, c] == flat[chosen[r, c]]).all()
    # the chunked sum gives the same answer when a cell's run crosses chunk edges
    monkeypatch.setattr(analysis, "_CHUNK", 7)
    means2, counts2 = grid_mean_images(xy, feats, rect, rows, cols)
    assert (counts2 == counts).all() and np.allclose(means2, means, equal_nan=True)
    pts, cells = grid_cell_members(xy, rect, rows, cols)
    assert len(pts) == counts.sum() and (np.diff(cells) >= 0).all()


def test_grid_mean_images_single_point_and_empty():
    xy = np.array([(0.1, 0.9), (5.0, 5.0)])
    feats = np.array([[1.0, 2.0], [3.0, 4.0]])
    means, counts = grid_mean_images(xy, feats, Rect(0, 1, 0, 1), 2, 2)
    assert counts.tolist() == [[1, 0], [0, 0]]  # row 0 is the top
    assert means[0, 0].tolist() == [1.0, 2.0]
    assert np.isnan(means[1]).all()


def test_neighbourhood_overlap_identical_and_hand_made():
    rng = np.random.default_rng(2)
    xy = rng.normal(size=(200, 2))
    assert (neighbourhood_overlap(xy, xy) == 1).all()
    assert (neighbourhood_overlap(xy, 3 * xy + 7) == 1).all()
    a = np.array([(0, 0), (1, 0), (2, 0), (10, 0)], dtype=float)
    b = np.array([(0, 0), (1, 0), (2, 0), (-1, 0)], dtype=float)
    assert neighbourhood_overlap(a, b, k=1).tolist() == [1.0, 1.0, 1.0, 0.0]
    assert neighbourhood_overlap(a, b, k=2).tolist() == [0.5, 1.0, 1.0, 0.5]
    with pytest.raises(ValueError):
        neighbourhood_overlap(a, b[:3])


def test_displacement_after_normalising():
    rng = np.random.default_rng(4)
    a = rng.normal(size=(50, 2))
    assert np.allclose(displacement(a, 2.5 * a - 3), 0)
    n = normalise_map(a)
    assert np.allclose(n.mean(axis=0), 0) and np.isclose(np.sqrt((n**2).sum(1).mean()), 1)
    assert displacement(np.array([(-1.0, 0), (1, 0)]), np.array([(5.0, 0), (3, 0)])).tolist() == [
        2.0,
        2.0,
    ]
    rotated = a @ np.array([[0.0, 1.0], [-1.0, 0.0]])
    assert displacement(a, rotated).mean() > 1
    assert np.allclose(displacement(a, rotated, align=True), 0)
    assert np.allclose(displacement(a, a * (1, -1), align=True), 0)  # reflection


def test_trustworthiness_equals_sklearn():
    from sklearn.manifold import trustworthiness as sk

    rng = np.random.default_rng(6)
    x = rng.normal(size=(80, 12))
    y = x[:, :2] + rng.normal(scale=0.5, size=(80, 2))
    for k in (1, 5, 10):
        assert trustworthiness(x, y, k) == sk(x, y, n_neighbors=k)
    # above max_points: the seeded sample, exactly as documented
    sel = np.sort(np.random.default_rng(9).choice(80, size=30, replace=False))
    assert trustworthiness(x, y, 5, max_points=30, seed=9) == sk(x[sel], y[sel], n_neighbors=5)


def test_point_and_cell_preservation():
    rng = np.random.default_rng(7)
    xy = rng.normal(size=(120, 2))
    feats = np.concatenate([xy, np.zeros((120, 3))], axis=1)  # same geometry, 5-D
    assert (point_preservation(feats, xy, 5) == 1).all()
    noisy = xy + rng.normal(scale=0.5, size=xy.shape)
    pres = point_preservation(feats, noisy, 5)
    assert 0 < pres.mean() < 1
    view = Rect(-3.0, 3.0, -3.0, 3.0)
    cells = per_cell_preservation(feats, noisy, view, 4, 3, 5)
    assert cells.shape == (3, 4)
    assert np.allclose(cells, bin_mean(pres, noisy, view, 4, 3), equal_nan=True)


def test_bin_mean_hand_made():
    xy = np.array([(0.1, 0.9), (0.2, 0.8), (0.9, 0.1), (5.0, 5.0)])
    out = bin_mean(np.array([1.0, 3.0, 5.0, 7.0]), xy, Rect(0, 1, 0, 1), 2, 2)
    assert out[0, 0] == 2.0 and out[1, 1] == 5.0
    assert np.isnan(out[0, 1]) and np.isnan(out[1, 0])


@pytest.mark.slow
@pytest.mark.parametrize("method", ["opentsne", "umap"])
def test_the_seed_3_among_the_7s_is_a_misfit(digits, method):
    x, y = digits
    if method == "opentsne":
        import openTSNE

        xy = np.asarray(openTSNE.TSNE(random_state=0, n_jobs=2).fit(x))
    else:
        import umap

        xy = umap.UMAP(random_state=0).fit_transform(x)
    found = misfits(xy, y)
    threes_in_sevens = [m.index for m in found if m.label == 3 and m.neighbour_label == 7]
    assert 1118 in threes_in_sevens
    assert knn_accuracy(xy, y) > 0.95


def test_knn_indices_in_chunks_equals_one_query(monkeypatch):
    """Chunked KD-tree queries (large maps) give exactly the single-query answer, ties too."""
    import digitmap_tui.analysis as analysis

    rng = np.random.default_rng(3)
    pts = np.round(rng.normal(size=(3000, 2)), 1)  # rounding makes many exact ties
    whole = analysis.knn_indices(pts, 10)
    monkeypatch.setattr(analysis, "_QUERY_CHUNK", 257)
    assert np.array_equal(analysis.knn_indices(pts, 10), whole)
