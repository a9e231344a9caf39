"""Embedding times on the built-in digits, each in a fresh process as the app's worker runs it.

* UMAP cold: a new process whose numba cache directory is empty (the very first UMAP a user
  ever runs: importing umap, then numba compiling every function and filling the cache);
* UMAP fresh: a new process after one run filled that directory (every later session's
  first UMAP, what a user waits for after pressing ``u``);
* UMAP warm: a second fit in that same process (no import, nothing to compile): the
  baseline the issue compares the first run in a fresh process against;
* t-SNE (openTSNE), a new process.

Each figure is the wall time of ``digitmap_tui.methods.compute.compute_embedding`` in that process,
the library's import included (it is imported lazily, by the call), the digits' loading
not. The numba directory is set with ``enable_numba_cache`` before anything imports numba,
as ``digitmap_tui.jobs`` does in its worker.

``python -m benchmarks.embedding one METHOD [NUMBA_DIR]`` prints the seconds of one run.
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


def one(method: str, numba_dir: str | None, twice: bool = False) -> list[float]:
    """Seconds of one compute_embedding call in this (fresh) process (and of a second one)."""
    from digitmap_tui.methods.compute import compute_embedding
    from digitmap_tui.methods.numba_cache import enable_numba_cache
    from digitmap_tui.methods.params import EmbedParams

    if numba_dir:
        enable_numba_cache(numba_dir)
    from digitmap_tui.data import load_digits

    with tempfile.TemporaryDirectory() as tmp:
        features = load_digits(Path(tmp)).features()
    times = []
    for _ in range(2 if twice else 1):
        t0 = time.perf_counter()
        compute_embedding(features, EmbedParams(method=method))
        times.append(time.perf_counter() - t0)
    return times


def run_fresh(method: str, numba_dir: Path | None = None, twice: bool = False) -> list[float]:
    """One run (or two) in a new process; their seconds."""
    args = [sys.executable, "-m", "benchmarks.embedding", "one", method, str(numba_dir or "")]
    if twice:
        args.append("twice")
    done = subprocess.run(args, check=True, cwd=REPO, capture_output=True, text=True)
    return [float(v) for v in done.stdout.strip().splitlines()[-1].split()]


def measure(repeats: int) -> dict[str, object]:
    """UMAP cold, fresh and warm, and t-SNE medians, in seconds.

    The numba cache is a private temporary directory, new for every run: a directory kept
    between runs (or shared with other users) would make "cold" measure whatever was left
    in it, and files another checkout compiled would not match this one's sources.
    """
    out: dict[str, object] = {}
    with tempfile.TemporaryDirectory(prefix="digitmap-numba-") as tmp:
        numba_dir = Path(tmp) / "numba"
        out["umap_cold_s"] = run_fresh("umap", numba_dir)[0]
        runs = [run_fresh("umap", numba_dir, twice=True) for _ in range(repeats)]
        out["umap_fresh_s"] = statistics.median(r[0] for r in runs)
        out["umap_warm_s"] = statistics.median(r[1] for r in runs)
    out["tsne_digits_s"] = statistics.median(run_fresh("tsne")[0] for _ in range(repeats))
    return out


if __name__ == "__main__":
    if sys.argv[1] == "one":
        numba = sys.argv[3] if len(sys.argv) > 3 and sys.argv[3] else None
        print(" ".join(str(t) for t in one(sys.argv[2], numba, twice="twice" in sys.argv[4:])))
    else:
        print(json.dumps(measure(1 if "--quick" in sys.argv else 3)))
