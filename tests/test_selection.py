"""Box and view geometry in data coordinates (pure arithmetic, no terminal)."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from digitmap_tui.grid import Rect, cell_of
from digitmap_tui.selection import (
    Cells,
    box_from_cells,
    default_box,
    follow,
    initial_view,
    move_box,
    pan,
    resize_box,
    zoom,
    zoom_to,
)

coord = st.floats(-1e3, 1e3, allow_nan=False)
size = st.floats(1e-2, 1e3, allow_nan=False)


@st.composite
def rects(draw):
    x0, y0 = draw(coord), draw(coord)
    return Rect(x0, x0 + draw(size), y0, y0 + draw(size))


@st.composite
def maps(draw):
    return Cells(draw(rects()), draw(st.integers(1, 300)), draw(st.integers(1, 100)))


def test_initial_view_depends_on_the_coordinates_alone():
    rng = np.random.default_rng(0)
    xy = rng.normal(size=(500, 2)) * [10, 3] + [5, -2]
    v = initial_view(xy)
    assert v == initial_view(xy.copy())
    assert v.x0 < xy[:, 0].min() and v.x1 > xy[:, 0].max()
    assert v.y0 < xy[:, 1].min() and v.y1 > xy[:, 1].max()


def test_default_box_is_the_middle_fifth():
    box = default_box(Rect(0, 100, 0, 50))
    assert box == Rect(40, 60, 20, 30)


@given(maps(), rects(), st.integers(-20, 20), st.integers(-20, 20))
def test_a_move_shifts_by_whole_cells_and_keeps_the_size(cells, box, dx, dy):
    moved = move_box(box, dx, dy, cells)
    px, py = cells.pitch
    assert moved.x0 == pytest.approx(box.x0 + dx * px, rel=1e-9, abs=1e-9)
    assert moved.y0 == pytest.approx(box.y0 - dy * py, rel=1e-9, abs=1e-9)
    assert moved.width == pytest.approx(box.width, rel=1e-9)
    assert moved.height == pytest.approx(box.height, rel=1e-9)


@given(maps(), rects(), rects(), st.integers(-50, 50), st.integers(-50, 50))
def test_a_move_never_takes_the_box_centre_out_of_the_world(cells, box, world, dx, dy):
    inside_before = world.x0 <= box.center[0] <= world.x1 and world.y0 <= box.center[1] <= world.y1
    moved = move_box(box, dx, dy, cells, world)
    cx, cy = moved.center
    if inside_before:
        tol = 1e-9 * (1 + abs(cx) + abs(cy))
        assert world.x0 - tol <= cx <= world.x1 + tol
        assert world.y0 - tol <= cy <= world.y1 + tol


@given(maps(), rects(), st.integers(-30, 30), st.integers(-30, 30))
def test_resize_never_goes_below_one_cell_unless_already_smaller(cells, box, dw, dh):
    out = resize_box(box, dw, dh, cells)
    px, py = cells.pitch
    # x1 - x0 is exact only up to the rounding of x0 + width
    tol_x = 4e-16 * (abs(box.x0) + abs(out.x1))
    tol_y = 4e-16 * (abs(box.y1) + abs(out.y0))
    assert out.width >= min(box.width, px) - tol_x
    assert out.height >= min(box.height, py) - tol_y
    assert out.x0 == box.x0 and out.y1 == box.y1  # grows right and down


@given(maps(), st.data())
def test_a_mouse_box_is_exactly_the_dragged_cells(cells, data):
    c0 = data.draw(st.integers(0, cells.width - 1))
    c1 = data.draw(st.integers(0, cells.width - 1))
    r0 = data.draw(st.integers(0, cells.height - 1))
    r1 = data.draw(st.integers(0, cells.height - 1))
    box = box_from_cells(c0, r0, c1, r1, cells)
    span = cells.span(box)
    assert span is not None
    assert (span.col, span.row) == (min(c0, c1), min(r0, r1))
    assert (span.width, span.height) == (abs(c1 - c0) + 1, abs(r1 - r0) + 1)


@given(maps(), rects())
def test_the_drawn_span_covers_every_cell_a_point_in_the_box_falls_in(cells, box):
    """Every point strictly inside the box and inside the view is drawn inside the box."""
    span = cells.span(box)
    rng = np.random.default_rng(1)
    xy = np.column_stack([rng.uniform(box.x0, box.x1, 200), rng.uniform(box.y0, box.y1, 200)])
    col, row = cell_of(xy, cells.view, cells.width, cells.height)
    on_map = (col >= 0) & (col < cells.width) & (row >= 0) & (row < cells.height)
    if span is None:
        assert not on_map.any()
        return
    for c, r in zip(col[on_map].astype(int), row[on_map].astype(int), strict=True):
        assert span.contains_cell(int(c), int(r))


@given(rects(), st.floats(0.1, 10), rects())
def test_zoom_keeps_the_centre_and_scales(view, factor, home):
    out = zoom(view, factor)
    assert out.center == pytest.approx(view.center, rel=1e-9, abs=1e-6)
    limited = zoom(view, factor, limit=home)
    assert limited.width <= home.width * 4 * (1 + 1e-9)


@given(maps(), st.integers(-10, 10), st.integers(-10, 10))
def test_pan_by_cells_then_back_is_the_same_view(cells, dx, dy):
    there = pan(cells.view, dx, dy, cells)
    back = pan(there, -dx, -dy, Cells(there, cells.width, cells.height))
    for a, b in zip(back.as_list(), cells.view.as_list(), strict=True):
        assert math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-9)


@given(maps(), rects())
@settings(max_examples=200)
def test_follow_brings_a_box_that_fits_into_view(cells, box):
    view = follow(cells.view, box, cells)
    px, py = cells.pitch
    # The view moves by whole cells: a box with a cell to spare always fits.
    if box.width <= cells.view.width - px and box.height <= cells.view.height - py:
        assert view.x0 <= box.x0 + 1e-6 * px and box.x1 <= view.x1 + 1e-6 * px
        assert view.y0 <= box.y0 + 1e-6 * py and box.y1 <= view.y1 + 1e-6 * py
        assert view.width == pytest.approx(cells.view.width)
    elif box.width > cells.view.width or box.height > cells.view.height:
        assert view == cells.view


def test_zoom_to_shows_the_box_with_a_margin():
    view = zoom_to(Rect(0, 10, 0, 4))
    assert view == Rect(-1, 11, -0.4, 4.4)


def test_direction_points_at_a_box_out_of_view():
    cells = Cells(Rect(0, 10, 0, 10), 20, 10)
    assert cells.direction_of(Rect(20, 25, 4, 6)) == "→"
    assert cells.direction_of(Rect(-9, -8, 20, 25)) == "↖"
    assert cells.span(Rect(20, 25, 4, 6)) is None
