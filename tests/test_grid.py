"""The binning and the two seed selections, against hand-computed cases and the seed's loop."""

from __future__ import annotations

from unittest.mock import patch

import numpy as np
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from digitmap_tui import grid
from digitmap_tui.errors import InputError
from digitmap_tui.grid import (
    EMPTY,
    SORT_KEYS,
    PointIndex,
    Rect,
    _Axis,
    _stable_argsort,
    bin_points,
    bounds,
    grid_candidates,
    grid_hull,
    grid_select,
    grid_select_among,
    grid_select_reference,
    inside,
    label_histogram,
    list_select,
    parse_grid,
    select_box,
    sort_page,
    stable_page,
)


def test_rect_rejects_inverted_and_non_finite():
    with pytest.raises(InputError, match="X0 < X1"):
        Rect(1, 0, 0, 1)
    with pytest.raises(InputError, match="finite"):
        Rect(0, float("nan"), 0, 1)


@pytest.mark.parametrize(
    "text, message",
    [
        ("1,2,3", "four numbers"),
        ("a,b,c,d", "four numbers"),
        ("0,1,1,0", "X0 < X1 and Y0 < Y1"),
        ("0,inf,0,1", "finite"),
    ],
)
def test_rect_parse_errors_name_the_flag(text, message):
    with pytest.raises(InputError) as err:
        Rect.parse(text, "--box")
    assert str(err.value).startswith(f"--box {text!r}")
    assert message in str(err.value)
    assert "\n" not in str(err.value)


def test_rect_parse_round_trip():
    r = Rect.parse("-55,-20,-30,-5")
    assert r.as_list() == [-55, -20, -30, -5]
    assert Rect.parse(r.text()) == r


def test_bin_points_counts_majority_purity_by_hand():
    # view [0,4) x (0,2] on a 4x2 grid: cells are 1x1, row 0 holds 1 < y <= 2.
    xy = np.array(
        [
            [0.5, 1.5],  # row 0 col 0, label 1
            [0.6, 1.2],  # row 0 col 0, label 1
            [0.7, 1.9],  # row 0 col 0, label 2
            [3.5, 0.5],  # row 1 col 3, label 0
            [9.0, 9.0],  # outside
        ]
    )
    labels = np.array([1, 1, 2, 0, 1])
    b = bin_points(xy, labels, Rect(0, 4, 0, 2), 4, 2, n_labels=3)
    assert b.counts.tolist() == [[3, 0, 0, 0], [0, 0, 0, 1]]
    assert b.majority.tolist() == [[1, EMPTY, EMPTY, EMPTY], [EMPTY, EMPTY, EMPTY, 0]]
    assert b.purity[0, 0] == pytest.approx(2 / 3)
    assert b.purity[1, 3] == 1.0


def test_bin_points_tie_goes_to_smaller_label_and_no_labels():
    xy = np.array([[0.5, 0.5], [0.5, 0.5]])
    b = bin_points(xy, np.array([3, 2]), Rect(0, 1, 0, 1), 1, 1)
    assert b.majority[0, 0] == 2
    b2 = bin_points(xy, None, Rect(0, 1, 0, 1), 1, 1)
    assert b2.counts[0, 0] == 2 and b2.majority[0, 0] == EMPTY


def test_bin_points_agrees_with_histogram2d():
    rng = np.random.default_rng(1)
    xy = rng.normal(size=(5000, 2))
    view = Rect(-2, 2.5, -1.5, 3)
    w, h = 37, 13
    b = bin_points(xy, None, view, w, h)
    hist, _, _ = np.histogram2d(
        xy[:, 0], xy[:, 1], bins=(w, h), range=((view.x0, view.x1), (view.y0, view.y1))
    )
    # histogram2d: [x_bin, y_bin] with y upwards; ours: [row, col] with row 0 at the top.
    # Boundary points may fall differently (half-open sides differ); there are none here.
    assert np.array_equal(b.counts, hist.T[::-1].astype(np.int64))


def test_inside_is_strict():
    xy = np.array([[0.0, 0.5], [0.5, 0.5], [1.0, 0.5], [0.5, 1.0]])
    assert inside(xy, Rect(0, 1, 0, 1)).tolist() == [1]


