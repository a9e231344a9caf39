"""True pixels end to end: the real program in a pseudo-terminal, its bytes decoded.

pyte draws text only, so the graphics in the transcript are replayed the way a kitty
terminal keeps them (:func:`tests.test_app_images.replay_kitty`) and compared, pixel for
pixel, with the digits' own images.
"""

from __future__ import annotations

import re

import numpy as np

from digitmap_tui.data import load_digits
from digitmap_tui.pixels import to_rgb8
from tests.pty_program import TITLE, PtyProgram, program_env, seed_cache
from tests.test_app_images import replay_kitty

SIZE = (160, 50)


def test_kitty_flag_and_tile_scale_reach_the_terminal(cache_dir):
    """``--images kitty --tile-scale 2``: every picture is a digit, 16x8 cells, crisp."""
    seed_cache(cache_dir)
    digits = to_rgb8(load_digits().images.reshape(-1, 8), (0, 16)).reshape(-1, 8, 8, 3)
    args = ["--images", "kitty", "--tile-scale", "2"]
    with PtyProgram(args, program_env(cache_dir, SIZE), SIZE) as prog:
        prog.wait_for(lambda p: TITLE in p.lines()[0], 60, f"the title {TITLE!r}")
        prog.wait_for(lambda p: b"\x1b_Ga=T" in p.transcript, 20, "a picture")
        prog.read_until_quiet(0.3)
        held: dict[int, tuple] = {}
        replay_kitty(prog.transcript.decode("utf-8", "replace"), held)
        assert len(held) >= 4
        for (x, y), keys, rgb in held.values():
            assert x > SIZE[0] // 2 and 0 < y < SIZE[1] - 1, "inside the panel"
            assert (keys["c"], keys["r"]) == ("16", "8")
            # no pixel size from the pty: 10x20-pixel cells, each image pixel 20x20 pixels
            assert rgb.shape == (160, 160, 3)
            small = rgb[::20, ::20]
            assert np.array_equal(rgb, np.repeat(np.repeat(small, 20, 0), 20, 1))
            assert (digits == small).all(axis=(1, 2, 3)).any(), "not one of the digits"
        prog.transcript.clear()
        prog.send("q")
        assert prog.wait_exit(10) == 0
    assert b"\x1b_Ga=d,d=A,q=2\x1b\\" in prog.transcript, "pictures left on the screen"


def test_auto_in_a_terminal_that_does_not_answer_draws_half_blocks(cache_dir):
    """The query goes out once, nothing answers: half blocks, no graphics at all."""
    seed_cache(cache_dir)
    with PtyProgram([], program_env(cache_dir, SIZE), SIZE) as prog:
        prog.wait_for(lambda p: TITLE in p.lines()[0], 60, f"the title {TITLE!r}")
        prog.wait_for(lambda p: any("▀" in ln or "▄" in ln for ln in p.lines()), 20, "tiles")
        prog.send("l")
        prog.read_until_quiet(0.3)
        prog.send("q")
        assert prog.wait_exit(10) == 0
    text = prog.transcript.decode("utf-8", "replace")
    assert text.count("\x1b_Gi=31,s=1,v=1,a=q") == 1  # the question, before Textual started
    assert "\x1b_Ga=" not in text and not re.search(r"\x1bP[0-9;]*q", text)
