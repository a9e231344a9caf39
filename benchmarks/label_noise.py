"""Finding flipped labels on the digits: this project's suspect ranking against cleanlab.

Labels of scikit-learn's digits (1797 images) are flipped with a seed and a rate (the share of
*all* points flipped), in one of two ways:

* ``uniform``: the flipped points are drawn from every class, each gets another label drawn
  uniformly;
* ``lookalike``: the flipped points are drawn from the classes of look-alike pairs and get
  the other member: 1↔7, 3↔8, 4↔9, 5↔9 (a 9 becomes a 4 or a 5, with equal chance).

Every method then ranks the points (most suspicious first) and, where it has one, flags a
set. Reported side by side, in one run, per condition: **precision at k**, with k = the number
flipped (the share of flipped points among the first k of the ranking; a method that ranks
fewer than k points counts the rest as misses; with k = number flipped this is also the
recall at k), **recall** of the flagged set (the share of flipped points it contains) and its
size, and the **time** each method takes on top of the map (t-SNE is computed once: labels do
not change the embedding). The methods:

* ``digitmap suspects``: :func:`digitmap_tui.suspects.suspects` (pixels + t-SNE map);
  flagged: score above 0;
* ``10-NN majority (pixels)``: the plain baseline: ranked by how many of the 10 nearest
  neighbours in pixel space (scikit-learn ``NearestNeighbors``) share the label, fewest first,
  ties by index; flagged: another label has more of the 10 votes than the point's own;
* ``misfit rule (t-SNE 10-NN)``: the explorer's misfits (:func:`digitmap_tui.analysis.misfits`)
  in their list order; flagged: all of them;
* ``cleanlab find_label_issues`` and ``cleanlab rank`` (``get_label_quality_scores``), each
  with out-of-fold probabilities from ``cross_val_predict`` (5 folds) of a logistic regression
  (standardised pixels, ``max_iter=1000``) and of a 10-NN classifier on pixels.
  ``find_label_issues`` flags a set (``filter_by="prune_by_noise_rate"``, cleanlab's default)
  ranked by self-confidence; ``rank`` ranks every point. The folds are stratified and shuffled
  with the seed, as cleanlab's own ``CleanLearning`` does; ``--folds ordered`` uses
  ``cross_val_predict``'s default (unshuffled) folds instead, which train on other writers
  (the digits are stored roughly by writer) and lower cleanlab's scores.

Run ``python -m benchmarks.label_noise`` (five seeds, both kinds, 5 %), ``--quick`` (seed 0),
``--json PATH`` for the figures; ``--scale N`` instead times :func:`suspects` alone on ``N``
synthetic 28 x 28 images (seconds and peak memory of the process). cleanlab is a benchmark-only extra: ``pip install
'digitmap-tui[bench]'``. Times are medians over the conditions (wall clock, noisy machine).
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from benchmarks._common import REPO  # noqa: F401  (puts the repository on sys.path)

#: Look-alike pairs: each class maps to the classes it may be confused with.
LOOKALIKES: dict[int, tuple[int, ...]] = {
    1: (7,),
    7: (1,),
    3: (8,),
    8: (3,),
    4: (9,),
    5: (9,),
    9: (4, 5),
}
KINDS = ("uniform", "lookalike")

OURS = "digitmap suspects"
BASELINE = "10-NN majority (pixels)"
MISFITS = "misfit rule (t-SNE 10-NN)"


def flip_labels(
    labels: np.ndarray, seed: int, rate: float, kind: str
) -> tuple[np.ndarray, np.ndarray]:
    """``(noisy labels, sorted indices flipped)``: ``round(rate * N)`` points get another label."""
    rng = np.random.default_rng(seed)
    n = len(labels)
    n_labels = int(labels.max()) + 1
    m = round(rate * n)
    noisy = labels.copy()
    if kind == "uniform":
        idx = rng.choice(n, m, replace=False)
        noisy[idx] = (labels[idx] + rng.integers(1, n_labels, m)) % n_labels
    elif kind == "lookalike":
        eligible = np.flatnonzero(np.isin(labels, list(LOOKALIKES)))
        idx = rng.choice(eligible, min(m, len(eligible)), replace=False)
        for i in idx:
            noisy[i] = rng.choice(LOOKALIKES[int(labels[i])])
    else:
        raise ValueError(f"kind {kind!r}: expected one of {KINDS}")
    assert np.all(noisy[idx] != labels[idx])
    return noisy, np.sort(idx)


def precision_at_k(ranking: np.ndarray, flipped: np.ndarray) -> float:
    """Share of flipped points among the first k of ``ranking`` (k = len(flipped))."""
    k = len(flipped)
    return float(np.count_nonzero(np.isin(np.asarray(ranking)[:k], flipped)) / k) if k else 1.0


@dataclass
class Outcome:
    """One method on one condition."""

    ranking: np.ndarray
    flagged: np.ndarray | None
    seconds: float
    extra: dict[str, Any] = field(default_factory=dict)


# --------------------------------------------------------------------------- the methods


def run_ours(x: np.ndarray, coords: np.ndarray, noisy: np.ndarray) -> Outcome:
    from digitmap_tui.suspects import suspects

    t0 = time.perf_counter()
    result = suspects(x, coords, noisy)
    return Outcome(result.order, result.flagged, time.perf_counter() - t0)


def run_baseline(x: np.ndarray, noisy: np.ndarray, k: int = 10) -> Outcome:
    from sklearn.neighbors import NearestNeighbors

    t0 = time.perf_counter()
    _, idx = NearestNeighbors(n_neighbors=k + 1).fit(x).kneighbors(x)
    nbr = noisy[idx[:, 1:]]
    agree = (nbr == noisy[:, None]).sum(axis=1)
    ranking = np.argsort(agree, kind="stable")
    counts = np.zeros((len(noisy), int(noisy.max()) + 1), dtype=np.int64)
    np.add.at(counts, (np.repeat(np.arange(len(noisy)), k), nbr.ravel()), 1)
    counts[np.arange(len(noisy)), noisy] = -1
    flagged = np.flatnonzero(counts.max(axis=1) > agree)
    return Outcome(ranking, flagged, time.perf_counter() - t0)


def run_misfits(coords: np.ndarray, noisy: np.ndarray) -> Outcome:
    from digitmap_tui.analysis import misfits

    t0 = time.perf_counter()
    found = np.array([m.index for m in misfits(coords, noisy, k=10)], dtype=np.int64)
    return Outcome(found, found, time.perf_counter() - t0)


def _models(seed: int) -> dict[str, Any]:
    from sklearn.linear_model import LogisticRegression
    from sklearn.neighbors import KNeighborsClassifier
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    return {
        "logistic": make_pipeline(StandardScaler(), LogisticRegression(max_iter=1000)),
        "10-NN": KNeighborsClassifier(n_neighbors=10),
    }


def run_cleanlab(x: np.ndarray, noisy: np.ndarray, seed: int, folds: str) -> dict[str, Outcome]:
    """find_label_issues and rank for each probability model (probabilities computed once)."""
    import warnings

    from cleanlab.filter import find_label_issues
    from cleanlab.rank import get_label_quality_scores
    from sklearn.model_selection import StratifiedKFold, cross_val_predict

    cv: Any = StratifiedKFold(5, shuffle=True, random_state=seed) if folds == "shuffled" else 5
    out: dict[str, Outcome] = {}
    for name, model in _models(seed).items():
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            t0 = time.perf_counter()
            probs = cross_val_predict(model, x, noisy, cv=cv, method="predict_proba")
            t_probs = time.perf_counter() - t0
            t0 = time.perf_counter()
            issues = find_label_issues(noisy, probs, return_indices_ranked_by="self_confidence")
            t_find = time.perf_counter() - t0
            t0 = time.perf_counter()
            quality = get_label_quality_scores(noisy, probs)
            t_rank = time.perf_counter() - t0
        issues = np.asarray(issues, dtype=np.int64)
        out[f"cleanlab find_label_issues ({name})"] = Outcome(issues, issues, t_probs + t_find)
        out[f"cleanlab rank ({name})"] = Outcome(
            np.argsort(quality, kind="stable"), None, t_probs + t_rank
        )
    return out


# --------------------------------------------------------------------------- the run


def digits_and_map(coords_path: str | None) -> tuple[np.ndarray, np.ndarray, np.ndarray, float]:
    """Pixels (N, 64), labels, the t-SNE map (openTSNE seed 0, as the explorer computes it,
    through the embedding cache) and the seconds it took (0 when read from a file)."""
    from digitmap_tui.data import load_digits

    digits = load_digits(None)
    x = digits.images.reshape(digits.n, -1).astype(np.float64)
    t0 = time.perf_counter()
    if coords_path:
        coords = np.load(coords_path, allow_pickle=False)
        took = 0.0
    else:
        from digitmap_tui.cache import EmbeddingCache, default_cache_dir
        from digitmap_tui.jobs import get_or_compute
        from digitmap_tui.methods.params import EmbedParams

        params = EmbedParams(method="tsne", seed=0)
        coords = get_or_compute(digits, params, EmbeddingCache(default_cache_dir()))
        took = time.perf_counter() - t0
    assert digits.labels is not None
    return x, digits.labels, np.asarray(coords, dtype=np.float64), took


def evaluate(
    seeds: list[int],
    rate: float,
    kinds: list[str],
    folds: str,
    coords_path: str | None = None,
    log: Callable[[str], None] = lambda _: None,
) -> dict[str, Any]:
    """Every method on every (kind, seed); a JSON-ready dict of the figures."""
    x, labels, coords, tsne_s = digits_and_map(coords_path)
    runs: list[dict[str, Any]] = []
    for kind in kinds:
        for seed in seeds:
            noisy, flipped = flip_labels(labels, seed, rate, kind)
            outcomes = {
                OURS: run_ours(x, coords, noisy),
                BASELINE: run_baseline(x, noisy),
                MISFITS: run_misfits(coords, noisy),
                **run_cleanlab(x, noisy, seed, folds),
            }
            row: dict[str, Any] = {"kind": kind, "seed": seed, "flipped": len(flipped)}
            for name, o in outcomes.items():
                row[name] = {
                    "precision_at_k": precision_at_k(o.ranking, flipped),
                    "recall": None
                    if o.flagged is None
                    else float(np.count_nonzero(np.isin(flipped, o.flagged)) / len(flipped)),
                    "flagged": None if o.flagged is None else len(o.flagged),
                    "seconds": o.seconds,
                }
            runs.append(row)
            log(
                f"{kind:>9} seed {seed}: k={len(flipped)}  "
                + "  ".join(f"{short(n)} {row[n]['precision_at_k']:.3f}" for n in outcomes)
            )
    return {
        "rate": rate,
        "seeds": seeds,
        "kinds": kinds,
        "folds": folds,
        "tsne_seconds": tsne_s,
        "runs": runs,
    }


def short(name: str) -> str:
    return {OURS: "ours", BASELINE: "10nn", MISFITS: "misfit"}.get(
        name,
        name.replace("cleanlab find_label_issues ", "cl-find")
        .replace("cleanlab rank ", "cl-rank")
        .replace("(logistic)", "-lr")
        .replace("(10-NN)", "-knn"),
    )


def methods(result: dict[str, Any]) -> list[str]:
    return [k for k in result["runs"][0] if isinstance(result["runs"][0][k], dict)]


def summary(result: dict[str, Any]) -> str:
    """The side-by-side table: precision at k (min–max over seeds), recall, flagged, time."""
    kinds = result["kinds"]
    head = f"{'method':<36}" + "".join(f"{'p@k ' + k:>20}" for k in kinds)
    head += "".join(f"{'recall ' + k:>19}" for k in kinds) + f"{'flagged':>9}{'time':>9}"
    lines = [head]
    for name in methods(result):
        cells = ""
        for kind in kinds:
            vals = [r[name]["precision_at_k"] for r in result["runs"] if r["kind"] == kind]
            cells += f"{min(vals):>14.3f}–{max(vals):.3f}"
        for kind in kinds:
            rec = [r[name]["recall"] for r in result["runs"] if r["kind"] == kind]
            cells += f"{'—':>19}" if rec[0] is None else f"{min(rec):>13.3f}–{max(rec):.3f}"
        flagged = [r[name]["flagged"] for r in result["runs"]]
        cells += f"{'—':>9}" if flagged[0] is None else f"{statistics.median(flagged):>9.0f}"
        secs = statistics.median(r[name]["seconds"] for r in result["runs"])
        lines.append(f"{name:<36}{cells}{secs:>8.2f}s")
    return "\n".join(lines)


def margins(result: dict[str, Any]) -> dict[str, dict[str, float]]:
    """Per kind: the smallest (over seeds) margin of ours over each rival's precision at k."""
    out: dict[str, dict[str, float]] = {}
    for kind in result["kinds"]:
        rows = [r for r in result["runs"] if r["kind"] == kind]
        out[kind] = {}
        rivals = [m for m in methods(result) if m != OURS]
        for rival in rivals:
            out[kind][rival] = min(
                r[OURS]["precision_at_k"] - r[rival]["precision_at_k"] for r in rows
            )
        cleanlab = [m for m in rivals if m.startswith("cleanlab")]
        out[kind]["best cleanlab"] = min(
            r[OURS]["precision_at_k"] - max(r[m]["precision_at_k"] for m in cleanlab) for r in rows
        )
    return out


