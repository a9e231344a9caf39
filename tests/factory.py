"""The app factory that Pilot tests and snapshot tests share: a fixed embedding, pinned looks."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np

from digitmap_tui.app import DigitmapApp, ExploreOptions
from digitmap_tui.cache import EmbeddingCache
from digitmap_tui.cli import Inputs
from digitmap_tui.data import load_digits
from digitmap_tui.embed import EmbedParams

FIXTURES = Path(__file__).parent / "fixtures"
#: openTSNE (seed 0) on the digits, rounded to 4 decimals: a fixed picture for every test.
TSNE_FIXTURE = FIXTURES / "digits_tsne_seed0.npy"


def fixed_coords() -> np.ndarray:
    return np.load(TSNE_FIXTURE, allow_pickle=False)


def make_app(
    cache_dir: Path,
    options: ExploreOptions | None = None,
    coords: np.ndarray | None = None,
    *,
    precomputed: bool = False,
    method: str = "tsne",
    quality: bool = False,
) -> DigitmapApp:
    """An explorer on the built-in digits with the fixed t-SNE map already in its cache.

    With ``precomputed`` the coordinates come in as ``--embedding`` would bring them; otherwise
    they are stored in the (isolated) cache so the app finds them as a user's second start does.
    """
    dataset = load_digits(cache_dir)
    params = EmbedParams(method=method)
    cache = EmbeddingCache(cache_dir)
    xy = fixed_coords() if coords is None else coords
    if not precomputed:
        from digitmap_tui.cache import embedding_key

        cache.store(embedding_key(dataset.fingerprint(), params), xy, {"fixture": True})
    inputs = Inputs(
        dataset, params, cache, xy if precomputed else None, "fixed.npy" if precomputed else None
    )
    # Quality figures are off unless asked for: they land in the title a moment later.
    app = DigitmapApp(inputs, replace(options or ExploreOptions(color=True), quality=quality))
    app.theme = "textual-dark"
    return app


def expected_slots(app: DigitmapApp) -> np.ndarray:
    """What the panel must show for the current box, by the engine's own rules.

    Grid mode: the seed grid of the box (or, as mean grid, a custom tile ``-2 - k`` for each
    non-empty cell in reading order), cut to the rows that fit. List mode, or a subset shown
    as a list (misfits, a split): the current page in the list order, padded with -1.
    """
    from digitmap_tui.analysis import grid_mean_images
    from digitmap_tui.grid import grid_select, list_select
    from digitmap_tui.widgets.mapview import MapView
    from digitmap_tui.widgets.panel import ImagePanel

    base = app.screen_stack[0]  # the explorer's screen, even under a dialog
    m = base.query_one("#map", MapView)
    panel = base.query_one(ImagePanel)
    rect = m.box_rect()
    coords = app.coords
    labels = app.dataset.labels
    assert coords is not None and rect is not None
    subset = getattr(app, "subset", None)
    if app.list_mode or subset is not None:
        if subset is None:
            chosen = list_select(coords, rect, labels, app.sort)  # type: ignore[arg-type]
        else:
            chosen = np.sort(np.asarray(subset, dtype=np.int64))
            key = {"x": coords[chosen, 0], "y": coords[chosen, 1]}.get(app.sort)
            if key is None and app.sort == "label" and labels is not None:
                key = labels[chosen]
            if key is not None:
                chosen = chosen[np.argsort(key, kind="stable")]
        rows, cols = panel.fit()
        per_page = rows * cols
        page = chosen[app.page * per_page : (app.page + 1) * per_page]
        slots = np.full(per_page, -1, dtype=np.int64)
        slots[: len(page)] = page
        return slots.reshape(rows, cols)
    rows_fit, _ = panel.fit()
    if getattr(app, "mean_grid", False):
        _, counts = grid_mean_images(coords, app.dataset.features(), rect, *app.grid_shape)
        full = np.full(counts.shape, -1, dtype=np.int64)
        nonempty = np.flatnonzero(counts.ravel() > 0)
        full.ravel()[nonempty] = -2 - np.arange(len(nonempty))
        return full[:rows_fit]
    return grid_select(coords, rect, *app.grid_shape)[:rows_fit]


# ----- the real program in a pseudo-terminal (end-to-end tests, byte figures) ----------------
# Standard-library and pyte imports stay inside the functions: every Pilot test imports this
# module, and none of them needs a pseudo-terminal.

REPO_ROOT = Path(__file__).resolve().parent.parent


def seed_cache(cache_dir: Path, coords: np.ndarray | None = None, method: str = "tsne") -> None:
    """Put the fixed embedding in ``cache_dir`` the way make_app does: a user's second start."""
    from digitmap_tui.cache import embedding_key

    dataset = load_digits(cache_dir)
    key = embedding_key(dataset.fingerprint(), EmbedParams(method=method))
    xy = fixed_coords() if coords is None else coords
    EmbeddingCache(cache_dir).store(key, xy, {"fixture": True})


