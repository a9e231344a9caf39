"""What a command works on: the dataset, the embedding parameters, the cache, a given map.

Shared by the CLI, the explorer and the Python API (none of them imports another for it):
loading and validating the inputs, describing where the map comes from, finding bookmarks
and computing (or loading) the embedding.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from digitmap_tui.errors import InputError
from digitmap_tui.text import safe

if TYPE_CHECKING:
    import argparse

    import numpy as np

    from digitmap_tui.cache import EmbeddingCache
    from digitmap_tui.data import Dataset
    from digitmap_tui.embed import EmbedParams


@dataclass
class Inputs:
    """Everything a command needs once the flags are checked and the files loaded."""

    dataset: Dataset
    params: EmbedParams
    cache: EmbeddingCache
    coords: np.ndarray | None  # from --embedding, else None until computed
    embedding_path: str | None
    data_path: str | None = None  # as typed, for the reproducible `digitmap render` command
    labels_path: str | None = None
    shape_text: str | None = None


def load_inputs(args: argparse.Namespace | Any) -> Inputs:
    """Load the dataset (and a given embedding) and validate the embedding parameters."""
    from digitmap_tui.cache import EmbeddingCache, default_cache_dir
    from digitmap_tui.data import load_dataset, load_digits, load_embedding, parse_shape
    from digitmap_tui.embed import EmbedParams

    cache_dir: Path | None
    if args.no_cache:
        cache_dir = None
    elif args.cache_dir:
        cache_dir = Path(args.cache_dir).expanduser()
        if cache_dir.exists() and not cache_dir.is_dir():
            raise InputError(f"--cache-dir {safe(args.cache_dir)}: not a directory")
    else:
        cache_dir = default_cache_dir()
    shape = parse_shape(args.shape) if args.shape else None
    if args.data:
        dataset = load_dataset(args.data, labels=args.labels, shape=shape)
    else:
        if args.labels or args.shape:
            raise InputError("--labels and --shape need --data (the built-in digits have both)")
        dataset = load_digits(cache_dir)
    params = EmbedParams(
        method=args.method.lower(),
        seed=args.seed,
        perplexity=args.perplexity,
        n_neighbors=args.n_neighbors,
        min_dist=args.min_dist,
        pca_dims=getattr(args, "pca_dims", 50),
        threads=getattr(args, "threads", None),
    ).choose(dataset.n)  # `auto` becomes the method it picks for this many points
    coords = None
    if args.embedding:
        coords = load_embedding(args.embedding, dataset.n)
    else:
        params.validate(dataset.n)
    return Inputs(
        dataset,
        params,
        EmbeddingCache(cache_dir),
        coords,
        args.embedding,
        data_path=_absolute(args.data),
        labels_path=_absolute(args.labels),
        shape_text=args.shape,
    )


def _absolute(path: str | None) -> str | None:
    """An absolute path, so a reproducible command works from any directory."""
    return None if path is None else str(Path(path).expanduser().absolute())


def bookmark_scope(inputs: Inputs, params: object | None = None) -> str:
    """Bookmarks are kept per dataset and embedding (method + parameters, or the file)."""
    from digitmap_tui.bookmarks import scope_key

    desc = describe_source(inputs) if params is None else str(params.describe())  # type: ignore[attr-defined]
    return scope_key(inputs.dataset.fingerprint(), desc)  # type: ignore[attr-defined]


def find_bookmark(inputs: Inputs, name: str) -> dict[str, Any]:
    """The bookmark ``name`` for this dataset: the current embedding's first, then any method's."""
    from digitmap_tui.bookmarks import BookmarkStore

    store = BookmarkStore()
    problem = store.load()
    if problem:
        sys.stderr.write(f"digitmap: warning: {safe(problem)}\n")
    scope = bookmark_scope(inputs)
    if name.strip() in store.names(scope):
        return store.get(scope, name)
    prefix = scope.split(":", 1)[0] + ":"
    for key, _dataset, _embedding, _count in store.scopes():
        if key.startswith(prefix) and name.strip() in store.names(key):
            return store.get(key, name)
    return store.get(scope, name)  # raises a one-line InputError listing the saved names


def ensure_coords(inputs: Inputs, quiet: bool = False) -> np.ndarray:
    """The embedding: given, cached, or computed now (progress on stderr when it is a terminal)."""
    if inputs.coords is not None:
        return inputs.coords
    from digitmap_tui.jobs import get_or_compute

    show = not quiet and sys.stderr.isatty()

    def progress(fraction: float, phase: str) -> None:
        if show:
            sys.stderr.write(f"\r\x1b[2K{inputs.params.describe()}: {phase} {fraction:4.0%}")  # type: ignore[attr-defined]
            sys.stderr.flush()

    coords = get_or_compute(inputs.dataset, inputs.params, inputs.cache, progress=progress)
    if show:
        sys.stderr.write("\r\x1b[2K")
        sys.stderr.flush()
    inputs.coords = coords
    return coords


def describe_source(inputs: Inputs) -> str:
    """The title's method part: the method and parameters, or the embedding file's name."""
    if inputs.embedding_path:
        return f"embedding {safe(Path(inputs.embedding_path).name)}"
    return str(inputs.params.describe())  # type: ignore[attr-defined]


def apply_bookmark_params(inputs: Inputs, state: dict[str, Any]) -> None:
    """Use the bookmark's method and parameters (unless the map comes from --embedding)."""
    from dataclasses import replace

    if inputs.coords is not None:
        return
    params = state.get("params") or {}
    wanted = ("seed", "perplexity", "n_neighbors", "min_dist")
    fields = {k: v for k, v in dict(params).items() if k in wanted}
    inputs.params = replace(inputs.params, method=str(state.get("method", "tsne")), **fields)
    inputs.params.validate(inputs.dataset.n)
