"""Themes: the config's theme at start, the map and panel in the theme's colours (legible on
light themes, measured in the rendered frame), and the user's choice remembered."""

from __future__ import annotations

from pathlib import Path

import pytest

from digitmap_tui.app import ExploreOptions
from digitmap_tui.config import load_config
from digitmap_tui.palette import TAB10, contrast, mix
from tests.factory import make_app

SIZE = (120, 40)


def _hex(color) -> str:  # type: ignore[no-untyped-def]
    return "#{:02x}{:02x}{:02x}".format(*tuple(color.get_truecolor()))


async def _settle(app, pilot) -> None:  # type: ignore[no-untyped-def]
    await pilot.pause()
    await app.workers.wait_for_complete()
    await pilot.pause()


def map_contrasts(app) -> dict[str, list[float]]:  # type: ignore[no-untyped-def]
    """Every map glyph's contrast against what it is drawn on, as the map draws it now:
    outside the box (on the theme's background), inside (on the box's tint), and dim cells
    (single points: the terminal blends them toward the background, as Textual does)."""
    view = app.explorer.map
    palette = app.explorer.palette
    out: dict[str, list[float]] = {"outside": [], "inside": [], "dim": []}
    for y in range(view.size.height):
        for seg in view.render_line(y):
            style = seg.style
            if not seg.text.strip() or style is None or style.color is None:
                continue
            fg, bg = _hex(style.color), _hex(style.bgcolor)
            if style.dim:
                out["dim"].append(contrast(mix(bg, fg, 0.66), bg))
            elif bg == palette.box_bg:
                out["inside"].append(contrast(fg, bg))
            else:
                assert bg == palette.background
                out["outside"].append(contrast(fg, bg))
    return out


@pytest.mark.parametrize("theme", ["textual-dark", "textual-light", "solarized-light", "nord"])
async def test_the_map_and_panel_are_legible_on_the_theme(cache_dir, theme):
    """The same measurable rule on dark and light themes: label glyphs at 3:1 against the
    background, 2:1 inside the box's tint (what the dark design has), faint lone points 1.5:1;
    panel labels at 3:1; empty cells show the theme's background."""
    app = make_app(cache_dir, ExploreOptions(color=True, theme=theme))
    async with app.run_test(size=SIZE) as pilot:
        await _settle(app, pilot)
        assert app.theme == theme
        found = map_contrasts(app)
        assert len(found["outside"]) > 100 and found["inside"] and found["dim"]
        assert min(found["outside"]) >= 3.0
        assert min(found["inside"]) >= 2.0
        assert min(found["dim"]) >= 1.5
        # the map's and the panel's background is the theme's, empty cells included (left
        # unstyled, they would show the terminal's own background)
        palette = app.explorer.palette
        screen_bg = app.get_css_variables()["background"].lower()[:7]
        assert palette.background == screen_bg
        for widget in (app.explorer.map, app.explorer.panel):
            blank = [s for y in range(5) for s in widget.render_line(y) if not s.text.strip()]
            assert blank and {_hex(s.style.bgcolor) for s in blank} == {screen_bg}
        # the panel's labels (histogram and tile headers) and text on the theme's background
        panel = app.explorer.panel
        text = [
            contrast(_hex(seg.style.color), screen_bg)
            for y in range(panel.size.height)
            for seg in panel.render_line(y)
            # text, not image pixels (a tile's dark grey may equal a dark background)
            if seg.text.strip(" ▀▄") and _hex(seg.style.bgcolor) == screen_bg
        ]
        assert len(text) > 10 and min(text) >= 3.0


async def test_a_theme_change_repaints_the_map_in_its_colours(cache_dir):
    app = make_app(cache_dir)
    async with app.run_test(size=SIZE) as pilot:
        await _settle(app, pilot)
        before = {_hex(s.style.color) for y in range(30) for s in app.explorer.map.render_line(y)
                  if s.text.strip() and _hex(s.style.bgcolor) == "#121212"}  # fmt: skip
        assert before <= set(TAB10) | {"#ffffff"}
        app.theme = "textual-light"
        await _settle(app, pilot)
        palette = app.explorer.palette
        assert not palette.dark
        after = {_hex(s.style.color) for y in range(30) for s in app.explorer.map.render_line(y)
                 if s.text.strip() and _hex(s.style.bgcolor) == palette.background}  # fmt: skip
        assert after <= set(palette.labels) and after != before
        assert app.explorer.map.palette is palette and app.explorer.panel.palette is palette


async def test_an_unknown_theme_in_the_config_is_a_notification(cache_dir):
    app = make_app(cache_dir, ExploreOptions(color=True, theme="no-such-theme"))
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        assert app.is_running and app.theme == "textual-dark"
        messages = [n.message for n in app._notifications]
        assert any("unknown theme 'no-such-theme'" in m and "textual-light" in m for m in messages)


async def test_the_chosen_theme_is_remembered_for_the_next_start(cache_dir, tmp_path):
    """Picked in the command palette's theme list, written to the config; the next start
    (through the command line's own reading of the config) opens with it."""
    from digitmap_tui.cli import explorer_settings

    config = Path(load_config().path or tmp_path / "missing")
    config.parent.mkdir(parents=True, exist_ok=True)
    config.write_text('# mine\nmethod = "pca"\n\n[keys]\nsplit = "ctrl+k"\n', encoding="utf-8")
    app = make_app(cache_dir)
    async with app.run_test(size=SIZE) as pilot:
        await _settle(app, pilot)
        assert not config.read_text(encoding="utf-8").count("theme")  # start-up writes nothing
        await app.run_action("change_theme")
        await pilot.pause()
        await pilot.press(*"nord", "enter")
        await _settle(app, pilot)
        assert app.theme == "nord"
    text = config.read_text(encoding="utf-8")
    assert 'theme = "nord"' in text and "# mine" in text and 'split = "ctrl+k"' in text
    keys, theme = explorer_settings()
    assert theme == "nord" and keys == {"split": ["ctrl+k"]}
    again = make_app(cache_dir, ExploreOptions(color=True, theme=theme, keys=keys))
    async with again.run_test(size=SIZE) as pilot:
        await pilot.pause()
        assert again.theme == "nord" and again.explorer.palette.dark
    assert config.read_text(encoding="utf-8") == text  # restarting changed nothing


async def test_a_config_that_cannot_be_written_is_a_notification(cache_dir, monkeypatch):
    import digitmap_tui.config as config_module
    from digitmap_tui.errors import InputError

    def refuse(*args, **kwargs):  # type: ignore[no-untyped-def]
        raise InputError("config.toml: cannot write (read-only file system)")

    monkeypatch.setattr(config_module, "remember", refuse)
    app = make_app(cache_dir)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        app.theme = "textual-light"
        await _settle(app, pilot)
        assert app.is_running
        assert any("theme not remembered" in n.message for n in app._notifications)
