"""Key to settled screen in a real pseudo-terminal, as a user meets it.

Method. Each program runs as a user starts it, through its public command line, in its own
pseudo-terminal of 200 x 60 cells: ``TERM=xterm-256color`` (what SSH brings), no
``COLORTERM``, ``NO_COLOR`` or ``TEXTUAL_*`` settings (so Textual's frame cap is the one it
ships with), a private cache and data directory. The programs:

* ``floor``: ``python -m benchmarks.floor_app``, a minimal Textual app that updates one
  ``Static`` per key (the least any Textual app pays for a key);
* ``digits``: ``python -m digitmap_tui`` on the built-in digits, its t-SNE map in the cache;
* ``1m``: ``python -m digitmap_tui --data images.npy --labels labels.npy --embedding e.npy``
  on a million synthetic 8x8 images with a precomputed clustered embedding.

Once a program shows its first screen and has finished its start-up work (the explorer's
quality figures are in its title), the harness writes ``l`` (box move right) three times,
then ``h`` three times, and so on. For each key the clock runs from the write to the arrival
of the last byte of the redraw; the redraw has settled when no byte has come for 50 ms.
Output that still comes within 150 ms after such a pause is counted with the key too (its
time and bytes) and the key is reported as a late redraw, so a slow second refresh is never
hidden in the wait before the next key.
Between keys the harness waits 0.2-0.3 s (random, so keys land at every phase of Textual's
refresh timer). The programs take turns, six keys each, so that a noisy machine slows them
alike. For each key it also counts the bytes, and the changed-cell minimum: the stream is
fed to a terminal emulator (pyte) and the screens before and after the key are compared
cell by cell (character, colours and attributes); no terminal protocol can redraw with fewer
cells than that. Terminal queries go unanswered, as in a terminal without synchronized
output. Figures: medians with min and max.

``python -m benchmarks.keystrokes [--moves N] [--scenarios floor,digits,1m] [--n N]``
prints one JSON object.
"""

from __future__ import annotations

import argparse
import fcntl
import json
import os
import random
import select
import statistics
import struct
import subprocess
import sys
import tempfile
import termios
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pyte

from benchmarks._common import REPO, exit_on_hangup

SIZE = (200, 60)
#: A redraw has settled when no byte has arrived for this long.
QUIET_S = 0.05
#: How long after a settled redraw the harness still watches for late output.
LATE_S = 0.15
#: The text the explorer's panel title starts with once the box's selection is shown.
PANEL_TITLE = "grid 4×4 · "


@dataclass
class Move:
    """One key: seconds from the write to the last byte, bytes, cells that changed."""

    seconds: float
    nbytes: int
    changed_cells: int
    late_bytes: int = 0  # of those, the bytes that came after a pause longer than QUIET_S
    min_bytes: int = 0  # the fewest bytes any redraw of the changed cells needs


@dataclass
class Terminal:
    """A program in a pseudo-terminal; what it writes is timed as it arrives and drawn on a
    pyte screen. The program is killed when the ``with`` block ends."""

    argv: list[str]
    env: dict[str, str]
    cwd: Path
    size: tuple[int, int] = SIZE
    screen: pyte.Screen = field(init=False)
    stream: pyte.ByteStream = field(init=False)
    proc: subprocess.Popen[bytes] = field(init=False)
    master: int = field(init=False)

    def __post_init__(self) -> None:
        self.screen = pyte.Screen(*self.size)
        self.stream = pyte.ByteStream(self.screen)
        master, slave = os.openpty()
        fcntl.ioctl(
            slave, termios.TIOCSWINSZ, struct.pack("HHHH", self.size[1], self.size[0], 0, 0)
        )
        try:
            self.proc = subprocess.Popen(
                self.argv,
                stdin=slave,
                stdout=slave,
                stderr=slave,
                cwd=self.cwd,
                env=self.env,
                start_new_session=True,
            )
        except BaseException:
            os.close(master)
            raise
        finally:
            os.close(slave)
        self.master = master

    def __enter__(self) -> Terminal:
        return self

    def __exit__(self, *exc: object) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(timeout=10)
        os.close(self.master)

    def chunks(self, quiet: float, first: float, timeout: float) -> list[tuple[float, bytes]]:
        """What arrives from now until nothing has for ``quiet`` s, each piece with its
        arrival time: the first piece is awaited for up to ``first`` s, the whole for up to
        ``timeout`` s. Not yet drawn on the screen (drawing takes time)."""
        out: list[tuple[float, bytes]] = []
        now = time.perf_counter()
        deadline = now + timeout
        wait_until = now + first
        while True:
            left = min(wait_until, deadline) - time.perf_counter()
            if left <= 0 or not select.select([self.master], [], [], left)[0]:
                return out
            try:
                data = os.read(self.master, 1 << 20)
            except OSError:  # EIO: the program has closed the terminal
                data = b""
            if not data:
                return out
            arrived = time.perf_counter()
            out.append((arrived, data))
            wait_until = arrived + quiet

    def draw(self, chunks: list[tuple[float, bytes]]) -> None:
        for _, data in chunks:
            self.stream.feed(data)

    def settle(self, quiet: float, timeout: float = 30.0) -> None:
        """Read and draw until nothing has arrived for ``quiet`` seconds."""
        self.draw(self.chunks(quiet, quiet, timeout))

    def wait_for(self, predicate: Callable[[str], bool], timeout: float, what: str) -> None:
        """Read until the screen's text satisfies ``predicate``; a clear error on timeout."""
        deadline = time.perf_counter() + timeout
        while not predicate(self.text()):
            if time.perf_counter() > deadline or self.proc.poll() is not None:
                raise RuntimeError(
                    f"{self.argv[2:]}: gave up waiting for {what} "
                    f"(exit status {self.proc.poll()}); screen:\n{self.text()}"
                )
            self.draw(self.chunks(0.05, 0.05, 0.5))

    def text(self) -> str:
        return "\n".join(self.screen.display)

    def cells(self) -> list[tuple[Any, ...]]:
        width, height = self.size
        buffer = self.screen.buffer
        return [tuple(buffer[y][x]) for y in range(height) for x in range(width)]

    def press(self, key: bytes, timeout: float = 5.0) -> Move:
        """Write ``key``; time, bytes and changed cells of the redraw it causes."""
        before = self.cells()
        t0 = time.perf_counter()
        os.write(self.master, key)
        got = self.chunks(QUIET_S, timeout, timeout)
        # A redraw that pauses for longer than QUIET_S is not hidden: what still comes
        # within LATE_S belongs to this key too, and the key is counted as late.
        late = 0
        while got and (more := self.chunks(QUIET_S, LATE_S, timeout)):
            late += sum(len(d) for _, d in more)
            got += more
        self.draw(got)
        after = self.cells()
        changed = sum(a != b for a, b in zip(before, after, strict=True))
        seconds = got[-1][0] - t0 if got else float("nan")
        least = minimal_bytes(before, after, self.size[0])
        return Move(seconds, sum(len(d) for _, d in got), changed, late, least)


