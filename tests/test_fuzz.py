"""Key, mouse and resize fuzzing of the real explorer (Hypothesis drives Textual's Pilot).

Every example starts the app on the digits with the fixed t-SNE map (all three methods are in
the cache, so switching is instant and no worker process is spawned), then plays random events:
every bound key plus junk keys, clicks, drags and wheel turns anywhere on the screen but the
footer, and terminal resizes from 10x5 to 250x80. Prompts (go to index, clusters, filter,
export, bookmark, screenshot) get random text, then Enter or Escape. After each event:

* the app is still running and raised nothing (it runs with ``debug=True``, so an exception
  ends it instead of becoming a notification);
* the box is a data rectangle, the selection is exactly the points strictly inside it;
* the panel shows exactly what the engine's rules give for the current box;
* at the end, back on the main screen, ``q`` quits with return code 0.

``DIGITMAP_FUZZ=long pytest -m slow tests/test_fuzz.py -s`` runs the long profile
(>= 10,000 events) and prints the events per second.
"""

from __future__ import annotations

import asyncio
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from textual import events as tevents

from digitmap_tui import keymap
from digitmap_tui.app import DigitmapApp, ExploreOptions
from digitmap_tui.cache import EmbeddingCache, embedding_key
from digitmap_tui.data import load_digits
from digitmap_tui.grid import inside
from digitmap_tui.methods.params import EmbedParams
from digitmap_tui.selection import Cells
from digitmap_tui.widgets.explorer import MIN_HEIGHT, MIN_WIDTH
from tests.factory import expected_slots, fixed_coords, make_app, shown_slots

#: Actions the fuzzer must not trigger by key: quitting ends the example early.
EXCLUDED_ACTIONS = {"quit"}

#: Keys nothing is bound to (or that Textual handles itself); none may break anything.
JUNK_KEYS = (
    "a", "d", "m", "o", "r", "v", "w", "1", "5", "9", "#", "@", "space", "ampersand", "grave_accent",
    "enter", "escape", "backspace", "delete", "home", "end", "insert", "f1", "f12", "ctrl+a",
    "ctrl+z", "ctrl+x", "ctrl+c", "alt+x", "shift+home",
)  # fmt: skip

#: What a prompt gets typed into it: digits, separators and markup-looking junk.
PROMPT_ALPHABET = "0123456789 ,#-.[]/abcxyz"


def bound_keys() -> list[str]:
    """Every key the explorer binds (read from the key table, so new keys are fuzzed too)."""
    keys: set[str] = set()
    for _, key in keymap.all_keys():
        if key.action not in EXCLUDED_ACTIONS:
            keys.update(key.key_list)
    return sorted(keys)


KEYS = bound_keys() + list(JUNK_KEYS)
KINDS = ("key",) * 8 + ("click", "drag", "wheel", "resize")
MODAL_KINDS = ("answer",) * 3 + ("escape", "key", "key", "resize", "click", "wheel")
COLORS = ("auto", "auto", "16", "256", "truecolor", "none")
GLYPHS = (None, None, "blocks", "shade", "ascii")


@dataclass
class Profile:
    examples: int
    events: int
    uncached_pca: bool  # leave PCA out of the cache: "p" then runs a real background job


PROFILES = {
    "default": Profile(examples=10, events=30, uncached_pca=False),
    "long": Profile(examples=100, events=110, uncached_pca=True),
}


@dataclass
class Tally:
    events: int = 0
    seconds: float = 0.0
    examples: int = 0
    kinds: dict[str, int] = field(default_factory=dict)


