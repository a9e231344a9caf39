"""From MNIST to ten million images: this project's embeddings against the bare libraries.

On one synthetic MNIST-sized set (70,000 x 28 x 28 uint8, `_common.mnist_like`: ten digit
classes drawn as strokes in two or three styles, under random rotation, slant, scale, shift
and pen width, plus noise), written once as ``.npy``, in one run:

* ``first_map_s``: a fresh process loads the file as ``digitmap`` does and computes the
  instant preview (`embed.preview_coords`, PCA fitted on 5,000 rows, every row projected);
  ``first_map_cpu_s`` its CPU time, which a busy machine does not inflate;
* ``pca_s`` vs ``pca_bare_s``: our PCA map vs scikit-learn's ``PCA(2).fit_transform`` on
  the same float32 array, same process;
* ``tsne_s`` vs ``tsne_bare_s``: ``digitmap embed --method tsne --no-cache --out`` (a fresh
  process: start-up, loading, fingerprint, PCA to 50, openTSNE on every core, writing) vs a
  fresh process that loads the array, reduces it with scikit-learn's PCA(50) and runs
  ``openTSNE.TSNE(n_jobs=<cores>, random_state=0).fit``: the library at its best setting.
  ``tsne_ratio`` = ours / bare, the two interleaved in the same round;
* with ``--methods umap,pacmap``, the same for UMAP (bare: umap-learn seeded on PCA(50), and
  unseeded with every core) and PaCMAP (bare: ``pacmap.PaCMAP(random_state=0)``, its own PCA);
* ``fit_sample_s``: ``digitmap embed --fit-sample 10000 --method tsne`` on the same 70,000:
  fit on a seventh, place the rest with openTSNE's transform; with the trustworthiness (k=10,
  5,000-point sample) and the 10-NN label accuracy of both maps;
* ``big_*``: the 10M path: a file of BIG rows (default 10,000,000: 7.8 GB; rows drawn from
  the 70,000 with a one-pixel shift and noise) through ``--fit-sample 20000 --method pca``
  (the method whose placement fits this 2-core machine's time; the t-SNE placement rate from
  the 70,000 run gives its estimate, ``big_tsne_estimate_h``), wall time and the peak
  resident memory of the whole process tree (sampled every 0.2 s from /proc).

``python -m benchmarks.scale [--quick] [--n N] [--big N] [--methods umap,pacmap]`` prints
one JSON object (seconds, MB). ``--quick`` uses 5,000 points and a 200,000-row big file.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

from benchmarks._common import REPO, write_mnist_like

_BARE_TSNE = """
import sys, time, numpy as np
t0 = time.perf_counter()
from sklearn.decomposition import PCA
from openTSNE import TSNE
x = np.load(sys.argv[1]).reshape(-1, 784).astype(np.float32)
z = PCA(50, random_state=0).fit_transform(x).astype(np.float64)
y = TSNE(n_jobs=int(sys.argv[3]), random_state=0).fit(z)
np.save(sys.argv[2], np.asarray(y))
"""

_BARE_UMAP = """
import sys, time, numpy as np
import warnings; warnings.simplefilter("ignore")
from sklearn.decomposition import PCA
import umap
x = np.load(sys.argv[1]).reshape(-1, 784).astype(np.float32)
z = PCA(50, random_state=0).fit_transform(x)
seeded = sys.argv[3] == "seeded"
r = umap.UMAP(random_state=0 if seeded else None, n_jobs=1 if seeded else -1)
np.save(sys.argv[2], r.fit_transform(z).astype(np.float64))
"""

_BARE_PACMAP = """
import sys, numpy as np
import warnings; warnings.simplefilter("ignore")
import pacmap
x = np.load(sys.argv[1]).reshape(-1, 784).astype(np.float32)
np.save(sys.argv[2], pacmap.PaCMAP(random_state=0).fit_transform(x, init="pca").astype(np.float64))
"""


def _env() -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = str(REPO) + os.pathsep + env.get("PYTHONPATH", "")
    env.pop("DIGITMAP_THREADS", None)
    return env


def _digitmap(*args: str) -> list[str]:
    return [
        sys.executable,
        "-c",
        "import sys; from digitmap_tui.cli import main; sys.exit(main())",
        *args,
    ]


def timed(argv: list[str], sample_memory: bool = False) -> dict[str, float]:
    """Wall seconds of a fresh process (and the peak RSS of its process tree, MB)."""
    t0 = time.perf_counter()
    proc = subprocess.Popen(
        argv, env=_env(), cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    )
    peak = 0
    while proc.poll() is None:
        if sample_memory:
            peak = max(peak, tree_rss(proc.pid))
        time.sleep(0.2)
    seconds = time.perf_counter() - t0
    err = proc.stderr.read().decode(errors="replace") if proc.stderr else ""
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(argv[:4])}... failed ({proc.returncode}): {err[-2000:]}")
    out = {"s": seconds}
    if sample_memory:
        out["peak_mb"] = peak / 2**20
    return out


def tree_rss(pid: int) -> int:
    """Resident bytes of `pid` and all its descendants, from /proc (Linux)."""
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as handle:
                ppid = int(handle.read().rsplit(")", 1)[1].split()[1])
        except (OSError, IndexError, ValueError):
            continue
        children.setdefault(ppid, []).append(int(entry))
    total, todo = 0, [pid]
    while todo:
        p = todo.pop()
        todo.extend(children.get(p, []))
        try:
            with open(f"/proc/{p}/status") as handle:
                for line in handle:
                    if line.startswith("VmRSS:"):
                        total += int(line.split()[1]) * 1024
        except OSError:
            pass
    return total


def quality(features: np.ndarray, coords: np.ndarray, labels: np.ndarray) -> dict[str, float]:
    """Trustworthiness (k=10, on 5,000 points) and 10-NN label accuracy of a map."""
    from digitmap_tui.analysis import knn_accuracy, trustworthiness

    return {
        "trust": trustworthiness(features, coords, 10, max_points=5000),
        "knn": knn_accuracy(coords, labels, 10),
    }


def first_map(path: str) -> tuple[float, float]:
    """In this (fresh) process: load the file as digitmap does, then the preview map.

    Wall seconds and CPU seconds (user + system: what a busy machine cannot inflate).
    """
    import resource

    t0 = time.perf_counter()
    from digitmap_tui.data import load_dataset
    from digitmap_tui.methods.compute import preview_coords

    dataset = load_dataset(path)
    dataset.fingerprint()
    preview_coords(dataset.images.reshape(dataset.n, -1))
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return time.perf_counter() - t0, usage.ru_utime + usage.ru_stime


def pca_pair(path: str) -> dict[str, float]:
    """Our PCA map and scikit-learn's on the same float32 array, in this process."""
    from sklearn.decomposition import PCA

    from digitmap_tui.methods.compute import compute_embedding
    from digitmap_tui.methods.params import EmbedParams

    x = np.load(path).reshape(-1, 784).astype(np.float32)
    t0 = time.perf_counter()
    compute_embedding(x, EmbedParams("pca"))
    ours = time.perf_counter() - t0
    t0 = time.perf_counter()
    PCA(2).fit_transform(x)
    return {"pca_s": ours, "pca_bare_s": time.perf_counter() - t0}


