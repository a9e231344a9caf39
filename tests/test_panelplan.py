"""The panel plan against the plain definitions of the seed's rules (no terminal)."""

from __future__ import annotations

import tempfile
from pathlib import Path

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from digitmap_tui.data import load_digits
from digitmap_tui.grid import EMPTY, Rect, grid_select, inside
from digitmap_tui.panelplan import mark_cell, plan_panel
from digitmap_tui.session import Session, State
from tests.factory import fixed_coords

DIGITS = load_digits(Path(tempfile.mkdtemp()))
XY = fixed_coords()


def session(**state) -> Session:
    return Session.of(DIGITS, XY, State(**state))


box_x = st.floats(-60, 50)
box_y = st.floats(-60, 50)
sizes = st.floats(1, 60)


@st.composite
def boxes(draw):
    x0, y0 = draw(box_x), draw(box_y)
    return Rect(x0, x0 + draw(sizes), y0, y0 + draw(sizes))


@given(boxes(), st.integers(1, 8), st.integers(1, 8), st.integers(1, 8), st.integers(1, 8))
@settings(max_examples=60, deadline=None)
def test_grid_plan_is_the_seed_grid_cut_to_what_fits(box, rows, cols, fit_r, fit_c):
    plan = plan_panel(session(box=box, grid=(rows, cols)), (fit_r, fit_c))
    want = grid_select(XY, box, rows, cols)
    assert np.array_equal(plan.slots, want[:fit_r, :fit_c])
    assert (f"{rows - fit_r} row" in plan.note) == (rows > fit_r)
    assert (f"{cols - fit_c} column" in plan.note) == (cols > fit_c)
    labels = DIGITS.labels[inside(XY, box)]
    assert dict(plan.histogram) == {
        int(k): int(c) for k, c in zip(*np.unique(labels, return_counts=True), strict=True)
    }


@given(
    boxes(),
    st.sampled_from(["x", "y", "label", "index"]),
    st.integers(0, 5),
    st.integers(1, 5),
    st.integers(1, 5),
)
@settings(max_examples=60, deadline=None)
def test_list_plan_is_the_page_in_list_order(box, sort, page, rows, cols):
    plan = plan_panel(session(box=box, list_mode=True, sort=sort, page=page), (rows, cols))
    chosen = inside(XY, box)
    key = {"x": XY[chosen, 0], "y": XY[chosen, 1], "label": DIGITS.labels[chosen]}.get(sort)
    if key is not None:
        chosen = chosen[np.argsort(key, kind="stable")]
    per = rows * cols
    pages = max(1, -(-len(chosen) // per))
    assert plan.page == min(page, pages - 1) and plan.pages == pages
    shown = plan.slots.ravel()
    expect = chosen[plan.page * per : (plan.page + 1) * per]
    assert shown[: len(expect)].tolist() == expect.tolist()
    assert (shown[len(expect) :] == EMPTY).all()


def test_a_marked_point_is_shown_in_its_cell_even_on_a_boundary():
    x, y = XY[1118]
    box = Rect(x - 5, x + 5, y - 3, y + 3)  # 1118 exactly at the corner of four cells
    plan = plan_panel(session(box=box, mark=1118), (4, 4))
    assert plan.mark == 1118 and 1118 in plan.slots
    assert plan.slots.flat[mark_cell(x, y, box, 4, 4)] == 1118


def test_a_mark_outside_the_box_is_not_forced_in():
    plan = plan_panel(session(box=Rect(-60, -50, -60, -50), mark=1118), (4, 4))
    assert plan.mark is None and 1118 not in plan.slots


def test_mean_grid_has_a_tile_per_non_empty_cell():
    from digitmap_tui.analysis import grid_mean_images

    box = Rect(-10, 15, -20, 8)
    plan = plan_panel(session(box=box, mean_grid=True, grid=(3, 3)), (3, 3))
    _, counts = grid_mean_images(XY, DIGITS.images, box, 3, 3)
    assert len(plan.custom) == int((counts > 0).sum())
    assert ((plan.slots <= -2) == (counts > 0)).all()


def test_a_sub_cluster_is_listed_instead_of_the_box():
    s = session(box=Rect(-10, 15, -20, 8))
    members = np.array([5, 3, 1118, 40])
    s.pick_subset(members, "sub-cluster 1/2")
    plan = plan_panel(s, (2, 2))
    assert plan.title.startswith("sub-cluster 1/2 · 4 points")
    assert sorted(plan.points.tolist()) == sorted(members.tolist())
