"""Report figures: the seed notebook's pictures, drawn with matplotlib from the engine's rules.

The map coloured by label (tab10) with the selection box, then the images the box selects:
the grid of images nearest each cell centre (``draw_digits_at_tsne``) or the list of every
point in the box sorted along an axis, each image with its index and ``L:label`` as the seed's
``draw_digits`` annotates them; optionally the map of another method beside it (t-SNE and UMAP
side by side, the selection highlighted in both). The images come from
the same session as ``digitmap render --json`` (:class:`~digitmap_tui.session.Session`: the
same default view and box, grid and list order), so a figure and a script always agree.

matplotlib is optional (``pip install 'digitmap-tui[plot]'``) and imported only here, inside
the functions; figures are built on ``matplotlib.figure.Figure`` (no pyplot, no global state,
no display needed). Each image's axes carries ``gid="image-<index>"`` (``"image-empty"`` for a
blank grid cell): tests read the figure back by it, and SVG output keeps it as the group id.
"""

from __future__ import annotations

import math
import os
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from digitmap_tui.errors import InputError
from digitmap_tui.methods import registry
from digitmap_tui.methods.params import MissingLibraryError
from digitmap_tui.text import safe

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

    from digitmap_tui.grid import Rect
    from digitmap_tui.inputs import Inputs
    from digitmap_tui.render import RenderRequest

FORMATS = ("png", "svg", "pdf")
#: Above this many points the scatter is stored as pixels inside SVG/PDF (a vector file of
#: a million dots is unusable), below it as vector dots.
RASTER_ABOVE = 20_000
EMPTY_GID = "image-empty"
#: The seed's annotation colours: index in yellow (top left), label in cyan (top right).
INDEX_COLOR, LABEL_COLOR = "y", "c"


def require_matplotlib() -> Any:
    """The matplotlib module, or a one-line MissingLibraryError naming the extra."""
    try:
        import matplotlib
        import matplotlib.figure  # the submodule the figures are built on
    except ImportError as exc:
        raise MissingLibraryError(
            "figures need matplotlib: pip install 'digitmap-tui[plot]'"
        ) from exc
    return matplotlib


def figure_path_format(path: str | os.PathLike[str]) -> str:
    """The file format from the name's suffix (.png, .svg or .pdf), or an InputError."""
    suffix = Path(path).suffix.lower().lstrip(".")
    if suffix not in FORMATS:
        raise InputError(f"--out {safe(str(path))}: use a .png, .svg or .pdf file name")
    return suffix


def twin_method(method: str, twin: bool | str) -> str | None:
    """The other map's method: t-SNE's twin is UMAP and every other map's twin is t-SNE."""
    if twin is False or twin is None:
        return None
    if isinstance(twin, str) and twin not in ("", "auto"):
        return twin.lower()
    return registry.twin_of(method)


