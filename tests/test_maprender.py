"""Map rows as segments: modes, merged runs, the box overlay and the legend."""

from __future__ import annotations

import numpy as np
from rich.style import Style

from digitmap_tui.glyphs import label_color
from digitmap_tui.grid import Rect, bin_points
from digitmap_tui.maprender import (
    DENSITY_RAMP,
    MapPainter,
    density_level,
    legend_segments,
    merge_cells,
    overlay_box,
)


def _binned():
    # 4x2 grid over [0,4]x[0,2]; row 0 (top): a pure 7 cell and a mixed cell; row 1: empty.
    xy = np.array([[0.5, 1.5]] * 3 + [[2.5, 1.5], [2.5, 1.6]])
    labels = np.array([7, 7, 7, 3, 1])
    return bin_points(xy, labels, Rect(0, 4, 0, 2), 4, 2, n_labels=10)


def test_label_mode_shows_majority_glyph_in_label_colour():
    cells = MapPainter(_binned(), "label").row_cells(0)
    assert [c for c, _ in cells] == ["7", " ", "1", " "]
    assert cells[0][1].color.name == label_color(7)
    assert cells[0][1].bold  # the densest cell
    assert MapPainter(_binned(), "label").row_cells(1) == [(" ", None)] * 4


def test_density_mode_is_log_scaled_ramp():
    cells = MapPainter(_binned(), "density").row_cells(0)
    assert cells[0][0] == DENSITY_RAMP[-1]
    assert cells[2][0] == DENSITY_RAMP[density_level(np.array([2]), 3)[0]]
    assert density_level(np.array([1, 10, 100]), 100).tolist() == [0, 4, 8]


def test_purity_mode_and_no_colour():
    cells = MapPainter(_binned(), "purity", color=False).row_cells(0)
    assert [c for c, _ in cells] == ["7", " ", "1", " "]
    assert all(s is None or s.color is None for _, s in cells)


def test_focus_dims_other_labels():
    cells = MapPainter(_binned(), "label", focus=frozenset({3})).row_cells(0)
    assert cells[0][0] == "·" and cells[2][0] == "·"


def test_merge_cells_merges_equal_styles():
    s = Style(color="red")
    segs = merge_cells([("a", s), ("b", s), ("c", None), ("d", None), ("e", s)])
    assert [seg.text for seg in segs] == ["ab", "cd", "e"]


def test_overlay_box_corners_and_tint():
    cells = [("x", None)] * 6
    top = overlay_box(cells, 1, 1, 1, 3, 2)
    assert [c for c, _ in top] == ["x", "┌", "x", "┐", "x", "x"]
    assert top[2][1].bgcolor is not None and top[0][1] is None
    bottom = overlay_box(cells, 2, 1, 1, 3, 2)
    assert [c for c, _ in bottom] == ["x", "└", "x", "┘", "x", "x"]
    assert overlay_box(cells, 0, 1, 1, 3, 2) is cells  # rows outside the box are untouched
    one = overlay_box(cells, 0, 2, 0, 1, 1, color=False)
    assert one[2] == ("x", Style(reverse=True))


def test_legend_lists_labels_or_ramp():
    text = "".join(s.text for s in legend_segments(10, "label"))
    assert text.split() == [str(i) for i in range(10)]
    assert DENSITY_RAMP in "".join(s.text for s in legend_segments(10, "density"))
