"""The real program, end to end: a pseudo-terminal read by pyte, a pipe, and ``digitmap render``.

These run ``python -m digitmap_tui`` as a user would: the built-in digits with the fixed t-SNE
map already in an isolated cache (a user's second start), ``TERM=xterm-256color`` at 120x40.
Every wait has a deadline, and a program that hangs is killed and the test fails.
"""

from __future__ import annotations

import json
import os
import re
import select
import subprocess
import sys

import numpy as np

from digitmap_tui.data import load_digits
from digitmap_tui.grid import EMPTY, Rect, grid_select, list_select
from tests.factory import TSNE_FIXTURE, fixed_coords
from tests.pty_program import KEYS, REPO_ROOT, TITLE, PtyProgram, program_env, seed_cache

SIZE = (120, 40)
#: A tile header in the panel: "769  L:8".
TILE_HEADER = re.compile(r"\b\d+ +L:\d+\b")


def panel_left(prog: PtyProgram) -> int | None:
    """The panel's first column: where its title ("grid 4×4 · N points") starts, once drawn."""
    for line in prog.lines()[1:4]:
        at = line.find("grid 4×4 · ")
        if at >= 0:
            return at
    return None


def panel_text(prog: PtyProgram, left: int) -> list[str]:
    """The panel's rows (title, histogram, tiles), without the footer."""
    return [line[left:].rstrip() for line in prog.lines()[1:-1]]


def first_index_line(panel: list[str]) -> str:
    return next((line for line in panel if TILE_HEADER.search(line)), "")


def test_explorer_in_a_real_terminal_moves_resizes_and_quits(cache_dir):
    seed_cache(cache_dir)
    with PtyProgram([], program_env(cache_dir, SIZE), SIZE) as prog:
        prog.wait_for(lambda p: TITLE in p.lines()[0], 60, f"the title {TITLE!r}")
        prog.wait_for(lambda p: panel_left(p) is not None, 20, "the panel")
        left = panel_left(prog)
        assert left is not None and left > SIZE[0] // 2, "the panel sits on the right"
        prog.wait_for(lambda p: first_index_line(panel_text(p, left)), 20, "the first tiles")
        prog.read_until_quiet(0.2)
        before = panel_text(prog, left)
        assert "t-SNE" in prog.lines()[0]
        assert re.search(r"grid 4×4 · \d+ points", before[0])

        # Move the box three cells right and one down, then grow it by two columns and a row.
        for key in ("right", "right", "right", "down", "shift+right", "shift+right", "shift+down"):
            prog.send(KEYS[key])
        prog.wait_for(lambda p: panel_text(p, left) != before, 20, "the panel to change")
        prog.read_until_quiet(0.2)
        after = panel_text(prog, left)
        assert TILE_HEADER.search(first_index_line(after))
        assert re.search(r"grid 4×4 · \d+ points", after[0])
        assert b"Traceback" not in prog.transcript

        # Partial updates (only the cells the box touched) must leave the screen exactly as a
        # full repaint draws it: characters, colours and attributes. "0" repaints the whole map
        # (the view has not moved yet), "g g" the whole panel. The title is left out: quality
        # figures land in it whenever their background computation ends.
        for key in ("up", "shift+left", "right", "right", "shift+down", "left", "down"):
            prog.send(KEYS[key])
            prog.read_until_quiet(0.1)
        prog.read_until_quiet(0.3)
        body = range(1, SIZE[1])
        partial = prog.cells(body)
        for key in ("0", "g", "g"):
            prog.send(key)
            prog.read_until_quiet(0.3)
        full = prog.cells(body)
        stale = [y for y, (a, b) in enumerate(zip(partial, full, strict=True), start=1) if a != b]
        assert not stale, f"rows {stale} differ from a full repaint; screen:\n{prog.text()}"

        # One plain move and one pan, each on its own: what goes over the wire (a loose bound;
        # the figures themselves are benchmarks: tests.pty_program.measure_bytes).
        for key in ("left", "ctrl+right"):
            prog.send(KEYS[key])
            sent = prog.read_until_quiet(0.3)
            assert 0 < sent < 100_000, f"{key}: {sent} bytes"

        prog.send("q")
        status = prog.wait_exit(10)
        assert status == 0, f"exit status {status}; screen:\n{prog.text()}"


