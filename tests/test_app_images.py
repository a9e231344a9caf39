"""Real images in the explorer: the points mode and minority marks on the map, tiles fitted to
the panel (scale, width, border drag, remembered), colour and class names, folder warnings
and exports, and true pixels checked by replaying what the app writes."""

from __future__ import annotations

import base64
import csv
import io
import json
import re
import shutil
import zlib

import numpy as np
import pyte
import pytest
from rich.console import Console

from digitmap_tui import prefs
from digitmap_tui.app import ExploreOptions
from digitmap_tui.glyphs import fit_tiles, label_color
from digitmap_tui.grid import EMPTY, cell_of
from digitmap_tui.pixels import pixel_box, to_rgb8
from digitmap_tui.session import Session
from digitmap_tui.widgets.insight import InspectorScreen
from digitmap_tui.widgets.mapview import MapView
from digitmap_tui.widgets.panel import HEADER_LINES, KITTY_ID_BASE, ImagePanel
from tests.factory import make_app
from tests.images_factory import COLOUR_SCENES, DIGITS_PNG, folder_app, folder_inputs
from tests.test_pixels import _percent_exact, decode_sixel

BRAILLE = range(0x2800, 0x2900)


async def settle(pilot) -> None:
    await pilot.pause()
    await pilot.app.workers.wait_for_complete()
    await pilot.pause()


def map_cell_of(app, index: int) -> tuple[int, int]:
    """The map cell (column, row) point ``index`` is drawn in."""
    m = app.explorer.map
    cells = m.cells()
    col, row = cell_of(app.session.coords[index : index + 1], cells.view, cells.width, cells.height)
    return int(col[0]), int(row[0])


# ----- the map: points mode and minorities ------------------------------------------------------
async def test_tab_reaches_the_points_mode_and_1118_is_a_dot_of_its_own_colour(cache_dir):
    app = make_app(cache_dir, ExploreOptions(color=True, glyphs="blocks"))
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        await pilot.press("tab", "tab", "tab")
        await pilot.pause()
        m = app.explorer.map
        assert app.session.state.mode == "points" and m.drawn_mode == "points"
        rows = [m._row_cells(y) for y in range(m.map_size[1])]
        drawn = [ch for row in rows for ch, _ in row if ch != " "]
        assert drawn and all(ord(ch) in BRAILLE for ch in drawn)
        # At the default zoom the 3 among the 7s has a cell of its own colour.
        col, row = map_cell_of(app, 1118)
        ch, style = rows[row][col]
        assert ord(ch) in BRAILLE and style is not None
        assert style.color is not None and style.color.name == label_color(3)
        legend = app.explorer.query_one("#legend").render_line(0).text
        assert "2×4 dots" in legend


async def test_points_mode_without_braille_is_drawn_as_labels(cache_dir):
    app = make_app(cache_dir, ExploreOptions(color=True, glyphs="ascii", mode="points"))
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        m = app.explorer.map
        assert app.session.state.mode == "points" and m.drawn_mode == "label"
        text = "".join(ch for y in range(m.map_size[1]) for ch, _ in m._row_cells(y))
        assert not any(ord(ch) in BRAILLE for ch in text)


async def test_label_mode_underlines_exactly_the_cells_holding_other_labels(cache_dir):
    app = make_app(cache_dir)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        m = app.explorer.map
        binned = m._binned
        for y in range(binned.shape[0]):
            for x, (ch, style) in enumerate(m._row_cells(y)):
                if binned.counts[y, x] == 0:
                    continue
                mixed = bool(binned.purity[y, x] < 1.0)
                assert bool(style and style.underline) == mixed, (x, y, ch)
        col, row = map_cell_of(app, 1118)
        ch, style = m._row_cells(row)[col]
        # 1118, a 3 among the 7s: its own glyph, or a 7 that says it hides another label
        assert ch == "3" or (style is not None and style.underline)