def make_fuzz_app(
    cache_dir: Path, *, uncached_pca: bool, colors: str = "auto", glyphs: str | None = None
) -> DigitmapApp:
    """The test factory's app (debug on), with every method's map already in the cache."""
    dataset = load_digits(cache_dir)
    cache = EmbeddingCache(cache_dir)
    xy = fixed_coords()
    # Different pictures per method, so that switching changes what is under the box.
    variants = {"umap": xy[:, ::-1] * 0.3 + 5.0}
    if not uncached_pca:
        variants["pca"] = xy * 0.05 - 1.0
    for method, coords in variants.items():
        key = embedding_key(dataset.fingerprint(), EmbedParams(method=method))
        cache.store(key, np.ascontiguousarray(coords), {"fixture": True})
    return make_app(cache_dir, ExploreOptions(color_system=colors, glyphs=glyphs, debug=True))


def main_screen(app: DigitmapApp) -> Any:
    return app.screen_stack[0]


def check_invariants(app: DigitmapApp, where: str) -> None:
    assert app._exception is None, f"{where}: {app._exception!r}"
    assert app.is_running, f"{where}: the app stopped"
    base = main_screen(app)
    w, h = app.size
    small = w < MIN_WIDTH or h < MIN_HEIGHT
    assert base.has_class("too-small") == small, f"{where}: 'too small' shown wrongly at {w}x{h}"
    s = app.session
    if small or not s.ready:
        # Hidden behind the "too small" message, or never had room to draw: nothing to check.
        return
    b = s.box
    assert b.x0 < b.x1 and b.y0 < b.y1, f"{where}: empty box {b}"
    assert np.sort(app.selection).tolist() == (
        s.subset.tolist() if s.subset is not None else inside(s.coords, b).tolist()
    ), f"{where}: the selection is not the points in the box"
    slots = shown_slots(app)
    want = expected_slots(app)
    assert np.array_equal(slots, want), f"{where}: panel {slots.tolist()} != rules {want.tolist()}"


def screen_point(app: DigitmapApp, fx: float, fy: float) -> tuple[int, int]:
    """A cell anywhere on the screen except the footer's row (a footer click may quit)."""
    w, h = app.size
    return min(w - 1, int(fx * w)), min(max(0, h - 2), int(fy * max(1, h - 1)))


async def play(
    pilot: Any, app: DigitmapApp, data: Any, n_events: int, tally: Tally, setup: str
) -> None:
    base = main_screen(app)
    history: list[str] = [f"start {app.size.width}x{app.size.height}"]
    for step in range(n_events):
        modal = app.screen is not base
        # On a prompt, the help or the bookmarks: mostly answer or leave it, but the terminal
        # may be resized and the mouse used under a dialog too.
        kind = data.draw(st.sampled_from(MODAL_KINDS if modal else KINDS), label="kind")
        if kind == "answer":
            text = data.draw(st.text(PROMPT_ALPHABET, max_size=8), label="text")
            await pilot.press(*text, "enter")
            what = f"answer {text!r}"
        elif kind == "escape":
            await pilot.press("escape")
            what = "escape"
        elif kind == "key":
            key = data.draw(st.sampled_from(KEYS), label="key")
            await pilot.press(key)
            what = f"key {key}"
        elif kind == "resize":
            w = data.draw(st.integers(10, 250), label="width")
            h = data.draw(st.integers(5, 80), label="height")
            await pilot.resize_terminal(w, h)
            what = f"resize {w}x{h}"
        else:
            frac = st.floats(0, 1, allow_nan=False)
            x, y = screen_point(app, data.draw(frac), data.draw(frac))
            if kind == "click":
                await pilot.click(None, offset=(x, y))
                what = f"click {x},{y}"
            elif kind == "drag":
                x1, y1 = screen_point(app, data.draw(frac), data.draw(frac))
                await pilot.mouse_down(None, offset=(x, y))
                await pilot._post_mouse_events([tevents.MouseMove], None, (x1, y1), button=1)
                await pilot.mouse_up(None, offset=(x1, y1))
                what = f"drag {x},{y} -> {x1},{y1}"
            else:
                up = data.draw(st.booleans(), label="up")
                cls = tevents.MouseScrollUp if up else tevents.MouseScrollDown
                await pilot._post_mouse_events([cls], None, (x, y))
                what = f"wheel {'up' if up else 'down'} {x},{y}"
        if modal:
            what = f"(dialog) {what}"
        await pilot.pause()
        if app.job is not None:
            # A real background job (long profile): let it finish or fail before checking.
            for _ in range(200):
                await pilot.pause(0.05)
                if app.job is None:
                    break
            await pilot.pause()
        tally.events += 1
        tally.kinds[kind] = tally.kinds.get(kind, 0) + 1
        history.append(what)
        check_invariants(app, f"{setup}, step {step}, after: {' | '.join(history[-15:])}")


