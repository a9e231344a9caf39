"""Results out: atomic writes, selection exports, piping text and reproducible commands.

Pure Python and numpy (no Textual), so the explorer, the CLI and the tests share one set of
rules: never pickle, never overwrite a file the user did not ask to replace, never leave half
a file behind.
"""

from __future__ import annotations

import errno
import functools
import json
import os
import re
import shlex
import stat
import tempfile
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from pathlib import Path
from typing import IO, Any

import numpy as np

from digitmap_tui.errors import InputError

#: Formats :func:`export_selection` writes, chosen by the file name's suffix.
EXPORT_SUFFIXES: tuple[str, ...] = (".csv", ".json", ".npy")

#: Keys of an exported JSON file that the selection itself fills; ``meta`` may not use them.
_SELECTION_KEYS = ("count", "indices", "labels", "x", "y")

# `digitmap render` flag defaults; render_command leaves a flag out when its value is the default.
_DEFAULTS: dict[str, Any] = {
    "method": "auto",  # the parser's default: a named method is always written out
    "seed": 0,
    "perplexity": 30.0,
    "n_neighbors": 15,
    "min_dist": 0.1,
    "sort": "x",
    "mode": "label",
}

# Suffixes stripped from a dataset's file name before it goes into an export's file name.
_DATA_SUFFIXES = {".gz", ".npy", ".npz", ".csv", ".txt", ".idx", ".ubyte"}


# --------------------------------------------------------------------------- atomic writes


def write_atomic(
    path: Path, write: Callable[[IO[bytes]], object], *, overwrite: bool = True
) -> None:
    """Write ``path`` through a temporary file in the same directory, then move it in place.

    A crash mid-write leaves the old file (or nothing) in place, never half a file, and no
    temporary file. With ``overwrite=False`` an existing ``path`` is never replaced, even one
    that appears while we write: :class:`InputError` ``"<path>: exists; choose another name"``.
    """
    path = Path(path)
    directory = path.parent if str(path.parent) else Path(".")
    if not overwrite and path.exists():
        raise InputError(f"{path}: exists; choose another name")
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=directory)
    except OSError as exc:
        raise InputError(f"{path}: cannot write here ({exc.strerror or exc})") from None
    moved = False
    try:
        _set_mode(fd, path)
        with os.fdopen(fd, "wb") as fh:
            write(fh)
            fh.flush()
            os.fsync(fh.fileno())
        if overwrite:
            os.replace(tmp, path)
            moved = True
        else:
            moved = _link_no_clobber(tmp, path)
    finally:
        # After a failure, or after a hard link, the temporary name is still there: remove it.
        if not moved:
            try:
                os.unlink(tmp)
            except OSError:
                pass


def _set_mode(fd: int, path: Path) -> None:
    # mkstemp creates files readable by their owner only; a replaced file keeps its mode and a
    # new one gets the usual umask mode, as if opened with open(path, "w").
    try:
        mode = stat.S_IMODE(path.stat().st_mode)
    except OSError:
        mode = 0o666 & ~_umask()
    try:
        os.fchmod(fd, mode)
    except (OSError, AttributeError):  # no fchmod on Windows; the file still gets written
        pass


@functools.cache
def _umask() -> int:
    # /proc tells the umask without changing it; os.umask() must set it to read it, which
    # would briefly affect files other threads create.
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("Umask:"):
                return int(line.split()[1], 8)
    except (OSError, ValueError, IndexError):
        pass
    old = os.umask(0o022)
    os.umask(old)
    return old


def _link_no_clobber(tmp: str, path: Path) -> bool:
    """Move ``tmp`` to ``path`` unless ``path`` exists; True when ``tmp`` was renamed away."""
    # A hard link is the portable atomic "create only if absent": the check and the move are
    # one system call, so a file that appeared since our first check is not clobbered.
    try:
        os.link(tmp, path)
        return False
    except FileExistsError:
        raise InputError(f"{path}: exists; choose another name") from None
    except OSError as exc:
        if exc.errno not in (
            errno.EPERM,
            errno.ENOTSUP,
            errno.EOPNOTSUPP,
            errno.EXDEV,
            errno.ENOSYS,
        ):
            raise
        # File systems without hard links (FAT, some network mounts): check, then replace.
        if path.exists():
            raise InputError(f"{path}: exists; choose another name") from None
        os.replace(tmp, path)
        return True


def write_atomic_array(path: Path, array: np.ndarray) -> None:
    """Write an array as ``.npy`` or ``.csv`` (chosen by the suffix), atomically."""
    path = Path(path)
    if path.suffix.lower() == ".csv":
        header = "x,y" if array.ndim == 2 and array.shape[1] == 2 else ""
        write_atomic(
            path,
            lambda fh: np.savetxt(
                fh, array, delimiter=",", header=header, comments="", fmt="%.17g"
            ),
        )
    else:
        write_atomic(path, lambda fh: np.save(fh, np.asarray(array), allow_pickle=False))


# --------------------------------------------------------------------------- selection export