def selection_figure(
    inputs: Inputs,
    request: RenderRequest,
    *,
    twin: bool | str = False,
    max_images: int = 100,
) -> Figure:
    """The map with the box, the twin map (optional) and the selected images, as one Figure."""
    require_matplotlib()
    from matplotlib.figure import Figure

    from digitmap_tui.grid import EMPTY
    from digitmap_tui.inputs import describe_source, ensure_coords
    from digitmap_tui.render import histogram_text
    from digitmap_tui.session import Session

    if max_images < 1:
        raise InputError(f"--max-images {max_images}: must be at least 1")
    dataset = inputs.dataset
    labels = dataset.labels
    coords = ensure_coords(inputs)
    session = Session.from_inputs(inputs, request.state())
    session.set_coords(coords, indexed=False)
    sel = session.selection()
    st = session.state
    grid = None if st.list_mode else sel.grid(*st.grid)
    chosen = sel.sorted(st.sort) if st.list_mode else sel.indices
    other = twin_method(inputs.params.method, twin)
    twin_coords = twin_source = None
    if other is not None:
        twin_inputs = replace(
            inputs,
            params=replace(inputs.params, method=other),
            coords=None,
            embedding_path=None,
        )
        twin_inputs.params.validate(dataset.n)
        twin_coords = ensure_coords(twin_inputs)
        twin_source = describe_source(twin_inputs)

    if grid is not None:
        slots = [[None if v == EMPTY else int(v) for v in row] for row in grid.tolist()]
        rows, cols = grid.shape
    else:
        shown = [int(i) for i in chosen[:max_images]]
        cols = max(1, min(10, len(shown)))
        rows = max(1, math.ceil(len(shown) / cols))
        slots = [list[int | None](shown[r * cols : (r + 1) * cols]) for r in range(rows)]
    maps = 1 if twin_coords is None else 2
    image_width = min(9.0, max(3.0, 0.85 * cols))
    image_height = min(12.0, max(3.0, 0.85 * rows))
    height = max(5.5, image_height)
    fig = Figure(figsize=(6.5 * maps + image_width, height), layout="constrained")
    parts: Any = fig.subfigures(1, 2, width_ratios=[6.5 * maps, image_width])
    left, right = parts

    source = describe_source(inputs)
    map_axes = left.subplots(1, maps, squeeze=False)[0]
    main = map_axes[0]
    main.set_gid("map")
    highlight = chosen if twin_coords is not None else None
    _scatter(main, coords, labels, session.view, highlight=highlight)
    _draw_box(main, session.box, None if grid is None else grid.shape)
    main.set_title(f"{safe(dataset.name)} ({dataset.n}) · {safe(source)}", fontsize="medium")
    if twin_coords is not None:
        from digitmap_tui.grid import bounds

        second = map_axes[1]
        second.set_gid("twin-map")
        _scatter(second, twin_coords, labels, bounds(twin_coords), highlight=chosen)
        second.set_title(f"{safe(str(twin_source))} · the selection", fontsize="medium")
    _legend(map_axes[-1], labels, dataset.n_labels)

    if grid is not None:
        heading = f"grid {rows}×{cols} · {len(chosen)} points in box"
    else:
        first = f" (first {max_images})" if len(chosen) > max_images else ""
        heading = f"list · {len(chosen)} points in box, sorted by {request.sort}{first}"
    if labels is not None and len(chosen):
        heading += f" · {histogram_text(sel.pairs)}"
    panel = right.add_gridspec(rows, cols)
    lo, hi = dataset.value_range()
    size = 8 if cols <= 10 else 6 if cols <= 20 else None  # the seed: no notes on 50×50
    for r, row in enumerate(slots):
        for c in range(cols):
            index = row[c] if c < len(row) else None
            ax = right.add_subplot(panel[r, c])
            if index is None:  # a blank cell, framed faintly so the grid stays readable
                ax.set_gid(EMPTY_GID)
                h, w = dataset.image_shape
                ax.set_xlim(-0.5, w - 0.5)
                ax.set_ylim(h - 0.5, -0.5)
                ax.set_aspect("equal")
                ax.set_xticks([])
                ax.set_yticks([])
                for spine in ax.spines.values():
                    spine.set_color("0.88")
                continue
            ax.axis("off")
            ax.set_gid(f"image-{index}")
            ax.imshow(
                np.asarray(dataset.images[index], dtype=np.float64),
                cmap="gray",
                interpolation="none",
                vmin=lo,
                vmax=hi if hi > lo else lo + 1,
            )
            if size is not None:
                note = {"xycoords": "axes fraction", "va": "top", "fontsize": size}
                ax.annotate(f"{index}", xy=(0, 0.98), ha="left", color=INDEX_COLOR, **note)
                if labels is not None:
                    label = f"L:{int(labels[index])}"
                    ax.annotate(label, xy=(1, 0.98), ha="right", color=LABEL_COLOR, **note)
    if not chosen.size:
        heading += " · the box is empty"
    right.suptitle(heading, fontsize="medium")
    return fig


def figure_images(fig: Figure) -> list[int | None]:
    """The indices the figure's image panel shows, in reading order (None: a blank cell)."""
    out: list[int | None] = []
    for ax in fig.axes:
        gid = ax.get_gid() or ""
        if gid == EMPTY_GID:
            out.append(None)
        elif gid.startswith("image-"):
            out.append(int(gid.removeprefix("image-")))
    return out


