"""The binning and the two seed selections, against hand-computed cases and the seed's loop."""

from __future__ import annotations

import numpy as np
import pytest

from digitmap_tui.errors import InputError
from digitmap_tui.grid import (
    EMPTY,
    PointIndex,
    Rect,
    _Axis,
    _stable_argsort,
    bin_points,
    bounds,
    grid_select,
    grid_select_reference,
    inside,
    label_histogram,
    list_select,
    parse_grid,
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
