"""Results out: atomic writes, selection exports, piping text and reproducible commands.

Pure Python and numpy (no Textual), so the explorer, the CLI and the tests share one set of
rules: never pickle, never overwrite a file the user did not ask to replace, never leave half
a file behind.
"""

from __future__ import annotations

import io
import json
import os
import re
import shlex
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

import numpy as np

from digitmap_tui.errors import InputError
from digitmap_tui.fileio import json_dumps, write_atomic
from digitmap_tui.fileio import write_atomic_array as write_atomic_array
from digitmap_tui.methods.registry import PARAMS
from digitmap_tui.text import safe

if TYPE_CHECKING:
    from digitmap_tui.methods.params import EmbedParams

# Atomic writing lives in fileio; write_atomic and write_atomic_array stay importable from
# here for older callers.

#: Formats :func:`export_selection` writes, chosen by the file name's suffix.
EXPORT_SUFFIXES: tuple[str, ...] = (".csv", ".json", ".npy")

#: Keys of an exported JSON file that the selection itself fills; ``meta`` may not use them.
_SELECTION_KEYS = ("count", "indices", "labels", "x", "y", "label_names", "paths")

# `digitmap render` flag defaults; render_command leaves a flag out when its value is the default.
# (The embedding's flags and defaults are the registry's: digitmap_tui.methods.registry.)
_DEFAULTS: dict[str, Any] = {"sort": "x", "mode": "label"}

# Suffixes stripped from a dataset's file name before it goes into an export's file name.
_DATA_SUFFIXES = {".gz", ".npy", ".npz", ".csv", ".txt", ".idx", ".ubyte"}


# --------------------------------------------------------------------------- selection export


def export_selection(
    path: Path | str,
    *,
    indices: Sequence[int] | np.ndarray,
    labels: np.ndarray | None,
    coords: np.ndarray,
    meta: Mapping[str, Any],
    overwrite: bool = False,
    paths: Sequence[str] | None = None,
    label_names: Sequence[str] | None = None,
) -> Path:
    """Write the selection to ``path`` (``.csv``, ``.json`` or ``.npy``, by suffix); return the path.

    ``labels`` (N,) or ``None`` and ``coords`` (N, 2) are the *whole dataset's* arrays;
    ``indices`` picks the selected rows, in the order given (the order the user sees).

    * ``.csv``: header ``index,label,x,y``, one row per point; the label is empty when the
      dataset has none. Columns only, so ``pandas.read_csv`` and spreadsheets read it as is.
    * ``.json``: ``count``, then ``meta`` (dataset, embedding, view, box, mode, grid, command,
      ...), then the lists ``indices``, ``labels`` (``null`` without labels), ``x``, ``y``.
    * ``.npy``: the indices only, a plain int64 array (``np.load(p, allow_pickle=False)``).

    ``paths`` (N,) and ``label_names`` come from an image folder: CSV then gains the columns
    ``label_name`` and ``path`` (quoted as CSV needs), JSON the lists ``label_names`` (one per
    selected point) and ``paths``.

    Floats are written with ``repr`` precision, so coordinates read back bit for bit. An
    existing file is kept unless ``overwrite``; problems are a one-line :class:`InputError`.
    """
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in EXPORT_SUFFIXES:
        shown = f"unknown format {safe(path.suffix)!r}" if path.suffix else "no file extension"
        raise InputError(f"{safe(path)}: {shown}; use .csv, .json or .npy")
    parent = path.parent if str(path.parent) else Path(".")
    if not parent.is_dir():
        raise InputError(f"{safe(path)}: directory {safe(parent)} does not exist")
    if path.is_dir():
        raise InputError(f"{safe(path)}: is a directory; choose a file name")
    if not overwrite and path.exists():
        raise InputError(f"{safe(path)}: exists; choose another name")

    writer = _selection_writer(suffix, indices, labels, coords, meta, paths, label_names)
    try:
        write_atomic(path, writer, overwrite=overwrite)
    except OSError as exc:
        raise InputError(f"{safe(path)}: cannot write ({safe(exc.strerror or exc)})") from None
    return path


