"""Label review in the explorer (real keys): walk, decide, undo, box-wide decisions, markers,
resume after a restart or a kill, and the corrected labels out."""

from __future__ import annotations

import csv
import os
import signal
import time
from pathlib import Path

import numpy as np
import pytest

from digitmap_tui.analysis import pixel_neighbours
from digitmap_tui.cli import main
from digitmap_tui.data import load_digits
from digitmap_tui.grid import cell_of, inside
from digitmap_tui.review import ReviewLog
from digitmap_tui.suspects import suspects
from digitmap_tui.widgets.panel import HEADER_LINES
from digitmap_tui.widgets.reviewing import ReviewPane
from tests.factory import fixed_coords, make_app
from tests.pty_program import KEYS, TITLE, PtyProgram, program_env, seed_cache

SIZE = (120, 40)


async def settle(app, pilot) -> None:
    """Let the background ranking and neighbour searches finish and their results land."""
    for _ in range(3):
        await app.workers.wait_for_complete()
        await pilot.pause()


def review_line(app) -> str:
    return app.explorer.query_one("#review-line").plain


def tile_header(app, index: int) -> str:
    """The header line of ``index``'s tile as the panel draws it."""
    panel = app.explorer.panel
    where = np.argwhere(panel.content.slots == index)
    assert len(where), f"{index} is not in the panel"
    r, c = (int(v) for v in where[0])
    strip = panel.render_line(HEADER_LINES + r * panel.slot_height)
    text = "".join(seg.text for seg in strip)
    step = panel.tile_cols + 1
    return text[c * step : c * step + panel.tile_cols]


def map_char(app, index: int) -> str:
    """The character the map draws in the cell of point ``index``."""
    view = app.explorer.map
    cells = view.cells()
    col, row = cell_of(app.session.coords[index : index + 1], cells.view, cells.width, cells.height)
    strip = view.render_line(int(row[0]))
    return "".join(seg.text for seg in strip)[int(col[0])]


def ranking():
    ds = load_digits(Path(os.environ["DIGITMAP_CACHE_DIR"]))
    return suspects(ds.images, fixed_coords(), ds.labels)


# ----- the loop, end to end --------------------------------------------------------------------
async def test_suspect_relabel_quit_restart_resume_export(cache_dir, tmp_path, capsys):
    """R walks the suspects; a digit relabels and moves on; after a restart the new label is
    on the map and in the tiles from the first frame, R resumes at the first open suspect,
    and ``digitmap labels export`` writes it."""
    flagged = ranking().flagged.tolist()
    assert flagged[:2] == [1553, 1662]
    app = make_app(cache_dir)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        await pilot.press("R")
        await settle(app, pilot)
        s = app.session
        assert app.explorer.reviewing and s.state.mark == 1553
        assert 1553 in inside(s.coords, s.box) and 1553 in app.explorer.panel.content.slots
        assert review_line(app).startswith(
            "review #1553 L:8 → 1? score 1.00 │ 0 of 18 reviewed, 0 relabelled │ ⏎ ok"
        )
        await pilot.press("1")
        await settle(app, pilot)
        assert s.labels[1553] == 1 and s.dataset.labels[1553] == 8
        assert s.state.mark == 1662, "on to the next suspect"
        assert "│ 1 of 18 reviewed, 1 relabelled │" in review_line(app)
        await pilot.press("q")
    assert app.return_code == 0

    again = make_app(cache_dir)
    async with again.run_test(size=SIZE) as pilot:
        await pilot.pause()
        s = again.session
        assert s.labels[1553] == 1 and s.index.labels[1553] == 1, "from the first frame"
        await pilot.press("i", *"1553", "enter")
        await pilot.pause()
        assert tile_header(again, 1553).rstrip() == "1553:1*"
        assert map_char(again, 1553) == "1", "the marked point shows its new label"
        await pilot.press("R")
        await settle(again, pilot)
        assert s.state.mark == 1662, "the review resumes at the first open suspect"
        await pilot.press("q")

    out, changes = tmp_path / "labels.npy", tmp_path / "changes.csv"
    assert main(["labels", "export", "--out", str(out), "--changes", str(changes)]) == 0
    exported = np.load(out, allow_pickle=False)
    original = load_digits(cache_dir).labels
    assert exported[1553] == 1
    assert np.array_equal(np.delete(exported, 1553), np.delete(original, 1553))
    with changes.open() as fh:
        assert list(csv.reader(fh)) == [
            ["index", "old", "new", "decision"],
            ["1553", "8", "1", "relabel"],
        ]