def test_explorer_with_stdin_not_a_terminal_says_use_render_and_exits_2(tmp_path):
    # stderr (where Textual draws) is a terminal, stdin is not: only the stdin check can fire.
    master, slave = os.openpty()
    try:
        proc = subprocess.Popen(
            [sys.executable, "-m", "digitmap_tui", "--embedding", str(TSNE_FIXTURE)],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=slave,
            cwd=REPO_ROOT,
            env=program_env(tmp_path / "cache", SIZE),
        )
        os.close(slave)
        slave = -1
        try:
            stdout, _ = proc.communicate(timeout=30)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait(timeout=10)
        stderr = _read_all(master)
    finally:
        os.close(master)
        if slave >= 0:
            os.close(slave)
    assert proc.returncode == 2
    lines = stderr.decode().strip().splitlines()
    assert len(lines) == 1, stderr
    assert lines[0].startswith("digitmap: error:") and "digitmap render" in lines[0]
    assert stdout == b""


def _read_all(master: int) -> bytes:
    """What a finished program left in its terminal (EIO on Linux means: nothing more)."""
    chunks = []
    while select.select([master], [], [], 0.5)[0]:
        try:
            data = os.read(master, 65536)
        except OSError:
            break
        if not data:
            break
        chunks.append(data)
    return b"".join(chunks)


def test_render_json_grid_is_the_engines_grid(tmp_path):
    box = "-7,14,-16,8"
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "digitmap_tui",
            "render",
            "--embedding",
            str(TSNE_FIXTURE),
            "--json",
            f"--box={box}",  # "=": a value starting with "-" would read as a flag
            "--grid",
            "3x5",
        ],
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        cwd=REPO_ROOT,
        env=program_env(tmp_path / "cache", SIZE),
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    out = json.loads(result.stdout)
    coords = fixed_coords()
    rect = Rect.parse(box, "--box")
    expected = grid_select(coords, rect, 3, 5)
    assert out["grid"] == [[None if v == EMPTY else int(v) for v in row] for row in expected]
    labels = load_digits(tmp_path / "cache").labels
    assert out["indices"] == list_select(coords, rect, labels, "x").tolist()
    assert np.count_nonzero(expected != EMPTY) > 0, "the box must hold points to mean anything"


def test_print_selection_into_a_pipe_draws_at_the_terminal_size(cache_dir):
    """``idx=$(digitmap --print-selection)``: stdout is a pipe, yet the UI fills the terminal
    it draws on and follows its resizes; the indices arrive in the pipe at exit."""
    import os

    seed_cache(cache_dir)
    size = (140, 44)
    read_end, write_end = os.pipe()
    try:
        env = program_env(cache_dir, size)
        del env["COLUMNS"], env["LINES"]  # the size comes from the terminal, as in a shell
        with PtyProgram(["--print-selection"], env, size, stdout=write_end) as prog:
            os.close(write_end)
            write_end = -1
            prog.wait_for(lambda p: "Quit" in p.lines()[-1], 60, "the footer on the last row")
            assert TITLE in prog.lines()[0]
            prog.resize((100, 30))
            prog.wait_for(lambda p: "Quit" in p.lines()[29], 20, "the footer after a resize")
            prog.send("q")
            assert prog.wait_exit(20) == 0
            printed = b""
            while chunk := os.read(read_end, 65536):
                printed += chunk
    finally:
        os.close(read_end)
        if write_end >= 0:
            os.close(write_end)
    lines = printed.decode().split()
    assert lines and all(line.isdigit() for line in lines)
    assert b"\x1b" not in printed  # the pipe carries the indices only
