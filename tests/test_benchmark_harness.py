"""The key-to-screen harness (benchmarks/keystrokes.py) still drives the real programs.

Only that it measures, never how fast: a box move reaches the screen of both the minimal
Textual app and the explorer in a pseudo-terminal, with bytes and changed cells counted.
"""

from __future__ import annotations

from benchmarks.keystrokes import measure


def test_harness_moves_the_box_and_counts_what_changed():
    got = measure(["floor", "digits"], count=2, n_large=0)
    assert got["size"] == [200, 60]
    for name in ("floor", "digits"):
        assert got[name]["moves"] == 2, got[name]  # every key caused a redraw
        assert got[name]["bytes"]["min"] > 0
        assert got[name]["changed_cells"]["min"] >= 1
    # The explorer redraws the map and the panel: far more cells than the floor's counter.
    assert got["digits"]["changed_cells"]["min"] > got["floor"]["changed_cells"]["max"]
    assert got["digits"]["ratio_to_floor"] > 0