async def test_confirm_invalid_skip_undo_and_the_markers(cache_dir):
    """Enter confirms, X marks not valid (tile flag x, dimmed), space skips, U undoes the
    latest decision and brings its point back under review."""
    flagged = ranking().flagged.tolist()
    app = make_app(cache_dir)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        await pilot.press("R")
        await settle(app, pilot)
        s, log = app.session, app.explorer.queue.log
        await pilot.press("enter")  # 1553: the label is right
        await settle(app, pilot)
        assert log.decision_of(flagged[0]) == "confirm" and s.state.mark == flagged[1]
        await pilot.press("X")  # 1662: not a valid sample
        await settle(app, pilot)
        assert log.decision_of(flagged[1]) == "invalid" and s.state.mark == flagged[2]
        assert s.labels[flagged[1]] == s.dataset.labels[flagged[1]], "keeps its label"
        await pilot.press("space")  # skip the third
        await settle(app, pilot)
        assert log.decision_of(flagged[2]) is None and s.state.mark == flagged[3]
        await pilot.press("i", *str(flagged[1]), "enter")
        await pilot.pause()
        header = tile_header(app, flagged[1])
        assert header.rstrip().endswith("x"), header
        assert "2 of 18 reviewed, 0 relabelled, 1 invalid" in review_line(app)
        await pilot.press("U")
        await settle(app, pilot)
        assert log.decision_of(flagged[1]) is None and s.state.mark == flagged[1]
        assert not tile_header(app, flagged[1]).rstrip().endswith("x")
        await pilot.press("escape")
        await pilot.pause()
        assert not app.explorer.reviewing
        assert app.explorer.map.frame.highlight is None, "the neighbours' highlight goes"


async def test_the_review_of_1118_shows_its_pixel_neighbours(cache_dir):
    """The point under review is the marked one: i 1118 brings the seed's 3 among the 7s up,
    with its suggestion, score and 8 nearest images; their places are highlighted."""
    app = make_app(cache_dir)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        await pilot.press("R")
        await settle(app, pilot)
        await pilot.press("i", *"1118", "enter")
        await settle(app, pilot)
        line = review_line(app)
        assert line.startswith("review #1118 L:3 → 7? score 0.61 │ 0 of 18 reviewed"), line
        pane = app.explorer.query_one(ReviewPane).text
        assert "suspect 6 of 18" in pane and "#1118" in pane and "L:3 → 7?" in pane
        assert "score 0.61" in pane and "8 nearest in pixel space" in pane
        near = pixel_neighbours(app.session.dataset.images, 1118, k=8)
        assert app.explorer.map.frame.highlight.tolist() == near.tolist()
        for j in near[:4]:
            assert f"{j}" in pane
        await pilot.press("7")
        await settle(app, pilot)
        assert app.session.labels[1118] == 7
        assert app.explorer.queue.log.label_of(1118) == 7


async def test_a_decision_for_the_whole_box_and_its_undo(cache_dir):
    """*: every point in the box gets the label (one decision); the map's cells inside the
    box show it; U takes the whole decision back."""
    app = make_app(cache_dir)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        s = app.session
        box = np.sort(app.selection)
        original = s.dataset.labels.copy()
        assert len(set(original[box].tolist())) > 1
        await pilot.press("asterisk", "7", "enter")
        await pilot.pause()
        assert (s.labels[box] == 7).all()
        outside = np.setdiff1d(np.arange(len(original)), box)
        assert np.array_equal(s.labels[outside], original[outside])
        assert s.selection().pairs == ((7, len(box)),)
        assert len(app.explorer.queue.log.decisions) == 1
        # A map cell holding only points of the box shows the new label.
        cells = app.explorer.map.cells()
        col, row = cell_of(s.coords, cells.view, cells.width, cells.height)
        flat = row.astype(np.int64) * cells.width + col.astype(np.int64)
        in_box = np.zeros(len(original), dtype=bool)
        in_box[box] = True
        pure = set(flat[in_box].tolist()) - set(flat[~in_box].tolist())
        checked = 0
        for cell in sorted(pure):
            r, c = divmod(cell, cells.width)
            text = "".join(seg.text for seg in app.explorer.map.render_line(r))
            if text[c] not in "┌┐└┘":
                assert text[c] == "7", (r, c, text)
                checked += 1
        assert checked > 3
        shown = app.explorer.panel.content.points
        for i in shown:
            want = "7" if original[i] == 7 else "7*"
            assert tile_header(app, int(i)).rstrip().endswith(want), tile_header(app, i)
        await pilot.press("U")
        await pilot.pause()
        assert np.array_equal(s.labels, original) and s.corrected is None
        assert len(app.explorer.queue.log.decisions) == 0