def write_big(pool_path: Path, labels: np.ndarray, path: Path, n: int, seed: int = 1) -> np.ndarray:
    """`n` rows drawn from the pool, each shifted by up to a pixel, with noise; their labels."""
    pool = np.load(pool_path)
    out = np.lib.format.open_memmap(path, mode="w+", dtype=np.uint8, shape=(n, 28, 28))
    big_labels = np.empty(n, dtype=np.int64)
    rng = np.random.default_rng(seed)
    step = 100_000
    for start in range(0, n, step):
        m = min(step, n - start)
        idx = rng.integers(0, len(pool), m)
        images = pool[idx]
        dy, dx = rng.integers(-1, 2, (2, m))
        for sy in (-1, 0, 1):
            for sx in (-1, 0, 1):
                sel = (dy == sy) & (dx == sx)
                images[sel] = np.roll(images[sel], (sy, sx), axis=(1, 2))
        noise = rng.integers(-12, 13, images.shape, dtype=np.int16)
        out[start : start + m] = np.clip(images.astype(np.int16) + noise, 0, 255).astype(np.uint8)
        big_labels[start : start + m] = labels[idx]
    out.flush()
    del out
    return big_labels


def measure(n: int, big: int, methods: list[str], tmp: Path, log: Any) -> dict[str, Any]:
    cores = (
        len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
    )
    data = tmp / "x.npy"
    log(f"writing {n:,} MNIST-like images ...")
    labels = write_mnist_like(data, n)
    features = np.load(data).reshape(n, -1).astype(np.float32)
    out: dict[str, Any] = {"n": n, "big_n": big, "cores": cores}

    def save(figures: dict[str, Any]) -> None:  # the figures so far, should a long run stop
        (tmp / "figures.json").write_text(json.dumps(figures, indent=1))

    me = [sys.executable, "-m", "benchmarks.scale"]

    log("first map (fresh process) ...")
    done = subprocess.run(
        [*me, "first-map", str(data)],
        env=_env(),
        cwd=REPO,
        capture_output=True,
        text=True,
        check=True,
    )
    out["first_map_s"], out["first_map_cpu_s"] = (float(v) for v in done.stdout.split()[-2:])
    done = subprocess.run(
        [*me, "pca", str(data)], env=_env(), cwd=REPO, capture_output=True, text=True, check=True
    )
    out.update(json.loads(done.stdout.splitlines()[-1]))

    maps: dict[str, np.ndarray] = {}
    log("t-SNE: bare openTSNE, then digitmap embed ...")
    bare = timed([sys.executable, "-c", _BARE_TSNE, str(data), str(tmp / "bare.npy"), str(cores)])
    ours = timed(
        _digitmap(
            "embed",
            "--data",
            str(data),
            "--method",
            "tsne",
            "--no-cache",
            "--out",
            str(tmp / "tsne.npy"),
        )
    )
    out.update(tsne_s=ours["s"], tsne_bare_s=bare["s"], tsne_ratio=ours["s"] / bare["s"])
    save(out)
    maps["tsne"] = np.load(tmp / "tsne.npy")
    maps["tsne_bare"] = np.load(tmp / "bare.npy")

    sample = min(10_000, n // 5)
    log(f"--fit-sample {sample:,} t-SNE on {n:,} ...")
    placed = timed(
        _digitmap(
            "embed",
            "--data",
            str(data),
            "--method",
            "tsne",
            "--fit-sample",
            str(sample),
            "--no-cache",
            "--out",
            str(tmp / "fs.npy"),
        ),
        sample_memory=True,
    )
    out.update(fit_sample_s=placed["s"], fit_sample_peak_mb=placed["peak_mb"], fit_sample_m=sample)
    maps["fit_sample"] = np.load(tmp / "fs.npy")
    # Placement rate: the rows placed per second after the fit (fit time ~ a t-SNE of M rows,
    # estimated by tsne_s * M / n, a generous share since t-SNE is at least linear).
    fit_share = out["tsne_s"] * sample / n
    rate = (n - sample) / max(placed["s"] - fit_share, 1e-9)
    out["tsne_place_rows_per_s"] = rate
    out["big_tsne_estimate_h"] = big / rate / 3600

    for name, coords in maps.items():
        q = quality(features, coords, labels)
        out[f"{name}_trust"], out[f"{name}_knn"] = q["trust"], q["knn"]
    save(out)

    log(f"writing {big:,} rows ({big * 784 / 1e9:.1f} GB) ...")
    big_path = tmp / "big.npy"
    big_labels = write_big(data, labels, big_path, big)
    log(f"--fit-sample 20000 PCA on {big:,} rows ...")
    placed = timed(
        _digitmap(
            "embed",
            "--data",
            str(big_path),
            "--method",
            "pca",
            "--fit-sample",
            "20000",
            "--no-cache",
            "--out",
            str(tmp / "big_out.npy"),
        ),
        sample_memory=True,
    )
    out.update(big_s=placed["s"], big_peak_mb=placed["peak_mb"])
    coords = np.load(tmp / "big_out.npy", mmap_mode="r")
    rows = np.sort(np.random.default_rng(0).choice(big, size=20_000, replace=False))
    from digitmap_tui.analysis import knn_accuracy

    out["big_knn_on_20k"] = knn_accuracy(np.asarray(coords[rows]), big_labels[rows], 10)
    del coords
    big_path.unlink()
    save(out)

    if "umap" in methods:
        log("UMAP: bare seeded, bare parallel, digitmap embed ...")
        seeded = timed([sys.executable, "-c", _BARE_UMAP, str(data), str(tmp / "ub.npy"), "seeded"])
        parallel = timed(
            [sys.executable, "-c", _BARE_UMAP, str(data), str(tmp / "up.npy"), "parallel"]
        )
        ours = timed(
            _digitmap(
                "embed",
                "--data",
                str(data),
                "--method",
                "umap",
                "--no-cache",
                "--out",
                str(tmp / "umap.npy"),
            )
        )
        out.update(
            umap_s=ours["s"], umap_bare_seeded_s=seeded["s"], umap_bare_parallel_s=parallel["s"]
        )
        out["umap_ratio"] = ours["s"] / seeded["s"]
        q = quality(features, np.load(tmp / "umap.npy"), labels)
        out["umap_trust"], out["umap_knn"] = q["trust"], q["knn"]
        save(out)
    if "pacmap" in methods:
        log("PaCMAP: bare, digitmap embed ...")
        bare = timed([sys.executable, "-c", _BARE_PACMAP, str(data), str(tmp / "pb.npy")])
        ours = timed(
            _digitmap(
                "embed",
                "--data",
                str(data),
                "--method",
                "pacmap",
                "--no-cache",
                "--out",
                str(tmp / "pacmap.npy"),
            )
        )
        out.update(pacmap_s=ours["s"], pacmap_bare_s=bare["s"], pacmap_ratio=ours["s"] / bare["s"])
        q = quality(features, np.load(tmp / "pacmap.npy"), labels)
        out["pacmap_trust"], out["pacmap_knn"] = q["trust"], q["knn"]
        save(out)

    return out


def main() -> int:
    if len(sys.argv) > 1 and sys.argv[1] == "first-map":
        print(*first_map(sys.argv[2]))
        return 0
    if len(sys.argv) > 1 and sys.argv[1] == "pca":
        print(json.dumps(pca_pair(sys.argv[2])))
        return 0
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="5,000 points, a 200,000-row big file")
    parser.add_argument("--n", type=int, help="points of the MNIST-sized set (default 70,000)")
    parser.add_argument("--big", type=int, help="rows of the big file (default 10,000,000)")
    parser.add_argument("--methods", default="", help="also: umap, pacmap (comma-separated)")
    parser.add_argument("--dir", help="work directory (default: a temporary one)")
    args = parser.parse_args()
    n = args.n or (5_000 if args.quick else 70_000)
    big = args.big or (200_000 if args.quick else 10_000_000)
    methods = [m for m in args.methods.split(",") if m]

    def log(text: str) -> None:
        sys.stderr.write(f"[{time.strftime('%H:%M:%S')}] scale: {text}\n")

    if args.dir:
        Path(args.dir).mkdir(parents=True, exist_ok=True)
        figures = measure(n, big, methods, Path(args.dir), log)
    else:
        with tempfile.TemporaryDirectory(prefix="digitmap-scale-") as tmp:
            figures = measure(n, big, methods, Path(tmp), log)
    print(json.dumps(figures))
    return 0


if __name__ == "__main__":
    sys.exit(main())