def program_env(cache_dir: Path, size: tuple[int, int] = (120, 40)) -> dict[str, str]:
    """A user's terminal: 256 colours (what SSH brings), no Textual or colour overrides."""
    import os

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
    """``python -m digitmap_tui ARGS`` in a pseudo-terminal, its output drawn on a pyte screen.

    Every wait has a deadline: a hung program fails the test instead of hanging it, and the
    process is killed on exit. ``bytes_read`` counts what the program wrote to the terminal
    (Textual draws on stderr; in a terminal stdout and stderr are the same device).
    """

    def __init__(self, args: list[str], env: dict[str, str], size: tuple[int, int] = (120, 40)):
        import fcntl
        import os
        import struct
        import subprocess
        import sys
        import termios

        import pyte

        self.size = size
        self.screen = pyte.Screen(*size)
        self.stream = pyte.ByteStream(self.screen)
        self.bytes_read = 0
        self.transcript = bytearray()  # everything the program wrote, for byte breakdowns
        self.closed = False
        master, slave = os.openpty()
        fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", size[1], size[0], 0, 0))
        try:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "digitmap_tui", *args],
                stdin=slave,
                stdout=slave,
                stderr=slave,
                cwd=REPO_ROOT,
                env=env,
                start_new_session=True,  # its own session: the pty can be its controlling tty
                close_fds=True,
            )
        except BaseException:
            os.close(master)
            raise
        finally:
            os.close(slave)
        self.master = master

    def __enter__(self) -> PtyProgram:
        return self

    def __exit__(self, *exc: object) -> None:
        self.kill()

    def kill(self) -> None:
        """Stop the program (if it still runs) and close the terminal."""
        import os

        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(timeout=10)
        if not self.closed:
            os.close(self.master)
            self.closed = True

    def send(self, data: str | bytes) -> None:
        """Type ``data`` (keys as the terminal sends them, e.g. "\\x1b[C" for right)."""
        import os

        os.write(self.master, data.encode() if isinstance(data, str) else data)

    def read(self, timeout: float) -> int:
        """Feed whatever arrives within ``timeout`` seconds to the screen; bytes read (0: none)."""
        import os
        import select

        if self.closed:
            return 0
        ready, _, _ = select.select([self.master], [], [], timeout)
        if not ready:
            return 0
        try:
            data = os.read(self.master, 65536)
        except OSError:  # EIO: the program closed its end of the terminal
            data = b""
        if not data:
            self.closed = True
            os.close(self.master)
            return 0
        self.bytes_read += len(data)
        self.transcript += data
        self.stream.feed(data)
        return len(data)

    def lines(self) -> list[str]:
        """The screen as text, one string per row."""
        return list(self.screen.display)

    def text(self) -> str:
        return "\n".join(self.lines())

    def wait_for(self, predicate, timeout: float, what: str) -> None:
        """Read until ``predicate(self)`` is true; AssertionError (with the screen) after ``timeout``."""
        import time

        deadline = time.monotonic() + timeout
        while not predicate(self):
            if time.monotonic() > deadline or (self.closed and self.proc.poll() is not None):
                raise AssertionError(
                    f"timed out waiting for {what}; exit status {self.proc.poll()}; "
                    f"screen:\n{self.text()}"
                )
            self.read(0.05)

    def read_until_quiet(self, idle: float = 0.3, timeout: float = 10.0) -> int:
        """Read until nothing arrives for ``idle`` seconds (or ``timeout``); bytes read."""
        import time

        total = 0
        deadline = time.monotonic() + timeout
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
        import time

        deadline = time.monotonic() + timeout
        while self.proc.poll() is None and time.monotonic() < deadline:
            self.read(0.05)
        return self.proc.poll()


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

TITLE = "digitmap · digits (1797)"


def measure_bytes(
    keys: list[str],
    cache_dir: Path,
    size: tuple[int, int] = (120, 40),
    idle: float = 0.3,
    args: list[str] | None = None,
) -> list[int]:
    """Bytes the explorer writes to a real terminal for each key, after start-up has settled.

    ``keys`` are names from :data:`KEYS` or literal text ("m", "g"). The program runs on the
    built-in digits with the fixed t-SNE map seeded into ``cache_dir`` (``TERM=xterm-256color``);
    a key's figure is everything written until the output has been quiet for ``idle`` seconds.
    Benchmark figures, not test assertions.
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