def test_list_select_sorts_stably():
    xy = np.array([[0.3, 0.9], [0.1, 0.2], [0.3, 0.1], [0.2, 0.5], [5, 5]])
    labels = np.array([2, 1, 2, 0, 1])
    box = Rect(0, 1, 0, 1)
    assert list_select(xy, box, labels, "index").tolist() == [0, 1, 2, 3]
    assert list_select(xy, box, labels, "x").tolist() == [1, 3, 0, 2]  # 0 and 2 tie: index order
    assert list_select(xy, box, labels, "y").tolist() == [2, 1, 3, 0]
    assert list_select(xy, box, labels, "label").tolist() == [3, 1, 0, 2]
    with pytest.raises(InputError):
        list_select(xy, box, labels, "colour")  # type: ignore[arg-type]


def test_list_select_matches_seed_where_argsort():
    rng = np.random.default_rng(7)
    res = rng.uniform(-60, 0, size=(2000, 2))
    x0, x1, y0, y1 = -60, -30, -20, -18
    i_list = np.where((x0 < res[:, 0]) & (res[:, 0] < x1) & (y0 < res[:, 1]) & (res[:, 1] < y1))[0]
    i_list = i_list[np.argsort(res[i_list, 0])]
    assert list_select(res, Rect(x0, x1, y0, y1), None, "x").tolist() == i_list.tolist()


def test_grid_select_hand_computed():
    # Box [0,2]x[0,2] cut 2x2: cells of size 1, centres (0.5,1.5) (1.5,1.5) / (0.5,0.5) (1.5,0.5).
    xy = np.array(
        [
            [0.4, 1.4],  # top-left, distance^2 0.02
            [0.9, 1.9],  # top-left, distance^2 0.32
            [1.5, 0.5],  # bottom-right, exactly the centre
            [1.0, 0.5],  # on the vertical boundary: in no cell (strictly inside only)
            [0.5, 0.6],  # bottom-left
            [0.5, 0.4],  # bottom-left, same distance as 4: the smaller index wins
        ]
    )
    g = grid_select(xy, Rect(0, 2, 0, 2), 2, 2)
    assert g.tolist() == [[0, EMPTY], [4, 2]]


def test_grid_select_uses_pitch_normalised_distance():
    # A wide cell: 10 units wide, 1 tall. Raw distance would pick point 1, normalised picks 0.
    xy = np.array([[5.0 + 3.0, 0.5], [5.0, 0.5 + 0.4]])
    g = grid_select(xy, Rect(0, 10, 0, 1), 1, 1)
    assert g.tolist() == [[0]]


@pytest.mark.parametrize("rows, cols", [(1, 1), (3, 5), (15, 15), (7, 2)])
def test_grid_select_equals_seed_loop(rows, cols):
    rng = np.random.default_rng(rows * 100 + cols)
    res = rng.normal(scale=20, size=(3000, 2))
    # Put some points exactly on cell boundaries and centres to exercise the strict rule.
    rect = Rect(-55, -20, -30, -5)
    px, py = rect.width / cols, rect.height / rows
    res[:50, 0] = rect.x0 + px * rng.integers(0, cols + 1, 50)
    res[:50, 1] = rect.y0 + rng.uniform(0, rect.height, 50)
    res[50:80] = np.column_stack(
        [
            rect.x0 + px * (rng.integers(0, cols, 30) + 0.5),
            rect.y1 - py * (rng.integers(0, rows, 30) + 0.5),
        ]
    )
    assert np.array_equal(
        grid_select(res, rect, rows, cols), grid_select_reference(res, rect, rows, cols)
    )


def test_grid_select_empty_box_and_bad_sizes():
    xy = np.array([[10.0, 10.0]])
    assert (grid_select(xy, Rect(0, 1, 0, 1), 2, 3) == EMPTY).all()
    with pytest.raises(InputError):
        grid_select(xy, Rect(0, 1, 0, 1), 0, 3)


@pytest.mark.parametrize("text", ["4", "0x4", "4x0", "axb", "65x1", "4x4x4", ""])
def test_parse_grid_rejects(text):
    with pytest.raises(InputError, match="--grid"):
        parse_grid(text)


def test_parse_grid_accepts():
    assert parse_grid("4x4") == (4, 4)
    assert parse_grid("15X3") == (15, 3)


def test_bounds_cover_all_points_with_margin():
    xy = np.array([[0.0, 0.0], [10.0, 5.0]])
    b = bounds(xy)
    assert b.x0 < 0 < 10 < b.x1 and b.y0 < 0 < 5 < b.y1
    assert len(inside(xy, b)) == 2


