"""The Python API: ``from digitmap_tui import embed, explore, plot``.

The same rules as the command line: embeddings go through the same cache with the same keys
(``embed(images, labels=labels)`` finds what ``digitmap --data ...`` computed for the same
arrays, and the other way round), ``explore`` is the terminal explorer, ``plot`` draws the
seed notebook's figures from the same selection code as ``digitmap render --json``.

Bad arguments raise :class:`~digitmap_tui.errors.InputError` with the CLI's one-line message.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from digitmap_tui.errors import InputError
from digitmap_tui.methods import registry

if TYPE_CHECKING:
    from matplotlib.figure import Figure

    from digitmap_tui.cache import EmbeddingCache
    from digitmap_tui.data import Dataset
    from digitmap_tui.grid import Rect
    from digitmap_tui.inputs import Inputs
    from digitmap_tui.methods.params import EmbedParams

ArrayLike = Any  # anything np.asarray takes: arrays, lists, memmaps
RectLike = Any  # a Rect or (x0, x1, y0, y1)
CacheArg = bool | str | os.PathLike[str]


class NoTerminalError(RuntimeError):
    """``explore`` was called where there is no terminal to draw on (a notebook, a pipe)."""


def embed(
    images: ArrayLike,
    method: str = "tsne",
    seed: int = 0,
    *,
    labels: ArrayLike | None = None,
    shape: tuple[int, int] | None = None,
    cache: CacheArg = True,
    progress: Callable[[float, str], None] | None = None,
    **params: Any,
) -> np.ndarray:
    """Embed ``images`` ((N, H, W), or (N, D) rows of square images, or with ``shape``) in 2-D.

    ``method`` is ``"auto"`` or a name of ``digitmap_tui.methods.registry.METHODS`` (``"pca"``,
    ``"tsne"``, ``"umap"``, ``"pacmap"``); ``params`` are the registry's other parameters
    (``perplexity``, ``n_neighbors``, ``min_dist``, ``pca_dims``, ``threads``), the CLI's
    defaults otherwise. The result is read from
    (or stored in) the same cache as the command line's, keyed by the data, the labels, the
    method, its parameters and the library version; ``cache=False`` bypasses it and a path
    chooses another directory. ``progress(fraction, phase)`` is called while computing.
    Returns a float64 array of shape (N, 2).
    """
    from digitmap_tui.jobs import get_or_compute

    dataset = as_dataset(images, labels, shape)
    embed_params = make_params(method, seed, params)
    embed_params.validate(dataset.n)
    return get_or_compute(dataset, embed_params, _cache(cache), progress=progress)


def explore(
    images: ArrayLike | None = None,
    labels: ArrayLike | None = None,
    embedding: ArrayLike | None = None,
    *,
    method: str = "tsne",
    seed: int = 0,
    shape: tuple[int, int] | None = None,
    cache: CacheArg = True,
    view: RectLike | None = None,
    box: RectLike | None = None,
    grid: tuple[int, int] = (4, 4),
    list_mode: bool = False,
    sort: str = "x",
    mode: str = "label",
    glyphs: str | None = None,
    colors: str = "auto",
    **params: Any,
) -> np.ndarray:
    """Open the explorer in this terminal; when it quits, return the selection's indices.

    ``images=None`` explores the built-in digits. ``embedding`` is an (N, 2) array (from
    :func:`embed` or any engine); without it the map is computed (or read from the cache)
    with ``method``, ``seed`` and ``params``, with a progress bar. The other keywords are the
    explorer's start-up state, as the command line's flags of the same names.

    Raises :class:`NoTerminalError` at once where nothing can draw (stdin or stderr not a
    terminal: a Jupyter kernel, a pipe); use ``digitmap serve`` or :func:`plot` there.
    """
    if not terminal_available():
        raise NoTerminalError(
            "explore() needs a terminal (stdin and stderr must be a TTY; a notebook kernel"
            " has none): for a browser run `digitmap serve` in a terminal, for a picture use"
            " digitmap_tui.plot(...)"
        )
    from digitmap_tui.app import DigitmapApp, ExploreOptions
    from digitmap_tui.grid import SORT_KEYS
    from digitmap_tui.maprender import MAP_MODES

    if sort not in SORT_KEYS:
        raise InputError(f"sort {sort!r}: choose from {', '.join(SORT_KEYS)}")
    if mode not in MAP_MODES:
        raise InputError(f"mode {mode!r}: choose from {', '.join(MAP_MODES)}")
    if glyphs not in (None, "blocks", "shade", "ascii"):
        raise InputError(f"glyphs {glyphs!r}: choose from blocks, shade, ascii")
    if colors not in ("auto", "16", "256", "truecolor", "none"):
        raise InputError(f"colors {colors!r}: choose from auto, 16, 256, truecolor, none")
    inputs = make_inputs(images, labels, embedding, method, seed, params, shape, cache)
    options = ExploreOptions(
        view=_rect(view, "view"),
        box=_rect(box, "box"),
        grid=_grid(grid),
        list_mode=bool(list_mode),
        sort=sort,
        mode=mode,
        glyphs=glyphs,
        color=None if colors == "auto" else colors != "none",
        color_system=colors,
    )
    app = DigitmapApp(inputs, options)
    app.run()
    return np.array(app.selection, dtype=np.int64)


def plot(
    images: ArrayLike | None = None,
    labels: ArrayLike | None = None,
    embedding: ArrayLike | None = None,
    *,
    method: str = "tsne",
    seed: int = 0,
    shape: tuple[int, int] | None = None,
    cache: CacheArg = True,
    view: RectLike | None = None,
    box: RectLike | None = None,
    grid: tuple[int, int] = (4, 4),
    list_mode: bool = False,
    sort: str = "x",
    twin: bool | str = False,
    max_images: int = 100,
    out: str | os.PathLike[str] | None = None,
    force: bool = False,
    **params: Any,
) -> Figure:
    """The seed notebook's figures as one matplotlib Figure (needs ``digitmap-tui[plot]``).

    The map coloured by label (tab10) with the box drawn, then the images the box selects:
    grid mode (the point nearest each cell centre, as ``draw_digits_at_tsne``) or, with
    ``list_mode``, every point in the box sorted by ``sort`` (at most ``max_images``), each
    image with its index and ``L:label``. ``twin=True`` adds the t-SNE/UMAP counterpart of
    the map (``twin="pca"`` etc. picks the method), the selection highlighted in both. The
    images are exactly those ``digitmap render --json`` selects for the same box. With
    ``out`` (.png, .svg or .pdf) the figure is also written there, atomically, and an
    existing file is replaced only with ``force=True``.
    """
    from digitmap_tui.figures import figure_path_format, save_figure, selection_figure
    from digitmap_tui.render import RenderRequest

    if out is not None:
        figure_path_format(out)  # a bad name fails before any work
    request = RenderRequest(
        view=_rect(view, "view"),
        box=_rect(box, "box"),
        grid=_grid(grid),
        list_mode=bool(list_mode),
        sort=sort,
    )
    inputs = make_inputs(images, labels, embedding, method, seed, params, shape, cache)
    fig = selection_figure(inputs, request, twin=twin, max_images=max_images)
    if out is not None:
        save_figure(fig, Path(out), force=force)
    return fig


# --------------------------------------------------------------------------- building blocks


def terminal_available() -> bool:
    """Whether the explorer can draw here: a TTY on stdin and stderr, or Textual's web driver."""
    if "web_driver" in os.environ.get("TEXTUAL_DRIVER", ""):
        return True
    try:
        return sys.stdin is not None and sys.stdin.isatty() and sys.stderr.isatty()
    except (AttributeError, ValueError):  # replaced or closed streams (notebooks, daemons)
        return False