def encode_selection(
    suffix: str,
    *,
    indices: Sequence[int] | np.ndarray,
    labels: np.ndarray | None,
    coords: np.ndarray,
    meta: Mapping[str, Any],
    paths: Sequence[str] | None = None,
    label_names: Sequence[str] | None = None,
) -> bytes:
    """The bytes :func:`export_selection` writes for ``suffix`` (``.csv``, ``.json`` or
    ``.npy``): for a download in the browser, where nothing is written on the server."""
    suffix = suffix.lower()
    if suffix not in EXPORT_SUFFIXES:
        raise InputError(f"unknown format {safe(suffix)!r}; use .csv, .json or .npy")
    out = io.BytesIO()
    _selection_writer(suffix, indices, labels, coords, meta, paths, label_names)(out)
    return out.getvalue()


def _selection_writer(
    suffix: str,
    indices: Sequence[int] | np.ndarray,
    labels: np.ndarray | None,
    coords: np.ndarray,
    meta: Mapping[str, Any],
    paths: Sequence[str] | None,
    label_names: Sequence[str] | None,
) -> Callable[[IO[bytes]], None]:
    idx = _check_indices(indices, len(coords))
    clash = sorted(set(meta) & set(_SELECTION_KEYS))
    if clash:
        raise ValueError(f"meta may not set {', '.join(clash)}: the selection fills them")
    if suffix == ".npy":
        return _npy_writer(idx)
    if suffix == ".csv":
        csv_text = _selection_csv(idx, labels, coords, paths, label_names)
        return _text_writer(csv_text, "surrogateescape")
    json_text = _selection_json(idx, labels, coords, meta, paths, label_names)
    return _text_writer(json_text, "backslashreplace")


def _check_indices(indices: Sequence[int] | np.ndarray, n: int) -> np.ndarray:
    idx = np.asarray(indices)
    if idx.size == 0:
        return np.zeros(0, dtype=np.int64)
    if idx.ndim != 1 or not np.issubdtype(idx.dtype, np.integer):
        raise ValueError(f"indices must be a 1-D integer array, got {idx.dtype} {idx.shape}")
    if idx.min() < 0 or idx.max() >= n:
        raise ValueError(f"indices must lie in [0, {n}), got {idx.min()}..{idx.max()}")
    return idx.astype(np.int64, copy=False)


def _npy_writer(idx: np.ndarray) -> Callable[[IO[bytes]], None]:
    def write(fh: IO[bytes]) -> None:
        np.save(fh, np.ascontiguousarray(idx, dtype=np.int64), allow_pickle=False)

    return write


def _text_writer(text: str, errors: str = "strict") -> Callable[[IO[bytes]], None]:
    # A file name that is not UTF-8 reaches us with surrogate escapes (os.fsdecode): CSV
    # writes its bytes back as they were ("surrogateescape"), JSON as \udcXX escapes
    # ("backslashreplace" writes exactly JSON's syntax), which json.loads reads back.
    def write(fh: IO[bytes]) -> None:
        fh.write(text.encode("utf-8", errors))

    return write


def _selection_csv(
    idx: np.ndarray,
    labels: np.ndarray | None,
    coords: np.ndarray,
    paths: Sequence[str] | None = None,
    label_names: Sequence[str] | None = None,
) -> str:
    if paths is not None or label_names is not None:
        return _selection_csv_with_names(idx, labels, coords, paths, label_names)
    rows = ["index,label,x,y"]
    xs = coords[idx, 0].tolist()
    ys = coords[idx, 1].tolist()
    labs = labels[idx].tolist() if labels is not None else [""] * len(idx)
    for i, lab, x, y in zip(idx.tolist(), labs, xs, ys, strict=True):
        rows.append(f"{i},{lab},{float(x)!r},{float(y)!r}")
    return "\n".join(rows) + "\n"


