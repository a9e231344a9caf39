"""``digitmap render`` at scale against the terminal plotting libraries users know.

Method. The data are written first, by another process, as a user would have them:
``images.npy`` (N x 8 x 8 uint8), ``labels.npy`` and a precomputed ``embedding.npy``
(10 labelled Gaussian clusters, like a t-SNE map), in a private temporary directory.

* In-process: the files are loaded once with the CLI's own loaders; then the clock covers
  ``render_text`` (map of 120 x 36 cells, the default box, its 4x4 grid of image tiles, the
  count and the label histogram, 256 colours, into a string) against
  ``uniplot.plot_to_string`` of the same points at the same size (one series, its default
  scatter), and, where it finishes in reasonable time, plotext's scatter at that size.
  The libraries alternate, so a noisy machine slows both alike.
* Whole process: ``python -m digitmap_tui render --data ... --embedding ...`` against a
  ``python -c`` that loads the same ``embedding.npy`` and calls ``uniplot.plot``, both
  printing into a pipe, alternating. Bytecode is cached as an installed package has it
  (a private ``PYTHONPYCACHEPREFIX``, filled by a first, unmeasured run of each), and
  ``python -c pass`` is timed alongside as the floor.

Figures are medians with min and max over the repeats; ``ratio`` is the median (min, max)
over rounds of digitmap's time over uniplot's in the same round. uniplot and plotext come from the
``compare`` extra (``pip install -e '.[compare]'``).

``python -m benchmarks.rendering N [N ...] [--quick]`` prints one JSON object.
"""

from __future__ import annotations

import io
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from benchmarks._common import REPO, clustered_points, exit_on_hangup, synthetic_images

WIDTH, HEIGHT = 120, 36
#: plotext draws point by point in Python (~10 us a point): measured up to this size only.
PLOTEXT_MAX_N = 1_000_000


def need(module: str) -> Any:
    """Import a comparison library, or stop with one line naming the extra to install."""
    import importlib

    try:
        return importlib.import_module(module)
    except ImportError:
        sys.stderr.write(
            f"benchmarks.rendering: {module} is missing; install the comparison extra: "
            "pip install -e '.[compare]'\n"
        )
        raise SystemExit(2) from None


def write(directory: Path, n: int) -> None:
    """The three files of an n-point dataset in ``directory`` (images written in chunks)."""
    xy, labels = clustered_points(n)
    np.save(directory / "embedding.npy", xy)
    np.save(directory / "labels.npy", labels)
    out = np.lib.format.open_memmap(
        directory / "images.npy", mode="w+", dtype=np.uint8, shape=(n, 8, 8)
    )
    chunk = 1_000_000
    for start in range(0, n, chunk):
        out[start : start + chunk] = synthetic_images(labels[start : start + chunk], seed=start)
    out.flush()
    del out


def spread(times_s: list[float]) -> dict[str, float]:
    """Median, min and max of ``times_s`` in milliseconds."""
    ms = [t * 1000 for t in times_s]
    return {"ms": statistics.median(ms), "min_ms": min(ms), "max_ms": max(ms), "runs": len(ms)}


def paired(ours: list[float], theirs: list[float]) -> dict[str, float]:
    """Each round's time over the other library's in the same round: median, min, max."""
    ratios = [a / b for a, b in zip(ours, theirs, strict=True)]
    return {"median": statistics.median(ratios), "min": min(ratios), "max": max(ratios)}


def timed(fn: Callable[[], object]) -> float:
    t0 = time.perf_counter()
    fn()
    return time.perf_counter() - t0


def plotext_scatter(x: np.ndarray, y: np.ndarray) -> str:
    """plotext's scatter at WIDTH x HEIGHT as a string (its 5.x and 6.x interfaces)."""
    plt = need("plotext")
    if hasattr(plt, "scatter"):  # plotext 5
        plt.clear_figure()
        plt.plotsize(WIDTH, HEIGHT)
        plt.scatter(x, y)
        return str(plt.build())
    fig = plt.figure
    fig.clear()
    fig.plot_size(WIDTH, HEIGHT)
    fig.draw(fig.signal(x, y))
    return str(fig.build())