def as_dataset(
    images: ArrayLike, labels: ArrayLike | None = None, shape: tuple[int, int] | None = None
) -> Dataset:
    """Arrays as a Dataset, validated exactly as a loaded file is (same fingerprint, same key)."""
    from digitmap_tui.data import Dataset, _as_images, _as_labels, _check_count

    try:
        array = np.asarray(images)
        image_array, value_range = _as_images(array, "images", _shape(shape))
        label_array = None
        if labels is not None:
            label_array = _as_labels(np.asarray(labels), "labels")
            _check_count(label_array, "labels", image_array.shape[0], "images")
    except InputError as exc:
        raise InputError(str(exc).replace("--shape HxW", "shape=(H, W)")) from None
    dataset = Dataset(images=image_array, labels=label_array, name="images")
    if value_range is not None:
        dataset._memo["value_range"] = value_range
    return dataset


def make_params(method: str, seed: int, params: dict[str, Any]) -> EmbedParams:
    """EmbedParams from the API's keywords; an unknown keyword is an InputError."""
    from digitmap_tui.methods.params import EmbedParams

    names = [name for name in registry.PARAMS if name != "seed"]
    unknown = sorted(set(params) - set(names))
    if unknown:
        raise InputError(
            f"unknown parameter {unknown[0]!r} (embedding parameters: {', '.join(names)})"
        )
    method_name = method.lower() if isinstance(method, str) else method
    return EmbedParams(method=method_name, seed=seed, **params)