async def test_a_box_move_in_points_mode_refreshes_only_the_box_rows(cache_dir, monkeypatch):
    app = make_app(cache_dir, ExploreOptions(color=True, glyphs="blocks", mode="points"))
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        m = app.explorer.map
        regions = []
        original = MapView.refresh

        def spy(self, *args, **kwargs):
            if self is m:
                regions.append(args)
            return original(self, *args, **kwargs)

        monkeypatch.setattr(MapView, "refresh", spy)
        generation = m._generation
        before = m.overlay().span
        await pilot.press("l")
        await pilot.pause()
        after = m.overlay().span
        assert m._generation == generation, "the map was repainted, not patched"
        assert regions and all(args for args in regions), "a whole-widget refresh"
        rows = set(before.rows) | set(after.rows)
        cells = sum(r.width for args in regions for r in args)
        assert all(r.y in rows and r.height == 1 for args in regions for r in args)
        assert cells <= 2 * (len(rows) * 2 + 2 * after.width)  # edges, not the whole box


async def test_points_mode_partial_updates_equal_a_full_frame(cache_dir):
    """What the terminal shows after many keys (partial updates only) is a full frame."""
    app = make_app(cache_dir, ExploreOptions(color=True, glyphs="blocks", mode="points"))
    con = Console(file=io.StringIO(), color_system="256", force_terminal=True, width=120)
    screen = pyte.Screen(120, 40)
    stream = pyte.Stream(screen)
    original = app._display

    def display(scr, renderable):
        if renderable is not None:
            stream.feed(renderable.render_segments(con))
        original(scr, renderable)

    app._display = display  # type: ignore[method-assign]
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        for key in ["l", "l", "j", "L", "J", "h", "k", "ctrl+right", "plus", "minus", "l"]:
            await pilot.press(key)
            await pilot.pause(0.03)
        await pilot.pause(0.2)
        full = pyte.Screen(120, 40)
        pyte.Stream(full).feed(app.screen._compositor.render_full_update().render_segments(con))
        shown = [[tuple(screen.buffer[y][x]) for x in range(120)] for y in range(40)]
        assert shown == [[tuple(full.buffer[y][x]) for x in range(120)] for y in range(40)]


# ----- tiles that fit -------------------------------------------------------------------------
def assert_tiles_fit(app) -> None:
    """Every tile shown lies wholly inside the panel, and is drawn whole."""
    panel = app.explorer.panel
    slots = panel.content.slots
    rows, cols = slots.shape
    width, height = panel.size
    assert cols * (panel.tile_cols + 1) - 1 <= width
    assert HEADER_LINES + rows * panel.slot_height <= height
    for r in range(rows):
        for line in range(panel.slot_height):
            text = panel.render_line(HEADER_LINES + r * panel.slot_height + line).text
            assert len(text) == width
            for c in range(cols):
                index = int(slots[r, c])
                if index < 0:
                    continue
                tile = panel._slot_tile(index)
                want = "".join(seg.text for seg in tile[line])
                start = c * (panel.tile_cols + 1)
                assert text[start : start + panel.tile_cols] == want


async def test_28x28_images_fit_the_4x4_grid_at_120x40_without_a_cut(cache_dir):
    app = folder_app(cache_dir, DIGITS_PNG, size=(28, 28), box_all=False)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        panel = app.explorer.panel
        assert panel.fit() == (4, 4) and panel.content.slots.shape == (4, 4)
        # 28x28 shrunk (area averaging) to the widest tile at scale 1
        assert (panel.tile_cols, panel.tile_rows) == (14, 7)
        assert panel.content.note == ""
        assert_tiles_fit(app)


@pytest.mark.parametrize(
    ("size", "grid"), [((80, 24), "12x12"), ((100, 30), "6x9"), ((200, 60), "8x8")]
)
async def test_a_grid_too_large_is_shown_whole_tiles_and_the_rest_reported(cache_dir, size, grid):
    rows, cols = (int(v) for v in grid.split("x"))
    app = folder_app(cache_dir, DIGITS_PNG, ExploreOptions(color=True, grid=(rows, cols)))
    async with app.run_test(size=size) as pilot:
        await settle(pilot)
        panel = app.explorer.panel
        _, _, hidden_rows, hidden_cols = fit_tiles(
            (8, 8), panel.size.width, panel.size.height - HEADER_LINES, rows, cols,
            panel.style_name, 1, max_cols=14,
        )  # fmt: skip
        assert panel.fit() == (rows - hidden_rows, cols - hidden_cols)
        note = panel.content.note
        assert (f"{hidden_rows} row" in note) == bool(hidden_rows)
        assert (f"{hidden_cols} column" in note) == bool(hidden_cols)
        assert_tiles_fit(app)


