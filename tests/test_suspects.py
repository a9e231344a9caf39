"""Suspected label errors: the neighbour searches, the score's rules, the cache."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from digitmap_tui.cache import EmbeddingCache
from digitmap_tui.data import Dataset, load_digits
from digitmap_tui.errors import Cancelled
from digitmap_tui.suspects import (
    MAX_RAW_DIMS,
    SuspectParams,
    Suspects,
    cached_suspects,
    feature_neighbours,
    load_suspects,
    map_neighbours,
    save_suspects,
    suspects,
    suspects_key,
    suspects_path,
)

FIXTURE = Path(__file__).parent / "fixtures" / "digits_tsne_seed0.npy"


@pytest.fixture(scope="module")
def digits() -> Dataset:
    return load_digits(None)


@pytest.fixture(scope="module")
def tsne() -> np.ndarray:
    return np.load(FIXTURE, allow_pickle=False)


def brute_neighbours(x: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """The definition: all pairwise distances, each row ordered by (distance, index)."""
    x = x.reshape(len(x), -1).astype(np.float64)
    d = np.sqrt(((x[:, None, :] - x[None, :, :]) ** 2).sum(-1))
    np.fill_diagonal(d, np.inf)
    cols = np.arange(len(x))
    order = np.array([np.lexsort((cols, row)) for row in d])[:, :k]
    return np.take_along_axis(d, order, axis=1), order


# --------------------------------------------------------------------------- neighbours


@settings(max_examples=60, deadline=None)
@given(
    x=hnp.arrays(
        np.int64, st.tuples(st.integers(2, 40), st.integers(1, 6)), elements=st.integers(0, 3)
    ),
    k=st.integers(1, 12),
)
def test_feature_neighbours_are_exact_with_ties_in_index_order(x, k):
    """Small integer data has many equal distances: the order must still be (distance, index)."""
    dist, idx = feature_neighbours(x, k)
    k = min(k, len(x) - 1)
    want_d, want_i = brute_neighbours(x, k)
    assert idx.shape == (len(x), k)
    assert np.array_equal(idx, want_i)
    assert np.allclose(dist, want_d)


@settings(max_examples=40, deadline=None)
@given(
    xy=hnp.arrays(
        np.float64, st.tuples(st.integers(2, 60), st.just(2)), elements=st.integers(-4, 4)
    ),
    k=st.integers(1, 12),
)
def test_map_neighbours_are_exact_with_ties_in_index_order(xy, k):
    dist, idx = map_neighbours(xy, k)
    want_d, want_i = brute_neighbours(xy, min(k, len(xy) - 1))
    assert np.array_equal(idx, want_i)
    assert np.allclose(dist, want_d)


def test_wide_features_are_reduced_without_changing_neighbours():
    """Above MAX_RAW_DIMS the search runs on principal components; data of rank <= 50 keeps
    its distances exactly there, so the neighbours are those of the raw pixels."""
    rng = np.random.default_rng(1)
    x = rng.normal(size=(300, 20)) @ rng.normal(size=(20, MAX_RAW_DIMS + 36))
    dist, idx = feature_neighbours(x, 8)
    want_d, want_i = brute_neighbours(x, 8)
    assert np.array_equal(idx, want_i)
    assert np.allclose(dist, want_d, rtol=1e-6)


def test_memmapped_features_give_the_same_result(tmp_path, digits, tsne):
    path = tmp_path / "images.npy"
    np.save(path, digits.images[:400])
    mm = np.load(path, mmap_mode="r", allow_pickle=False)
    a = suspects(mm, tsne[:400], digits.labels[:400])
    b = suspects(np.asarray(digits.images[:400]), tsne[:400], digits.labels[:400])
    assert np.array_equal(a.order, b.order) and np.allclose(a.score, b.score)


# --------------------------------------------------------------------------- the score


def test_the_seed_finding_is_a_top_suspect(digits, tsne):
    """Index 1118, the 3 sitting among the 7s, is ranked near the top with 7 suggested."""
    result = suspects(digits.images, tsne, digits.labels)
    assert result.rank()[1118] < 10
    assert result.suggested[1118] == 7
    assert 10 <= result.count <= 40  # a short list to review on clean digits


def test_a_flipped_label_is_found_and_its_true_label_suggested(digits, tsne):
    rng = np.random.default_rng(0)
    noisy = digits.labels.copy()
    flipped = rng.choice(digits.n, 90, replace=False)
    noisy[flipped] = (noisy[flipped] + rng.integers(1, 10, 90)) % 10
    result = suspects(digits.images, tsne, noisy)
    top = result.order[:90]
    hits = np.isin(top, flipped)
    assert hits.mean() >= 0.9
    # For the flips it finds, the suggestion is (nearly always) the true label.
    found = top[hits]
    assert np.mean(result.suggested[found] == digits.labels[found]) >= 0.95


@settings(max_examples=30, deadline=None)
@given(
    n=st.integers(3, 80),
    n_labels=st.integers(1, 5),
    seed=st.integers(0, 2**16),
    map_weight=st.sampled_from([0.0, 0.2, 1.0]),
    passes=st.integers(1, 3),
)
def test_score_rules(n, n_labels, seed, map_weight, passes):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, 3))
    xy = rng.normal(size=(n, 2))
    labels = rng.integers(0, n_labels, n)
    r = suspects(x, xy, labels, k=4, k_map=3, map_weight=map_weight, passes=passes)
    assert r.score.shape == r.suggested.shape == r.confidence.shape == r.order.shape == (n,)
    assert np.all(r.score >= -1 - 1e-12) and np.all(r.score <= 1 + 1e-12)
    assert np.all((r.confidence >= 0) & (r.confidence <= 1 + 1e-12))
    assert np.array_equal(np.sort(r.order), np.arange(n))
    assert np.all(np.diff(r.score[r.order]) <= 0)  # most suspicious first
    sus = r.score > 0
    assert np.all(r.suggested[sus] != labels[sus])  # a suspect always gets another label
    assert np.array_equal(r.flagged, r.order[: np.count_nonzero(sus)])
    if n_labels == 1 or len(np.unique(labels)) == 1:
        assert r.count == 0 and np.array_equal(r.suggested, labels)


@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 2**16), n=st.integers(5, 60))
def test_renaming_labels_renames_suggestions_and_keeps_scores(seed, n):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, 4))
    xy = rng.normal(size=(n, 2))
    labels = rng.integers(0, 4, n)
    perm = rng.permutation(4)
    a = suspects(x, xy, labels, k=5, k_map=5)
    b = suspects(x, xy, perm[labels], k=5, k_map=5)
    assert np.allclose(a.score, b.score)
    assert np.array_equal(perm[a.suggested], b.suggested)


@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 2**16), n=st.integers(5, 60))
def test_reordering_points_reorders_scores(seed, n):
    """Continuous random data has no ties, so the result cannot depend on point order."""
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, 4))
    xy = rng.normal(size=(n, 2))
    labels = rng.integers(0, 3, n)
    p = rng.permutation(n)
    a = suspects(x, xy, labels, k=5, k_map=5)
    b = suspects(x[p], xy[p], labels[p], k=5, k_map=5)
    assert np.allclose(a.score[p], b.score)
    assert np.array_equal(a.suggested[p], b.suggested)


def test_map_weight_zero_ignores_the_map(digits, tsne):
    a = suspects(digits.images, None, digits.labels)
    b = suspects(
        digits.images, tsne * 0 + np.arange(digits.n)[:, None], digits.labels, map_weight=0
    )
    assert np.array_equal(a.order, b.order)


@pytest.mark.parametrize("n", [0, 1, 2])
def test_tiny_inputs(n):
    r = suspects(np.zeros((n, 2)), np.zeros((n, 2)), np.arange(n))
    assert r.n == n and r.count == 0
    assert np.array_equal(r.suggested, np.arange(n))


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"labels": np.array([0, 1])}, "labels"),
        ({"labels": np.array([0, -1, 0])}, "non-negative"),
        ({"labels": np.array([0.5, 1, 0])}, "non-negative"),
        ({"coords": np.zeros((2, 2))}, "coords"),
        ({"coords": np.array([[0, 0], [1, np.nan], [2, 2]])}, "finite"),
        ({"k": 0}, "k=0"),
        ({"passes": 0}, "passes"),
        ({"map_weight": 1.5}, "map_weight"),
    ],
)
def test_bad_arguments(kwargs, message):
    args = {"features": np.zeros((3, 2)), "coords": np.zeros((3, 2)), "labels": np.array([0, 1, 0])}
    args.update(kwargs)
    with pytest.raises(ValueError, match=message):
        suspects(**args)


def test_stop_cancels(digits, tsne):
    with pytest.raises(Cancelled):
        suspects(digits.images, tsne, digits.labels, stop=lambda: True)


# --------------------------------------------------------------------------- cache


def small_result() -> Suspects:
    rng = np.random.default_rng(0)
    return suspects(rng.normal(size=(30, 3)), rng.normal(size=(30, 2)), rng.integers(0, 3, 30))


def test_save_and_load_round_trip(tmp_path):
    r = small_result()
    path = tmp_path / "x.suspects.npz"
    assert save_suspects(path, r, "k1")
    back = load_suspects(path, "k1", 30)
    assert back is not None
    for name in ("score", "suggested", "confidence", "order"):
        assert np.array_equal(getattr(back, name), getattr(r, name))
    assert back.params == r.params
    assert load_suspects(path, "other key", 30) is None
    assert load_suspects(path, "k1", 31) is None
    assert [p.name for p in tmp_path.iterdir()] == ["x.suspects.npz"]  # no temp file


def test_bad_files_are_misses(tmp_path):
    r = small_result()
    good = tmp_path / "good.npz"
    save_suspects(good, r, "k")
    raw = good.read_bytes()
    (tmp_path / "cut.npz").write_bytes(raw[: len(raw) // 2])
    (tmp_path / "junk.npz").write_bytes(b"not a zip")
    np.savez(tmp_path / "pickled.npz", score=np.array([object()], dtype=object))
    meta = json.dumps({"format": 1, "key": "k", "n": 30, "params": {}})
    np.savez(
        tmp_path / "notperm.npz",
        score=r.score,
        suggested=r.suggested,
        confidence=r.confidence,
        order=np.zeros(30, dtype=np.int64),
        meta=np.array(meta),
    )
    for name in ("cut.npz", "junk.npz", "pickled.npz", "notperm.npz", "absent.npz"):
        assert load_suspects(tmp_path / name, "k", 30) is None, name


def test_cached_suspects_stores_next_to_the_embeddings_and_reuses(
    tmp_path, monkeypatch, digits, tsne
):
    cache = EmbeddingCache(tmp_path)
    first = cached_suspects(cache, digits, tsne)
    key = suspects_key(digits.fingerprint(), tsne, SuspectParams())
    path = suspects_path(cache, key)
    assert path is not None and path.is_file() and path.parent == tmp_path / "embeddings"
    assert path.name == f"{key}.suspects.npz"

    def fail(*args, **kwargs):
        raise AssertionError("computed again")

    monkeypatch.setattr("digitmap_tui.suspects.suspects", fail)
    again = cached_suspects(cache, digits, tsne)
    assert np.array_equal(again.order, first.order)
    # Other parameters or another map are another entry.
    assert suspects_key(digits.fingerprint(), tsne, SuspectParams(k=5)) != key
    assert suspects_key(digits.fingerprint(), tsne + 1, SuspectParams()) != key


def test_a_disabled_or_unwritable_cache_still_computes(tmp_path, digits, tsne):
    assert cached_suspects(EmbeddingCache(None), digits, tsne).n == digits.n
    blocker = tmp_path / "file"
    blocker.write_text("x")
    assert cached_suspects(EmbeddingCache(blocker), digits, tsne).n == digits.n


def test_large_datasets_score_on_the_map_alone_by_default(tmp_path, monkeypatch, digits, tsne):
    """Above FEATURE_SEARCH_MAX points the O(N^2) pixel search is skipped (unless asked for)."""
    monkeypatch.setattr("digitmap_tui.suspects.FEATURE_SEARCH_MAX", 100)

    def no_pixels(*args, **kwargs):
        raise AssertionError("pixel search on a large dataset")

    monkeypatch.setattr("digitmap_tui.suspects.feature_neighbours", no_pixels)
    result = cached_suspects(EmbeddingCache(None), digits, tsne)
    assert result.params.map_weight == 1.0
    assert result.rank()[1118] < 30  # the map alone still finds the 3 among the 7s
    with pytest.raises(AssertionError, match="pixel search"):
        cached_suspects(EmbeddingCache(None), digits, tsne, map_weight=0.2)