async def test_box_decisions_confirm_or_reject_and_bad_answers_change_nothing(cache_dir):
    app = make_app(cache_dir)
    async with app.run_test(size=SIZE, notifications=True) as pilot:
        await pilot.pause()
        log = app.explorer.queue.log
        box = np.sort(app.selection)
        await pilot.press("asterisk", *"seven", "enter")
        await pilot.pause()
        await pilot.press("asterisk", *"[b]999", "enter")
        await pilot.pause()
        assert log.decisions == []
        assert any("not a label" in n.message for n in app._notifications)
        await pilot.press("asterisk", "x", "enter")
        await pilot.pause()
        assert log.invalid_mask()[box].all()
        shown = app.explorer.panel.content.points
        assert len(shown) and all(tile_header(app, int(i)).rstrip().endswith("x") for i in shown)
        await pilot.press("asterisk", "c", "enter")
        await pilot.pause()
        assert not log.invalid_mask().any() and log.reviewed_mask()[box].all()


async def test_review_keys_do_nothing_outside_review_mode(cache_dir):
    """Digits, Enter, X and space decide only in review mode: 0 still resets the view."""
    app = make_app(cache_dir)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        s = app.session
        s.zoom(0.5)
        await pilot.press("1", "7", "enter", "X", "space", "number_sign")
        await pilot.pause()
        assert app.explorer.queue.log.decisions == [] and app.screen is app.explorer
        await pilot.press("0")
        await pilot.pause()
        assert s.view == s.home


async def test_the_pane_takes_the_panel_s_place_on_a_narrow_terminal(cache_dir):
    app = make_app(cache_dir)
    async with app.run_test(size=(100, 32)) as pilot:
        await pilot.pause()
        ex = app.explorer
        await pilot.press("R")
        await settle(app, pilot)
        assert ex.query_one(ReviewPane).size.width > 0
        assert not ex.panel.size.width, "the panel makes room for the pane"
        assert ex.map.size.width >= 40
        await pilot.press("escape")
        await pilot.pause()
        assert ex.panel.size.width > 0 and not ex.query_one(ReviewPane).display


async def test_a_damaged_log_is_reported_in_one_line_and_the_good_decisions_kept(cache_dir):
    ds = load_digits(cache_dir)
    log = ReviewLog.for_dataset(ds)
    log.relabel([1118], 7)
    with log.path.open("ab") as fh:
        fh.write(b'{"seq": 2, "op": "relab')  # a write cut short by a crash
    app = make_app(cache_dir)
    async with app.run_test(size=SIZE, notifications=True) as pilot:
        await pilot.pause()
        assert app.session.labels[1118] == 7
        notes = [n.message for n in app._notifications if n.severity == "warning"]
        assert any("ignored an incomplete last decision" in n for n in notes), notes
        assert all("\n" not in n for n in notes)


async def test_a_review_file_with_a_huge_label_is_not_shown(cache_dir):
    """A hand-made review file may relabel to 2**31 - 1 (the log accepts it): the map would
    need counts for every label up to it, so the corrections are not shown, and said so."""
    ds = load_digits(cache_dir)
    ReviewLog.for_dataset(ds).relabel([5], 2**31 - 1)
    app = make_app(cache_dir)
    async with app.run_test(size=SIZE, notifications=True) as pilot:
        await pilot.pause()
        assert app.session.corrected is None and app.session.n_labels == 10
        notes = [n.message for n in app._notifications if n.severity == "warning"]
        assert any("not shown" in n and "255" in n for n in notes), notes
        await pilot.press("R")
        await pilot.pause()
        assert not app.explorer.reviewing


async def test_export_the_corrected_labels_from_the_explorer(cache_dir, tmp_path):
    app = make_app(cache_dir)
    async with app.run_test(size=SIZE, notifications=True) as pilot:
        await pilot.pause()
        await pilot.press("i", *"1118", "enter", "R")
        await settle(app, pilot)
        await pilot.press("7")
        await settle(app, pilot)
        target = tmp_path / "fixed.csv"
        explorer = app.explorer
        assert explorer.export_labels_to(target) is not None
        rows = list(csv.reader(target.open()))
        assert rows[0] == ["index", "label"] and rows[1119] == ["1118", "7"]
        changes = list(csv.reader((tmp_path / "fixed-changes.csv").open()))
        assert ["1118", "3", "7", "relabel"] in changes
        before = target.read_bytes()
        assert explorer.export_labels_to(target) is None, "never over an existing file"
        assert target.read_bytes() == before
        await pilot.press("E")
        await pilot.pause()
        assert app.screen.value.endswith(".npy")  # the prompt offers a fresh .npy name


