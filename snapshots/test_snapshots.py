"""Pictures of the explorer (pytest-textual-snapshot): fixed embedding, fixed size, pinned looks.

Update after an intended change with ``pytest snapshots --snapshot-update`` and look at the
SVGs under ``snapshots/__snapshots__/`` before committing them. Every test's docstring says
what its picture must show.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from textual.pilot import Pilot
from textual.widgets import Input

from digitmap_tui.app import ExploreOptions
from tests.factory import make_app

RunBefore = Callable[[Pilot], Awaitable[None]]


async def _settle(pilot: Pilot) -> None:
    """Let every message, worker and refresh finish, and drop toasts (they time out)."""
    await pilot.pause()
    await pilot.app.workers.wait_for_complete()
    await pilot.pause()
    pilot.app.clear_notifications()
    await pilot.pause()


def keys(*pressed: str) -> RunBefore:
    """A ``run_before`` that waits for start-up, presses ``pressed`` and settles again."""

    async def run_before(pilot: Pilot) -> None:
        await _settle(pilot)
        if pressed:
            await pilot.press(*pressed)
        await _settle(pilot)

    return run_before


def test_startup_grid(snap_compare, cache_dir):
    """Start-up at 120x40: title with "digits (1797)" and t-SNE, coloured label map with the
    selection box in the middle (cells that also hold other labels' points underlined, e.g.
    a 4 and a 9 among the 7s), coords and legend lines, panel "grid 4×4 · N points" with
    the label histogram and 4x4 half-block tiles, footer with the keys."""
    assert snap_compare(make_app(cache_dir), terminal_size=(120, 40), run_before=keys())


def test_list_mode(snap_compare, cache_dir):
    """After g: the panel says "list · N points · by x" and shows every point in the box as
    tiles in x order (no blank slots before the last point)."""
    assert snap_compare(make_app(cache_dir), terminal_size=(120, 40), run_before=keys("g"))


def test_density_mode(snap_compare, cache_dir):
    """After tab: the map is shaded by point count (log scale), the coords line ends in
    "density" and the legend explains the shades; box and panel unchanged."""
    assert snap_compare(make_app(cache_dir), terminal_size=(120, 40), run_before=keys("tab"))


def test_purity_mode(snap_compare, cache_dir):
    """After tab tab: the map shows label purity (mixed cells stand out), the coords line ends in
    "purity" and the legend explains it."""
    assert snap_compare(make_app(cache_dir), terminal_size=(120, 40), run_before=keys("tab", "tab"))


def test_help_screen(snap_compare, cache_dir):
    """After ?: the help screen over the dimmed explorer, "digitmap · keys" and every section
    (Selection box, View, Panel, Finding things, Embedding, App) with its keys."""
    assert snap_compare(
        make_app(cache_dir), terminal_size=(120, 40), run_before=keys("question_mark")
    )


def test_small_80x24(snap_compare, cache_dir):
    """An 80x24 terminal: map, panel (three of the four tile rows, a note that one row is
    hidden) and footer all fit without overlapping."""
    assert snap_compare(make_app(cache_dir), terminal_size=(80, 24), run_before=keys())


def test_large_200x60(snap_compare, cache_dir):
    """A 200x60 terminal: the map fills the extra room at the same aspect, the panel shows the
    whole 4x4 grid, the box is where the default puts it."""
    assert snap_compare(make_app(cache_dir), terminal_size=(200, 60), run_before=keys())


def test_too_small(snap_compare, cache_dir):
    """A 40x12 terminal: only the centred "Terminal too small: 40×12" message (and the footer),
    naming the 60×16 minimum and q."""
    assert snap_compare(make_app(cache_dir), terminal_size=(40, 12), run_before=keys())


def test_goto_prompt(snap_compare, cache_dir):
    """After i: the "Go to point index:" prompt with placeholder "0 … 1796" centred over the
    map, with a steady (non-blinking) cursor."""

    async def run_before(pilot: Pilot) -> None:
        await _settle(pilot)
        await pilot.press("i")
        await pilot.pause()
        # The cursor blinks on a timer: a snapshot would catch either phase.
        pilot.app.screen.query_one(Input).cursor_blink = False
        await _settle(pilot)

    assert snap_compare(make_app(cache_dir), terminal_size=(120, 40), run_before=run_before)


def test_goto_1118(snap_compare, cache_dir):
    """After i 1118 enter: the box is centred on point 1118 (a 3 among the 7s), the point is
    marked by a black-on-yellow cell inside the box, and the panel has a tile "1118 L:3"."""
    assert snap_compare(
        make_app(cache_dir),
        terminal_size=(120, 40),
        run_before=keys("i", "1", "1", "1", "8", "enter"),
    )


def test_filtered_label_1(snap_compare, cache_dir):
    """After f 1 enter: the 1s keep their colour, every other label is dimmed; the box and
    panel are unchanged."""
    assert snap_compare(
        make_app(cache_dir), terminal_size=(120, 40), run_before=keys("f", "1", "enter")
    )


def test_ascii_glyphs(snap_compare, cache_dir):
    """ExploreOptions(glyphs="ascii"): the panel's tiles are drawn with " .:-=+*#%@", the
    map is unchanged."""
    app = make_app(cache_dir, ExploreOptions(glyphs="ascii", color=True))
    assert snap_compare(app, terminal_size=(120, 40), run_before=keys())


def test_no_colour(snap_compare, cache_dir):
    """ExploreOptions(color=False): the map's glyphs carry the labels without label colours,
    the tiles use the shade style, the box is still visible."""
    app = make_app(cache_dir, ExploreOptions(color=False))
    assert snap_compare(app, terminal_size=(120, 40), run_before=keys())


# ----- insight -------------------------------------------------------------------------------


def test_misfits_highlighted(snap_compare, cache_dir):
    """After !: every misfit (label unlike its 10 map neighbours) is a white-on-red cell on the
    map, among them the 3 at the top of the 7s (index 1118)."""
    assert snap_compare(
        make_app(cache_dir), terminal_size=(120, 40), run_before=keys("exclamation_mark")
    )


def test_review_1118(snap_compare, cache_dir):
    """After R, then i 1118 enter: review mode on the seed's 3 among the 7s. The box is centred
    on 1118 (marked black-on-yellow) with its 8 nearest images in pixel space highlighted on
    the map; the pane between map and panel says "review · suspect 6 of 18", "0 of 18
    reviewed, 0 relabelled", shows 1118 large beside "#1118", "L:3 → 7?", "score 0.61", "no
    decision yet", and the 8 neighbours as tiles (mostly L:7); the review line above the
    footer reads "review #1118 L:3 → 7? score 0.61 │ 0 of 18 reviewed, 0 relabelled │" and
    the keys."""

    async def run_before(pilot: Pilot) -> None:
        await _settle(pilot)
        await pilot.press("R")
        await _settle(pilot)
        await pilot.press("i", "1", "1", "1", "8", "enter")
        await _settle(pilot)
        await _settle(pilot)

    assert snap_compare(make_app(cache_dir), terminal_size=(120, 40), run_before=run_before)


def test_inspector_1118(snap_compare, cache_dir):
    """After i 1118 enter v: the inspector on the right shows point 1118, label 3, large, and
    its 8 nearest images in pixel space (mostly 7s); their places are highlighted on the map."""
    assert snap_compare(
        make_app(cache_dir),
        terminal_size=(120, 40),
        run_before=keys("i", "1", "1", "1", "8", "enter", "v"),
    )


def test_split_the_ones(snap_compare, cache_dir):
    """After c 1 enter %: the box is on the 1s' cluster and the split screen shows their
    sub-clusters as mean images (different shapes of 1) with sizes and label mixes."""

    async def run_before(pilot: Pilot) -> None:
        await _settle(pilot)
        # Toasts time out on a clock and stay on the screen under the dialog: none here.
        pilot.app.notify = lambda *args, **kwargs: None  # type: ignore[method-assign]
        await pilot.press("c", "1", "enter", "percent_sign")
        await _settle(pilot)

    assert snap_compare(make_app(cache_dir), terminal_size=(120, 40), run_before=run_before)


def test_mean_grid(snap_compare, cache_dir):
    """After L L J a: the panel says "mean grid 4×4", each non-empty cell shows the mean image
    of its points headed "n=<count>", empty cells stay blank."""
    assert snap_compare(
        make_app(cache_dir), terminal_size=(120, 40), run_before=keys("L", "L", "J", "a")
    )


def test_twin_map(snap_compare, cache_dir):
    """After w: a second map (a mirrored stand-in for UMAP) beside the first, the selection's
    points highlighted in it; the status line names the twin and the neighbours kept."""
    import numpy as np

    from digitmap_tui.cache import embedding_key
    from digitmap_tui.methods.params import EmbedParams
    from tests.factory import fixed_coords

    app = make_app(cache_dir)
    key = embedding_key(app.session.dataset.fingerprint(), EmbedParams(method="umap"))
    app.inputs.cache.store(key, fixed_coords() * np.array([-1.0, 1.0]), {})
    assert snap_compare(app, terminal_size=(160, 40), run_before=keys("w"))


def test_quality_in_title(snap_compare, cache_dir):
    """With quality figures on: the title ends "trustworthiness 0.99x · 10-NN accuracy 98.x%"."""
    app = make_app(cache_dir, quality=True)
    assert snap_compare(app, terminal_size=(120, 40), run_before=keys())


# ----- real images (issue: folders, colour, tiles, minorities) ---------------------------------


def test_colour_folder_truecolor(snap_compare, cache_dir):
    """The colour_scenes folder at 200x60 in truecolor, the box over every image: the panel
    has a 4x4 grid of colour half-block tiles (blue skies, red/orange fruit, green foliage),
    headers "<index> L:<class name>", the histogram "sky:12 fruit:12 foliage:12" by name, the
    legend "0 foliage 1 fruit 2 sky"; no tile is cut."""
    from tests.images_factory import folder_app

    app = folder_app(cache_dir, options=ExploreOptions(color=True, color_system="truecolor"))
    assert snap_compare(app, terminal_size=(200, 60), run_before=keys())


def test_colour_folder_16_colours(snap_compare, cache_dir):
    """The same at 16 colours: the tiles fall back to their luminance in shades ░▒▓█ (sky
    light, foliage dark), map and labels in the 16 colours, names as in truecolor."""
    from tests.images_factory import folder_app

    app = folder_app(cache_dir, options=ExploreOptions(color=True, color_system="16"))
    assert snap_compare(app, terminal_size=(200, 60), run_before=keys())


def test_class_name_headers(snap_compare, cache_dir):
    """The colour folder in list mode by label at 120x40: 4 columns of colour tiles, every
    header "<index> L:<class name>" ("L:foliage", "L:fruit") in the class's colour, the
    histogram and the legend name the classes; the panel says "page 1/2"."""
    from tests.images_factory import folder_app

    options = ExploreOptions(color=True, list_mode=True, sort="label")
    assert snap_compare(folder_app(cache_dir, options=options), terminal_size=(120, 40),
                        run_before=keys())  # fmt: skip


def test_points_mode_1118(snap_compare, cache_dir):
    """Points mode (braille, 2x4 dots a cell) after i 1118 enter Esc: each label's own points
    as coloured dots; the box is centred on 1118, whose cell is a lone red dot (a 3) among
    the grey 7s' dots (Esc took the yellow mark off it); the legend explains the dots."""
    app = make_app(cache_dir, ExploreOptions(color=True, mode="points"))
    assert snap_compare(
        app, terminal_size=(120, 40), run_before=keys("i", "1", "1", "1", "8", "enter", "escape")
    )


def test_tile_scale_2(snap_compare, cache_dir):
    """After . at 200x60: tile scale 2, every 8x8 digit drawn 16 columns x 8 rows, the 4x4
    grid whole in a wider panel; the map keeps the rest of the screen."""
    assert snap_compare(make_app(cache_dir), terminal_size=(200, 60), run_before=keys("full_stop"))


# ----- themes --------------------------------------------------------------------------------


def test_light_theme(snap_compare, cache_dir):
    """ExploreOptions(theme="textual-light"): a light map background, label glyphs darkened
    until they read (olive, cyan, orange), a light blue-grey box tint with black corners,
    tiles as black squares, a dark status line, a light footer."""
    app = make_app(cache_dir, ExploreOptions(color=True, theme="textual-light"))
    assert snap_compare(app, terminal_size=(120, 40), run_before=keys())


def test_light_theme_density(snap_compare, cache_dir):
    """textual-light after tab: density darkens as it grows (sparse cells faint but visible,
    the densest dark purple) and the legend shows the same ramp."""
    app = make_app(cache_dir, ExploreOptions(color=True, theme="textual-light"))
    assert snap_compare(app, terminal_size=(120, 40), run_before=keys("tab"))