async def run_example(cache_dir: Path, data: Any, profile: Profile, tally: Tally) -> None:
    # The colour-less paths (NO_COLOR's filter, plain glyphs) are fuzzed too.
    colors = data.draw(st.sampled_from(COLORS), label="colors")
    glyphs = data.draw(st.sampled_from(GLYPHS), label="glyphs")
    app = make_fuzz_app(cache_dir, uncached_pca=profile.uncached_pca, colors=colors, glyphs=glyphs)
    w = data.draw(st.integers(10, 250), label="start width")
    h = data.draw(st.integers(5, 80), label="start height")
    started = time.perf_counter()
    # Notifications on (run_test turns them off): their toasts are drawn like any widget.
    async with app.run_test(size=(w, h), notifications=True) as pilot:
        await pilot.pause()
        setup = f"colors={colors} glyphs={glyphs}"
        check_invariants(app, f"{setup}, start {w}x{h}")
        await play(pilot, app, data, profile.events, tally, setup)
        for _ in range(5):  # back to the main screen, then quit
            if app.screen is main_screen(app):
                break
            await pilot.press("escape")
            await pilot.pause()
        assert app.screen is main_screen(app), f"stuck on {app.screen!r}"
        await pilot.press("q")
        await pilot.pause()
    tally.seconds += time.perf_counter() - started
    tally.examples += 1
    assert app.return_code == 0, f"q did not quit cleanly: return code {app.return_code}"