async def test_colour_folder_at_200x60_fits_in_colour_with_class_names(cache_dir):
    app = folder_app(cache_dir, COLOUR_SCENES, ExploreOptions(color=True, glyphs="blocks"))
    async with app.run_test(size=(200, 60)) as pilot:
        await settle(pilot)
        panel = app.explorer.panel
        assert panel.fit() == (4, 4)
        assert_tiles_fit(app)
        names = app.session.dataset.label_names
        assert names == ("foliage", "fruit", "sky")
        shown = [int(i) for i in panel.content.slots.ravel() if i >= 0]
        assert shown
        for index in shown:
            tile = panel._slot_tile(index)
            header = "".join(seg.text for seg in tile[0])
            label = int(app.session.dataset.labels[index])
            assert header.rstrip().endswith(f"L:{names[label]}"[: panel.tile_cols - 3].rstrip("…"))
            colours = {
                seg.style.bgcolor.triplet
                for line in tile[1:]
                for seg in line
                if seg.style is not None and seg.style.bgcolor is not None
            }
            assert any(len({t.red, t.green, t.blue}) > 1 for t in colours if t), "not grey"
        histogram = panel.render_line(1).text
        assert all(name in histogram for name in names)
        legend = app.explorer.query_one("#legend").render_line(0).text
        assert "foliage" in legend and "sky" in legend


async def test_mean_grid_inspector_and_split_work_on_colour_images(cache_dir):
    app = folder_app(cache_dir, COLOUR_SCENES, ExploreOptions(color=True, glyphs="blocks"))
    async with app.run_test(size=(160, 50)) as pilot:
        await settle(pilot)
        await pilot.press("a")
        await settle(pilot)
        panel = app.explorer.panel
        assert panel.content.custom and panel.content.custom[0][0].shape[-1] == 3
        assert_tiles_fit(app)
        await pilot.press("a", "v")
        await settle(pilot)
        assert isinstance(app.screen, InspectorScreen)
        names = app.session.dataset.label_names
        text = " ".join(str(w.render()) for w in app.screen.query("Static"))
        assert any(f"label {name}" in text for name in names)
        await pilot.press("escape", "percent_sign")
        await settle(pilot)
        await pilot.pause(0.5)
        assert type(app.screen).__name__ == "SplitScreen"
        assert app._exception is None


# ----- the tile scale and the panel's width --------------------------------------------------------
async def test_tile_scale_keys_and_flag(cache_dir):
    app = make_app(cache_dir, ExploreOptions(color=True, glyphs="blocks"))
    async with app.run_test(size=(200, 60)) as pilot:
        await settle(pilot)
        panel = app.explorer.panel
        assert (panel.scale, panel.tile_cols, panel.tile_rows) == (1, 8, 4)
        await pilot.press("full_stop")
        await pilot.pause()
        assert (panel.scale, panel.tile_cols, panel.tile_rows) == (2, 16, 8)
        assert panel.fit() == (4, 4)
        assert_tiles_fit(app)
        await pilot.press("comma", "comma")
        await pilot.pause()
        assert (panel.scale, panel.tile_cols) == (1, 8)
        assert any("already 1×" in n.message for n in app._notifications)
    app = make_app(cache_dir, ExploreOptions(color=True, glyphs="blocks", tile_scale=3))
    async with app.run_test(size=(200, 60)) as pilot:
        await settle(pilot)
        panel = app.explorer.panel
        assert panel.scale == 3
        assert_tiles_fit(app)
        # 4 tiles of 24 columns need 99 of the 100 the panel may take: all of them, whole
        assert panel.fit() == (4, 4) and panel.tile_cols <= 24