def _selection_csv_with_names(
    idx: np.ndarray,
    labels: np.ndarray | None,
    coords: np.ndarray,
    paths: Sequence[str] | None,
    label_names: Sequence[str] | None,
) -> str:
    import csv
    import io

    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    header = ["index", "label", "x", "y"]
    if label_names is not None:
        header.append("label_name")
    if paths is not None:
        header.append("path")
    writer.writerow(header)
    for i in idx.tolist():
        lab = int(labels[i]) if labels is not None else None
        row: list[Any] = [i, "" if lab is None else lab]
        row += [repr(float(coords[i, 0])), repr(float(coords[i, 1]))]
        if label_names is not None:
            row.append(_name(label_names, lab))
        if paths is not None:
            row.append(paths[i])
        writer.writerow(row)
    return out.getvalue()


def _name(label_names: Sequence[str], label: int | None) -> str:
    return "" if label is None or label >= len(label_names) else label_names[label]


def _selection_json(
    idx: np.ndarray,
    labels: np.ndarray | None,
    coords: np.ndarray,
    meta: Mapping[str, Any],
    paths: Sequence[str] | None = None,
    label_names: Sequence[str] | None = None,
) -> str:
    record: dict[str, Any] = {"count": len(idx)}
    record.update(meta)
    record["indices"] = idx.tolist()
    record["labels"] = labels[idx].tolist() if labels is not None else None
    record["x"] = [float(v) for v in coords[idx, 0].tolist()]
    record["y"] = [float(v) for v in coords[idx, 1].tolist()]
    if label_names is not None:
        record["label_names"] = (
            None if labels is None else [_name(label_names, int(labels[i])) for i in idx]
        )
    if paths is not None:
        record["paths"] = [paths[i] for i in idx.tolist()]
    return _json_one_key_per_line(record)


def _json_one_key_per_line(record: Mapping[str, Any]) -> str:
    # indent=2 would put each of 70 000 indices on its own line; one line per key stays
    # readable with `head` and small on disk.
    lines = [
        f"  {json.dumps(key)}: {json_dumps(value, default=json_default)}"
        for key, value in record.items()
    ]
    return "{\n" + ",\n".join(lines) + "\n}\n"


def json_default(value: Any) -> Any:
    """``json.dumps(default=...)`` hook: numpy scalars and arrays, and paths, as plain JSON."""
    # numpy scalars/arrays, tuples of them and paths turn up in `meta`; make them plain JSON.
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, os.PathLike):
        return os.fspath(value)
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")


# --------------------------------------------------------------------------- file names


def default_export_name(
    dataset_name: str,
    method: str,
    n: int,
    suffix: str,
    directory: Path | None = None,
) -> Path:
    """A fresh export path such as ``./digitmap-digits-tsne-13pts.csv`` (``-2``, ``-3``… if taken).

    ``directory`` defaults to the current directory (always there, even on a headless server).
    """
    directory = Path.cwd() if directory is None else Path(directory)
    suffix = suffix if suffix.startswith(".") else f".{suffix}"
    stem = "-".join(
        part
        for part in ("digitmap", _slug(_strip_data_suffixes(dataset_name)), _slug(method))
        if part
    )
    count = f"{n}pt" if n == 1 else f"{n}pts"
    return _unique(directory, f"{stem}-{count}", suffix)


def default_screenshot_path(
    directory: Path | None = None, suffix: str = ".svg", *, now: datetime | None = None
) -> Path:
    """A fresh screenshot path ``digitmap-YYYYmmdd-HHMMSS.svg`` (``-2``… if taken).

    ``directory`` defaults to the current directory; ``now`` (local time) is for tests.
    """
    directory = Path.cwd() if directory is None else Path(directory)
    suffix = suffix if suffix.startswith(".") else f".{suffix}"
    stamp = (now or datetime.now()).strftime("%Y%m%d-%H%M%S")
    return _unique(directory, f"digitmap-{stamp}", suffix)


def _unique(directory: Path, stem: str, suffix: str) -> Path:
    candidate = directory / f"{stem}{suffix}"
    k = 2
    while candidate.exists():
        candidate = directory / f"{stem}-{k}{suffix}"
        k += 1
    return candidate


