"""The box and the view: moves, resizes, clamping, conversions, zoom and pan."""

from __future__ import annotations

import pytest

from digitmap_tui.grid import Rect
from digitmap_tui.selection import Box, fit, pan, zoom


def test_move_is_clamped_to_the_map():
    b = Box(0, 0, 4, 3)
    assert b.moved(-1, -1, 20, 10) == Box(0, 0, 4, 3)
    assert b.moved(100, 100, 20, 10) == Box(16, 7, 4, 3)
    assert b.moved(2, 1, 20, 10) == Box(2, 1, 4, 3)


def test_resize_keeps_at_least_one_cell_and_stays_inside():
    b = Box(18, 8, 2, 2)
    assert b.resized(-5, -5, 20, 10) == Box(18, 8, 1, 1)
    assert b.resized(5, 5, 20, 10) == Box(18, 8, 2, 2)
    assert Box(0, 0, 2, 2).resized(3, 1, 20, 10) == Box(0, 0, 5, 3)


def test_clamped_shrinks_a_box_larger_than_the_map():
    assert Box(5, 5, 50, 50).clamped(20, 10) == Box(0, 0, 20, 10)


def test_rect_of_box_row_zero_is_the_top():
    view = Rect(0, 20, 0, 10)
    # 20x10 map: one data unit per cell.
    assert Box(2, 0, 3, 2).rect(view, 20, 10) == Rect(2, 5, 8, 10)


@pytest.mark.parametrize("box", [Box(0, 0, 1, 1), Box(3, 4, 5, 2), Box(10, 0, 10, 10)])
def test_from_rect_inverts_rect(box):
    view = Rect(-7.5, 12.25, -3, 40)
    assert Box.from_rect(box.rect(view, 20, 10), view, 20, 10) == box


def test_centered_on():
    assert Box(0, 0, 4, 2).centered_on(10, 5, 20, 10) == Box(8, 4, 4, 2)
    assert Box(0, 0, 4, 2).centered_on(0, 0, 20, 10) == Box(0, 0, 4, 2)


def test_default_box_is_in_the_middle():
    b = Box.default(100, 30)
    assert (b.width, b.height) == (20, 6)
    assert b.col == 40 and b.row == 12


def test_zoom_keeps_centre_and_limits():
    v = Rect(0, 10, 0, 10)
    z = zoom(v, 0.5)
    assert z == Rect(2.5, 7.5, 2.5, 7.5)
    assert zoom(v, 0.5, (0.0, 0.0)) == Rect(-2.5, 2.5, -2.5, 2.5)
    out = zoom(v, 100, limit=v)
    assert out.width == pytest.approx(40)


def test_pan_moves_by_whole_cells():
    v = Rect(0, 20, 0, 10)
    assert pan(v, 2, 0, 20, 10) == Rect(2, 22, 0, 10)
    assert pan(v, 0, 1, 20, 10) == Rect(0, 20, -1, 9)


def test_fit_makes_data_units_square_on_screen():
    # An 80x20 map with cells twice as tall as wide shows 80:40, i.e. 2:1 in data units.
    f = fit(Rect(0, 10, 0, 10), 80, 20)
    assert f.width / f.height == pytest.approx(2.0)
    assert f.center == (5.0, 5.0)
    g = fit(Rect(0, 100, 0, 10), 80, 20)
    assert g.width == 100 and g.height == pytest.approx(50)
