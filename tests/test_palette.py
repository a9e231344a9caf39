"""The map's colours on a theme: contrast rules that hold on every background."""

from __future__ import annotations

import itertools

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from digitmap_tui.palette import (
    DARK,
    DENSITY_COLORS,
    DENSITY_MIN,
    EDGE_CONTRAST,
    FAINT,
    MIN_CONTRAST,
    PURITY_COLORS,
    TAB10,
    TINT,
    contrast,
    ensure_contrast,
    luminance,
    palette_for,
    to_hex,
)


def check_rules(p, *, tint_max: float = TINT[1]) -> None:
    bg = p.background
    assert all(contrast(c, bg) >= MIN_CONTRAST - 1e-9 for c in p.labels), p.labels
    assert all(contrast(c, bg) >= MIN_CONTRAST - 1e-9 for c in p.purity), p.purity
    levels = [contrast(c, bg) for c in p.density]
    assert all(v >= m - 1e-9 for v, m in zip(levels, DENSITY_MIN, strict=True)), levels
    assert all(b >= a - 0.05 for a, b in itertools.pairwise(levels)), levels  # denser: stronger
    assert FAINT[0] - 0.05 <= contrast(p.dimmed, bg) <= FAINT[1] + 0.05
    assert TINT[0] <= contrast(p.box_bg, bg) <= tint_max + 0.05
    assert contrast(p.box_edge, p.box_bg) >= EDGE_CONTRAST
    assert contrast(p.progress, bg) >= MIN_CONTRAST - 1e-9


def _themes():
    from textual.app import App

    from digitmap_tui.widgets.theme import palette_of

    app = App()
    out = {}
    for name in sorted(app.available_themes):
        app.theme = name
        out[name] = palette_of(app)
    return out


THEMES = _themes()


@pytest.mark.parametrize("name", sorted(THEMES))
def test_every_builtin_theme_gets_a_legible_map(name):
    check_rules(THEMES[name])


def test_dark_themes_keep_the_colours_the_map_was_designed_with():
    """textual-dark draws exactly what the map always drew (its snapshots stay as they were)."""
    p = THEMES["textual-dark"]
    assert p.dark and p.background == "#121212"
    assert (p.labels, p.density, p.purity) == (TAB10, DENSITY_COLORS, PURITY_COLORS)
    assert (p.dimmed, p.box_bg, p.box_edge, p.progress) == (
        DARK.dimmed, DARK.box_bg, DARK.box_edge, DARK.progress,
    )  # fmt: skip


def test_a_light_theme_darkens_what_does_not_read_on_it():
    p = THEMES["textual-light"]
    assert not p.dark and luminance(p.background) > 0.6
    assert p.labels[0] == TAB10[0]  # tab10's blue reads on light grey as it is
    assert p.labels[8] != TAB10[8] and luminance(p.labels[8]) < luminance(TAB10[8])  # olive
    assert luminance(p.box_bg) < luminance(p.background)  # the box is a darker tint
    assert p.box_edge == "#000000"
    assert p.density[0] == ensure_contrast(DENSITY_COLORS[-1], p.background, p.foreground, 1.5)


def test_ansi_themes_use_black_or_white():
    assert THEMES["ansi-dark"].background == "#000000"
    assert THEMES["ansi-light"].background == "#ffffff"


channel = st.integers(0, 255)
colour = st.builds(lambda r, g, b: to_hex((r, g, b)), channel, channel, channel)


def _rgb(lo: int, hi: int):
    c = st.integers(lo, hi)
    return st.builds(lambda r, g, b: to_hex((r, g, b)), c, c, c)


themes = st.one_of(
    st.tuples(st.just(True), _rgb(0, 60), _rgb(170, 255)),  # dark: light text on dark
    st.tuples(st.just(False), _rgb(190, 255), _rgb(0, 100)),  # light: dark text on light
)


@settings(max_examples=300, deadline=None)
@given(theme=themes, primary=colour)
def test_the_rules_hold_on_any_dark_or_light_background(theme, primary):
    """Any clearly dark or clearly light background with readable text (WCAG 4.5:1)."""
    dark, bg, fg = theme
    assume(luminance(bg) < 0.04 if dark else luminance(bg) > 0.45)
    assume(contrast(fg, bg) >= 4.5)
    check_rules(palette_for(bg, fg, primary, dark))


@settings(max_examples=200, deadline=None)
@given(c=colour, bg=colour, toward=colour, minimum=st.floats(1.0, 21.0))
def test_ensure_contrast_changes_a_colour_only_as_much_as_needed(c, bg, toward, minimum):
    out = ensure_contrast(c, bg, toward, minimum)
    if contrast(c, bg) >= minimum:
        assert out == c
    elif contrast(toward, bg) >= minimum:
        assert contrast(out, bg) >= minimum
        # it lies between the colour and the target (a mix, not another hue)
        r = [int(out[i : i + 2], 16) for i in (1, 3, 5)]
        a = [int(c[i : i + 2], 16) for i in (1, 3, 5)]
        b = [int(toward[i : i + 2], 16) for i in (1, 3, 5)]
        assert all(min(x, y) - 1 <= v <= max(x, y) + 1 for v, x, y in zip(r, a, b, strict=True))
    else:
        assert out == toward
