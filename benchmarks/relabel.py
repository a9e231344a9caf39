"""Corrected labels on the map: ``PointIndex.relabelled`` against building the index anew.

A relabel in a label review changes the labels the map counts, not the points' places. The
index keeps its two sorted orders and redoes only the label counts; building it anew sorts
the points again. Timed on clustered points (10 labelled Gaussian blobs, like a t-SNE map)
with one label changed (a review's relabel), 100 (a box) and 1%; medians of ``repeats`` runs
of each, in the same process, so the ratio holds on a noisy machine. Both results are
checked to bin a view the same way.

Run as ``python -m benchmarks.relabel N [N ...]`` (one JSON object on stdout).
"""

from __future__ import annotations

import json
import sys

import numpy as np

from benchmarks._common import clustered_points, median_ms


def measure(n: int, repeats: int = 5) -> dict[str, float]:
    """Median seconds to relabel one point, a box of 100 and 1% of ``n`` points, and to
    build the index anew; each check that the map comes out the same."""
    from digitmap_tui.grid import PointIndex
    from digitmap_tui.selection import initial_view

    xy, labels = clustered_points(n)
    index = PointIndex(xy, labels, 10)
    view = initial_view(xy)
    rng = np.random.default_rng(1)
    out: dict[str, float] = {}
    new = labels
    for name, count in (("one", 1), ("box100", 100), ("pct1", n // 100)):
        new = labels.copy()
        who = rng.choice(n, count, replace=False)
        new[who] = (new[who] + 1 + rng.integers(0, 9, count)) % 10
        out[f"relabel_{name}_s"] = (
            median_ms(lambda new=new: index.relabelled(new, 10), repeats) / 1000
        )
        a = index.relabelled(new, 10).bin(view, 80, 37)
        b = PointIndex(xy, new, 10).bin(view, 80, 37)
        assert np.array_equal(a.counts, b.counts) and np.array_equal(a.majority, b.majority)
    out["rebuild_s"] = median_ms(lambda: PointIndex(xy, new, 10), repeats) / 1000
    out["rebuild_over_relabel_one"] = out["rebuild_s"] / out["relabel_one_s"]
    return out


if __name__ == "__main__":
    sizes = [int(a) for a in sys.argv[1:]] or [1_000_000]
    print(json.dumps({str(n): measure(n) for n in sizes}))
