"""The private Textual touch points (widgets/compat.py): one test per patch, each failing
loudly when the version gate turns the patch off (a Textual upgrade is then noticed).

Cropped partial updates are checked with pyte: the screen after Textual's stock renderer,
after ours, and after a full repaint must agree cell for cell (character, colours,
attributes), on random updates with double-width characters and in the running app.
"""

from __future__ import annotations

import io
import itertools
import random

import pyte
import pytest
from rich.console import Console
from rich.control import Control
from rich.segment import Segment
from rich.style import Style
from textual._compositor import ChopsUpdate
from textual.strip import Strip

from digitmap_tui.app import ExploreOptions
from digitmap_tui.widgets import compat
from tests.factory import make_app

WIDTH, HEIGHT = 40, 6
STYLES = [None, Style(color="red"), Style(bgcolor="blue", bold=True), Style(color="#00ff00")]


def console() -> Console:
    return Console(
        file=io.StringIO(), color_system="256", force_terminal=True, width=120, height=40
    )


def screen_of(*chunks: str, size: tuple[int, int] = (WIDTH, HEIGHT)) -> list[list[tuple]]:
    screen = pyte.Screen(*size)
    stream = pyte.Stream(screen)
    for chunk in chunks:
        stream.feed(chunk)
    return [[tuple(screen.buffer[y][x]) for x in range(size[0])] for y in range(size[1])]


def random_line(rng: random.Random) -> list[tuple[str, Style | None]]:
    """Items of one line (a character and its style), WIDTH cells, some two cells wide."""
    items: list[tuple[str, Style | None]] = []
    width = 0
    while width < WIDTH:
        wide = rng.random() < 0.15 and width <= WIDTH - 2
        items.append((rng.choice("日本語") if wide else rng.choice("ab ▀▄.#"), rng.choice(STYLES)))
        width += 2 if wide else 1
    return items


def item_starts(items: list[tuple[str, Style | None]]) -> list[int]:
    starts, x = [], 0
    for ch, _ in items:
        starts.append(x)
        x += 2 if ch in "日本語" else 1
    return starts


def chops_of(lines, cuts) -> list[dict[int, Strip]]:
    """Each line cut into chops (as Textual's compositor holds them) at item boundaries."""
    out = []
    for items, line_cuts in zip(lines, cuts, strict=True):
        starts = item_starts(items)
        chop: dict[int, Strip] = {}
        for a, b in itertools.pairwise(line_cuts):
            segs = [
                Segment(ch, st) for (ch, st), x in zip(items, starts, strict=True) if a <= x < b
            ]
            chop[a] = Strip(segs)
        out.append(chop)
    return out


def full_render(chops, con: Console) -> str:
    return "".join(
        Control.move_to(0, y).segment.text + "".join(s.render(con) for s in chop.values())
        for y, chop in enumerate(chops)
    )


@pytest.mark.parametrize("seed", range(40))
def test_cropped_update_draws_what_the_stock_renderer_draws(seed):
    assert compat.install()["chops"], "the chops patch is off: check it against this Textual"
    stock = ChopsUpdate.render_segments.stock  # type: ignore[attr-defined]
    rng = random.Random(seed)
    old = [random_line(rng) for _ in range(HEIGHT)]
    cuts, spans, new = [], [], []
    for y, items in enumerate(old):
        starts = item_starts(items)
        inner = sorted(rng.sample(starts[1:], k=min(2, len(starts) - 1)))
        cuts.append([0, *inner, WIDTH])
        line = list(items)
        for _ in range(rng.randint(0, 3)):
            x1 = rng.randrange(WIDTH)
            x2 = rng.randint(x1 + 1, WIDTH)
            if any(ch in "日本語" and x + 1 == x2 for (ch, _), x in zip(line, starts, strict=True)):
                x2 += 1  # a span ends after a whole character (Textual cuts there anyway)
            spans.append((y, x1, x2))
            for i, x in enumerate(starts):  # change only items wholly inside the span
                width = 2 if line[i][0] in "日本語" else 1
                if x1 <= x and x + width <= x2 and rng.random() < 0.7:
                    line[i] = (line[i][0] if width == 2 else rng.choice("xyz"), rng.choice(STYLES))
        new.append(line)
    if not spans:
        spans = [(0, 0, WIDTH)]
    spans = sorted(merged_spans(spans))
    con = console()
    before = full_render(chops_of(old, cuts), con)
    new_chops = chops_of(new, cuts)
    ends = [line_cuts[1:] for line_cuts in cuts]
    update = ChopsUpdate(new_chops, spans, ends)
    ours = update.render_segments(con)
    theirs = stock(update, con)
    assert screen_of(before, ours) == screen_of(before, theirs)
    assert screen_of(before, ours) == screen_of(full_render(new_chops, con))
    assert len(ours) <= len(theirs)


