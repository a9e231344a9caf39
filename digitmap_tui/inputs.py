"""What a command works on: the dataset, the embedding parameters, the cache, a given map.

Shared by the CLI, the explorer and the Python API (none of them imports another for it):
loading and validating the inputs, describing where the map comes from, finding bookmarks
and computing (or loading) the embedding.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from digitmap_tui.errors import InputError
from digitmap_tui.text import safe

if TYPE_CHECKING:
    import argparse

    import numpy as np

    from digitmap_tui.cache import EmbeddingCache
    from digitmap_tui.data import Dataset
    from digitmap_tui.methods.params import EmbedParams


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
    size_text: str | None = None  # --size of an image folder, as typed
    #: One-line notes about the input worth telling the user (e.g. files a folder skipped);
    #: already made safe for a terminal.
    warnings: list[str] = field(default_factory=list)


def load_inputs(args: argparse.Namespace | Any) -> Inputs:
    """Load the dataset (and a given embedding) and validate the embedding parameters."""
    from digitmap_tui.cache import EmbeddingCache, default_cache_dir
    from digitmap_tui.data import load_dataset, load_digits, load_embedding, parse_shape
    from digitmap_tui.fileio import private_dir

    cache_dir: Path | None
    if args.no_cache:
        cache_dir = None
    elif args.cache_dir:
        cache_dir = Path(args.cache_dir).expanduser()
        if cache_dir.exists() and not cache_dir.is_dir():
            raise InputError(f"--cache-dir {safe(args.cache_dir)}: not a directory")
    else:
        cache_dir = default_cache_dir()
        try:
            cache_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
        except OSError:
            cache_dir = None  # a read-only home: run without the disk cache, as always
    if cache_dir is not None:
        # Made private (0700) if new; refused, before anything is read from it, if someone
        # else could have written there (cache entries are data, but numba's are code).
        private_dir(cache_dir, "cache directory", "or run with --no-cache")
    shape = parse_shape(args.shape) if args.shape else None
    no_labels = isinstance(args.labels, str) and args.labels.strip().lower() == "none"
    labels_file = None if no_labels else args.labels
    size_text = getattr(args, "size", None)
    notes: list[str] = []
    if args.data:
        from digitmap_tui.folder import parse_size

        dataset = load_dataset(
            args.data,
            labels=labels_file,
            shape=shape,
            no_labels=no_labels,
            image_size=parse_size(size_text) if size_text else None,
            cache_dir=cache_dir,
            progress=_folder_progress(),
            notes=notes,
        )
    else:
        if args.labels or args.shape:
            raise InputError("--labels and --shape need --data (the built-in digits have both)")
        if size_text:
            raise InputError("--size needs --data with an image folder")
        dataset = load_digits(cache_dir)
    params = params_from_args(args).choose(dataset.n)  # `auto`: the method for this many points
    coords = None
    if args.embedding:
        try:
            coords = load_embedding(args.embedding, dataset.n)
        except InputError as exc:
            raise InputError(f"--embedding {exc}") from None
    else:
        params.validate(dataset.n)
    return Inputs(
        dataset,
        params,
        EmbeddingCache(cache_dir),
        coords,
        args.embedding,
        data_path=_absolute(args.data),
        labels_path=args.labels if no_labels else _absolute(args.labels),
        shape_text=args.shape,
        size_text=size_text,
        warnings=[safe(n) for n in notes],
    )


def _folder_progress() -> Any:
    """A one-line progress bar on stderr while a folder is decoded (when it is a terminal)."""
    if not sys.stderr.isatty():
        return None

    def progress(done: int, total: int) -> None:
        width = 30
        filled = width * done // max(total, 1)
        end = "\r\x1b[2K" if done >= total else ""
        sys.stderr.write(
            f"\r\x1b[2Kreading images [{'#' * filled}{'.' * (width - filled)}] {done}/{total}{end}"
        )
        sys.stderr.flush()

    return progress


def _absolute(path: str | None) -> str | None:
    """An absolute path, so a reproducible command works from any directory."""
    return None if path is None else str(Path(path).expanduser().absolute())


def bookmark_scope(inputs: Inputs, params: object | None = None) -> str:
    """Bookmarks are kept per dataset and embedding (method + parameters, or the file)."""
    from digitmap_tui.bookmarks import scope_key

    desc = describe_source(inputs) if params is None else str(params.describe())  # type: ignore[attr-defined]
    return scope_key(inputs.dataset.fingerprint(), desc)  # type: ignore[attr-defined]


def find_bookmark(inputs: Inputs, name: str) -> dict[str, Any]:
    """The bookmark ``name`` for this dataset: the current embedding's first, then any method's.

    The state is checked with the flags' rules (:func:`digitmap_tui.bookmarks.validate_state`);
    a bad one, a missing one and a damaged file are each one-line :class:`InputError`.
    """
    from digitmap_tui.bookmarks import BookmarkStore, validate_state

    where = f"--bookmark {safe(name.strip())}"
    store = BookmarkStore()
    problem = store.load()
    if problem:
        # The damaged file was moved aside and the store is empty: the bookmark is not there.
        raise InputError(f"{where}: {problem}")
    scope = bookmark_scope(inputs)
    state = None
    if name.strip() in store.names(scope):
        state = store.get(scope, name)
    else:
        prefix = scope.split(":", 1)[0] + ":"
        for key, _dataset, _embedding, _count in store.scopes():
            if key.startswith(prefix) and name.strip() in store.names(key):
                state = store.get(key, name)
                break
    if state is None:
        state = store.get(scope, name)  # raises a one-line InputError listing the saved names
    return validate_state(state, where)


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
    from digitmap_tui.methods.registry import PARAMS

    params = state.get("params") or {}
    fields = {k: v for k, v in dict(params).items() if k in PARAMS}
    inputs.params = replace(inputs.params, method=str(state.get("method", "tsne")), **fields)
    try:
        inputs.params.validate(inputs.dataset.n)
    except InputError as exc:
        raise InputError(f"bookmark: {exc}") from None


def params_from_args(args: Any) -> EmbedParams:
    """The method and its parameters as the command line gives them (explore, render, embed)."""
    from digitmap_tui.methods.params import EmbedParams
    from digitmap_tui.methods.registry import PARAMS

    given = {name: getattr(args, name, param.default) for name, param in PARAMS.items()}
    return EmbedParams(method=args.method.lower(), **given)  # type: ignore[arg-type]
