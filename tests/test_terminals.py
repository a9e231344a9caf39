"""Terminals: colour depths, NO_COLOR, TERM=dumb/linux, glyph styles, tiny and missing terminals.

The picture must stay legible wherever colours collapse: every class keeps its own glyph on the
map (0-9), the image tiles switch to shades or ASCII when half blocks would turn to blotches,
and the escape codes never ask for more colours than the terminal has. ``--colors`` and
``--glyphs`` override what the environment says.

Most checks render the explorer's frame in-process exactly as Textual writes it to a terminal
(``render_segments`` with the app's console) and read it back with pyte; a few run the real
program in a pseudo-terminal.
"""

from __future__ import annotations

import os
import re
import select
import subprocess
import sys
from pathlib import Path

import pyte
import pytest

from digitmap_tui.app import DigitmapApp, ExploreOptions
from digitmap_tui.widgets.explorer import MIN_HEIGHT, MIN_WIDTH
from digitmap_tui.widgets.mapview import MapView
from digitmap_tui.widgets.panel import HEADER_LINES, ImagePanel
from tests.factory import make_app
from tests.pty_program import REPO_ROOT, TITLE, PtyProgram, program_env, seed_cache

SIZE = (120, 40)
DIGITS = set("0123456789")
SHADES = set("░▒▓█")
HALF_BLOCKS = set("▀▄█")


@pytest.fixture(autouse=True)
def fresh_escape_codes() -> None:
    forget_escape_codes()


def forget_escape_codes() -> None:
    """Forget the escape codes cached for an earlier test's colour depth.

    Rich and Textual keep each style's codes on the style itself (``Style._ansi``) and Textual
    shares blank strips process-wide, for the colour system of the first console that drew
    them: right for a program (one terminal), wrong for tests that use several depths.
    """
    import gc

    from rich.style import Style
    from textual.strip import Strip

    Strip.blank.cache_clear()  # type: ignore[attr-defined]
    for obj in gc.get_objects():
        if type(obj) is Style:
            obj._ansi = None


async def drawn(pilot, app: DigitmapApp) -> None:
    """Wait until the map and the panel have been drawn once (a loaded machine is slow)."""
    for _ in range(100):
        await pilot.pause()
        if app.session.ready and app.explorer.plan is not None:
            break
        await pilot.pause(0.05)
    await pilot.pause()


# ----- reading a frame the way a terminal does ----------------------------------------------------


def frame_bytes(app: DigitmapApp) -> str:
    """The whole screen as the escape codes Textual writes for it with this app's console."""
    return app.screen._compositor.render_update(full=True).render_segments(app.console)


def color_kinds(sequence: str) -> set[str]:
    """Which colour encodings the SGR codes use: "16", "256" and/or "truecolor"."""
    kinds: set[str] = set()
    for params in re.findall(r"\x1b\[([0-9;]*)m", sequence):
        p = [int(x) if x else 0 for x in params.split(";")]
        i = 0
        while i < len(p):
            if p[i] in (38, 48) and i + 1 < len(p) and p[i + 1] in (2, 5):
                kinds.add("truecolor" if p[i + 1] == 2 else "256")
                i += 5 if p[i + 1] == 2 else 3
                continue
            if 30 <= p[i] <= 37 or 40 <= p[i] <= 47 or 90 <= p[i] <= 97 or 100 <= p[i] <= 107:
                kinds.add("16")
            i += 1
    return kinds


def screen_of(sequence: str, size: tuple[int, int] = SIZE) -> pyte.Screen:
    screen = pyte.Screen(*size)
    pyte.Stream(screen).feed(sequence)
    return screen


def region_chars(screen: pyte.Screen, region: object) -> list[pyte.screens.Char]:
    x, y, w, h = region  # type: ignore[misc]
    return [screen.buffer[row][col] for row in range(y, y + h) for col in range(x, x + w)]


def is_grey(color: str) -> bool:
    if color in ("default", "black", "white", "brightblack", "brightwhite"):
        return True
    if re.fullmatch(r"[0-9a-f]{6}", color):
        return color[0:2] == color[2:4] == color[4:6]
    return False


# ----- the matrix ---------------------------------------------------------------------------------