def merged_spans(spans):
    """Merge overlapping spans per line, as the compositor does before rendering."""
    from textual._compositor import Compositor
    from textual.geometry import Region

    return list(Compositor._regions_to_spans(Region(x1, y, x2 - x1, 1) for y, x1, x2 in spans))


def test_line_spans_merge_near_stretches_only_when_cropped(monkeypatch):
    monkeypatch.setitem(compat._active, "chops", True)
    got = compat.line_spans([(10, 12), (0, 2), (4, 5), (20, 21)])
    assert got == [(0, 5), (10, 12), (20, 21)]
    monkeypatch.setitem(compat._active, "chops", False)
    assert compat.line_spans([(10, 12), (0, 2)]) == [(0, 12)]
    assert compat.line_spans([]) == []


async def test_app_partial_updates_leave_the_screen_a_full_repaint_draws(cache_dir):
    """After many keys, the terminal (fed only partial updates) equals a fresh full frame:
    the partial renderer (only dirty lines, only dirty cells) leaves nothing stale."""
    app = make_app(cache_dir, ExploreOptions(color=True, glyphs="blocks", quality=False))
    con = console()
    screen = pyte.Screen(120, 40)
    stream = pyte.Stream(screen)
    original = app._display

    def display(scr, renderable):
        if renderable is not None:
            stream.feed(renderable.render_segments(con))
        original(scr, renderable)

    app._display = display  # type: ignore[method-assign]
    keys = [
        *["right"] * 3, "down", "down", "left", "up",
        "shift+right", "shift+down", *["l"] * 6, "H", "K",
        "right_square_bracket", "left_curly_bracket", "g", "down", "g",
        "ctrl+right", "ctrl+down", "minus", "plus", *["h"] * 4, "j",
    ]  # fmt: skip
    async with app.run_test(size=(120, 40), notifications=True) as pilot:
        await pilot.pause()
        # A toast in front of the panel: the cells it covers must keep showing it while
        # the panel behind it changes (only the front-most widget's lines win a chop).
        app.notify("a toast over the panel " * 2, timeout=60)
        for key in keys:
            await pilot.press(key)
            await pilot.pause(0.03)
        await pilot.pause(0.2)
        assert "a toast over the panel" in "\n".join(screen.display)
        full = app.screen._compositor.render_full_update()
        shown = [[tuple(screen.buffer[y][x]) for x in range(120)] for y in range(40)]
        assert shown == screen_of(full.render_segments(con), size=(120, 40))


# ----- the gate ------------------------------------------------------------------------------
def test_every_patch_is_on_for_the_textual_installed():
    """Fails when Textual moved outside the tested range: re-check each patch, then widen it."""
    on = compat.install()
    assert compat.in_tested_range(), f"Textual {compat.textual_version()} is not in {compat.TESTED}"
    assert on == dict.fromkeys(compat.PATCHES, True)


def test_outside_the_tested_range_every_patch_stays_off():
    try:
        on = compat.install((compat.TESTED[1][0], 0, 0))
        assert not any(on.values())
        assert compat.line_spans([(0, 1), (5, 6)]) == [(0, 6)]  # stock-friendly spans
    finally:
        compat.install()


async def test_guard_keeps_the_session_after_a_handler_error(cache_dir, monkeypatch):
    assert compat.install()["guard"]
    from digitmap_tui.widgets.explorer import ExplorerScreen

    def boom(self):
        raise RuntimeError("boom")

    monkeypatch.setattr(ExplorerScreen, "action_cycle_mode", boom)
    app = make_app(cache_dir)
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.pause()
        await pilot.press("tab")
        await pilot.pause()
        assert app.is_running and app._exception is None
        assert any("boom" in n.message for n in app._notifications)
        await pilot.press("q")
    assert app.return_code == 0


