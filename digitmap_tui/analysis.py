"""What the map means: label clusters on the grid, histograms; pure numpy."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Cluster:
    """A connected patch of map cells whose majority is one label."""

    label: int
    points: int  # points of any label in the patch's cells
    rows: tuple[int, int]  # first row, last row (inclusive)
    cols: tuple[int, int]  # first col, last col (inclusive)

    @property
    def center(self) -> tuple[int, int]:
        """(col, row) of the patch's bounding-box centre."""
        return (self.cols[0] + self.cols[1]) // 2, (self.rows[0] + self.rows[1]) // 2


def label_clusters(
    majority: np.ndarray, counts: np.ndarray, label: int, min_points: int = 1
) -> list[Cluster]:
    """Connected patches (8-neighbourhood) of cells whose majority is ``label``, largest first.

    A patch must hold at least ``min_points`` points; isolated strays are left out by raising it.
    """
    mask = majority == label
    h, w = mask.shape
    seen = np.zeros_like(mask)
    out: list[Cluster] = []
    for r0, c0 in np.argwhere(mask):
        if seen[r0, c0]:
            continue
        stack = [(int(r0), int(c0))]
        seen[r0, c0] = True
        rows: list[int] = []
        cols: list[int] = []
        total = 0
        while stack:
            r, c = stack.pop()
            rows.append(r)
            cols.append(c)
            total += int(counts[r, c])
            for dr in (-1, 0, 1):
                for dc in (-1, 0, 1):
                    rr, cc = r + dr, c + dc
                    if 0 <= rr < h and 0 <= cc < w and mask[rr, cc] and not seen[rr, cc]:
                        seen[rr, cc] = True
                        stack.append((rr, cc))
        if total >= min_points:
            out.append(Cluster(label, total, (min(rows), max(rows)), (min(cols), max(cols))))
    out.sort(key=lambda cl: (-cl.points, cl.rows, cl.cols))
    return out