# (id, environment, --colors, --glyphs, Textual's colour system, colour depth, glyph style)
TERMINALS = [
    ("truecolor", {"COLORTERM": "truecolor"}, "auto", None, "truecolor", "truecolor", "blocks"),
    ("256", {}, "auto", None, "256", "256", "blocks"),
    ("16-xterm", {"TERM": "xterm"}, "auto", None, "standard", "16", "shade"),
    ("linux-console", {"TERM": "linux"}, "auto", None, "standard", "16", "ascii"),
    ("dumb", {"TERM": "dumb"}, "auto", None, "standard", "16", "ascii"),
    ("NO_COLOR", {"NO_COLOR": "1"}, "auto", None, "256", "256", "shade"),
    ("flag-16-over-truecolor", {"COLORTERM": "truecolor"}, "16", None, "standard", "16", "shade"),
    ("flag-256-over-xterm", {"TERM": "xterm"}, "256", None, "256", "256", "blocks"),
    ("flag-truecolor", {"TERM": "xterm"}, "truecolor", None, "truecolor", "truecolor", "blocks"),
    ("flag-none", {}, "none", None, "256", "256", "shade"),
    ("flag-256-over-NO_COLOR", {"NO_COLOR": "1"}, "256", None, "256", "256", "blocks"),
    ("glyphs-ascii", {"COLORTERM": "truecolor"}, "auto", "ascii", "truecolor", "truecolor", "ascii"),
    ("glyphs-blocks-at-16", {"TERM": "xterm"}, "auto", "blocks", "standard", "16", "blocks"),
]  # fmt: skip
#: The encodings a terminal of each depth understands (Rich uses the 16 where they match).
UP_TO = {"16": {"16"}, "256": {"16", "256"}, "truecolor": {"16", "256", "truecolor"}}


@pytest.mark.parametrize(
    ("env", "colors", "glyphs", "system", "depth", "style"),
    [t[1:] for t in TERMINALS],
    ids=[t[0] for t in TERMINALS],
)
async def test_every_terminal_gets_a_legible_picture(
    cache_dir: Path,
    monkeypatch: pytest.MonkeyPatch,
    env: dict[str, str],
    colors: str,
    glyphs: str | None,
    system: str,
    depth: str,
    style: str,
) -> None:
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    app = make_app(cache_dir, ExploreOptions(color_system=colors, glyphs=glyphs))
    async with app.run_test(size=SIZE) as pilot:
        await drawn(pilot, app)
        assert app.console.color_system == system
        panel = app.query_one(ImagePanel)
        assert panel.style_name == style
        sequence = frame_bytes(app)
        kinds = color_kinds(sequence)
        assert depth in kinds and kinds <= UP_TO[depth], f"colour codes {kinds} at {depth}"
        screen = screen_of(sequence)

        # The map: every digit class has its own glyph, however the colours collapsed.
        m = app.query_one("#map", MapView)
        map_cells = region_chars(screen, m.region)
        glyphs_seen = {c.data for c in map_cells} & DIGITS
        assert glyphs_seen == DIGITS, f"map shows only {sorted(glyphs_seen)}"
        corners = {c.data for c in map_cells} & set("┌┐└┘")
        assert corners, "the box must show without colour too"
        if colors == "none" or ("NO_COLOR" in env and colors == "auto"):
            assert all(is_grey(c.fg) for c in map_cells), "NO_COLOR: greys only"
        elif depth != "16":
            # 256 colours and up: the ten classes keep ten colours as well.
            digit_colors = {(c.data, c.fg) for c in map_cells if c.data in DIGITS}
            assert len({fg for _, fg in digit_colors}) >= 10

        # The tiles: the glyph style's characters and nothing that needs more colours.
        x, y, w, h = panel.content_region
        tiles = region_chars(screen, (x, y + HEADER_LINES, w, h - HEADER_LINES))
        odd = {c.data for c in tiles} - set(map(chr, range(32, 127)))
        if style == "ascii":
            assert odd == set(), f"ASCII tiles hold {odd}"
        elif style == "shade":
            assert odd and odd <= SHADES, f"shade tiles hold {odd}"
        else:
            assert odd and odd <= HALF_BLOCKS, f"block tiles hold {odd}"
        await pilot.press("q")
    assert app.return_code == 0


