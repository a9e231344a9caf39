"""The binning and the two seed selections, against hand-computed cases and the seed's loop."""

from __future__ import annotations

import numpy as np
import pytest

from digitmap_tui.errors import InputError
from digitmap_tui.grid import (
    EMPTY,
    Rect,
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
