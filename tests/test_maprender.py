"""Map rows as segments: modes, merged runs, the box overlay and the legend."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from rich.style import Style

from digitmap_tui.glyphs import label_color
from digitmap_tui.grid import Rect, bin_points, bounds, cell_of
from digitmap_tui.maprender import (
    DENSITY_RAMP,
    MapPainter,
    braille_cells,
    density_level,
    legend_segments,
    merge_cells,
    overlay_box,
    points_size,
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


# --------------------------------------------------------------------------- minorities


def test_mixed_cells_are_underlined_in_every_colour_depth():
    for color in (True, False):
        cells = MapPainter(_binned(), "label", color=color, mark_minorities=True).row_cells(0)
        pure, mixed = cells[0][1], cells[2][1]
        assert not pure.underline
        assert mixed.underline  # an attribute: 16 colours, no colour and ASCII keep it
        assert cells[2][0] == "1"  # still the majority's glyph (ties: the smaller label)


def test_underline_marks_exactly_the_cells_with_other_labels():
    rng = np.random.default_rng(0)
    xy = rng.random((400, 2)) * 10
    labels = rng.integers(0, 3, 400)
    binned = bin_points(xy, labels, Rect(0, 10, 0, 10), 12, 7, n_labels=3)
    painter = MapPainter(binned, "label", mark_minorities=True)
    assert not any(s.underline for _, s in MapPainter(binned, "label").row_cells(3) if s)
    for y in range(7):
        for x, (_, style) in enumerate(painter.row_cells(y)):
            if binned.counts[y, x]:
                assert bool(style.underline) == (binned.purity[y, x] < 1.0)


# --------------------------------------------------------------------------- the points mode


FIXTURE = Path(__file__).parent / "fixtures" / "digits_tsne_seed0.npy"


def _points_painter(xy, labels, view, w, h, n_labels=10, **kw):
    binned = bin_points(xy, labels, view, w, h, n_labels)
    fine = bin_points(xy, labels, view, *points_size(w, h), n_labels)
    return binned, fine, MapPainter(binned, "points", fine=fine, n_labels=n_labels, **kw)


def _dots(ch: str) -> set[tuple[int, int]]:
    """The (sub-row, sub-column) dots of a braille character."""
    code = ord(ch) - 0x2800
    bits = {(0, 0): 0x01, (1, 0): 0x02, (2, 0): 0x04, (0, 1): 0x08, (1, 1): 0x10,
            (2, 1): 0x20, (3, 0): 0x40, (3, 1): 0x80}  # fmt: skip
    return {pos for pos, bit in bits.items() if code & bit}


def test_points_mode_draws_one_dot_per_occupied_sub_cell():
    rng = np.random.default_rng(1)
    xy = rng.random((300, 2)) * 8
    labels = np.zeros(300, dtype=np.int64)  # one label: every dot is drawn
    view = Rect(0, 8, 0, 8)
    _, fine, painter = _points_painter(xy, labels, view, 9, 5)
    for y in range(5):
        for x, (ch, style) in enumerate(painter.row_cells(y)):
            block = fine.counts[4 * y : 4 * y + 4, 2 * x : 2 * x + 2] > 0
            want = {(r, c) for r in range(4) for c in range(2) if block[r, c]}
            assert (ch == " ") == (not want)
            if want:
                assert _dots(ch) == want and style.color.name == label_color(0)


def test_a_lone_minority_point_wins_its_cell():
    # a dense cluster of 7s with one 3 in it: the 3's cell shows the 3 alone, in its colour
    rng = np.random.default_rng(2)
    xy = np.vstack([rng.normal(0, 1, (400, 2)), [[0.05, 0.05]]])
    labels = np.array([7] * 400 + [3])
    view = Rect(-3, 3, -3, 3)
    painter = _points_painter(xy, labels, view, 20, 10)[2]
    col, row = cell_of(xy[-1:], view, 20, 10)
    ch, style = painter.row_cells(int(row[0]))[int(col[0])]
    assert style.color.name == label_color(3)
    fc, fr = cell_of(xy[-1:], view, *points_size(20, 10))
    assert _dots(ch) == {(int(fr[0]) % 4, int(fc[0]) % 2)}  # only the 3's own dot
    # elsewhere the 7s keep their colour
    others = [s.color.name for r in range(10) for c, s in painter.row_cells(r) if s is not None]
    assert others.count(label_color(3)) == 1


def test_points_mode_makes_1118_visible_at_the_default_zoom():
    """The seed's finding: 1118, a 3 among the 7s, is a dot in the 3's colour on the map."""
    from digitmap_tui.data import load_digits

    xy = np.load(FIXTURE)
    labels = load_digits().labels
    view = bounds(xy)
    hidden_in_label_mode = 0
    for w, h in [(100, 26), (86, 37), (80, 36), (60, 30), (44, 15), (120, 45), (200, 60)]:
        binned, _, painter = _points_painter(xy, labels, view, w, h)
        col, row = cell_of(xy[1118:1119], view, w, h)
        r, c = int(row[0]), int(col[0])
        ch, style = painter.row_cells(r)[c]
        assert style.color.name == label_color(3), (w, h)
        assert ord(ch) > 0x2800
        hidden_in_label_mode += int(binned.majority[r, c] != 3)
    assert hidden_in_label_mode  # some of these sizes draw 1118's cell as a 7 in label mode


def test_points_mode_falls_back_to_label_without_braille_or_colour():
    xy = np.load(FIXTURE)[:200]
    labels = np.arange(200) % 10
    view = bounds(xy)
    for kw in ({"braille": False}, {"color": False}):
        binned, _, painter = _points_painter(xy, labels, view, 30, 10, **kw)
        assert painter.mode == "label"
        assert painter.row_cells(3) == MapPainter(binned, "label", **kw).row_cells(3)
    binned = bin_points(xy, labels, view, 30, 10, 10)
    assert MapPainter(binned, "points").mode == "label"  # no fine grid given


def test_points_mode_without_labels_and_with_focus():
    xy = np.random.default_rng(3).random((100, 2))
    _, _, painter = _points_painter(xy, None, Rect(0, 1, 0, 1), 6, 3, n_labels=0)
    assert any(ch != " " for y in range(3) for ch, _ in painter.row_cells(y))
    labels = np.arange(100) % 2
    _, _, painter = _points_painter(xy, labels, Rect(0, 1, 0, 1), 6, 3, focus=frozenset({0}))
    styles = {s for y in range(3) for _, s in painter.row_cells(y) if s is not None}
    assert any(s.dim for s in styles)


def test_braille_cells_checks_the_grid():
    binned = bin_points(np.zeros((1, 2)), None, Rect(-1, 1, -1, 1), 3, 3)
    with pytest.raises(ValueError):
        braille_cells(binned, 3, 3, 1)


def test_points_legend_names_classes():
    segs = legend_segments(2, "points", names=("cat", "dog"))
    text = "".join(s.text for s in segs)
    assert "0 cat" in text and "1 dog" in text and "2×4" in text


def test_on_background_paints_the_theme_under_every_cell_and_lets_the_cell_win():
    from rich.segment import Segment

    from digitmap_tui.maprender import on_background

    base = Style(color="#e0e0e0", bgcolor="#121212")
    glyph = Style(color="#1f77b4", bold=True)
    tint = Style(bgcolor="#2a3550")
    segs = [
        Segment("   "),
        Segment("3", glyph),
        Segment("  ", tint),
        Segment(" ", Style(reverse=True)),
    ]
    out = on_background(segs, base)
    assert [s.text for s in out] == ["   ", "3", "  ", " "]
    assert out[0].style == Style(bgcolor="#121212")  # a blank run: no foreground bytes
    assert out[1].style == base + glyph and out[1].style.bgcolor.name == "#121212"
    assert out[2].style.bgcolor.name == "#2a3550"  # the box's tint wins
    assert out[3].style == base + Style(reverse=True)  # reversed: the foreground shows
    assert on_background([Segment("1 ")], base)[0].style == base  # unstyled text: readable