def _sgr(cell: tuple[Any, ...]) -> str:
    """The shortest SGR sequence that sets a pyte cell's attributes from a reset state
    (256-colour codes, as a terminal over SSH gets them)."""
    _, fg, bg, bold, italics, underscore, _strike, reverse, *_ = cell
    params = ["0"]
    for on, code in ((bold, "1"), (italics, "3"), (underscore, "4"), (reverse, "7")):
        if on:
            params.append(code)
    for colour, base in ((fg, 30), (bg, 40)):
        if colour == "default":
            continue
        names = ("black", "red", "green", "brown", "blue", "magenta", "cyan", "white")
        if colour in names:
            params.append(str(base + names.index(colour)))
        else:
            params.append(f"{base + 8};5;255")  # an indexed colour: the longest form
    return "\x1b[" + ";".join(params) + "m"


def minimal_bytes(before: list[Any], after: list[Any], width: int, gap: int = 3) -> int:
    """The fewest bytes a redraw of the cells that changed needs, as a lower bound for any
    renderer: per row, runs of changed cells (joined across gaps of at most ``gap``
    unchanged cells, which cost about as much as a cursor move), each run one cursor move,
    then each cell's character with an SGR sequence only where its attributes differ from
    the previous cell's."""
    total = 0
    height = len(after) // width
    for y in range(height):
        row = range(y * width, (y + 1) * width)
        xs = [i - y * width for i in row if before[i] != after[i]]
        if not xs:
            continue
        runs = [[xs[0], xs[0]]]
        for x in xs[1:]:
            if x - runs[-1][1] - 1 <= gap:
                runs[-1][1] = x
            else:
                runs.append([x, x])
        for x0, x1 in runs:
            total += len(f"\x1b[{y + 1};{x0 + 1}H")
            last = None
            for x in range(x0, x1 + 1):
                cell = after[y * width + x]
                attrs = cell[1:]
                if attrs != last:
                    total += len(_sgr(cell))
                    last = attrs
                total += len(cell[0].encode("utf-8"))
    return total


@dataclass
class Program:
    """How to start one scenario and how to tell it is ready for keys."""

    name: str
    argv: list[str]
    ready: list[tuple[str, Callable[[str], bool]]]
    ready_timeout: float = 120.0


def program_env(cache: Path) -> dict[str, str]:
    """A user's terminal: 256 colours, no Textual or colour overrides, private folders."""
    drop = ("NO_COLOR", "FORCE_COLOR", "COLORTERM", "DIGITMAP_DEBUG", "PYTHONDONTWRITEBYTECODE")
    env = {k: v for k, v in os.environ.items() if k not in drop and not k.startswith("TEXTUAL_")}
    env.update(
        TERM="xterm-256color",
        COLUMNS=str(SIZE[0]),
        LINES=str(SIZE[1]),
        DIGITMAP_CACHE_DIR=str(cache),
        DIGITMAP_DATA_DIR=str(cache.parent / "data"),
        PYTHONPYCACHEPREFIX=str(cache.parent / "pycache"),
        PYTHONPATH=str(REPO),
    )
    return env