def scale(n: int, side: int = 28) -> dict[str, float]:
    """Seconds and peak memory of :func:`suspects` on ``n`` synthetic ``side x side`` images
    (wider than 64 pixels, so the PCA reduction is part of it) and a clustered 2-D map."""
    import resource

    from benchmarks._common import clustered_points, synthetic_images
    from digitmap_tui.suspects import suspects

    coords, labels = clustered_points(n)
    images = synthetic_images(labels, side=side)
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    t0 = time.perf_counter()
    suspects(images, coords, labels)
    took = time.perf_counter() - t0
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return {"n": n, "seconds": took, "peak_rss_mb": peak, "rss_before_mb": before}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="one seed (0)")
    parser.add_argument("--seeds", default="0,1,2,3,4", help="comma-separated (default 0..4)")
    parser.add_argument("--rate", type=float, default=0.05, help="share flipped (default 0.05)")
    parser.add_argument("--kinds", default=",".join(KINDS), help="uniform,lookalike")
    parser.add_argument("--folds", choices=("shuffled", "ordered"), default="shuffled")
    parser.add_argument("--coords", help="a saved map (N x 2 .npy) instead of computing t-SNE")
    parser.add_argument("--json", metavar="PATH", help="write the figures as JSON")
    parser.add_argument(
        "--scale", type=int, metavar="N", help="only time suspects() on N synthetic 28x28 images"
    )
    args = parser.parse_args(argv)
    if args.scale:
        print(json.dumps(scale(args.scale)))
        return 0
    try:
        import cleanlab  # noqa: F401
    except ImportError:
        sys.stderr.write("label_noise: needs cleanlab: pip install 'digitmap-tui[bench]'\n")
        return 2
    seeds = [0] if args.quick else [int(s) for s in args.seeds.split(",")]
    kinds = args.kinds.split(",")

    def log(text: str) -> None:
        sys.stderr.write(text + "\n")

    result = evaluate(seeds, args.rate, kinds, args.folds, args.coords, log)
    result["margins"] = margins(result)
    print(
        f"label noise on the digits: rate {args.rate}, seeds {seeds}, {args.folds} folds "
        f"(t-SNE once: {result['tsne_seconds']:.1f}s)"
    )
    print(summary(result))
    for kind, m in result["margins"].items():
        print(
            f"{kind}: ours minus best cleanlab, worst seed: {m['best cleanlab']:+.3f}; "
            f"minus 10-NN majority: {m[BASELINE]:+.3f}"
        )
    if args.json:
        Path(args.json).write_text(json.dumps(result, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