def save_figure(fig: Figure, path: Path, *, force: bool = False, dpi: int = 150) -> None:
    """Write ``fig`` to ``path`` (format from the suffix) atomically; replace only with force."""
    import matplotlib

    from digitmap_tui.export import write_atomic

    fmt = figure_path_format(path)
    if path.is_dir():
        raise InputError(f"--out {safe(str(path))}: is a directory, not a file")
    if path.exists() and not force:
        raise InputError(f"--out {safe(str(path))}: file exists (use --force to overwrite)")
    parent = path.parent if str(path.parent) else Path(".")
    if not parent.is_dir():
        raise InputError(f"--out {safe(str(path))}: directory {safe(str(parent))} does not exist")
    # Same figure, same bytes: no dates, and SVG ids from a fixed salt.
    metadata: dict[str, Any] = {"svg": {"Date": None}, "pdf": {"CreationDate": None}}.get(fmt, {})
    with matplotlib.rc_context({"svg.hashsalt": "digitmap"}):
        write_atomic(
            path,
            lambda fh: fig.savefig(fh, format=fmt, dpi=dpi, metadata=metadata),
            overwrite=force,
        )


# --------------------------------------------------------------------------- drawing helpers


def _palette(labels: np.ndarray | None, n_labels: int) -> Any:
    from matplotlib.colors import to_rgb

    from digitmap_tui.glyphs import label_color

    if labels is None:
        return "#4c72b0"
    table = np.array([to_rgb(label_color(k)) for k in range(max(1, n_labels))])
    return table[labels]


def _scatter(
    ax: Axes,
    coords: np.ndarray,
    labels: np.ndarray | None,
    view: Rect,
    *,
    highlight: np.ndarray | None = None,
) -> None:
    """The seed's ``plt.scatter(res[:,0], res[:,1], c=target, cmap=cm.tab10)`` in a view."""
    n = len(coords)
    n_labels = int(labels.max()) + 1 if labels is not None and labels.size else 0
    colors = _palette(labels, n_labels)
    size = 3.0 if n <= 5000 else max(0.2, 3.0 * 5000 / n)
    raster = n > RASTER_ABOVE
    if highlight is None:
        ax.scatter(coords[:, 0], coords[:, 1], s=size, c=colors, linewidths=0, rasterized=raster)
    else:
        ax.scatter(
            coords[:, 0],
            coords[:, 1],
            s=size,
            c=colors,
            alpha=0.25,
            linewidths=0,
            rasterized=raster,
        )
        if len(highlight):
            picked = colors if isinstance(colors, str) else colors[highlight]
            dots = ax.scatter(
                coords[highlight, 0],
                coords[highlight, 1],
                s=max(size * 3, 6.0),
                c=picked,
                edgecolors="black",
                linewidths=0.4,
            )
            dots.set_gid("selection")
    ax.set_xlim(view.x0, view.x1)
    ax.set_ylim(view.y0, view.y1)
    ax.grid(True, linewidth=0.3, alpha=0.5)
    ax.tick_params(labelsize="small")


def _draw_box(ax: Axes, box: Rect, grid: tuple[int, int] | None) -> None:
    """The selection box and, in grid mode, its cells (the seed's draw_digits_at_tsne grid)."""
    from matplotlib.patches import Rectangle

    frame = Rectangle(
        (box.x0, box.y0), box.width, box.height, fill=False, edgecolor="black", linewidth=1.2
    )
    frame.set_gid("box")
    ax.add_patch(frame)
    if grid is not None:
        rows, cols = grid
        for k in range(1, cols):
            x = box.x0 + box.width * k / cols
            ax.plot([x, x], [box.y0, box.y1], color="black", linewidth=0.4, linestyle=":")
        for k in range(1, rows):
            y = box.y0 + box.height * k / rows
            ax.plot([box.x0, box.x1], [y, y], color="black", linewidth=0.4, linestyle=":")


def _legend(ax: Axes, labels: np.ndarray | None, n_labels: int) -> None:
    if labels is None or n_labels == 0 or n_labels > 20:
        return
    from matplotlib.lines import Line2D

    from digitmap_tui.glyphs import label_color

    present = np.flatnonzero(np.bincount(labels, minlength=n_labels))
    handles = [
        Line2D([], [], marker="o", linestyle="", color=label_color(int(k)), label=str(k))
        for k in present
    ]
    ax.legend(
        handles=handles,
        loc="upper left",
        bbox_to_anchor=(1.0, 1.0),
        fontsize="small",
        title="label",
        frameon=False,
        handletextpad=0.2,
    )