def explorer_ready() -> list[tuple[str, Callable[[str], bool]]]:
    return [
        ("the panel", lambda text: PANEL_TITLE in text),
        ("the quality figures", lambda text: "trustworthiness" in text.splitlines()[0]),
    ]


def programs(names: list[str], tmp: Path, n_large: int) -> list[Program]:
    py = sys.executable
    out = []
    for name in names:
        if name == "floor":
            ready = [("the counter", lambda text: "moves: 0" in text)]
            out.append(Program(name, [py, "-m", "benchmarks.floor_app"], ready, 60))
        elif name == "digits":
            from tests.pty_program import seed_cache

            seed_cache(tmp / "cache")
            out.append(Program(name, [py, "-m", "digitmap_tui"], explorer_ready(), 120))
        elif name == "1m":
            from benchmarks.rendering import write

            data = tmp / "large"
            data.mkdir()
            write(data, n_large)
            argv = [py, "-m", "digitmap_tui", "--data", str(data / "images.npy")]
            argv += ["--labels", str(data / "labels.npy")]
            argv += ["--embedding", str(data / "embedding.npy")]
            out.append(Program(name, argv, explorer_ready(), 900))
        else:
            raise SystemExit(f"unknown scenario {name!r}: choose floor, digits, 1m")
    return out


def keys(count: int) -> list[bytes]:
    """l, l, l, h, h, h, ...: the box moves every time and comes back."""
    return [b"l" if (i // 3) % 2 == 0 else b"h" for i in range(count)]


def spread(values: list[float], scale: float = 1.0) -> dict[str, float]:
    v = [x * scale for x in values]
    return {"median": statistics.median(v), "min": min(v), "max": max(v)}


def summarise(moves: list[Move]) -> dict[str, Any]:
    timed = [m for m in moves if m.seconds == m.seconds]  # NaN: no redraw came
    return {
        "ms": spread([m.seconds for m in timed], 1000),
        "bytes": spread([m.nbytes for m in timed]),
        "changed_cells": spread([m.changed_cells for m in timed]),
        "min_bytes": spread([m.min_bytes for m in timed]),
        # bytes sent per move over the fewest a redraw of the changed cells needs
        "bytes_ratio": spread([m.nbytes / max(1, m.min_bytes) for m in timed]),
        "moves": len(timed),
        "no_redraw": len(moves) - len(timed),
        "late_redraws": sum(1 for m in moves if m.late_bytes),
    }


def measure(
    names: list[str], count: int, n_large: int, seed: int = 0, verbose: bool = False
) -> dict[str, Any]:
    """Every scenario in ``names``, ``count`` keys each, taking turns six keys at a time."""
    rng = random.Random(seed)
    with tempfile.TemporaryDirectory(prefix="digitmap-keys-") as tmp_name:
        tmp = Path(tmp_name)
        (tmp / "cache").mkdir()
        env = program_env(tmp / "cache")
        progs = programs(names, tmp, n_large)
        terms: dict[str, Terminal] = {}
        startup: dict[str, float] = {}
        try:
            for prog in progs:
                t0 = time.perf_counter()
                term = Terminal(prog.argv, env, REPO)
                terms[prog.name] = term
                for what, predicate in prog.ready:
                    term.wait_for(predicate, prog.ready_timeout, what)
                startup[prog.name] = time.perf_counter() - t0
                term.settle(1.0)
            moves: dict[str, list[Move]] = {p.name: [] for p in progs}
            sequence = keys(count)
            for start in range(0, count, 6):
                for prog in progs:
                    term = terms[prog.name]
                    for key in sequence[start : start + 6]:
                        term.settle(0.2 + 0.1 * rng.random())
                        move = term.press(key)
                        moves[prog.name].append(move)
                        if verbose:
                            sys.stderr.write(f"{prog.name} {key!r} {move}\n")
        finally:
            for term in terms.values():
                term.__exit__()
    out: dict[str, Any] = {"size": list(SIZE), "quiet_ms": QUIET_S * 1000}
    for name, got in moves.items():
        out[name] = summarise(got) | {"ready_s": startup[name]}
    if "floor" in out:
        floor = out["floor"]["ms"]["median"]
        for name in moves:
            if name != "floor":
                out[name]["ratio_to_floor"] = out[name]["ms"]["median"] / floor
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--moves", type=int, default=36, help="keys per program (default 36)")
    parser.add_argument("--scenarios", default="floor,digits,1m", help="floor,digits,1m")
    parser.add_argument("--n", type=int, default=1_000_000, help="points of the 1m scenario")
    parser.add_argument("--verbose", action="store_true", help="each key's figures on stderr")
    args = parser.parse_args()
    exit_on_hangup()
    names = [s.strip() for s in args.scenarios.split(",") if s.strip()]
    print(json.dumps(measure(names, args.moves, args.n, verbose=args.verbose)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
