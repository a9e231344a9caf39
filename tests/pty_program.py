"""The real ``digitmap`` in a pseudo-terminal, read through pyte: end-to-end tests, byte figures.

A program started here sees what a user's terminal gives it: a TTY on stdin, stdout and stderr
of a fixed size, ``TERM=xterm-256color`` (what SSH brings), no ``COLORTERM``, ``NO_COLOR`` or
``TEXTUAL_*`` settings, and an isolated cache holding the fixed t-SNE map (a second start).
Every wait has a deadline; the program is killed when the ``with`` block ends.
"""

from __future__ import annotations

import fcntl
import os
import select
import struct
import subprocess
import sys
import termios
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pyte

from digitmap_tui.cache import EmbeddingCache, embedding_key
from digitmap_tui.data import load_digits
from digitmap_tui.methods.params import EmbedParams

REPO_ROOT = Path(__file__).resolve().parent.parent
FIXTURE = Path(__file__).parent / "fixtures" / "digits_tsne_seed0.npy"
#: The title the explorer shows on the built-in digits.
TITLE = "digitmap · digits (1797)"
#: Keys as xterm sends them.
KEYS = {
    "right": "\x1b[C",
    "left": "\x1b[D",
    "up": "\x1b[A",
    "down": "\x1b[B",
    "shift+right": "\x1b[1;2C",
    "shift+left": "\x1b[1;2D",
    "shift+up": "\x1b[1;2A",
    "shift+down": "\x1b[1;2B",
    "ctrl+right": "\x1b[1;5C",
    "ctrl+left": "\x1b[1;5D",
    "ctrl+up": "\x1b[1;5A",
    "ctrl+down": "\x1b[1;5B",
}


def seed_cache(cache_dir: Path, coords: np.ndarray | None = None, method: str = "tsne") -> None:
    """Put the fixed embedding in ``cache_dir`` the way make_app does: a user's second start."""
    dataset = load_digits(cache_dir)
    key = embedding_key(dataset.fingerprint(), EmbedParams(method=method))
    xy = np.load(FIXTURE, allow_pickle=False) if coords is None else coords
    EmbeddingCache(cache_dir).store(key, xy, {"fixture": True})


def program_env(cache_dir: Path, size: tuple[int, int] = (120, 40)) -> dict[str, str]:
    """A user's terminal: 256 colours, no Textual or colour overrides, an isolated cache."""
    drop = ("NO_COLOR", "FORCE_COLOR", "COLORTERM", "DIGITMAP_DEBUG")
    env = {k: v for k, v in os.environ.items() if k not in drop and not k.startswith("TEXTUAL_")}
    env.update(
        TERM="xterm-256color",
        COLUMNS=str(size[0]),
        LINES=str(size[1]),
        DIGITMAP_CACHE_DIR=str(cache_dir),
        DIGITMAP_DATA_DIR=str(cache_dir.parent / "data"),
        PYTHONPATH=str(REPO_ROOT),
    )
    return env


