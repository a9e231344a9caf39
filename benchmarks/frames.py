"""Keystroke-to-frame time and bytes on the wire, measured inside the headless app.

Method. The app runs under ``App.run_test()`` (Textual's headless driver) at 120x40. A key is
delivered exactly as a terminal driver delivers it (``driver.send_message(events.Key)``), and
the clock starts just before that. ``App._display`` -- the one place where Textual turns a
compositor update into what a real driver writes -- is wrapped: every update is rendered
into terminal bytes with a 256-colour console (``TERM=xterm-256color`` over SSH, no
``COLORTERM``), the bytes are attributed to the widget whose region each chop lies in, and
the time is taken after rendering. A key's frame time is from the key to the *last* update
it caused (the panel follows the map one message later); its bytes are the sum over those
updates, plus the cursor move and synchronized-output markers each update carries.
Textual's screen-update timer (60 Hz by default) would add up to 16.7 ms of idle waiting
that is not work; ``TEXTUAL_FPS`` is raised so that the figure is the work itself:
binding, handlers, selections, ``render_line`` of the dirty rows and the compositor.

Run as ``python -m benchmarks.frames SCENARIO`` (one JSON object on stdout); run.py does so
in a fresh process per scenario.
"""

from __future__ import annotations

import os

# Must precede the first Textual import (the update period is read at import time).
os.environ["TEXTUAL_FPS"] = "2000"

import asyncio
import io
import itertools
import json
import statistics
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rich.control import Control

from benchmarks._common import clustered_points, synthetic_images

SIZE = (120, 40)
#: Escape codes around every update when the terminal supports synchronized output.
SYNC_BYTES = len("\x1b[?2026h") + len("\x1b[?2026l")


@dataclass
class Frame:
    """What one key cost: ms to the last update (wall and this thread's CPU), bytes per widget."""

    ms: float
    cpu_ms: float = 0.0
    bytes: Counter[str] = field(default_factory=Counter)

    @property
    def total(self) -> int:
        return sum(self.bytes.values())


class Recorder:
    """Wraps ``app._display``: renders each update to bytes and notes when it was done."""

    def __init__(self, app: Any, regions: dict[str, Any]) -> None:
        from rich.console import Console

        self.console = Console(
            file=io.StringIO(),
            color_system="256",
            force_terminal=True,
            legacy_windows=False,
            width=SIZE[0],
            height=SIZE[1],
        )
        self.regions = regions
        #: (wall, cpu) when each update was written, and what it wrote per widget
        self.updates: list[tuple[float, float, Counter[str]]] = []
        #: wall and cpu seconds spent here attributing bytes: not the app's work
        self.overhead = [0.0, 0.0]
        original = app._display

        def display(screen: Any, renderable: Any) -> None:
            if renderable is not None:
                # What a real driver does in _display: render the update to terminal codes.
                text = renderable.render_segments(self.console)
                wall, cpu = time.perf_counter(), time.thread_time()
                wall_spent, cpu_spent = self.overhead
                counted = self.attribute(renderable, len(text.encode("utf-8")))
                # Clocks as if attributing took no time, so the next update is not charged.
                self.updates.append((wall - wall_spent, cpu - cpu_spent, counted))
                self.overhead[0] += time.perf_counter() - wall
                self.overhead[1] += time.thread_time() - cpu
            original(screen, renderable)

        app._display = display

    def owner(self, x: int, y: int) -> str:
        for name, region in self.regions.items():
            if region.contains(x, y):
                return name
        return "other"

    def attribute(self, update: Any, total: int) -> Counter[str]:
        """Split ``total`` bytes by widget: each dirty span is rendered alone, cut at the
        widgets' edges, with the renderer in use; the rest (newlines, the cursor move and
        synchronized-output markers every update carries) counts as "other"."""
        from textual._compositor import ChopsUpdate

        out: Counter[str] = Counter()
        total += len(Control.move_to(0, 0).segment.text) + SYNC_BYTES
        if isinstance(update, ChopsUpdate):
            for y, x1, x2 in update.spans:
                cuts = sorted(
                    {x1, x2}
                    | {
                        edge
                        for r in self.regions.values()
                        if r.y <= y < r.bottom
                        for edge in (r.x, r.right)
                        if x1 < edge < x2
                    }
                )
                for a, b in itertools.pairwise(cuts):
                    part = ChopsUpdate(update.chops, [(y, a, b)], update.chop_ends)
                    n = len(part.render_segments(self.console).encode("utf-8"))
                    out[self.owner(a, y)] += n
        else:
            out["layout"] = total
        out["other"] += total - sum(out.values())
        return out


async def settle(pilot: Any, recorder: Recorder, quiet: float = 0.15, limit: float = 30) -> None:
    """Wait until no update has been displayed for ``quiet`` seconds."""
    deadline = time.perf_counter() + limit
    await pilot.pause()
    while time.perf_counter() < deadline:
        last = recorder.updates[-1][0] + recorder.overhead[0] if recorder.updates else 0.0
        if time.perf_counter() - last >= quiet:
            return
        await asyncio.sleep(0.02)