async def test_glyphs_flag_overrides_detection_on_the_linux_console(
    cache_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TERM", "linux")
    app = make_app(cache_dir, ExploreOptions(glyphs="shade"))
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        assert app.query_one(ImagePanel).style_name == "shade"


def test_colors_flag_is_parsed_for_explore_and_render() -> None:
    from digitmap_tui.cli import build_parser

    parser = build_parser()
    for command in ("explore", "render"):
        for value in ("auto", "16", "256", "truecolor", "none"):
            assert parser.parse_args([command, "--colors", value]).colors == value


def test_render_colors_flag_sets_the_depth_of_its_output(
    capsys: pytest.CaptureFixture[str],
) -> None:
    from digitmap_tui.cli import main
    from tests.factory import TSNE_FIXTURE

    base = ["render", "--embedding", str(TSNE_FIXTURE), "--width", "60", "--height", "20"]
    for colors in ("16", "256", "truecolor", "none"):
        forget_escape_codes()
        assert main([*base, "--colors", colors]) == 0
        out = capsys.readouterr().out
        kinds = color_kinds(out)
        if colors == "none":
            assert kinds == set()
        else:
            assert colors in kinds and kinds <= UP_TO[colors], (colors, kinds)
        if colors == "16":
            assert not set(out) & set("▀"), "16 colours: tiles in shades, not half blocks"
        assert set(out) & DIGITS


# ----- a terminal too small ------------------------------------------------------------------------


async def test_too_small_says_so_and_keys_wait_for_room(cache_dir: Path) -> None:
    app = make_app(cache_dir)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        s = app.session
        await pilot.resize_terminal(MIN_WIDTH - 1, MIN_HEIGHT + 5)
        await pilot.pause()
        assert app.screen.has_class("too-small")
        message = str(app.query_one("#too-small").render())
        assert (
            f"{MIN_WIDTH - 1}×{MIN_HEIGHT + 5}" in message
            and f"{MIN_WIDTH}×{MIN_HEIGHT}" in message
        )

        def state() -> tuple[object, ...]:
            return (s.state, app.selection.tolist())

        # Regression: keys pressed behind the message moved the box in a 1x1 map and lost it.
        before = state()
        await pilot.press("l", "L", "J", "plus", "z", "m", "g", "right_square_bracket")
        await pilot.pause()
        assert state() == before
        await pilot.resize_terminal(*SIZE)
        await pilot.pause()
        assert not app.screen.has_class("too-small")
        assert state() == before
        await pilot.press("q")
    assert app.return_code == 0


async def test_too_small_under_a_dialog_is_shown_when_the_dialog_closes(cache_dir: Path) -> None:
    # Regression: the class went on the help screen, so the explorer's screen never said it.
    app = make_app(cache_dir)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        await pilot.press("question_mark")
        await pilot.pause()
        await pilot.resize_terminal(40, 10)
        await pilot.pause()
        await pilot.press("escape")
        await pilot.pause()
        assert app.screen is app.screen_stack[0]
        assert app.screen.has_class("too-small")
        await pilot.resize_terminal(*SIZE)
        await pilot.pause()
        assert not app.screen.has_class("too-small")


def test_a_real_terminal_too_small_shows_the_message_and_q_quits(cache_dir: Path) -> None:
    seed_cache(cache_dir)
    size = (50, 12)
    with PtyProgram([], program_env(cache_dir, size), size) as prog:
        prog.wait_for(lambda p: "Terminal too small" in p.text(), 60, "the too-small message")
        assert "50×12" in prog.text()
        prog.send("q")
        assert prog.wait_exit(20) == 0


# ----- the real program in odd terminals -----------------------------------------------------------


@pytest.mark.parametrize(
    ("env", "args", "depth"),
    [
        ({"COLORTERM": "truecolor"}, ["--colors", "16"], "16"),
        ({"NO_COLOR": "1"}, [], "256"),
        ({"TERM": "linux"}, [], "16"),
    ],
    ids=["colors-16-over-truecolor", "NO_COLOR", "linux-console"],
)
def test_the_real_program_draws_within_the_terminals_colours(
    cache_dir: Path, env: dict[str, str], args: list[str], depth: str
) -> None:
    # NO_COLOR once crashed Textual's own filter on the map's unstyled cells: nothing was drawn.
    seed_cache(cache_dir)
    with PtyProgram(args, {**program_env(cache_dir, SIZE), **env}, SIZE) as prog:
        prog.wait_for(lambda p: TITLE in p.lines()[0], 60, f"the title {TITLE!r}")
        prog.wait_for(lambda p: re.search(r"\b\d+ +L:\d\b", p.text()), 20, "the first tiles")
        prog.read_until_quiet(0.3)
        kinds = color_kinds(prog.transcript.decode("utf-8", "replace"))
        assert depth in kinds and kinds <= UP_TO[depth], f"colour codes {kinds} at {depth}"
        assert set(prog.text()) & DIGITS
        prog.send("q")
        assert prog.wait_exit(20) == 0


# ----- no terminal, or stdout alone redirected -------------------------------------------------------


def _pty_pair() -> tuple[int, int]:
    import fcntl
    import struct
    import termios

    master, slave = os.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", SIZE[1], SIZE[0], 0, 0))
    return master, slave


def _drain(master: int, seconds: float) -> bytes:
    chunks = []
    while select.select([master], [], [], seconds)[0]:
        try:
            data = os.read(master, 65536)
        except OSError:
            break
        if not data:
            break
        chunks.append(data)
    return b"".join(chunks)


@pytest.mark.parametrize("stdin_tty", [True, False], ids=["stdin-tty", "nothing-a-tty"])
def test_without_a_terminal_on_stderr_the_explorer_exits_2_at_once(
    tmp_path: Path, stdin_tty: bool
) -> None:
    master, slave = _pty_pair()
    try:
        proc = subprocess.run(
            [sys.executable, "-m", "digitmap_tui"],
            stdin=slave if stdin_tty else subprocess.DEVNULL,
            capture_output=True,
            cwd=REPO_ROOT,
            env=program_env(tmp_path / "cache", SIZE),
            timeout=30,  # a hang fails the test instead of stalling the suite
        )
    finally:
        os.close(slave)
        os.close(master)
    assert proc.returncode == 2
    lines = proc.stderr.decode().splitlines()
    assert len(lines) == 1 and "digitmap render" in lines[0], proc.stderr
    assert proc.stdout == b""
    assert not (tmp_path / "cache" / "embeddings").exists()


def test_a_redirected_stdout_alone_still_runs_the_explorer(cache_dir: Path) -> None:
    # `idx=$(digitmap --print-selection)`: stdin and stderr are the terminal, stdout a pipe.
    seed_cache(cache_dir)
    master, slave = _pty_pair()
    screen = pyte.Screen(*SIZE)
    stream = pyte.ByteStream(screen)
    proc = subprocess.Popen(
        [sys.executable, "-m", "digitmap_tui", "--print-selection"],
        stdin=slave,
        stdout=subprocess.PIPE,
        stderr=slave,
        cwd=REPO_ROOT,
        env=program_env(cache_dir, SIZE),
        start_new_session=True,
    )
    os.close(slave)
    try:
        import time

        deadline = time.monotonic() + 60
        while TITLE not in screen.display[0] or not re.search(r"L:\d", "\n".join(screen.display)):
            assert time.monotonic() < deadline, "\n".join(screen.display)
            assert proc.poll() is None, f"exited {proc.returncode}: {screen.display}"
            stream.feed(_drain(master, 0.05))
        os.write(master, b"q")
        deadline = time.monotonic() + 20
        while proc.poll() is None and time.monotonic() < deadline:
            _drain(master, 0.05)  # keep reading: a full terminal would block the program
        assert proc.poll() == 0
        assert proc.stdout is not None
        printed = proc.stdout.read().decode()
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(timeout=10)
        os.close(master)
    indices = [int(line) for line in printed.split()]
    assert indices and all(0 <= i < 1797 for i in indices)
    assert "\x1b" not in printed, "the UI must not draw on stdout"