async def test_panel_width_keys_are_remembered_across_restarts(cache_dir):
    app = make_app(cache_dir)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        start = app.explorer.panel.outer_size.width
        await pilot.press("alt+left", "alt+left")
        await settle(pilot)
        assert app.explorer.panel.outer_size.width == start + 8
        assert_tiles_fit(app)
        await pilot.press("alt+right")
        await settle(pilot)
        assert app.explorer.panel.outer_size.width == start + 4
    assert prefs.remembered_panel_width() == start + 4
    app = make_app(cache_dir)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        assert app.explorer.panel.outer_size.width == start + 4
    # a smaller terminal keeps the map usable: the remembered width is capped, not lost
    app = make_app(cache_dir)
    async with app.run_test(size=(60, 20)) as pilot:
        await settle(pilot)
        assert app.explorer.map.size.width >= 24 - 1
    assert prefs.remembered_panel_width() == start + 4


async def test_dragging_the_panel_border_resizes_it_and_remembers(cache_dir):
    app = make_app(cache_dir)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        panel = app.explorer.panel
        left = panel.region.x
        await pilot.mouse_down(ImagePanel, offset=(0, 10))
        await pilot.hover(None, offset=(left - 10, 10))
        await pilot.pause()
        await pilot.mouse_up(None, offset=(left - 10, 10))
        await settle(pilot)
        assert panel.region.x == left - 10
        assert panel.outer_size.width == 120 - (left - 10)
        assert_tiles_fit(app)
        assert prefs.remembered_panel_width() == panel.outer_size.width
        # a click inside the panel is not a drag
        width = panel.outer_size.width
        await pilot.click(ImagePanel, offset=(10, 10))
        await settle(pilot)
        assert panel.outer_size.width == width


# ----- folders: warnings, exports, the reproducing command ---------------------------------------
async def test_skipped_files_are_notified_at_start(cache_dir, tmp_path):
    folder = tmp_path / "[b]scenes"
    shutil.copytree(COLOUR_SCENES, folder)
    (folder / "sky" / "notes.png").write_text("not an image")
    (folder / "fruit" / "cut.jpg").write_bytes(
        (COLOUR_SCENES / "fruit" / "fruit-01.jpg").read_bytes()[:300]
    )
    app = folder_app(cache_dir, folder)
    assert app.inputs.warnings
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        messages = [n.message for n in app._notifications]
        assert any("2 files skipped" in m and "\\[b]scenes" in m for m in messages), messages


async def test_export_of_a_folder_carries_paths_and_class_names(cache_dir, tmp_path):
    app = folder_app(cache_dir, COLOUR_SCENES)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        s = app.session
        selected = s.selected()
        written = app.explorer.export_selection_to(tmp_path / "sel.json")
        data = json.loads(written.read_text())
        assert data["paths"] == [s.dataset.paths[i] for i in selected]
        assert data["label_names"] == [s.dataset.label_names[s.dataset.labels[i]] for i in selected]
        written = app.explorer.export_selection_to(tmp_path / "sel.csv")
        rows = list(csv.DictReader(written.open()))
        assert [r["path"] for r in rows] == data["paths"]
        assert [r["label_name"] for r in rows] == data["label_names"]


def test_the_reproducing_command_keeps_the_folder_size(cache_dir):
    inputs = folder_inputs(cache_dir, DIGITS_PNG, size=(28, 28))
    session = Session.from_inputs(inputs)
    session.set_coords(inputs.coords, None)
    command = session.render_command()
    assert "--size 28x28" in command and "--data" in command


# ----- true pixels ---------------------------------------------------------------------------------
_CUP_OR_GRAPHICS = re.compile(
    r"\x1b\[(\d+);(\d+)H|\x1b_G([^;\x1b]*)(?:;([^\x1b]*))?\x1b\\|(\x1bP[0-9;]*q[^\x1b]*\x1b\\)"
)