async def test_guard_keeps_the_screen_after_a_message_handler_error(cache_dir, monkeypatch):
    """A failing handler of a message posted to the screen (a wheel zoom, a drawn box, a
    finished embedding) is a notification; the screen still takes keys afterwards."""
    assert compat.install()["guard"]
    from digitmap_tui.widgets.explorer import ExplorerScreen
    from digitmap_tui.widgets.mapview import MapView

    def boom(*args):
        raise RuntimeError("boom")

    app = make_app(cache_dir)
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.pause()
        screen = app.screen
        assert isinstance(screen, ExplorerScreen)
        monkeypatch.setattr(screen.session, "zoom", boom)  # the Zoomed handler calls it
        screen.post_message(MapView.Zoomed(0.5, (0.0, 0.0)))
        await pilot.pause()
        assert any("boom" in n.message for n in app._notifications)
        before = screen.session.box
        await pilot.press("l")  # a key after the error still reaches the screen's actions
        await pilot.pause()
        assert screen.session.box != before
        screen.post_message(MapView.BoxDrawn(1, 1, 5, 5))  # and its message loop runs
        await pilot.pause()
        assert screen.session.box != before
        await pilot.press("q")
    assert app.return_code == 0


async def test_monochrome_filter_survives_unstyled_cells(cache_dir):
    assert compat.install()["monochrome"]
    app = make_app(cache_dir, ExploreOptions(color=False, color_system="none"))
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.pause()
        filters = app.get_line_filters()
        assert any(isinstance(f, compat._Monochrome) for f in filters)
        assert app._exception is None
        await pilot.press("l", "g")
        await pilot.pause()
        assert app._exception is None


def test_colors_flag_sets_the_console_depth(cache_dir):
    assert compat.install()["colors"]
    app = make_app(cache_dir, ExploreOptions(color=True, color_system="16"))
    assert app.console.color_system == "standard"
    app = make_app(cache_dir, ExploreOptions(color=True, color_system="truecolor"))
    assert app.console.color_system == "truecolor"


async def test_screen_text_is_what_the_screen_shows(cache_dir):
    assert compat.install()["screen_text"]
    app = make_app(cache_dir)
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.pause()
        text = compat.screen_text(app)
        assert text.splitlines()[0].startswith(" digitmap · digits (1797)")
        assert len(text.splitlines()) == 30


async def test_tmux_clipboard_writes_the_passthrough_sequence(cache_dir, monkeypatch):
    assert compat.install()["tmux_clipboard"]
    monkeypatch.setenv("TMUX", "/tmp/tmux-0/default,1,0")
    app = make_app(cache_dir)
    written: list[str] = []
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.pause()
        monkeypatch.setattr(app._driver, "write", written.append)
        await pilot.press("y")
        await pilot.pause()
    assert any(w.startswith("\x1bPtmux;\x1b\x1b]52;") for w in written), written
    assert app._clipboard == " ".join(str(i) for i in app.selection)


def test_raw_write_goes_to_the_driver(cache_dir):
    class Driver:
        def __init__(self) -> None:
            self.out: list[str] = []

        def write(self, text: str) -> None:
            self.out.append(text)

        def flush(self) -> None:
            self.out.append("<flush>")

    class App:
        _driver = Driver()

    assert compat.install()["raw_write"]
    assert compat.write_raw(App(), "\x1b_Ga=d\x1b\\")
    assert App._driver.out == ["\x1b_Ga=d\x1b\\", "<flush>"]
    assert not compat.write_raw(object(), "x")


def test_no_private_textual_name_outside_compat():
    """Every private Textual touch point lives in widgets/compat.py."""
    import re
    from pathlib import Path

    package = Path(compat.__file__).resolve().parents[1]
    pattern = re.compile(r"textual\._|\._driver|\._compositor|_dispatch_message|_handle_exception")
    offenders = []
    for path in package.rglob("*.py"):
        if path.name == "compat.py":
            continue
        for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            if pattern.search(line):
                offenders.append(f"{path.name}:{n}: {line.strip()}")
    assert offenders == []


async def test_bindings_give_one_app_a_users_keys(cache_dir):
    assert compat.install()["bindings"]
    from digitmap_tui.widgets.explorer import ExplorerScreen

    keys = {"cycle_mode": ["m"], "help": ["z"]}  # z was zoom_box's only key
    app = make_app(cache_dir, ExploreOptions(color=True, keys=keys))
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.pause()
        await pilot.press("m")
        await pilot.pause()
        assert app.session.state.mode == "density"
        await pilot.press("tab", "z")  # tab is no longer bound; z opens the help
        await pilot.pause()
        assert app.session.state.mode == "density"
        assert type(app.screen).__name__ == "HelpScreen"
    # the classes keep the default table: another app is unaffected
    assert any(b.key == "tab" for b in ExplorerScreen.BINDINGS if hasattr(b, "key"))
