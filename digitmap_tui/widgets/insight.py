"""Insight screens: the point inspector and the split of a selection into sub-clusters."""

from __future__ import annotations

from typing import Any

import numpy as np
from rich.console import Group
from rich.segment import Segment
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Static

from digitmap_tui.glyphs import label_style, tile_segments, tiles_to_lines


def lines_to_text(lines: list[list[Segment]]) -> Text:
    """Tile lines (segments) as one Rich Text, for a Static."""
    text = Text()
    for i, line in enumerate(lines):
        if i:
            text.append("\n")
        for seg in line:
            text.append(seg.text, seg.style)
    return text


def upscale(image: np.ndarray, factor: int) -> np.ndarray:
    """Each pixel repeated ``factor`` times both ways (a large view of a small image)."""
    return np.kron(np.asarray(image, dtype=np.float64), np.ones((factor, factor)))


class InspectorScreen(ModalScreen[None]):
    """One point: its image large, index, label, coordinates, and its nearest neighbours in
    the original pixel space as tiles (their places are highlighted on the map behind)."""

    DEFAULT_CSS = """
    InspectorScreen { align: right top; background: $background 30%; }
    InspectorScreen > VerticalScroll {
        width: 64; max-width: 70%; height: 100%; border: round $accent;
        background: $surface; padding: 0 1;
    }
    """
    BINDINGS = [Binding("escape,q,v", "close", "Close")]

    def __init__(
        self,
        *,
        index: int,
        image: np.ndarray,
        label: int | None,
        xy: tuple[float, float],
        neighbours: list[tuple[int, int | None, np.ndarray]],
        neighbour_note: str,
        style: str,
        value_range: tuple[float, float],
        tile_cols: int,
        color: bool,
    ) -> None:
        super().__init__()
        self.index = index
        self.image = image
        self.label = label
        self.xy = xy
        self.neighbours = neighbours
        self.neighbour_note = neighbour_note
        self.style_name = style
        self.value_range = value_range
        self.tile_cols = tile_cols
        self.color = color

    def compose(self) -> ComposeResult:
        h, w = self.image.shape
        factor = max(1, min(4, 32 // max(h, w)))
        big = upscale(self.image, factor)
        big_lines = tile_segments(
            big,
            index=self.index,
            label=self.label,
            style=self.style_name,
            value_range=self.value_range,
            cols=min(w * factor, 56),
            color=self.color,
        )
        title = Text(f"point {self.index}", style="bold")
        if self.label is not None:
            title.append("  label ")
            title.append(str(self.label), label_style(self.label) if self.color else None)
        title.append(f"  at x {self.xy[0]:.4g}, y {self.xy[1]:.4g}")
        tiles = [
            tile_segments(
                img,
                index=i,
                label=lab,
                style=self.style_name,
                value_range=self.value_range,
                cols=self.tile_cols,
                color=self.color,
            )
            for i, lab, img in self.neighbours
        ]
        per_row = max(1, 58 // (self.tile_cols + 1))
        rows: list[list[Segment]] = []
        for start in range(0, len(tiles), per_row):
            rows.extend(tiles_to_lines(tiles[start : start + per_row]))
        with VerticalScroll():
            yield Static(title)
            yield Static(lines_to_text(big_lines[1:]))
            yield Static(Text(f"\n{len(self.neighbours)} nearest in pixel space", style="bold"))
            yield Static(Text(self.neighbour_note, style="dim"))
            yield Static(lines_to_text(rows))
            yield Static(
                Text("\nhighlighted on the map: the neighbours' places · Esc closes", style="dim")
            )

    def action_close(self) -> None:
        self.dismiss(None)


class SplitScreen(ModalScreen[int | None]):
    """Sub-clusters of the selection in pixel space: mean image, size, label mix; 1-9 picks."""

    DEFAULT_CSS = """
    SplitScreen { align: center middle; }
    SplitScreen > VerticalScroll {
        width: 90; max-width: 100%; height: auto; max-height: 100%; border: round $accent;
        background: $surface; padding: 0 1;
    }
    """
    BINDINGS = [
        Binding("escape,q", "close", "Close"),
        *(Binding(str(i), f"pick({i})", f"Pick {i}", show=False) for i in range(1, 10)),
    ]

    def __init__(
        self,
        *,
        clusters: list[dict[str, Any]],
        total: int,
        scores: dict[int, float],
        style: str,
        value_range: tuple[float, float],
        tile_cols: int,
        color: bool,
    ) -> None:
        super().__init__()
        self.clusters = clusters
        self.total = total
        self.scores = scores
        self.style_name = style
        self.value_range = value_range
        self.tile_cols = tile_cols
        self.color = color

    def compose(self) -> ComposeResult:
        k = len(self.clusters)
        head = Text(
            f"{self.total} points in {k} sub-clusters (k-means in pixel space", style="bold"
        )
        if self.scores:
            head.append(
                ", k by silhouette: "
                + " ".join(f"{kk}:{v:.2f}" for kk, v in sorted(self.scores.items()))
            )
        head.append(")")
        tiles = []
        for i, cl in enumerate(self.clusters, start=1):
            lines = tile_segments(
                cl["mean"],
                index=None,
                label=None,
                style=self.style_name,
                value_range=self.value_range,
                cols=self.tile_cols,
                color=self.color,
            )
            lines[0] = [Segment(f"{i}: {cl['size']}"[: self.tile_cols].ljust(self.tile_cols))]
            tiles.append(lines)
        mix = Text()
        for i, cl in enumerate(self.clusters, start=1):
            mix.append(f"{i}: {cl['size']} points · ")
            for label, count in cl["mix"]:
                mix.append(str(label), label_style(label) if self.color else None)
                mix.append(f":{count} ")
            mix.append("\n")
        with VerticalScroll():
            yield Static(head)
            yield Static(Group(lines_to_text(tiles_to_lines(tiles[:9])), Text("")))
            yield Static(mix)
            yield Static(
                Text("1-9: select only that sub-cluster's points · Esc closes", style="dim")
            )

    def action_pick(self, i: int) -> None:
        if 1 <= i <= len(self.clusters):
            self.dismiss(i - 1)

    def action_close(self) -> None:
        self.dismiss(None)