def replay_kitty(stream: str, held: dict[int, tuple]) -> None:
    """What a kitty terminal holds after ``stream``: image id -> (cell, keys, pixels)."""
    cursor = (0, 0)
    pending: tuple | None = None
    for m in _CUP_OR_GRAPHICS.finditer(stream):
        if m.group(1):
            cursor = (int(m.group(2)) - 1, int(m.group(1)) - 1)
            continue
        if m.group(3) is None:
            continue
        keys = dict(kv.split("=", 1) for kv in m.group(3).split(","))
        if keys.get("a") == "d":
            if keys.get("d") == "A":
                held.clear()
            else:
                held.pop(int(keys["i"]), None)
            continue
        if pending is None:
            pending = (cursor, keys, [])
        pending[2].append(m.group(4) or "")
        if keys["m"] == "0":
            at, first, chunks = pending
            pending = None
            raw = zlib.decompress(base64.standard_b64decode("".join(chunks)))
            rgb = np.frombuffer(raw, dtype=np.uint8).reshape(int(first["v"]), int(first["s"]), 3)
            held[int(first["i"])] = (at, first, rgb)


def expected_pictures(app) -> dict[int, tuple[tuple[int, int], np.ndarray]]:
    """Slot id -> (screen cell of its image area's corner, its image's RGB pixels)."""
    panel = app.explorer.panel
    region = panel.content_region
    out = {}
    for (r, c), index in np.ndenumerate(panel.content.slots):
        if index == EMPTY:
            continue
        image = panel.images[index] if index >= 0 else panel.content.custom[-2 - index][0]
        at = (
            region.x + c * (panel.tile_cols + 1),
            region.y + HEADER_LINES + r * panel.slot_height + 1,
        )
        out[KITTY_ID_BASE + r * 256 + c] = (at, to_rgb8(image, panel.value_range))
    return out


def capture(app, written: list[str] | None = None) -> list[str]:
    """Every update the app sends to the terminal, as the bytes it would write, in order
    (in ``written``, where :meth:`capture_raw` puts what is written between frames too)."""
    con = Console(file=io.StringIO(), color_system="truecolor", force_terminal=True, width=200)
    written = [] if written is None else written
    original = app._display

    def display(scr, renderable):
        if renderable is not None:
            written.append(renderable.render_segments(con))
        original(scr, renderable)

    app._display = display  # type: ignore[method-assign]
    return written


def capture_raw(app, written: list[str]) -> None:
    """What the app writes to the terminal outside frames (a headless driver drops it)."""
    app._driver.write = written.append


def assert_kitty_terminal_shows_the_panel(app, held) -> None:
    panel = app.explorer.panel
    expected = expected_pictures(app)
    assert set(held) == set(expected)
    for ident, (at, rgb) in expected.items():
        cell, keys, pixels = held[ident]
        assert cell == at
        assert (keys["c"], keys["r"]) == (str(panel.tile_cols), str(panel.tile_rows))
        assert keys["z"] == "-1"  # under the text: a notification on top stays readable
        h, w = pixel_box(rgb.shape[:2], panel.tile_cols, panel.tile_rows, panel.cell_px)
        assert pixels.shape == (h, w, 3)
        fy, fx = h // rgb.shape[0], w // rgb.shape[1]
        assert np.array_equal(pixels, np.repeat(np.repeat(rgb, fy, 0), fx, 1))


async def test_kitty_pictures_follow_the_panel_through_moves_and_layouts(cache_dir):
    app = make_app(cache_dir, ExploreOptions(color=True, glyphs="blocks", images="kitty"))
    written = capture(app)
    held: dict[int, tuple] = {}
    async with app.run_test(size=(120, 40)) as pilot:
        capture_raw(app, written)  # deletions are written between frames
        await settle(pilot)

        def replay() -> None:
            for chunk in written:
                replay_kitty(chunk, held)
            written.clear()

        replay()
        assert len(held) == (app.explorer.panel.content.slots >= 0).sum()
        assert_kitty_terminal_shows_the_panel(app, held)
        for keys in (["l"] * 5, ["j", "j"], ["right_square_bracket"], ["g"], ["full_stop"],
                     ["g", "a"], ["alt+left"]):  # fmt: skip
            await pilot.press(*keys)
            await settle(pilot)
            replay()
            assert_kitty_terminal_shows_the_panel(app, held)