async def press(app: Any, pilot: Any, recorder: Recorder, key: str) -> Frame:
    """Deliver ``key`` as a terminal would and measure the frame it causes."""
    from textual import events

    await settle(pilot, recorder)
    before = len(recorder.updates)
    wall_spent, cpu_spent = recorder.overhead
    t0 = time.perf_counter() - wall_spent
    c0 = time.thread_time() - cpu_spent
    app._driver.send_message(events.Key(key, None))
    await settle(pilot, recorder, quiet=0.1)
    caused = recorder.updates[before:]
    if not caused:
        return Frame(0.0)
    wall, cpu, _ = caused[-1]
    frame = Frame((wall - t0) * 1000, (cpu - c0) * 1000)
    for _, _, counted in caused:
        frame.bytes.update(counted)
    return frame


def digits_app(cache_dir: Path, glyphs: str | None = None) -> Any:
    """The explorer on the built-in digits with the fixed t-SNE map in its cache."""
    from digitmap_tui.app import ExploreOptions
    from tests.factory import make_app

    return make_app(cache_dir, ExploreOptions(color=True, glyphs=glyphs, quality=False))


def large_app(n: int, quality: bool = False) -> Any:
    """The explorer on ``n`` synthetic 8x8 images with a clustered precomputed embedding."""
    from digitmap_tui.app import DigitmapApp, ExploreOptions
    from digitmap_tui.cache import EmbeddingCache
    from digitmap_tui.data import Dataset
    from digitmap_tui.inputs import Inputs
    from digitmap_tui.methods.params import EmbedParams

    xy, labels = clustered_points(n)
    dataset = Dataset(synthetic_images(labels), labels, f"synthetic-{n}")
    inputs = Inputs(dataset, EmbedParams(method="pca"), EmbeddingCache(None), xy, "synthetic.npy")
    app = DigitmapApp(inputs, ExploreOptions(color=True, quality=quality))
    app.theme = "textual-dark"
    return app


async def measure(app: Any, keys: list[str]) -> list[Frame]:
    """Frames for ``keys`` pressed one after the other in ``app`` (120x40)."""
    from digitmap_tui.widgets.mapview import MapView
    from digitmap_tui.widgets.panel import ImagePanel

    frames: list[Frame] = []
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        await app.workers.wait_for_complete()
        regions = {
            "map": app.query_one(MapView).region,
            "panel": app.query_one(ImagePanel).region,
        }
        recorder = Recorder(app, regions)
        await settle(pilot, recorder, quiet=0.3)
        for key in keys:
            frames.append(await press(app, pilot, recorder, key))
    return frames


def box_moves(count: int) -> list[str]:
    """Right, right, right, left, left, left, ...: the box moves every time and stays put."""
    keys = []
    for i in range(count):
        keys.append("right" if (i // 3) % 2 == 0 else "left")
    return keys


def pans(count: int) -> list[str]:
    return ["ctrl+right" if (i // 2) % 2 == 0 else "ctrl+left" for i in range(count)]


def summarise(frames: list[Frame]) -> dict[str, float]:
    """Medians over the frames: ms, bytes in all, bytes of the map, bytes of the panel."""
    return {
        "ms": statistics.median(f.ms for f in frames),
        "cpu_ms": statistics.median(f.cpu_ms for f in frames),
        "bytes": statistics.median(f.total for f in frames),
        "bytes_map": statistics.median(f.bytes["map"] for f in frames),
        "bytes_panel": statistics.median(f.bytes["panel"] for f in frames),
        "ms_min": min(f.ms for f in frames),
        "frames": len(frames),
    }


def run(scenario: str, repeats: int) -> dict[str, Any]:
    """One scenario: "digits", "digits-shade", "digits-ascii", "digits-pan", and box moves
    ("large:N") or pans ("large-pan:N") on N synthetic points."""
    with tempfile.TemporaryDirectory(prefix="digitmap-bench-") as tmp:
        cache = Path(tmp) / "cache"
        cache.mkdir()
        os.environ["DIGITMAP_CACHE_DIR"] = str(cache)
        os.environ["DIGITMAP_DATA_DIR"] = str(Path(tmp) / "data")
        if scenario.startswith(("large:", "large-pan:")):
            n = int(scenario.split(":", 1)[1])
            keys = pans(repeats) if scenario.startswith("large-pan:") else box_moves(repeats)
            frames = asyncio.run(measure(large_app(n), keys))
            return summarise(frames)
        glyphs = {"digits-shade": "shade", "digits-ascii": "ascii"}.get(scenario, "blocks")
        keys = pans(repeats) if scenario == "digits-pan" else box_moves(repeats)
        frames = asyncio.run(measure(digits_app(cache, glyphs), keys))
        return summarise(frames)


if __name__ == "__main__":
    name = sys.argv[1] if len(sys.argv) > 1 else "digits"
    count = int(sys.argv[2]) if len(sys.argv) > 2 else 12
    print(json.dumps(run(name, count)))