def in_process(directory: Path, repeats: int, with_plotext: bool) -> dict[str, Any]:
    """render_text vs uniplot (and plotext) on the files in ``directory``, same process."""
    from rich.console import Console

    from digitmap_tui.data import load_dataset, load_embedding
    from digitmap_tui.render import RenderRequest, render_text
    from digitmap_tui.session import Session

    uniplot = need("uniplot")
    dataset = load_dataset(directory / "images.npy", labels=str(directory / "labels.npy"))
    coords = load_embedding(directory / "embedding.npy", dataset.n)
    request = RenderRequest(width=WIDTH, height=HEIGHT)

    def ours() -> None:
        console = Console(
            file=io.StringIO(),
            width=WIDTH,
            height=HEIGHT + 4,
            color_system="256",
            force_terminal=True,
            highlight=False,
            soft_wrap=True,
        )
        # What `digitmap render` does once its inputs are loaded: a session (its initial view
        # and box from the points) without a spatial index, then the picture.
        session = Session.of(dataset, coords, request.state(), indexed=False)
        render_text(console, session, request)

    def theirs() -> None:
        uniplot.plot_to_string(coords[:, 1], coords[:, 0], width=WIDTH, height=HEIGHT)

    ours()  # the first call pays for imports and the value range, as the first frame would
    theirs()
    mine, uni = [], []
    for _ in range(repeats):
        mine.append(timed(ours))
        uni.append(timed(theirs))
    out: dict[str, Any] = {
        "digitmap": spread(mine),
        "uniplot": spread(uni),
        "ratio": paired(mine, uni),
    }
    if with_plotext:
        x, y = coords[:, 0], coords[:, 1]
        out["plotext"] = spread([timed(lambda: plotext_scatter(x, y))])
    return out


def _uniplot_script() -> str:
    return (
        "import sys, numpy as np, uniplot; xy = np.load(sys.argv[1]); "
        f"uniplot.plot(xy[:, 1], xy[:, 0], width={WIDTH}, height={HEIGHT})"
    )


def whole_process(directory: Path, repeats: int) -> dict[str, Any]:
    """Fresh ``digitmap render`` vs a fresh uniplot script vs ``python -c pass``."""
    need("uniplot")
    with tempfile.TemporaryDirectory(prefix="digitmap-render-") as tmp:
        env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
        env.update(
            PYTHONPYCACHEPREFIX=str(Path(tmp) / "pycache"),
            DIGITMAP_CACHE_DIR=str(Path(tmp) / "cache"),
            DIGITMAP_DATA_DIR=str(Path(tmp) / "data"),
            PYTHONPATH=str(REPO),
        )
        ours = [sys.executable, "-m", "digitmap_tui", "render"]
        ours += ["--data", str(directory / "images.npy")]
        ours += ["--labels", str(directory / "labels.npy")]
        ours += ["--embedding", str(directory / "embedding.npy"), "--no-cache"]
        ours += ["--width", str(WIDTH), "--height", str(HEIGHT), "--colors", "256"]
        theirs = [sys.executable, "-c", _uniplot_script(), str(directory / "embedding.npy")]
        floor = [sys.executable, "-c", "pass"]

        def run(args: list[str]) -> float:
            t0 = time.perf_counter()
            subprocess.run(args, env=env, cwd=tmp, check=True, capture_output=True)
            return time.perf_counter() - t0

        for args in (ours, theirs, floor):  # fill the bytecode cache and the OS file cache
            run(args)
        mine, uni, bare = [], [], []
        for _ in range(repeats):
            mine.append(run(ours))
            uni.append(run(theirs))
            bare.append(run(floor))
    return {
        "digitmap": spread(mine),
        "uniplot": spread(uni),
        "python": spread(bare),
        "ratio": paired(mine, uni),
    }


def measure(n: int, quick: bool) -> dict[str, Any]:
    """Both comparisons at ``n`` points (files written by a separate process)."""
    with tempfile.TemporaryDirectory(prefix="digitmap-render-data-") as tmp:
        env = dict(os.environ, PYTHONPATH=str(REPO))
        code = "import sys; from pathlib import Path; from benchmarks.rendering import write; "
        code += "write(Path(sys.argv[1]), int(sys.argv[2]))"
        subprocess.run([sys.executable, "-c", code, tmp, str(n)], env=env, cwd=REPO, check=True)
        big = n > 1_000_000
        reps = (2 if quick else 3) if big else (3 if quick else 7)
        with_plotext = not quick and n <= PLOTEXT_MAX_N
        return {
            "in_process": in_process(Path(tmp), reps, with_plotext),
            "whole_process": whole_process(Path(tmp), reps),
        }


if __name__ == "__main__":
    exit_on_hangup()
    quick = "--quick" in sys.argv
    sizes = [int(a) for a in sys.argv[1:] if not a.startswith("--")] or [1_000_000]
    print(json.dumps({str(n): measure(n, quick) for n in sizes}))