def export_selection(
    path: Path | str,
    *,
    indices: Sequence[int] | np.ndarray,
    labels: np.ndarray | None,
    coords: np.ndarray,
    meta: Mapping[str, Any],
    overwrite: bool = False,
) -> Path:
    """Write the selection to ``path`` (``.csv``, ``.json`` or ``.npy``, by suffix); return the path.

    ``labels`` (N,) or ``None`` and ``coords`` (N, 2) are the *whole dataset's* arrays;
    ``indices`` picks the selected rows, in the order given (the order the user sees).

    * ``.csv``: header ``index,label,x,y``, one row per point; the label is empty when the
      dataset has none. Columns only, so ``pandas.read_csv`` and spreadsheets read it as is.
    * ``.json``: ``count``, then ``meta`` (dataset, embedding, view, box, mode, grid, command,
      ...), then the lists ``indices``, ``labels`` (``null`` without labels), ``x``, ``y``.
    * ``.npy``: the indices only, a plain int64 array (``np.load(p, allow_pickle=False)``).

    Floats are written with ``repr`` precision, so coordinates read back bit for bit. An
    existing file is kept unless ``overwrite``; problems are a one-line :class:`InputError`.
    """
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in EXPORT_SUFFIXES:
        shown = f"unknown format {path.suffix!r}" if path.suffix else "no file extension"
        raise InputError(f"{path}: {shown}; use .csv, .json or .npy")
    parent = path.parent if str(path.parent) else Path(".")
    if not parent.is_dir():
        raise InputError(f"{path}: directory {parent} does not exist")
    if path.is_dir():
        raise InputError(f"{path}: is a directory; choose a file name")
    if not overwrite and path.exists():
        raise InputError(f"{path}: exists; choose another name")

    idx = _check_indices(indices, len(coords))
    clash = sorted(set(meta) & set(_SELECTION_KEYS))
    if clash:
        raise ValueError(f"meta may not set {', '.join(clash)}: the selection fills them")

    writer: Callable[[IO[bytes]], None]
    if suffix == ".npy":
        writer = _npy_writer(idx)
    elif suffix == ".csv":
        writer = _text_writer(_selection_csv(idx, labels, coords))
    else:
        writer = _text_writer(_selection_json(idx, labels, coords, meta))
    try:
        write_atomic(path, writer, overwrite=overwrite)
    except OSError as exc:
        raise InputError(f"{path}: cannot write ({exc.strerror or exc})") from None
    return path


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


def _text_writer(text: str) -> Callable[[IO[bytes]], None]:
    def write(fh: IO[bytes]) -> None:
        fh.write(text.encode("utf-8"))

    return write


def _selection_csv(idx: np.ndarray, labels: np.ndarray | None, coords: np.ndarray) -> str:
    rows = ["index,label,x,y"]
    xs = coords[idx, 0].tolist()
    ys = coords[idx, 1].tolist()
    labs = labels[idx].tolist() if labels is not None else [""] * len(idx)
    for i, lab, x, y in zip(idx.tolist(), labs, xs, ys, strict=True):
        rows.append(f"{i},{lab},{float(x)!r},{float(y)!r}")
    return "\n".join(rows) + "\n"


def _selection_json(
    idx: np.ndarray, labels: np.ndarray | None, coords: np.ndarray, meta: Mapping[str, Any]
) -> str:
    record: dict[str, Any] = {"count": len(idx)}
    record.update(meta)
    record["indices"] = idx.tolist()
    record["labels"] = labels[idx].tolist() if labels is not None else None
    record["x"] = [float(v) for v in coords[idx, 0].tolist()]
    record["y"] = [float(v) for v in coords[idx, 1].tolist()]
    return _json_one_key_per_line(record)


def _json_one_key_per_line(record: Mapping[str, Any]) -> str:
    # indent=2 would put each of 70 000 indices on its own line; one line per key stays
    # readable with `head` and small on disk.
    lines = [
        f"  {json.dumps(key)}: {json.dumps(value, default=json_default, ensure_ascii=False)}"
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
    method: str,
    seed: int,
    perplexity: float,
    n_neighbors: int,
    min_dist: float,
    view: Sequence[float],
    box: Sequence[float],
    grid: tuple[int, int],
    list_mode: bool,
    sort: str,
    mode: str,
) -> str:
    """The ``digitmap render ...`` command line that shows this view, box and selection again.

    Flags at their defaults are left out, except ``--view``, ``--box`` and ``--grid``, which
    are always given. Floats use ``repr`` (shortest exact form), so ``Rect.parse`` of the box
    gives back the same numbers and the same points; every path is shell-quoted as given
    (pass absolute paths for a command that works from any directory).
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
    if embedding is not None:
        opt("--embedding", os.fspath(embedding))
    if method != _DEFAULTS["method"]:
        opt("--method", method)
    if seed != _DEFAULTS["seed"]:
        opt("--seed", str(int(seed)))
    if float(perplexity) != _DEFAULTS["perplexity"]:
        opt("--perplexity", _num(perplexity))
    if n_neighbors != _DEFAULTS["n_neighbors"]:
        opt("--n-neighbors", str(int(n_neighbors)))
    if float(min_dist) != _DEFAULTS["min_dist"]:
        opt("--min-dist", _num(min_dist))
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
