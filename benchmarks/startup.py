"""Start-up: a fresh ``digitmap`` on the built-in digits with a cached embedding, until its
first complete frame, against a fresh Python that only imports ``textual.app``.

The program runs in a pseudo-terminal (``tests.pty_program``: TERM=xterm-256color, 120x40,
an isolated cache) exactly as a user starts it; the clock runs from spawning the process to
the moment the terminal shows the panel's title ("grid 4x4 · N points"), which is drawn once
the map, the box and the selection exist. The baseline is the wall time of
``python -c "import textual.app"``. Both include the interpreter's own start, and they
alternate so that a noisy machine slows both alike; figures are medians.

A warm-up start comes first, as a user's previous session did: it fills the embedding
cache, the digits' ``.npz`` copy and the quality figures, and warms the OS file cache.
Bytecode is cached as users have it: ``PYTHONDONTWRITEBYTECODE`` is dropped and both
programs write their ``.pyc`` files under a private ``PYTHONPYCACHEPREFIX``, filled by the
warm-up runs (a start that compiles every module measures the compiler, not the app).

Run as ``python -m benchmarks.startup REPEATS`` (one JSON object on stdout).
"""

from __future__ import annotations

import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from benchmarks._common import REPO

PANEL_TITLE = "grid 4×4 · "


def user_env(cache_dir: Path) -> dict[str, str]:
    """The pty program's environment, with bytecode cached under the temporary folder."""
    from tests.pty_program import program_env

    env = program_env(cache_dir)
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    env["PYTHONPYCACHEPREFIX"] = str(cache_dir.parent / "pycache")
    return env


def first_frame_s(cache_dir: Path, wait_quality: bool = False) -> float:
    """Seconds from spawning ``python -m digitmap_tui`` to its first complete frame."""
    from tests.pty_program import PtyProgram

    env = user_env(cache_dir)
    t0 = time.perf_counter()
    with PtyProgram([], env, lifetime=120) as prog:
        prog.wait_for(lambda p: any(PANEL_TITLE in line for line in p.lines()), 60, "panel")
        elapsed = time.perf_counter() - t0
        if wait_quality:  # the previous session: let the quality figures reach the cache
            prog.wait_for(lambda p: "trustworthiness" in p.lines()[0], 60, "quality")
        prog.send("q")
        prog.wait_exit(10)
    return elapsed


def import_textual_s(cache_dir: Path) -> float:
    """Seconds a fresh interpreter takes to import textual.app (and exit)."""
    env = user_env(cache_dir)
    t0 = time.perf_counter()
    subprocess.run([sys.executable, "-c", "import textual.app"], check=True, cwd=REPO, env=env)
    return time.perf_counter() - t0


def heavy_modules(cache_dir: Path) -> list[str]:
    """Heavy libraries a start-up imports before its first frame (should be none).

    Read from ``-X importtime`` output, which lands in the terminal's transcript.
    """
    import re

    from tests.pty_program import PtyProgram

    env = user_env(cache_dir)
    env["PYTHONPROFILEIMPORTTIME"] = "1"
    with PtyProgram([], env, lifetime=120) as prog:
        prog.wait_for(lambda p: any(PANEL_TITLE in line for line in p.lines()), 60, "panel")
        text = prog.transcript.decode("utf-8", "replace")
        prog.send("q")
        prog.wait_exit(10)
    names = set(re.findall(r"import time:\s+\d+ \|\s+\d+ \| *(\S+)", text))
    heavy = ("sklearn", "umap", "numba", "openTSNE", "scipy", "pynndescent", "pandas")
    return sorted(h for h in heavy if any(n == h or n.startswith(h + ".") for n in names))


def measure(repeats: int) -> dict[str, object]:
    from tests.pty_program import seed_cache

    with tempfile.TemporaryDirectory(prefix="digitmap-start-") as tmp:
        cache = Path(tmp) / "cache"
        cache.mkdir()
        seed_cache(cache)
        first = first_frame_s(cache, wait_quality=True)
        import_textual_s(cache)
        starts, imports = [], []
        for _ in range(repeats):
            starts.append(first_frame_s(cache))
            imports.append(import_textual_s(cache))
        heavy = heavy_modules(cache)
    start_ms = statistics.median(starts) * 1000
    import_ms = statistics.median(imports) * 1000
    return {
        "startup_ms": start_ms,
        "import_textual_ms": import_ms,
        "startup_ratio": start_ms / import_ms,
        "startup_first_ms": first * 1000,
        "heavy_imports_before_first_frame": heavy,
    }


if __name__ == "__main__":
    print(json.dumps(measure(int(sys.argv[1]) if len(sys.argv) > 1 else 5)))