def run_profile(name: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Tally:
    profile = PROFILES[name]
    # Exports, screenshots and bookmarks from random prompt answers land in tmp_path.
    monkeypatch.chdir(tmp_path)
    tally = Tally()
    counter = iter(range(10**9))

    @settings(
        max_examples=profile.examples,
        deadline=None,
        database=None,
        derandomize=name == "default",  # CI: the same events every run
        suppress_health_check=list(HealthCheck),
        # No shrinking: a failing run of app events takes many minutes to shrink; the failure
        # message carries the events that led to it instead.
        phases=[Phase.explicit, Phase.generate],
        report_multiple_bugs=True,
        print_blob=True,
    )
    @given(data=st.data())
    def fuzz(data: Any) -> None:
        cache_dir = tmp_path / f"cache-{next(counter)}"
        cache_dir.mkdir()
        asyncio.run(run_example(cache_dir, data, profile, tally))

    fuzz()
    return tally


def test_fuzz_keys_mouse_resizes(tmp_path, monkeypatch):
    tally = run_profile("default", tmp_path, monkeypatch)
    assert tally.events >= PROFILES["default"].examples * PROFILES["default"].events


@pytest.mark.slow
@pytest.mark.skipif(
    os.environ.get("DIGITMAP_FUZZ") != "long", reason="long fuzz: set DIGITMAP_FUZZ=long"
)
def test_fuzz_long(tmp_path, monkeypatch):
    tally = run_profile("long", tmp_path, monkeypatch)
    rate = tally.events / tally.seconds if tally.seconds else 0.0
    print(
        f"\nfuzz long: {tally.examples} examples, {tally.events} events in {tally.seconds:.0f} s"
        f" ({rate:.1f} events/s); by kind {tally.kinds}"
    )
    assert tally.events >= 10_000


# ----- the box is a data rectangle ---------------------------------------------------------------
VIEW_EVENTS = (
    "plus", "minus", "z", "0", "ctrl+left", "ctrl+right", "ctrl+up", "ctrl+down", "W", "A", "S",
    "D", "tab", "shift+tab", "g", "s", "[", "]", "{", "}", "pagedown", "pageup", "a", "question_mark", "escape",
    "resize", "wheel",
)  # fmt: skip
BOX_EVENTS = ("left", "right", "up", "down", "H", "J", "K", "L")
MOVES = {"left": (-1, 0), "right": (1, 0), "up": (0, -1), "down": (0, 1)}
SIZES = {"H": (-1, 0), "L": (1, 0), "K": (0, -1), "J": (0, 1)}


async def _play_box_rule(cache_dir: Path, data: Any) -> None:
    app = make_app(cache_dir, ExploreOptions(color=True, debug=True))
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause()
        s = app.session
        for step in range(25):
            kind = data.draw(st.sampled_from(("view",) * 3 + ("box",)), label="kind")
            before_box, before = s.box, np.sort(app.selection).tolist()
            if kind == "view":
                event = data.draw(st.sampled_from(VIEW_EVENTS), label="view event")
                if event == "resize":
                    w = data.draw(st.integers(MIN_WIDTH, 220), label="w")
                    h = data.draw(st.integers(MIN_HEIGHT, 70), label="h")
                    await pilot.resize_terminal(w, h)
                elif event == "wheel":
                    up = data.draw(st.booleans(), label="up")
                    cls = tevents.MouseScrollUp if up else tevents.MouseScrollDown
                    await pilot._post_mouse_events([cls], "#map", (5, 5))
                else:
                    await pilot.press(event)
                await pilot.pause()
                if app.screen is not app.explorer:
                    await pilot.press("escape")
                    await pilot.pause()
                # Nothing about the box was asked to change: neither the box nor its points do.
                assert s.box == before_box, f"step {step}: {event} moved the box"
                assert np.sort(app.selection).tolist() == before, f"step {step}: {event} changed it"
            else:
                key = data.draw(st.sampled_from(BOX_EVENTS), label="box event")
                cells = Cells(s.view, *app.explorer.map.map_size)
                px, py = cells.pitch
                await pilot.press(key)
                await pilot.pause()
                b = s.box
                if key in MOVES:
                    dx, dy = MOVES[key]
                    want_x0, want_y0 = before_box.x0 + dx * px, before_box.y0 - dy * py
                    # A move stops where the box's centre would leave the data.
                    if b.x0 != pytest.approx(want_x0) or b.y0 != pytest.approx(want_y0):
                        assert b == before_box, f"step {step}: {key} moved it elsewhere"
                    assert b.width == pytest.approx(before_box.width)
                else:
                    dw, dh = SIZES[key]
                    assert b.x0 == before_box.x0 and b.y1 == before_box.y1
                    want_w = max(before_box.width + dw * px, min(before_box.width, px))
                    want_h = max(before_box.height + dh * py, min(before_box.height, py))
                    assert (b.width, b.height) == pytest.approx((want_w, want_h))
                # The selection is the seed's np.where on the new rectangle.
                assert np.sort(app.selection).tolist() == inside(s.coords, b).tolist()
            assert np.array_equal(shown_slots(app), expected_slots(app)), f"step {step}"
        await pilot.press("q")


@settings(
    max_examples=6,
    deadline=None,
    database=None,
    derandomize=True,
    suppress_health_check=list(HealthCheck),
    phases=[Phase.explicit, Phase.generate],
)
@given(data=st.data())
def test_only_box_keys_change_the_selection_and_exactly_by_the_rectangle_rule(data: Any) -> None:
    """Zoom, pan, reset, zoom-to-box, resizes, grid, mode and panel changes, a dialog: the
    selected indices never change. Moves and resizes change them exactly as the data
    rectangle says."""
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        cache_dir = Path(tmp) / "cache"
        cache_dir.mkdir()
        asyncio.run(_play_box_rule(cache_dir, data))