def make_inputs(
    images: ArrayLike | None,
    labels: ArrayLike | None,
    embedding: ArrayLike | None,
    method: str,
    seed: int,
    params: dict[str, Any],
    shape: tuple[int, int] | None,
    cache: CacheArg,
) -> Inputs:
    """What the explorer and the figures work on, from arrays (or the built-in digits)."""
    from digitmap_tui.cache import EmbeddingCache
    from digitmap_tui.inputs import Inputs

    store = _cache(cache)
    if images is None:
        from digitmap_tui.data import load_digits

        if labels is not None or shape is not None:
            raise InputError("labels and shape need images (the built-in digits have both)")
        dataset = load_digits(store.directory if store is not None else None)
    else:
        dataset = as_dataset(images, labels, shape)
    embed_params = make_params(method, seed, params)
    coords = None
    if embedding is not None:
        coords = _embedding(embedding, dataset.n)
    else:
        embed_params.validate(dataset.n)
    return Inputs(
        dataset,
        embed_params,
        store if store is not None else EmbeddingCache(None),
        coords,
        "(given)" if coords is not None else None,
    )


def _embedding(embedding: ArrayLike, n: int) -> np.ndarray:
    coords = np.asarray(embedding)
    if coords.dtype.kind not in "iuf" or coords.ndim != 2 or coords.shape[1] != 2:
        raise InputError(f"embedding: expected an (N, 2) numeric array, got {coords.shape}")
    if coords.shape[0] != n:
        raise InputError(f"embedding: {coords.shape[0]} points for {n} images")
    coords = np.ascontiguousarray(coords, dtype=np.float64)
    if not np.isfinite(coords).all():
        i = int(np.flatnonzero(~np.isfinite(coords).all(axis=1))[0])
        raise InputError(f"embedding: point {i} has NaN or infinite coordinates")
    return coords


def _cache(cache: CacheArg) -> EmbeddingCache | None:
    from digitmap_tui.cache import EmbeddingCache, default_cache_dir

    if cache is False:
        return None
    if cache is True:
        return EmbeddingCache(default_cache_dir())
    directory = Path(cache).expanduser()
    if directory.exists() and not directory.is_dir():
        raise InputError(f"cache {os.fspath(cache)}: not a directory")
    return EmbeddingCache(directory)


def _shape(shape: Any) -> tuple[int, int] | None:
    if shape is None:
        return None
    try:
        h, w = (int(v) for v in shape)
    except (TypeError, ValueError):
        raise InputError(f"shape {shape!r}: expected (height, width)") from None
    if h <= 0 or w <= 0:
        raise InputError(f"shape {shape!r}: image size must be positive")
    return h, w


def _rect(value: RectLike | None, name: str) -> Rect | None:
    from digitmap_tui.grid import Rect

    if value is None or isinstance(value, Rect):
        return value
    try:
        x0, x1, y0, y1 = (float(v) for v in value)
    except (TypeError, ValueError):
        raise InputError(f"{name} {value!r}: expected (x0, x1, y0, y1)") from None
    return Rect.parse(f"{x0!r},{x1!r},{y0!r},{y1!r}", name)


def _grid(value: Any) -> tuple[int, int]:
    from digitmap_tui.grid import parse_grid

    try:
        rows, cols = (int(v) for v in value)
    except (TypeError, ValueError):
        raise InputError(f"grid {value!r}: expected (rows, cols)") from None
    return parse_grid(f"{rows}x{cols}")


__all__ = ["NoTerminalError", "embed", "explore", "plot"]
