"""Embedding times on the built-in digits, each in a fresh process as the app's worker runs it.

* UMAP fresh: a new process whose numba cache directory is empty (the very first UMAP a user
  runs: importing umap, then numba compiling every function and filling the cache);
* UMAP warm: a new process after one run filled that directory (every later session);
* t-SNE (openTSNE), a new process.

Each figure is the wall time of ``digitmap_tui.embed.compute_embedding`` in that process,
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


def one(method: str, numba_dir: str | None) -> float:
    """Seconds of one compute_embedding call in this (fresh) process."""
    from digitmap_tui.embed import EmbedParams, compute_embedding, enable_numba_cache

    if numba_dir:
        enable_numba_cache(numba_dir)
    from digitmap_tui.data import load_digits

    with tempfile.TemporaryDirectory() as tmp:
        features = load_digits(Path(tmp)).features()
    t0 = time.perf_counter()
    compute_embedding(features, EmbedParams(method=method))
    return time.perf_counter() - t0


def run_fresh(method: str, numba_dir: Path | None = None) -> float:
    """One run in a new process; its seconds."""
    args = [sys.executable, "-m", "benchmarks.embedding", "one", method]
    if numba_dir is not None:
        args.append(str(numba_dir))
    done = subprocess.run(args, check=True, cwd=REPO, capture_output=True, text=True)
    return float(done.stdout.strip().splitlines()[-1])


def measure(repeats: int, fresh_umap: bool, numba_dir: Path | None = None) -> dict[str, object]:
    """UMAP fresh (or None when skipped), UMAP warm and t-SNE medians, in seconds."""
    out: dict[str, object] = {}
    with tempfile.TemporaryDirectory(prefix="digitmap-numba-") as tmp:
        if fresh_umap or numba_dir is None:
            numba_dir = Path(tmp) / "numba"
            out["umap_fresh_s"] = run_fresh("umap", numba_dir)
        else:
            # --quick: a numba directory kept between runs; fill it if this is its first use.
            if not any(numba_dir.glob("**/*.nbi")):
                run_fresh("umap", numba_dir)
            out["umap_fresh_s"] = None
        out["umap_warm_s"] = statistics.median(run_fresh("umap", numba_dir) for _ in range(repeats))
    out["tsne_digits_s"] = statistics.median(run_fresh("tsne") for _ in range(repeats))
    return out


if __name__ == "__main__":
    if sys.argv[1] == "one":
        print(one(sys.argv[2], sys.argv[3] if len(sys.argv) > 3 else None))
    else:
        quick = "--quick" in sys.argv
        keep = Path(tempfile.gettempdir()) / "digitmap-bench-numba" if quick else None
        print(json.dumps(measure(1 if quick else 3, fresh_umap=not quick, numba_dir=keep)))
