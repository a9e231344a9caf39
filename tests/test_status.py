"""The one-line widgets: a progress line whose bar and percentage always show."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from digitmap_tui.widgets.status import ProgressLine


@given(st.text(max_size=200), st.floats(0, 1), st.integers(20, 300))
def test_the_bar_and_the_percentage_always_fit(label, fraction, width):
    line = ProgressLine()
    line.label, line.fraction = label, fraction
    text, bar, pct = line.line_text(width)
    assert len(text) + len(bar) + len(pct) <= width
    assert bar.startswith("▕") and bar.endswith("▏")
    assert pct.strip().endswith("%")
    assert pct.strip() == f"{fraction:.0%}"


def test_at_80_columns_a_long_label_is_cut_first():
    line = ProgressLine()
    line.label, line.fraction = "t-SNE perplexity 30 seed 0: optimising the embedding", 0.42
    text, bar, pct = line.line_text(56)  # the map's width at 80x24
    assert pct.strip() == "42%" and "█" in bar
    assert text.rstrip().endswith("…")