async def test_kitty_pictures_leave_for_a_dialog_and_at_the_end(cache_dir):
    app = make_app(cache_dir, ExploreOptions(color=True, glyphs="blocks", images="kitty"))
    frames = capture(app)
    raw: list[str] = []
    async with app.run_test(size=(120, 40)) as pilot:
        capture_raw(app, raw)
        await settle(pilot)
        assert any("\x1b_Ga=T" in f for f in frames)
        frames.clear()
        await pilot.press("question_mark")
        await settle(pilot)
        assert "\x1b_Ga=d,d=A,q=2\x1b\\" in raw  # every picture deleted
        assert not any("\x1b_Ga=T" in f for f in frames), "a picture drawn over the help"
        await pilot.press("escape")
        await settle(pilot)
        assert any("\x1b_Ga=T" in f for f in frames), "pictures back after the help"
        raw.clear()
        await pilot.press("q")
        await pilot.pause()
    assert "\x1b_Ga=d,d=A,q=2\x1b\\" in raw


@pytest.mark.parametrize("data", ["digits", "colour"])
async def test_sixel_frame_draws_each_tile_after_its_cells(cache_dir, data):
    """Digits (at most 17 greys) come back exactly; photos, through a 256-colour palette,
    come back close."""
    options = ExploreOptions(color=True, glyphs="blocks", images="sixel")
    if data == "digits":
        app = make_app(cache_dir, options)
    else:
        app = folder_app(cache_dir, COLOUR_SCENES, options)
    con = Console(file=io.StringIO(), color_system="truecolor", force_terminal=True, width=200)
    async with app.run_test(size=(160, 50)) as pilot:
        await settle(pilot)
        panel = app.explorer.panel
        frame = app.screen._compositor.render_full_update().render_segments(con)
        expected = expected_pictures(app)
        assert expected
        drawn: dict[tuple[int, int], np.ndarray] = {}
        cursor = (0, 0)
        lines_written: set[int] = set()
        for m in _CUP_OR_GRAPHICS.finditer(frame):
            if m.group(1):
                cursor = (int(m.group(2)) - 1, int(m.group(1)) - 1)
                lines_written.add(cursor[1])
            elif m.group(5):
                # the last line of the tile's area is already written: text cannot erase it
                assert cursor[1] + panel.tile_rows - 1 in lines_written
                drawn[cursor] = decode_sixel(m.group(5))
        assert set(drawn) == {at for at, _ in expected.values()}
        for at, rgb in expected.values():
            pixels = drawn[at]
            h, w = pixel_box(rgb.shape[:2], panel.tile_cols, panel.tile_rows, panel.cell_px)
            assert pixels.shape == (h, w, 3) and (pixels >= 0).all()
            fy, fx = h // rgb.shape[0], w // rgb.shape[1]
            assert (fy, fx) == (h / rgb.shape[0], w / rgb.shape[1])  # whole-number enlargement
            assert np.array_equal(pixels, np.repeat(np.repeat(pixels[::fy, ::fx], fy, 0), fx, 1))
            if data == "digits":
                assert np.array_equal(pixels[::fy, ::fx], _percent_exact(rgb))
            else:
                error = np.abs(pixels[::fy, ::fx] - rgb.astype(np.int64))
                assert error.mean() < 6 and np.percentile(error, 99) <= 40


async def test_without_true_pixels_no_graphics_are_sent(cache_dir):
    app = make_app(cache_dir, ExploreOptions(color=True, glyphs="blocks"))
    frames = capture(app)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        await pilot.press("l", "question_mark", "escape")
        await settle(pilot)
    text = "".join(frames)
    assert "\x1b_G" not in text and not re.search(r"\x1bP[0-9;]*q", text)