# ----- a real terminal: nothing decided is lost --------------------------------------------------
def test_killing_the_explorer_mid_review_loses_no_decision(cache_dir):
    """The real program in a pseudo-terminal: decisions typed one after another, each seen on
    screen, then SIGKILL while the next key is on its way: every decision the screen
    acknowledged is in the review file, and the next start shows them."""
    seed_cache(cache_dir)
    flagged = ranking().flagged.tolist()
    keys = ["1", "enter", "X", "5", "enter"]
    with PtyProgram([], program_env(cache_dir, SIZE), SIZE) as prog:
        prog.wait_for(lambda p: TITLE in p.lines()[0], 60, "the title")
        prog.read_until_quiet(0.3)
        prog.send("R")
        prog.wait_for(lambda p: "0 of 18 reviewed" in p.text(), 60, "the review")
        for done, key in enumerate(keys, start=1):
            prog.send(KEYS.get(key, key if key != "enter" else "\r"))
            prog.wait_for(
                lambda p, d=done: f"{d} of 18 reviewed" in p.text(), 20, f"decision {done}"
            )
        prog.send("7")  # one more, killed at once: it may or may not have been written
        os.killpg(prog.proc.pid, signal.SIGKILL)
        prog.proc.wait(10)
    ds = load_digits(cache_dir)
    log = ReviewLog.for_dataset(ds)
    assert log.problem is None
    expected = {0: "relabel", 1: "confirm", 2: "invalid", 3: "relabel", 4: "confirm"}
    for k, op in expected.items():
        assert log.decision_of(flagged[k]) == op, (k, flagged[k])
    assert log.label_of(flagged[0]) == 1 and log.label_of(flagged[3]) == 5
    assert len(log.decisions) in (5, 6)


def test_quitting_does_not_wait_for_a_ranking_in_progress(tmp_path):
    """R on 45,000 points starts a ranking that takes tens of seconds (an exact pixel-space
    neighbour search); q ends the program at once: the ranking stops between chunks."""
    rng = np.random.default_rng(0)
    n = 45_000
    np.save(tmp_path / "x.npy", rng.random((n, 64)).astype(np.float32))
    np.save(tmp_path / "y.npy", rng.integers(0, 10, n))
    np.save(tmp_path / "e.npy", rng.normal(size=(n, 2)))
    cache = tmp_path / "cache"
    cache.mkdir()
    args = ["--data", str(tmp_path / "x.npy"), "--labels", str(tmp_path / "y.npy")]
    args += ["--embedding", str(tmp_path / "e.npy")]
    with PtyProgram(args, program_env(cache, SIZE), SIZE) as prog:
        prog.wait_for(lambda p: "digitmap" in p.lines()[0], 60, "the title")
        prog.read_until_quiet(0.3)
        prog.send("R")
        prog.wait_for(lambda p: "ranking suspects" in p.text(), 20, "the ranking")
        time.sleep(1.0)
        prog.send("q")
        status = prog.wait_exit(15)
        assert status == 0, f"still running 15 s after q (status {status})"


@pytest.mark.parametrize("key", ["R", "asterisk", "U", "E"])
async def test_without_labels_review_says_so(cache_dir, key):
    from dataclasses import replace

    from digitmap_tui.app import DigitmapApp, ExploreOptions
    from digitmap_tui.cache import EmbeddingCache
    from digitmap_tui.inputs import Inputs
    from digitmap_tui.methods.params import EmbedParams

    ds = replace(load_digits(cache_dir), labels=None)
    inputs = Inputs(ds, EmbedParams(), EmbeddingCache(cache_dir), fixed_coords(), "fixed.npy")
    app = DigitmapApp(inputs, ExploreOptions(color=True))
    async with app.run_test(size=SIZE, notifications=True) as pilot:
        await pilot.pause()
        await pilot.press(key)
        await pilot.pause()
        assert not app.explorer.reviewing
        assert any("needs labels" in n.message for n in app._notifications)


async def test_a_failing_relabel_is_reported_and_the_session_goes_on(cache_dir, monkeypatch):
    from digitmap_tui.reviewqueue import ReviewQueue

    def boom(*args, **kwargs):
        raise RuntimeError("boom")

    monkeypatch.setattr(ReviewQueue, "decide", boom)
    app = make_app(cache_dir)
    async with app.run_test(size=SIZE, notifications=True) as pilot:
        await pilot.pause()
        await pilot.press("R")
        await settle(app, pilot)
        await pilot.press("3")
        await pilot.pause()
        assert any("boom" in n.message for n in app._notifications if n.severity == "error")
        await pilot.press("g")
        await pilot.pause()
        assert app.session.state.list_mode, "keys still work"
        await pilot.press("q")
    assert app.return_code == 0