def test_label_histogram():
    labels = np.array([0, 1, 1, 3])
    assert label_histogram(labels, np.array([1, 2, 3]), 4).tolist() == [0, 2, 0, 1]
    assert label_histogram(None, np.array([1]), 0).tolist() == []


# ----- PointIndex: the same answers as the definitions above, without full passes ----------


def _awkward_points(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Clustered points with the cases that break shortcuts: duplicates, ties in one
    coordinate, points on a coarse lattice (so on view and box edges), and +-0.0."""
    rng = np.random.default_rng(seed)
    xy = rng.normal(scale=10, size=(n, 2))
    xy[: n // 4] = np.round(xy[: n // 4], 0)  # lattice points: on cell and box boundaries
    if n >= 200:
        xy[n // 4 : n // 3, 0] = xy[: n // 3 - n // 4, 0]  # ties in x only
        xy[n // 3 : n // 3 + 20] = xy[n // 3 + 20 : n // 3 + 40]  # exact duplicates
        xy[-5:] = [[0.0, -0.0], [-0.0, 0.0], [0.0, 0.0], [-0.0, -0.0], [1e-300, -1e-300]]
    labels = rng.integers(0, 7, n)
    return xy, labels


def _rects(rng: np.random.Generator, count: int) -> list[Rect]:
    rects = [Rect(-40, 40, -40, 40), Rect(-1, 1, -1, 1), Rect(0, 3, -3, 0), Rect(100, 101, 0, 1)]
    for _ in range(count):
        x0, y0 = rng.uniform(-25, 20, 2)
        w, h = rng.uniform(0.05, 30, 2)
        if rng.random() < 0.5:  # edges on the lattice
            x0, y0, w, h = round(x0), round(y0), round(w) + 1, round(h) + 1
        rects.append(Rect(float(x0), float(x0 + w), float(y0), float(y0 + h)))
    return rects


def _same_map(a, b) -> bool:
    return (
        np.array_equal(a.counts, b.counts)
        and a.counts.dtype == b.counts.dtype
        and np.array_equal(a.majority, b.majority)
        and np.array_equal(a.purity, b.purity)
    )


@pytest.mark.parametrize("n, seed", [(0, 0), (1, 1), (7, 2), (1797, 3), (60_000, 4)])
def test_index_bins_like_bin_points(n, seed):
    xy, labels = _awkward_points(max(n, 5), seed)
    xy, labels = xy[:n], labels[:n]
    rng = np.random.default_rng(seed)
    with_labels = PointIndex(xy, labels, 7)
    without = PointIndex(xy)
    for view in _rects(rng, 25):
        w, h = (int(v) for v in rng.integers(1, 90, 2))
        assert _same_map(with_labels.bin(view, w, h), bin_points(xy, labels, view, w, h, 7))
        assert _same_map(without.bin(view, w, h), bin_points(xy, None, view, w, h))


def test_index_bins_float32_points_and_inferred_label_count():
    xy, labels = _awkward_points(20_000, 5)
    xy32 = xy.astype(np.float32)  # float32 arithmetic in cell_of: the index must match it
    index = PointIndex(xy32, labels)
    for view in _rects(np.random.default_rng(5), 15):
        assert _same_map(index.bin(view, 61, 23), bin_points(xy32, labels, view, 61, 23))


def test_index_leaves_out_of_range_labels_to_bin_points():
    xy, labels = _awkward_points(3000, 6)
    view = Rect(-20, 20, -20, 20)
    # Labels up to 6 counted in 3 columns: whatever bin_points does (here it cannot reshape
    # its bincount), the index does the same.
    with pytest.raises(ValueError):
        bin_points(xy, labels, view, 30, 12, 3)
    with pytest.raises(ValueError):
        PointIndex(xy, labels, 3).bin(view, 30, 12)
    small = labels % 4  # in range once n_labels covers them
    assert _same_map(
        PointIndex(xy, small, 4).bin(view, 30, 12), bin_points(xy, small, view, 30, 12, 4)
    )


@pytest.mark.parametrize("n, seed", [(1, 10), (1797, 11), (60_000, 12)])
def test_index_selections_equal_the_definitions(n, seed):
    xy, labels = _awkward_points(max(n, 5), seed)
    xy, labels = xy[:n], labels[:n]
    index = PointIndex(xy, labels, 7)
    rng = np.random.default_rng(seed)
    for rect in _rects(rng, 40):
        expected = inside(xy, rect)
        assert np.array_equal(index.inside(rect), expected)
        for key in ("index", "x", "y", "label"):
            assert np.array_equal(index.list_select(rect, key), list_select(xy, rect, labels, key))
        for n_labels in (7, 3, 10):
            assert np.array_equal(
                index.label_counts(rect, n_labels), label_histogram(labels, expected, n_labels)
            )
        rows, cols = (int(v) for v in rng.integers(1, 9, 2))
        assert np.array_equal(
            index.grid_select(rect, rows, cols), grid_select(xy, rect, rows, cols)
        )


@pytest.mark.parametrize(
    "n, seed, changes, new_n_labels",
    [
        (0, 20, 0, 7), (1, 21, 1, 12), (1797, 22, 1, 7), (1797, 23, 16, 7), (1797, 24, 17, 7),
        (1797, 25, 180, 7), (1797, 26, 1000, 7), (1797, 27, 5, 200), (60_000, 28, 3, 7),
        (60_000, 29, 6000, 9),
    ],
)  # fmt: skip
def test_a_relabelled_index_answers_as_one_built_anew(n, seed, changes, new_n_labels):
    """Corrected labels (a review) reuse the sorted orders, updating the count table point by
    point, by label, or anew (few, some, many changes; another label count): the answers are
    those of a fresh index and of the definitions, on the new labels; the old index is left
    as it was."""
    n_labels = 7
    xy, labels = _awkward_points(max(n, 5), seed)
    xy, labels = xy[:n], labels[:n]
    rng = np.random.default_rng(seed)
    old = PointIndex(xy, labels, n_labels)
    new_labels = labels.copy()
    changed = rng.choice(n, changes, replace=False)
    new_labels[changed] = (labels[changed] + rng.integers(1, new_n_labels, changes)) % new_n_labels
    fresh = PointIndex(xy, new_labels, new_n_labels)
    relabelled = old.relabelled(new_labels, new_n_labels)
    assert relabelled.xy is xy and relabelled.labels is new_labels
    for view in _rects(rng, 12):
        w, h = (int(v) for v in rng.integers(1, 60, 2))
        got = relabelled.bin(view, w, h)
        assert _same_map(got, fresh.bin(view, w, h))
        assert _same_map(got, bin_points(xy, new_labels, view, w, h, new_n_labels))
        assert _same_map(old.bin(view, w, h), bin_points(xy, labels, view, w, h, n_labels))
        assert np.array_equal(relabelled.inside(view), inside(xy, view))
        assert np.array_equal(
            relabelled.list_select(view, "label"), list_select(xy, view, new_labels, "label")
        )
        assert np.array_equal(
            relabelled.label_counts(view, new_n_labels),
            label_histogram(new_labels, inside(xy, view), new_n_labels),
        )
    if n:
        with pytest.raises(ValueError):
            old.relabelled(new_labels[:-1])


def test_index_grid_select_large_box_matches_the_seed_loop():
    # Enough points in the box for the window search (not the small-box shortcut).
    xy, _ = _awkward_points(120_000, 13)
    index = PointIndex(xy)
    for rect, rows, cols in [(Rect(-15, 15, -15, 15), 4, 4), (Rect(-10, 12, -7, 9), 3, 7)]:
        assert np.array_equal(
            index.grid_select(rect, rows, cols), grid_select_reference(xy, rect, rows, cols)
        )


def test_index_errors_match_the_functions():
    index = PointIndex(np.zeros((3, 2)))
    with pytest.raises(InputError, match="--sort"):
        index.list_select(Rect(0, 1, 0, 1), "colour")  # type: ignore[arg-type]
    with pytest.raises(InputError, match="--grid"):
        index.grid_select(Rect(0, 1, 0, 1), 0, 2)
    with pytest.raises(ValueError):
        index.bin(Rect(0, 1, 0, 1), 0, 2)
    with pytest.raises(ValueError):
        PointIndex(np.zeros((3, 3)))
    assert index.label_counts(Rect(-1, 1, -1, 1), 4).tolist() == []


def test_stable_argsort_matches_numpy():
    rng = np.random.default_rng(14)
    for _ in range(50):
        v = rng.integers(0, int(rng.integers(1, 30)), int(rng.integers(0, 400))).astype(float)
        v[rng.random(len(v)) < 0.1] = -0.0
        assert np.array_equal(_stable_argsort(v, np.int32), np.argsort(v, kind="stable"))


def test_axis_slots_by_table_and_by_search_agree():
    rng = np.random.default_rng(15)
    for n in (10, 5000, 300_000):
        for _ in range(10):
            bounds = np.sort(rng.integers(0, n + 1, int(rng.integers(2, 60))))
            axis = _Axis(bounds, max(1, n // 100), 100, n)
            ranks = rng.integers(0, n, 200_000)  # many: the lookup-table path
            expected = np.searchsorted(bounds, ranks, side="right") - 1
            expected[expected < 0] = len(bounds) - 1
            assert np.array_equal(axis.slot_of(ranks), expected)
            few = ranks[:3]  # few: the searchsorted path
            assert np.array_equal(axis.slot_of(few), expected[:3])


# ----- pages, the grid rule without sorting: invariants against the plain definitions ------

PAGE_SETTINGS = settings(max_examples=150, deadline=None)


def _plain_list(xy, rect, labels, sort):
    """The definition: np.where, then a full stable argsort on the key."""
    idx = np.flatnonzero(
        (rect.x0 < xy[:, 0]) & (xy[:, 0] < rect.x1) & (rect.y0 < xy[:, 1]) & (xy[:, 1] < rect.y1)
    )
    if sort == "index" or (sort == "label" and labels is None):
        return idx
    key = {"x": xy[idx, 0], "y": xy[idx, 1]}.get(sort)
    key = labels[idx] if key is None else key
    return idx[np.argsort(key, kind="stable")]


def _seed_pairs(xy, rect, rows, cols) -> set[tuple[int, int]]:
    """Every (point, cell) of the seed's loop: the points strictly inside each cell's float
    bounds (which may reach an ulp past the box)."""
    px, py = (rect.x1 - rect.x0) / cols, (rect.y1 - rect.y0) / rows
    pairs = set()
    for r in range(rows):
        cy = rect.y1 - py * r - py / 2
        for c in range(cols):
            cx = rect.x0 + px * c + px / 2
            hit = (cx - px / 2 < xy[:, 0]) & (xy[:, 0] < cx + px / 2)
            hit &= (cy - py / 2 < xy[:, 1]) & (xy[:, 1] < cy + py / 2)
            pairs |= {(int(i), r * cols + c) for i in np.flatnonzero(hit)}
    return pairs


#: Keys with many ties (small integers), signed zeros, and spread-out floats.
tied_keys = st.one_of(
    st.lists(st.integers(-3, 3), max_size=300).map(lambda v: np.array(v, dtype=np.int64)),
    st.lists(st.sampled_from([0.0, -0.0, 1.5, -2.25, 1e-300]), max_size=300).map(np.array),
    st.lists(st.floats(-1e6, 1e6, allow_nan=False, width=32), max_size=300).map(np.array),
)


@PAGE_SETTINGS
@given(key=tied_keys, start=st.integers(-20, 320), length=st.integers(0, 60))
def test_stable_page_is_the_slice_of_the_full_stable_sort(key, start, length):
    expected = np.argsort(key, kind="stable")[start : start + length]
    with patch.object(grid, "_PAGE_SORT_ALL", 0):  # the partition path, even on small keys
        got = stable_page(key, start, start + length)
    assert got.tolist() == expected.tolist()
    assert stable_page(key, start, start + length).tolist() == expected.tolist()
    assert stable_page(key).tolist() == np.argsort(key, kind="stable").tolist()


def _ulps_off(v: float, step: int) -> float:
    return float(v) if step == 0 else float(np.nextafter(v, step * np.inf))


@st.composite
def awkward_cloud(draw, max_points: int = 200) -> tuple[np.ndarray, np.ndarray, Rect, int, int]:
    """A box cut rows x cols, and points that break shortcuts: on the seed's float cell bounds
    and one ulp either side (so in no cell, or in two), at cell centres, duplicated, outside
    the box, near and far from the origin (where bounds round coarsely)."""
    scale = draw(st.sampled_from([1e-3, 1.0, 37.0, 4e4, 7e5]))
    x0 = draw(st.floats(-1, 1)) * scale
    y0 = draw(st.floats(-1, 1)) * scale
    w = draw(st.floats(1e-3, 5)) * max(1.0, scale / 1e3)
    h = draw(st.floats(1e-3, 5)) * max(1.0, scale / 1e3)
    rect = Rect(x0, x0 + w, y0, y0 + h)
    rows, cols = draw(st.integers(1, 7)), draw(st.integers(1, 7))
    px, py = (rect.x1 - rect.x0) / cols, (rect.y1 - rect.y0) / rows
    cx = rect.x0 + px * np.arange(cols) + px / 2
    cy = rect.y1 - py * np.arange(rows) - py / 2
    xs = np.concatenate([cx - px / 2, cx + px / 2, cx])
    ys = np.concatenate([cy - py / 2, cy + py / 2, cy])
    n = draw(st.integers(0, max_points))
    kinds = draw(st.lists(st.integers(0, 5), min_size=n, max_size=n))
    xy = np.empty((n, 2))
    fx = draw(st.lists(st.floats(-0.1, 1.1), min_size=n, max_size=n))
    fy = draw(st.lists(st.floats(-0.1, 1.1), min_size=n, max_size=n))
    pick = draw(st.lists(st.integers(0, 10**6), min_size=2 * n, max_size=2 * n))
    ulps = draw(st.lists(st.integers(-1, 1), min_size=2 * n, max_size=2 * n))
    for i, kind in enumerate(kinds):
        x = rect.x0 + fx[i] * (rect.x1 - rect.x0)
        y = rect.y0 + fy[i] * (rect.y1 - rect.y0)
        if kind in (1, 3):  # on (or one ulp off) a column bound or centre
            x = _ulps_off(xs[pick[2 * i] % len(xs)], ulps[2 * i])
        if kind in (2, 3):  # on (or one ulp off) a row bound or centre
            y = _ulps_off(ys[pick[2 * i + 1] % len(ys)], ulps[2 * i + 1])
        if kind == 4 and i:  # a duplicate of an earlier point
            x, y = xy[pick[2 * i] % i]
        xy[i] = (x, y)
    labels = np.array(draw(st.lists(st.integers(0, 3), min_size=n, max_size=n)), dtype=np.int64)
    return xy, labels, rect, rows, cols


@PAGE_SETTINGS
@given(cloud=awkward_cloud())
def test_grid_rule_equals_the_seed_loop_on_bounds_ties_and_duplicates(cloud):
    xy, _, rect, rows, cols = cloud
    expected = grid_select_reference(xy, rect, rows, cols)
    assert np.array_equal(grid_select(xy, rect, rows, cols), expected)
    shuffled = np.random.default_rng(0).permutation(inside(xy, rect))
    assert np.array_equal(grid_select_among(xy, shuffled, rect, rows, cols), expected)
    assert np.array_equal(PointIndex(xy).grid_select(rect, rows, cols), expected)
    pts, cells, dist = grid_candidates(
        xy, inside(xy, grid_hull(rect, rows, cols)), rect, rows, cols
    )
    assert set(zip(pts.tolist(), cells.tolist(), strict=True)) == _seed_pairs(xy, rect, rows, cols)
    assert len(pts) == len(set(zip(pts.tolist(), cells.tolist(), strict=True)))  # no repeats
    px, py = (rect.x1 - rect.x0) / cols, (rect.y1 - rect.y0) / rows
    r, c = np.divmod(cells, cols)
    cx, cy = rect.x0 + px * c + px / 2, rect.y1 - py * r - py / 2
    assert np.array_equal(dist, ((xy[pts, 0] - cx) / px) ** 2 + ((xy[pts, 1] - cy) / py) ** 2)


@PAGE_SETTINGS
@given(cloud=awkward_cloud(), start=st.integers(0, 120), length=st.integers(0, 40))
def test_list_pages_are_slices_of_the_full_sorted_list(cloud, start, length):
    xy, labels, rect, _, _ = cloud
    index = PointIndex(xy, labels, 4)
    stop = start + length
    with patch.object(grid, "_PAGE_SORT_ALL", 0):
        for sort in SORT_KEYS:
            for lab in (labels, None):
                full = _plain_list(xy, rect, lab, sort)
                assert list_select(xy, rect, lab, sort).tolist() == full.tolist()
                got = list_select(xy, rect, lab, sort, start, stop)
                assert got.tolist() == full[start:stop].tolist()
                page = sort_page(xy, inside(xy, rect), sort, lab, start, stop)
                assert page.tolist() == full[start:stop].tolist()
            full = _plain_list(xy, rect, labels, sort)
            assert index.list_select(rect, sort, start, stop).tolist() == full[start:stop].tolist()
    assert index.count(rect) == len(inside(xy, rect))


def test_points_strictly_inside_two_cells_are_candidates_of_both():
    # Far from the origin the seed's float bounds of neighbouring cells overlap by ulps.
    rect = Rect(-40057.62189252305, -40057.33869483991, 0.0, 1.0)
    px = (rect.x1 - rect.x0) / 4
    cx = rect.x0 + px * np.arange(4) + px / 2
    lo, hi = cx - px / 2, cx + px / 2
    both = float(np.nextafter(lo[1], np.inf))
    assert lo[1] < both < hi[0]  # strictly inside cells 0 and 1
    xy = np.array([[both, 0.5], [both, 0.5], [-40057.5, 0.25]])
    pts, cells, _ = grid_candidates(xy, inside(xy, rect), rect, 1, 4)
    assert sorted(zip(pts.tolist(), cells.tolist(), strict=True)) == [
        (0, 0),
        (0, 1),
        (1, 0),
        (1, 1),
        (2, 1),
    ]
    assert np.array_equal(grid_select(xy, rect, 1, 4), grid_select_reference(xy, rect, 1, 4))


def test_empty_boxes_and_pages_past_the_end():
    xy = np.array([[10.0, 10.0], [0.5, 0.5]])
    empty = Rect(0, 0.25, 0, 0.25)
    assert (grid_select_among(xy, inside(xy, empty), empty, 3, 2) == EMPTY).all()
    assert list_select(xy, empty, None, "x", 0, 10).tolist() == []
    assert list_select(xy, Rect(0, 1, 0, 1), None, "x", 5, 10).tolist() == []
    assert PointIndex(xy).list_select(Rect(0, 1, 0, 1), "y", 1, 3).tolist() == []
    assert stable_page(np.zeros(0)).tolist() == []
    with pytest.raises(InputError, match="--sort"):
        sort_page(xy, np.arange(2), "colour")  # type: ignore[arg-type]


def test_a_point_on_the_box_edge_that_the_seed_cells_hold_is_shown():
    # The seed's cell bound (0.001 + 0.5) - 0.5 rounds below the box's x0: the point on the
    # edge is strictly inside the cell, though not strictly inside the box.
    xy = np.array([[0.001, 0.5], [5.0, 5.0]])
    rect = Rect(0.001, 1.001, 0.0, 1.0)
    assert inside(xy, rect).tolist() == []
    assert grid_select_reference(xy, rect, 1, 1).tolist() == [[0]]
    assert grid_hull(rect, 1, 1).x0 < rect.x0
    assert grid_select(xy, rect, 1, 1).tolist() == [[0]]
    assert grid_select_among(xy, inside(xy, rect), rect, 1, 1).tolist() == [[0]]
    assert PointIndex(xy).grid_select(rect, 1, 1).tolist() == [[0]]
    assert grid_hull(Rect(0, 2, 0, 2), 2, 2) == Rect(0, 2, 0, 2)


def test_index_window_search_is_exact_far_from_the_origin():
    # Enough points for the window search, in boxes whose float cell bounds overlap or reach
    # past the box, with points on those bounds, one ulp either side, at centres, duplicated
    # and on the box's edges. The first column holds only points on the box's left edge, so
    # where the seed's cells reach past it, those win.
    rng = np.random.default_rng(21)
    edge_winners = 0
    for rect, rows, cols in [
        (Rect(-40057.62189252305, -40057.33869483991, 3.0, 3.5), 3, 4),
        (Rect(0.001, 1.001, 0.0, 1.0), 4, 4),
        (Rect(714808.5531751388, 714815.8497298735, -1.0, 6.0), 5, 2),
    ]:
        assert grid_hull(rect, rows, cols) != rect or rows == 5
        px, py = (rect.x1 - rect.x0) / cols, (rect.y1 - rect.y0) / rows
        cx = rect.x0 + px * np.arange(cols) + px / 2
        cy = rect.y1 - py * np.arange(rows) - py / 2
        xs = np.concatenate([cx - px / 2, cx + px / 2, cx, [rect.x1]])
        ys = np.concatenate([cy - py / 2, cy + py / 2, cy, [rect.y0, rect.y1]])
        n = 30_000
        xy = np.column_stack([rng.uniform(rect.x0, rect.x1, n), rng.uniform(rect.y0, rect.y1, n)])
        special = rng.random(n) < 0.2
        pick_x = np.nextafter(rng.choice(xs, n), rng.choice([-np.inf, np.inf], n))
        pick_x = np.where(rng.random(n) < 0.3, rng.choice(xs, n), pick_x)
        pick_y = np.where(rng.random(n) < 0.5, rng.choice(ys, n), xy[:, 1])
        xy[special] = np.column_stack([pick_x, pick_y])[special]
        xy[xy[:, 0] < cx[1] - px / 2, 0] = rect.x0  # the first column: on the box's edge only
        xy[-50:] = xy[:50]  # duplicates: ties go to the smaller index
        expected = grid_select_reference(xy, rect, rows, cols)
        assert np.array_equal(PointIndex(xy).grid_select(rect, rows, cols), expected)
        assert np.array_equal(grid_select(xy, rect, rows, cols), expected)
        edge_winners += int(np.isin(expected, np.flatnonzero(xy[:, 0] == rect.x0)).sum())
    assert edge_winners  # the seed's float bounds put a winner on the box's edge


def _plain_bin(xy, labels, view, width, height, k):
    """The binning by its definition: one mask, one bincount of cells, one of cell labels."""
    col = np.floor((xy[:, 0] - view.x0) * (width / view.width))
    row = np.floor((view.y1 - xy[:, 1]) * (height / view.height))
    ok = (col >= 0) & (col < width) & (row >= 0) & (row < height)
    flat = (row[ok] * width + col[ok]).astype(np.int64)
    counts = np.bincount(flat, minlength=width * height)
    by_label = np.bincount(flat * k + labels[ok], minlength=width * height * k)
    return counts.reshape(height, width), by_label.reshape(height, width, k)


@settings(max_examples=60, deadline=None)
@given(cloud=awkward_cloud(max_points=120), chunk=st.integers(1, 40), size=st.integers(1, 30))
@example(
    cloud=(np.array([[0.0, 700000.0]]), np.array([0]), Rect(0.0, 700.0, 700000.0, 700700.0), 1, 1),
    chunk=1,
    size=1,
)  # one point far from the origin: its region's margin must survive rounding
def test_passes_a_chunk_at_a_time_equal_the_whole_array_definitions(cloud, chunk, size):
    xy, labels, rect, rows, cols = cloud
    with patch.object(grid, "CHUNK", chunk):
        assert inside(xy, rect).tolist() == _plain_list(xy, rect, None, "index").tolist()
        points = select_box(xy, rect, rows, cols)
        assert points.inside.tolist() == inside(xy, rect).tolist()
        assert points.near.tolist() == inside(xy, grid_hull(rect, rows, cols)).tolist()
        expected = grid_select_reference(xy, rect, rows, cols)
        assert np.array_equal(grid_select(xy, rect, rows, cols), expected)
        assert np.array_equal(grid_select_among(xy, points, rect, rows, cols), expected)
        pairs = grid_candidates(xy, points.near, rect, rows, cols)
        assert set(zip(pairs[0].tolist(), pairs[1].tolist(), strict=True)) == _seed_pairs(
            xy, rect, rows, cols
        )
        if len(xy):
            lo, hi = xy.min(axis=0), xy.max(axis=0)  # bounds by its definition
            floor = 1e-9 * np.maximum(1.0, np.maximum(np.abs(lo), np.abs(hi)))
            pad = np.maximum(hi - lo, floor) * 0.03
            got = bounds(xy)
            assert got == Rect(lo[0] - pad[0], hi[0] + pad[0], lo[1] - pad[1], hi[1] + pad[1])
            view = rect if size % 2 else got
            counts, by_label = _plain_bin(xy, labels, view, size, size + 3, 4)
            binned = bin_points(xy, labels, view, size, size + 3, 4)
            assert np.array_equal(binned.counts, counts)
            full = counts > 0
            assert np.array_equal(binned.majority[full], by_label.argmax(axis=2)[full])
            assert (binned.majority[~full] == EMPTY).all()


@given(st.floats(-1e12, 1e12, allow_nan=False), st.floats(-1e12, 1e12, allow_nan=False))
def test_bounds_of_a_single_point_is_a_real_region(x, y):
    """One point (or points on one line) anywhere: a region with room around it, never an
    empty one (its margin is larger than the floats' spacing at that size)."""
    rect = bounds(np.array([[x, y]]))
    assert rect.x0 < x < rect.x1 and rect.y0 < y < rect.y1
