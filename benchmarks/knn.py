"""UMAP's neighbours: our exact search (numpy, blocks on every core) vs pynndescent in a fresh
process (what umap-learn runs above 4,096 points, compilation included), on the PCA-50
features of the MNIST-like set, to place the crossover `methods.neighbours.OWN_KNN_MAX_POINTS`.

``python -m benchmarks.knn N [N ...]`` prints one JSON object: seconds per N for each.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from benchmarks._common import REPO, mnist_like

_PYNNDESCENT = """
import sys, time, numpy as np
t0 = time.perf_counter()
from pynndescent import NNDescent
z = np.load(sys.argv[1])
n = len(z)
# umap-learn's call (umap_.nearest_neighbors) for euclidean data, seeded (so one thread).
NNDescent(z, n_neighbors=15, random_state=0, low_memory=True, n_jobs=1,
          n_trees=min(64, 5 + int(round(n ** 0.5 / 20.0))),
          n_iters=max(5, int(round(np.log2(n)))), max_candidates=60).neighbor_graph
print(time.perf_counter() - t0)
"""


def main() -> int:
    from digitmap_tui.methods.neighbours import exact_knn as _exact_knn
    from digitmap_tui.methods.pca import fit_pca
    from digitmap_tui.methods.threads import default_threads

    sizes = [int(v) for v in sys.argv[1:]] or [20_000, 40_000, 70_000]
    images = np.concatenate([c for c, _ in mnist_like(max(sizes))]).reshape(max(sizes), -1)
    z = fit_pca(images, 50).project(images, np.float32)
    out: dict[str, dict[str, float]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        for n in sizes:
            path = Path(tmp) / f"z{n}.npy"
            np.save(path, z[:n])
            t0 = time.perf_counter()
            _exact_knn(z[:n], 15, None, default_threads())
            exact = time.perf_counter() - t0
            env = {**os.environ, "PYTHONPATH": str(REPO)}
            done = subprocess.run(
                [sys.executable, "-c", _PYNNDESCENT, str(path)],
                capture_output=True, text=True, check=True, env=env,
            )  # fmt: skip
            out[str(n)] = {"exact_s": exact, "pynndescent_fresh_s": float(done.stdout.split()[-1])}
            sys.stderr.write(f"{n}: {out[str(n)]}\n")
    print(json.dumps(out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
