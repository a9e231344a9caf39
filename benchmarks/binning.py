"""Re-binning a view: the map's spatial index against ``np.histogram2d``, same points, same grid.

A "rebin" is what a pan or a zoom costs: counts, majority label and purity of every cell of
an 80 x 37 map (the map's share of a 120 x 40 terminal) for a new view. Timed on clustered
points (10 labelled Gaussian blobs, like a t-SNE map) over a fixed tour of views: the whole
map, zooms to 1/2, 1/4, 1/10 and 1/30 of it, and pans of 4 cells; the figure is the median
over views and repeats. ``np.histogram2d`` (counts only, no labels) runs on the same points
and grids in the same process, so the ratio holds on a noisy machine. Building the index is
a one-off per embedding and is reported on its own (it runs once, when the map opens).

Run as ``python -m benchmarks.binning N [N ...]`` (one JSON object on stdout).
"""

from __future__ import annotations

import json
import statistics
import sys
import time

import numpy as np

from benchmarks._common import clustered_points, median_ms
from digitmap_tui.grid import Rect

MAP_W, MAP_H = 80, 37


def tour(full: Rect) -> list[Rect]:
    """The views a session visits: the full map, zooms around its centre, and pans."""
    from digitmap_tui.selection import Cells, pan, zoom

    views: list[Rect] = [full]
    for factor in (0.5, 0.25, 0.1, 1 / 30):
        views.append(zoom(full, factor))
    for dx, dy in ((4, 0), (0, 2), (-4, 0)):
        views.append(pan(views[2], dx, dy, Cells(views[2], MAP_W, MAP_H)))
    return views


def measure(n: int, repeats: int) -> dict[str, float]:
    """Rebin and histogram2d medians (ms) for ``n`` points; build time of the index (s)."""
    from digitmap_tui.grid import PointIndex, bin_points
    from digitmap_tui.selection import initial_view

    xy, labels = clustered_points(n)
    full = initial_view(xy)
    t0 = time.perf_counter()
    index = PointIndex(xy, labels, 10)
    build = time.perf_counter() - t0
    views = tour(full)
    ours, theirs, plain = [], [], []
    for view in views:
        ranges = ((view.x0, view.x1), (view.y0, view.y1))

        def ours_once(v: Rect = view) -> object:
            return index.bin(v, MAP_W, MAP_H)

        def theirs_once(r: tuple[tuple[float, float], ...] = ranges) -> object:
            return np.histogram2d(xy[:, 0], xy[:, 1], bins=(MAP_W, MAP_H), range=r)

        def plain_once(v: Rect = view) -> object:
            return bin_points(xy, labels, v, MAP_W, MAP_H, 10)

        ours.append(median_ms(ours_once, repeats))
        theirs.append(median_ms(theirs_once, max(1, repeats // 3), warmup=0))
        if n <= 1_000_000:  # the per-frame full pass the index replaces (counts and labels)
            plain.append(median_ms(plain_once, max(1, repeats // 3), warmup=0))
    # A check on the spot that the figures are for the right answer.
    for view in views[:3]:
        a = index.bin(view, MAP_W, MAP_H)
        b = bin_points(xy, labels, view, MAP_W, MAP_H, 10)
        assert np.array_equal(a.counts, b.counts) and np.array_equal(a.majority, b.majority)
    return {
        "rebin_ms": statistics.median(ours),
        "rebin_full_view_ms": ours[0],
        "histogram2d_ms": statistics.median(theirs),
        "bin_points_ms": statistics.median(plain) if plain else float("nan"),
        "index_build_s": build,
        "index_mb": index.nbytes / 2**20,
    }


if __name__ == "__main__":
    sizes = [int(a) for a in sys.argv[1:]] or [1_000_000]
    reps = 15
    out = {str(n): measure(n, reps if n <= 1_000_000 else 7) for n in sizes}
    print(json.dumps(out))
