"""Explorers on the image-folder fixtures, with a fixed map: shared by Pilot and snapshot tests.

The map of a folder is computed here from the images themselves with plain numpy (no SVD
whose signs could differ between machines): each image's mean colour, red minus blue
across, green up (for grey images: the left half's ink minus the right half's across, all
ink up), as ranks, so the points spread over the map. It separates skies, fruit and
foliage well enough to explore, and it is the same picture everywhere.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np

from digitmap_tui.app import DigitmapApp, ExploreOptions
from digitmap_tui.cache import EmbeddingCache
from digitmap_tui.data import Dataset, load_dataset
from digitmap_tui.grid import Rect
from digitmap_tui.inputs import Inputs
from digitmap_tui.methods.params import EmbedParams

FIXTURES = Path(__file__).parent / "fixtures"
COLOUR_SCENES = FIXTURES / "colour_scenes"
DIGITS_PNG = FIXTURES / "digits_png"


def fixed_map(dataset: Dataset) -> np.ndarray:
    """(N, 2) coordinates from the images' colours (see the module docstring)."""
    images = np.asarray(dataset.images, dtype=np.float64)
    if images.ndim == 4:
        mean = images.mean(axis=(1, 2))
        xy = np.stack([mean[:, 0] - mean[:, 2], mean[:, 1]], axis=1)
    else:
        lo, hi = dataset.value_range()
        flat = (images.reshape(len(images), -1) - lo) / max(hi - lo, 1e-9)
        half = flat.shape[1] // 2
        xy = np.stack([flat[:, :half].mean(1) - flat[:, half:].mean(1), flat.mean(1)], axis=1)
    ranks = np.argsort(np.argsort(xy, axis=0, kind="stable"), axis=0, kind="stable")
    return ranks.astype(np.float64)


def everything(coords: np.ndarray) -> Rect:
    """A box holding every point."""
    (x0, y0), (x1, y1) = coords.min(axis=0), coords.max(axis=0)
    pad_x, pad_y = (x1 - x0) * 0.02 + 1e-6, (y1 - y0) * 0.02 + 1e-6
    return Rect(float(x0 - pad_x), float(x1 + pad_x), float(y0 - pad_y), float(y1 + pad_y))


def folder_inputs(
    cache_dir: Path,
    folder: Path = COLOUR_SCENES,
    *,
    size: tuple[int, int] | None = None,
    notes: list[str] | None = None,
) -> Inputs:
    """A folder loaded as ``--data DIR [--size HxW]`` loads it, with the fixed map."""
    notes = [] if notes is None else notes
    dataset = load_dataset(folder, image_size=size, cache_dir=cache_dir, notes=notes)
    coords = fixed_map(dataset)
    return Inputs(
        dataset,
        EmbedParams(method="pca"),
        EmbeddingCache(cache_dir),
        coords,
        "colours.npy",
        data_path=str(folder),
        size_text=None if size is None else f"{size[0]}x{size[1]}",
        warnings=list(notes),
    )


def folder_app(
    cache_dir: Path,
    folder: Path = COLOUR_SCENES,
    options: ExploreOptions | None = None,
    *,
    size: tuple[int, int] | None = None,
    box_all: bool = True,
) -> DigitmapApp:
    """An explorer on an image folder; the box holds every image unless ``box_all`` is off."""
    inputs = folder_inputs(cache_dir, folder, size=size)
    options = options or ExploreOptions(color=True)
    assert inputs.coords is not None
    if box_all and options.box is None:
        options = replace(options, box=everything(inputs.coords))
    app = DigitmapApp(inputs, replace(options, quality=False))
    app.theme = "textual-dark"
    return app