def _strip_data_suffixes(name: str) -> str:
    # "train-images-idx3-ubyte.gz" -> "train-images-idx3-ubyte", "mnist.npz" -> "mnist"
    p = Path(name).name
    while Path(p).suffix.lower() in _DATA_SUFFIXES:
        p = p[: -len(Path(p).suffix)]
    return p


def _slug(text: str) -> str:
    # File names that need no quoting in a shell: letters, digits, '.', '_' and '-'.
    return re.sub(r"[^A-Za-z0-9._]+", "-", text).strip("-.")


# --------------------------------------------------------------------------- piping


def format_selection(indices: Sequence[int] | np.ndarray, as_json: bool = False) -> str:
    """Text for stdout on exit: one index per line, or a JSON list; ends with a newline.

    An empty selection is ``""`` as lines (so ``wc -l`` says 0) and ``"[]\\n"`` as JSON.
    """
    values = [int(i) for i in np.asarray(indices, dtype=np.int64).ravel().tolist()]
    if as_json:
        return json.dumps(values) + "\n"
    return "".join(f"{i}\n" for i in values)


# --------------------------------------------------------------------------- reproducible command


def render_command(
    *,
    data: str | os.PathLike[str] | None,
    labels: str | os.PathLike[str] | None,
    shape: str | tuple[int, int] | None,
    embedding: str | os.PathLike[str] | None,
    params: EmbedParams | None,
    view: Sequence[float],
    box: Sequence[float],
    grid: tuple[int, int],
    list_mode: bool,
    sort: str,
    mode: str,
    size: str | None = None,
    input_labels: bool = False,
) -> str:
    """The ``digitmap render ...`` command line that shows this view, box and selection again.

    The method is always named, and every parameter of its cache key that is not the
    registry's default is given (the thread count always: the map depends on it); `params`
    None when the map comes from `embedding`. ``--view``, ``--box`` and ``--grid`` are always
    given. Floats use ``repr`` (shortest exact form), so ``Rect.parse`` of the box gives back
    the same numbers and the same points; every path is shell-quoted as given (pass absolute
    paths for a command that works from any directory).
    """
    words = ["digitmap", "render"]

    def opt(flag: str, value: str) -> None:
        # "--flag=value" when the value starts with '-', which argparse would take for a flag.
        if value.startswith("-"):
            words.append(f"{flag}={shlex.quote(value)}")
        else:
            words.extend([flag, shlex.quote(value)])

    if data is not None:
        opt("--data", os.fspath(data))
    if labels is not None:
        opt("--labels", os.fspath(labels))
    if shape is not None:
        opt("--shape", shape if isinstance(shape, str) else f"{shape[0]}x{shape[1]}")
    if size is not None:
        opt("--size", size)
    if embedding is not None:
        opt("--embedding", os.fspath(embedding))
    elif params is not None:
        opt("--method", params.method)
        for name, value in params.relevant().items():
            param = PARAMS[name]
            if name == "threads" or value != param.default:
                opt(param.flag, _num(value) if param.kind == "float" else str(int(value)))  # type: ignore[call-overload,arg-type]
    if input_labels:
        words.append("--input-labels")
    # Always "=": a negative first coordinate would otherwise look like a flag to argparse.
    words.append(f"--view={_rect_text(view, '--view')}")
    words.append(f"--box={_rect_text(box, '--box')}")
    opt("--grid", f"{int(grid[0])}x{int(grid[1])}")
    if list_mode:
        words.append("--list")
    if sort != _DEFAULTS["sort"]:
        opt("--sort", sort)
    if mode != _DEFAULTS["mode"]:
        opt("--mode", mode)
    return " ".join(words)


def _num(value: float) -> str:
    # repr of a Python float is the shortest text that parses back to the same double;
    # float() first so numpy scalars don't print as "np.float64(...)".
    return repr(float(value))


def _rect_text(values: Sequence[float], flag: str) -> str:
    if len(values) != 4:
        raise ValueError(f"{flag} needs four numbers X0,X1,Y0,Y1, got {len(values)}")
    return ",".join(_num(v) for v in values)