class PtyProgram:
    """``python -m digitmap_tui ARGS`` (or ``command``) in a pseudo-terminal, drawn on pyte.

    ``transcript`` holds every byte the program wrote to the terminal (Textual draws on
    stderr; in a terminal stdout and stderr are the same device). No wait goes past
    ``lifetime`` seconds from the start, whatever its own timeout.

    Like a real terminal it answers what pyte answers (the device-attributes query, as a
    VT102 without sixel; a cursor-position report): the explorer's image-protocol probe
    then ends at once, as in any terminal a user has, instead of waiting out its timeout.
    ``answer=False`` plays a terminal that answers nothing.
    """

    def __init__(
        self,
        args: list[str],
        env: dict[str, str],
        size: tuple[int, int] = (120, 40),
        lifetime: float = 60.0,
        stdout: int | None = None,
        command: list[str] | None = None,
        answer: bool = True,
    ) -> None:
        self.size = size
        self.deadline = time.monotonic() + lifetime
        self.screen = pyte.Screen(*size)
        if answer:
            self.screen.write_process_input = self._answer  # type: ignore[method-assign]
        self.stream = pyte.ByteStream(self.screen)
        self.transcript = bytearray()
        self.closed = False
        master, slave = os.openpty()
        fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", size[1], size[0], 0, 0))
        try:
            self.proc = subprocess.Popen(
                command or [sys.executable, "-m", "digitmap_tui", *args],
                stdin=slave,
                stdout=slave if stdout is None else stdout,
                stderr=slave,
                cwd=REPO_ROOT,
                env=env,
                start_new_session=True,  # its own session, like a program started in a shell
            )
        except BaseException:
            os.close(master)
            raise
        finally:
            os.close(slave)
        self.master = master

    def _answer(self, data: str) -> None:
        if not self.closed:
            try:
                os.write(self.master, data.encode())
            except OSError:  # the program has gone
                pass

    def __enter__(self) -> PtyProgram:
        return self

    def __exit__(self, *exc: object) -> None:
        self.kill()

    def kill(self) -> None:
        """Stop the program (if it still runs) and close the terminal."""
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(timeout=10)
        self._close()

    def hang_up(self) -> None:
        """Close the terminal's master side, as a dropped SSH connection does."""
        self._close()

    def _close(self) -> None:
        if not self.closed:
            os.close(self.master)
            self.closed = True

    def _deadline(self, timeout: float) -> float:
        return min(time.monotonic() + timeout, self.deadline)

    def resize(self, size: tuple[int, int]) -> None:
        """Resize the terminal, as a terminal window does (the program gets SIGWINCH)."""
        import signal

        self.size = size
        self.screen.resize(size[1], size[0])
        fcntl.ioctl(self.master, termios.TIOCSWINSZ, struct.pack("HHHH", size[1], size[0], 0, 0))
        os.killpg(self.proc.pid, signal.SIGWINCH)

    def send(self, keys: str) -> None:
        """Type ``keys`` as the terminal sends them (see :data:`KEYS`)."""
        os.write(self.master, keys.encode())

    def read(self, timeout: float) -> int:
        """Feed what arrives within ``timeout`` seconds to the screen; the bytes read (0: none)."""
        if self.closed or not select.select([self.master], [], [], timeout)[0]:
            return 0
        try:
            data = os.read(self.master, 65536)
        except OSError:  # EIO: the program has closed its end of the terminal
            data = b""
        if not data:
            self._close()
            return 0
        self.transcript += data
        self.stream.feed(data)
        return len(data)

    def lines(self) -> list[str]:
        """The screen as text, one string per row."""
        return list(self.screen.display)

    def text(self) -> str:
        return "\n".join(self.lines())

    def cells(self, rows: range | None = None) -> list[list[tuple[object, ...]]]:
        """Every cell with its attributes (character, colours, bold, reverse ...), by row."""
        width, height = self.size
        buffer = self.screen.buffer
        return [[tuple(buffer[y][x]) for x in range(width)] for y in rows or range(height)]

    def wait_for(self, predicate: Callable[[PtyProgram], bool], timeout: float, what: str) -> None:
        """Read until ``predicate(self)`` holds; AssertionError (with the screen) on timeout."""
        deadline = self._deadline(timeout)
        while not predicate(self):
            if time.monotonic() > deadline or self.closed:
                raise AssertionError(
                    f"gave up waiting for {what}; exit status {self.proc.poll()}; "
                    f"screen:\n{self.text()}"
                )
            self.read(0.05)

    def read_until_quiet(self, idle: float = 0.3, timeout: float = 10.0) -> int:
        """Read until nothing arrives for ``idle`` seconds (at most ``timeout``); bytes read."""
        total = 0
        deadline = self._deadline(timeout)
        quiet_since = time.monotonic()
        while time.monotonic() < deadline and not self.closed:
            n = self.read(0.02)
            if n:
                total += n
                quiet_since = time.monotonic()
            elif time.monotonic() - quiet_since >= idle:
                break
        return total

    def wait_exit(self, timeout: float) -> int | None:
        """Keep reading (a full terminal would block the program) until it exits; its status."""
        deadline = self._deadline(timeout)
        while self.proc.poll() is None and time.monotonic() < deadline:
            self.read(0.05)
        return self.proc.poll()


def measure_bytes(
    keys: list[str],
    cache_dir: Path,
    size: tuple[int, int] = (120, 40),
    idle: float = 0.3,
    args: list[str] | None = None,
) -> list[int]:
    """Bytes the explorer writes to a real terminal for each key, after start-up has settled.

    ``keys`` are names from :data:`KEYS` or literal text ("m", "g"); the program runs on the
    built-in digits with the fixed t-SNE map seeded into ``cache_dir``. A key's figure is all
    that is written until the output has been quiet for ``idle`` seconds. Benchmark figures,
    never test assertions.
    """
    seed_cache(cache_dir)
    counts: list[int] = []
    with PtyProgram(args or [], program_env(cache_dir, size), size) as prog:
        prog.wait_for(lambda p: TITLE in p.lines()[0], 60, "the title")
        prog.read_until_quiet(idle)
        for key in keys:
            prog.send(KEYS.get(key, key))
            counts.append(prog.read_until_quiet(idle))
        prog.send("q")
        prog.wait_exit(10)
    return counts
