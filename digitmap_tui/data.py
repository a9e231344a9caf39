"""Datasets: the built-in digits, user images (.npy, .npz, CSV, IDX) and precomputed embeddings.

Everything here is numpy only. Every malformed input becomes an :class:`InputError` whose
message is one line naming the file (as the user gave it) and the problem; no other exception
is meant to escape the loaders.
"""

from __future__ import annotations

import csv
import gzip
import hashlib
import importlib.util
import math
import os
import re
import stat
import struct
import tempfile
import warnings
import zipfile
import zlib
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import numpy as np

from digitmap_tui.errors import InputError

__all__ = [
    "Dataset",
    "load_dataset",
    "load_digits",
    "load_embedding",
    "parse_shape",
]

PathArg = str | os.PathLike[str]

#: Files at least this big are memory-mapped (.npy, uncompressed IDX) instead of read in full,
#: so that opening MNIST-sized data costs neither time nor a copy in memory.
MMAP_MIN_BYTES = 16 * 2**20

#: Labels above this are refused: label counts are kept in dense arrays of n_labels entries.
MAX_LABEL = 1_000_000

IMAGE_KEYS = ("images", "x", "X", "data", "arr_0")
LABEL_KEYS = ("labels", "y", "target", "arr_1")
LABEL_COLUMNS = ("label", "labels", "target", "y", "class")

DIGITS_SHAPE = (1797, 8, 8)
DIGITS_CACHE_NAME = "digits-v1.npz"

# IDX type codes (third magic byte); multi-byte values are big-endian.
_IDX_DTYPES: dict[int, np.dtype[Any]] = {
    0x08: np.dtype(np.uint8),
    0x09: np.dtype(np.int8),
    0x0B: np.dtype(">i2"),
    0x0C: np.dtype(">i4"),
    0x0D: np.dtype(">f4"),
    0x0E: np.dtype(">f8"),
}
_IDX_NAME = re.compile(r"(idx\d+-ubyte|\.idx\d*|\.ubyte)$")


@dataclass(frozen=True, eq=False)
class Dataset:
    """Images (N, H, W) with optional integer labels (N,) and a display name."""

    images: np.ndarray
    labels: np.ndarray | None
    name: str
    # Derived values (fingerprint, value range) are computed once; the dataclass is frozen,
    # so they live in a private dict rather than in attributes.
    _memo: dict[str, Any] = field(default_factory=dict, init=False, repr=False)

    def __post_init__(self) -> None:
        # Loaders validate user input with InputError first; this only catches programming errors.
        if self.images.ndim != 3:
            raise ValueError(f"images must be (N, H, W), got shape {self.images.shape}")
        if self.labels is not None and (
            self.labels.shape != (self.images.shape[0],) or self.labels.dtype != np.int64
        ):
            raise ValueError("labels must be an int64 array of shape (N,)")

    @property
    def n(self) -> int:
        """Number of images."""
        return int(self.images.shape[0])

    @property
    def image_shape(self) -> tuple[int, int]:
        """(H, W) of one image."""
        return int(self.images.shape[1]), int(self.images.shape[2])

    @property
    def n_labels(self) -> int:
        """Largest label + 1, or 0 without labels."""
        if self.labels is None or self.labels.size == 0:
            return 0
        if "n_labels" not in self._memo:
            self._memo["n_labels"] = int(self.labels.max()) + 1
        return int(self._memo["n_labels"])

    def features(self) -> np.ndarray:
        """Images flattened to (N, H*W) float32 (a view when the images already are float32)."""
        return np.asarray(self.images, dtype=np.float32).reshape(self.n, -1)

    def fingerprint(self) -> str:
        """Hex sha256 over shape, dtype, image bytes and label bytes (computed once)."""
        if "fingerprint" not in self._memo:
            h = hashlib.sha256()
            h.update(f"images {self.images.shape} {self.images.dtype.str}\n".encode())
            _hash_rows(h, self.images)
            if self.labels is None:
                h.update(b"labels none\n")
            else:
                h.update(f"labels {self.labels.shape} {self.labels.dtype.str}\n".encode())
                _hash_rows(h, self.labels)
            self._memo["fingerprint"] = h.hexdigest()
        return str(self._memo["fingerprint"])

    def value_range(self) -> tuple[float, float]:
        """(lo, hi) of the image values, for glyph normalisation (computed once)."""
        if "value_range" not in self._memo:
            self._memo["value_range"] = (float(self.images.min()), float(self.images.max()))
        lo, hi = self._memo["value_range"]
        return float(lo), float(hi)


def _hash_rows(h: Any, array: np.ndarray) -> None:
    """Feed an array's bytes to a hash without copying it whole (it may be a large memmap)."""
    if array.flags.c_contiguous:
        h.update(array.data.cast("B"))
        return
    row_bytes = max(1, array.itemsize * (array.size // max(1, array.shape[0])))
    step = max(1, (8 * 2**20) // row_bytes)
    for start in range(0, array.shape[0], step):
        h.update(np.ascontiguousarray(array[start : start + step]).data.cast("B"))


# --------------------------------------------------------------------------- errors


def _one_line(text: str) -> str:
    return text.replace("\r", "\\r").replace("\n", "\\n")


def _fail(display: str, problem: str) -> InputError:
    return InputError(_one_line(f"{display}: {problem}"))


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


@contextmanager
def _reading(display: str) -> Iterator[None]:
    """Turn the exceptions that reading and parsing raise into one-line InputErrors."""
    try:
        yield
    except InputError:
        raise
    except PermissionError:
        raise _fail(display, "permission denied") from None
    except (gzip.BadGzipFile, zlib.error) as exc:
        raise _fail(display, f"corrupt gzip data ({_first_line(exc)})") from None
    except EOFError:
        raise _fail(display, "file ends unexpectedly (truncated?)") from None
    except zipfile.BadZipFile:
        raise _fail(display, "not a valid .npz file (damaged zip archive)") from None
    except UnicodeDecodeError:
        raise _fail(display, "not a UTF-8 text file") from None
    except MemoryError:
        raise _fail(display, "too large to load into memory") from None
    except OSError as exc:
        raise _fail(display, f"cannot read ({exc.strerror or _first_line(exc)})") from None
    except (ValueError, struct.error) as exc:
        raise _fail(display, f"cannot parse ({_first_line(exc)})") from None


def _check_file(path: PathArg, display: str) -> int:
    """Fail unless path is a readable, non-empty regular file; return its size."""
    try:
        st = os.stat(path)
    except (FileNotFoundError, NotADirectoryError):
        raise _fail(display, "no such file") from None
    except PermissionError:
        raise _fail(display, "permission denied") from None
    except OSError as exc:
        raise _fail(display, f"cannot read ({exc.strerror or _first_line(exc)})") from None
    if stat.S_ISDIR(st.st_mode):
        raise _fail(display, "is a directory, not a file")
    if not stat.S_ISREG(st.st_mode):
        raise _fail(display, "not a regular file")
    try:
        with open(path, "rb"):
            pass
    except PermissionError:
        raise _fail(display, "permission denied (cannot read)") from None
    except OSError as exc:
        raise _fail(display, f"cannot read ({exc.strerror or _first_line(exc)})") from None
    if st.st_size == 0:
        raise _fail(display, "empty file")
    return int(st.st_size)


# --------------------------------------------------------------------------- validation


def _dtype_problem(dtype: np.dtype[Any]) -> str | None:
    if dtype.hasobject:
        return "holds Python objects (pickled data is never loaded)"
    if dtype.kind == "c":
        return f"complex values are not supported (dtype {dtype})"
    if dtype.kind in "US":
        return f"expected numbers, got strings (dtype {dtype.str})"
    if dtype.kind not in "biuf":
        return f"expected numbers, got dtype {dtype}"
    return None


def _native(array: np.ndarray) -> np.ndarray:
    """Native byte order, so that fingerprints and arithmetic do not depend on the file format."""
    if array.dtype.byteorder not in ("=", "|") and array.dtype.byteorder != _NATIVE_ORDER:
        return array.astype(array.dtype.newbyteorder("="))
    return array


_NATIVE_ORDER = "<" if np.little_endian else ">"


def _as_images(
    array: np.ndarray, display: str, shape: tuple[int, int] | None
) -> tuple[np.ndarray, tuple[float, float] | None]:
    """Validate and reshape raw image data; also return (lo, hi) when it was cheap to get."""
    problem = _dtype_problem(array.dtype)
    if problem:
        raise _fail(display, problem)
    if array.ndim == 4 and 1 in (array.shape[1], array.shape[3]):
        # A single colour channel, first or last: (N, 1, H, W) or (N, H, W, 1).
        n, a, b, c = array.shape
        array = array.reshape(n, b, c) if a == 1 else array.reshape(n, a, b)
    if array.ndim not in (2, 3):
        raise _fail(display, f"expected 2-D (N×D) or 3-D (N×H×W) images, got shape {array.shape}")
    if array.shape[0] == 0:
        raise _fail(display, f"no images (shape {array.shape})")
    if array.ndim == 2:
        n, d = array.shape
        if shape is not None:
            h, w = shape
            if h * w != d:
                raise _fail(
                    display,
                    f"--shape {h}x{w} needs {h * w} values per image, the data has {d}",
                )
        else:
            side = math.isqrt(d)
            if side * side != d or d == 0:
                raise _fail(
                    display,
                    f"{d} values per image is not a square; give the image size with --shape HxW",
                )
            h = w = side
        array = array.reshape(n, h, w)
    elif shape is not None and tuple(array.shape[1:]) != tuple(shape):
        n, h0, w0 = array.shape
        h, w = shape
        if h * w != h0 * w0:
            raise _fail(
                display,
                f"--shape {h}x{w} ({h * w} pixels) does not match images of {h0}x{w0}"
                f" ({h0 * w0} pixels)",
            )
        array = array.reshape(n, h, w)
    if array.shape[1] == 0 or array.shape[2] == 0:
        raise _fail(display, f"images are empty (shape {array.shape})")
    if array.dtype.kind == "b":
        array = array.astype(np.uint8)
    array = _native(array)
    if array.dtype.kind != "f":
        return array, None
    # min/max propagate NaN and reach ±inf, so two reductions (no temporary array, even on a
    # memmap) prove every value finite; isfinite only runs to point at the culprit.
    lo, hi = float(array.min()), float(array.max())
    if not (math.isfinite(lo) and math.isfinite(hi)):
        index = _first_non_finite(array)
        raise _fail(display, f"image {index} contains NaN or infinite values")
    return array, (lo, hi)


def _first_non_finite(array: np.ndarray) -> int:
    step = max(1, (4 * 2**20) // max(1, array[0].size))
    for start in range(0, array.shape[0], step):
        chunk = array[start : start + step].reshape(-1, array[0].size)
        bad = np.flatnonzero(~np.isfinite(chunk).all(axis=1))
        if bad.size:
            return start + int(bad[0])
    return -1


def _as_labels(array: np.ndarray, display: str) -> np.ndarray:
    """Validate labels: 1-D, integral, 0 <= label <= MAX_LABEL; returns int64."""
    if array.ndim == 2 and array.shape[1] == 1:
        array = array[:, 0]
    if array.ndim != 1:
        raise _fail(display, f"labels must be 1-D (one per image), got shape {array.shape}")
    if array.dtype.hasobject:
        raise _fail(display, "labels hold Python objects (pickled data is never loaded)")
    if array.dtype.kind not in "biuf":
        raise _fail(display, f"labels must be integers, got dtype {array.dtype.str}")
    if array.size == 0:
        return np.zeros(0, dtype=np.int64)
    array = np.asarray(array)
    if array.dtype.kind == "f":
        bad = np.flatnonzero(~np.isfinite(array) | (array != np.floor(array)))
        if bad.size:
            i = int(bad[0])
            raise _fail(display, f"non-integer label {_num(array[i])} at index {i}")
    if array.dtype.kind != "b":
        lo, hi = array.min(), array.max()
        if lo < 0:
            i = int(np.argmax(array < 0))
            raise _fail(display, f"negative label {_num(array[i])} at index {i}")
        if hi > MAX_LABEL:
            i = int(np.argmax(array > MAX_LABEL))
            raise _fail(
                display, f"label {_num(array[i])} at index {i} is too large (max {MAX_LABEL})"
            )
    return np.ascontiguousarray(array, dtype=np.int64)


def _num(value: Any) -> str:
    """A number as a user would write it (numpy 2 reprs read "np.float64(3.5)")."""
    if isinstance(value, (float, np.floating)):
        number = float(value)
        return str(int(number)) if number.is_integer() else f"{number:g}"
    return str(int(value))


def _check_count(labels: np.ndarray, labels_display: str, n: int, images_display: str) -> None:
    if labels.shape[0] != n:
        raise _fail(
            labels_display,
            f"{labels.shape[0]} labels but {images_display} has {n} images",
        )


# --------------------------------------------------------------------------- .npy / .npz


def _load_npy(path: PathArg, display: str, size: int) -> np.ndarray:
    """Load a .npy without pickle; large files are memory-mapped read-only."""
    with _reading(display):
        with open(path, "rb") as f:
            try:
                version = np.lib.format.read_magic(f)
            except ValueError:
                raise _fail(display, "not a .npy file (bad magic)") from None
            header: tuple[Any, ...] | None = None
            if version == (1, 0):
                header = np.lib.format.read_array_header_1_0(f)
            elif version == (2, 0):
                header = np.lib.format.read_array_header_2_0(f)
            offset = f.tell()
        if header is not None:
            # Check what the header promises before numpy reads it, for exact messages.
            shape, _, dtype = header
            if dtype.hasobject:
                raise _fail(display, "holds Python objects (pickled data is never loaded)")
            expected = offset + math.prod(shape) * dtype.itemsize
            if size < expected:
                raise _fail(
                    display,
                    f"truncated .npy file: header promises {expected} bytes, file has {size}",
                )
        try:
            if size >= MMAP_MIN_BYTES:
                array = np.load(path, mmap_mode="r", allow_pickle=False)
            else:
                array = np.load(path, allow_pickle=False)
        except ValueError as exc:
            if "pickle" in str(exc) or "object" in str(exc).lower():
                raise _fail(
                    display, "holds Python objects (pickled data is never loaded)"
                ) from None
            raise
    if not isinstance(array, np.ndarray):
        raise _fail(display, "not a .npy file")
    return array


def _open_npz(path: PathArg, display: str) -> Any:
    with _reading(display):
        with open(path, "rb") as f:
            magic = f.read(4)
        # Checked first: np.load treats any other content as a pickle and says only that.
        if magic not in (b"PK\x03\x04", b"PK\x05\x06"):
            raise _fail(display, "not a .npz file (not a zip archive)")
        return np.load(path, allow_pickle=False)


def _npz_array(npz: Any, key: str, display: str) -> np.ndarray:
    with _reading(display):
        try:
            return np.asarray(npz[key])
        except ValueError as exc:
            if "pickle" in str(exc) or "object" in str(exc).lower():
                raise _fail(
                    display, f"array '{key}' holds Python objects (pickled data is never loaded)"
                ) from None
            raise _fail(display, f"array '{key}' is damaged ({_first_line(exc)})") from None


def _load_npz(path: PathArg, display: str) -> tuple[np.ndarray, np.ndarray | None]:
    npz = _open_npz(path, display)
    with npz:
        keys = list(npz.files)
        image_key = next((k for k in IMAGE_KEYS if k in keys), None)
        if image_key is None and len(keys) == 1:
            image_key = keys[0]
        if image_key is None:
            found = ", ".join(keys) if keys else "nothing"
            raise _fail(
                display,
                f"no image array (expected one of {', '.join(IMAGE_KEYS)}; found {found})",
            )
        label_key = next((k for k in LABEL_KEYS if k in keys and k != image_key), None)
        images = _npz_array(npz, image_key, display)
        labels = _npz_array(npz, label_key, display) if label_key else None
    return images, labels


def _load_npz_labels(path: PathArg, display: str) -> np.ndarray:
    npz = _open_npz(path, display)
    with npz:
        keys = list(npz.files)
        key = next((k for k in LABEL_KEYS if k in keys), None)
        if key is None and len(keys) == 1:
            key = keys[0]
        if key is None:
            raise _fail(display, f"no label array (expected one of {', '.join(LABEL_KEYS)})")
        return _npz_array(npz, key, display)


# --------------------------------------------------------------------------- CSV


def _open_text(path: PathArg, display: str) -> IO[str]:
    name = os.fspath(path).lower()
    with _reading(display):
        if name.endswith(".gz"):
            return gzip.open(path, "rt", encoding="utf-8-sig", newline="")
        return open(path, encoding="utf-8-sig", newline="")


def _is_number(cell: str) -> bool:
    # Python's float() accepts "1_000", numpy's parser does not; stay with numpy's rules.
    if "_" in cell:
        return False
    try:
        float(cell)
    except ValueError:
        return False
    return True


def _read_csv(path: PathArg, display: str) -> tuple[list[str] | None, np.ndarray]:
    """Read a numeric CSV with an optional header row into a 2-D float64 array."""
    with _open_text(path, display) as f, _reading(display):
        first = ""
        while not first.strip():
            first = f.readline()
            if not first:
                raise _fail(display, "no data (only blank lines)")
        cells = next(csv.reader([first]))
        header = None
        if not all(_is_number(c) for c in cells):
            header = [c.strip() for c in cells]
        f.seek(0)
        # Blank lines before the header would shift skiprows; loadtxt skips blank lines itself,
        # so skip exactly the lines up to and including the header.
        skip = 0
        if header is not None:
            while True:
                line = f.readline()
                skip += 1
                if line.strip():
                    break
            f.seek(0)
        try:
            with warnings.catch_warnings():
                # "input contained no data" is reported below as our own error.
                warnings.simplefilter("ignore", UserWarning)
                table = np.loadtxt(
                    f,
                    delimiter=",",
                    skiprows=skip,
                    dtype=np.float64,
                    ndmin=2,
                    quotechar='"',
                    comments=None,
                )
        except UnicodeDecodeError:
            raise
        except ValueError as exc:
            f.seek(0)
            raise _fail(display, _locate_csv_problem(f, skip, exc)) from None
    if table.shape[0] == 0:
        raise _fail(display, "no data rows")
    if header is not None and table.shape[1] != len(header):
        raise _fail(display, f"header has {len(header)} columns but the rows have {table.shape[1]}")
    return header, table


def _locate_csv_problem(f: IO[str], skip: int, exc: ValueError) -> str:
    """Find the first ragged row or non-numeric cell, for a message that points at it."""
    width = None
    for line_no, row in enumerate(csv.reader(f), start=1):
        if line_no <= skip or not any(c.strip() for c in row):
            continue
        if width is None:
            width = len(row)
        elif len(row) != width:
            return f"line {line_no} has {len(row)} columns, expected {width} (ragged CSV)"
        for col, cell in enumerate(row, start=1):
            if not _is_number(cell.strip()):
                shown = cell if len(cell) <= 20 else cell[:17] + "..."
                hint = (
                    " (values must be separated by commas)"
                    if any(sep in cell for sep in ";\t|")
                    else ""
                )
                return f"non-numeric value {shown!r} at line {line_no}, column {col}{hint}"
    return f"cannot parse CSV ({_first_line(exc)})"


def _label_column(header: list[str] | None, n_columns: int, n_pixels: int | None) -> int | None:
    """Index of the label column: a named one, else the first (None: the CSV has no labels)."""
    if header is not None:
        names = [h.lower() for h in header]
        for i, name in enumerate(names):
            if name in LABEL_COLUMNS:
                return i
        # A header without a label column whose width is exactly one image: pixels only.
        if n_pixels is not None and n_columns == n_pixels:
            return None
        if n_pixels is None and _is_square(n_columns):
            return None
    return 0


def _is_square(d: int) -> bool:
    return d > 0 and math.isqrt(d) ** 2 == d


def _load_csv_images(
    path: PathArg, display: str, shape: tuple[int, int] | None
) -> tuple[np.ndarray, np.ndarray | None]:
    header, table = _read_csv(path, display)
    n_pixels = shape[0] * shape[1] if shape else None
    label_col = _label_column(header, table.shape[1], n_pixels)
    labels = None
    if label_col is not None:
        labels = table[:, label_col]
        table = np.delete(table, label_col, axis=1)
    if table.shape[1] == 0:
        raise _fail(display, "no pixel columns (only a label column)")
    # Most image CSVs hold 0..255 integers: uint8 is exact and 8x smaller than float64.
    if (
        np.isfinite(table).all()
        and table.min() >= 0
        and table.max() <= 255
        and np.array_equal(table, np.floor(table))
    ):
        table = table.astype(np.uint8)
    return table, labels


def _load_csv_column(path: PathArg, display: str) -> np.ndarray:
    """One column of labels from a .csv/.txt (header optional)."""
    header, table = _read_csv(path, display)
    if table.shape[1] == 1:
        return table[:, 0]
    if header is not None:
        col = _label_column(header, table.shape[1], None)
        if col is not None and header[col].lower() in LABEL_COLUMNS:
            return table[:, col]
    raise _fail(display, f"expected one column of labels, got {table.shape[1]}")


# --------------------------------------------------------------------------- IDX


def _is_idx_name(name: str) -> bool:
    lower = name.lower()
    if lower.endswith(".gz"):
        lower = lower[:-3]
    return bool(_IDX_NAME.search(lower))


def _idx_header(head: bytes, display: str) -> tuple[np.dtype[Any], tuple[int, ...], int]:
    if len(head) < 4:
        raise _fail(display, "truncated IDX file (no header)")
    magic = struct.unpack(">I", head[:4])[0]
    code, ndim = head[2], head[3]
    if head[0] != 0 or head[1] != 0 or code not in _IDX_DTYPES or not 1 <= ndim <= 4:
        raise _fail(display, f"not an IDX file (bad magic 0x{magic:08x})")
    offset = 4 + 4 * ndim
    if len(head) < offset:
        raise _fail(display, "truncated IDX file (header cut short)")
    dims = struct.unpack(f">{ndim}I", head[4:offset])
    return _IDX_DTYPES[code], tuple(int(d) for d in dims), offset


def _load_idx(path: PathArg, display: str, size: int) -> np.ndarray:
    """Read an IDX file (gzipped or not); large uncompressed ones are memory-mapped."""
    gz = os.fspath(path).lower().endswith(".gz")
    with _reading(display):
        if gz:
            with gzip.open(path, "rb") as f:
                raw = f.read()
            head: bytes = raw[:20]
            total = len(raw)
        else:
            with open(path, "rb") as f:
                head = f.read(20)
            total = size
        dtype, dims, offset = _idx_header(head, display)
        expected = math.prod(dims) * dtype.itemsize
        found = total - offset
        if found < expected:
            raise _fail(
                display,
                f"truncated IDX file: dimensions {'x'.join(map(str, dims))} need {expected}"
                f" data bytes, found {found}",
            )
        if found > expected:
            raise _fail(
                display,
                f"IDX file has {found - expected} bytes beyond its dimensions"
                f" {'x'.join(map(str, dims))}",
            )
        if gz:
            array = np.frombuffer(raw, dtype=dtype, count=math.prod(dims), offset=offset)
            array = array.reshape(dims)
        elif size >= MMAP_MIN_BYTES and math.prod(dims) > 0:
            array = np.memmap(path, dtype=dtype, mode="r", offset=offset, shape=dims)
        else:
            with open(path, "rb") as f:
                f.seek(offset)
                array = np.frombuffer(f.read(expected), dtype=dtype).reshape(dims)
    return _native(array)


def _idx_sibling_labels(path: Path) -> Path | None:
    """The labels file MNIST ships next to an images file, if it is there."""
    name = path.name
    for images, labels in (("images-idx3", "labels-idx1"), ("images.idx3", "labels.idx1")):
        if images in name:
            base = name.replace(images, labels)
            plain = base[:-3] if base.endswith(".gz") else base
            for candidate in (base, plain, plain + ".gz"):
                sibling = path.with_name(candidate)
                if sibling.is_file():
                    return sibling
    return None


# --------------------------------------------------------------------------- public loaders


def _kind(name: str) -> str:
    lower = name.lower()
    if _is_idx_name(lower):
        return "idx"
    for ext in (".npy", ".npz", ".csv", ".csv.gz", ".txt"):
        if lower.endswith(ext):
            return ext.split(".")[1]
    return ""


def load_dataset(
    path: PathArg,
    *,
    labels: PathArg | None = None,
    shape: tuple[int, int] | None = None,
) -> Dataset:
    """Load user images from .npy, .npz, CSV or IDX, with optional labels and image shape.

    ``labels`` is a separate labels file (.npy/.npz/.csv/.txt/IDX); it wins over labels found
    in the data file itself. ``shape`` (H, W) turns flat N×D rows into images.
    """
    display = os.fspath(path)
    if shape is not None:
        h, w = shape
        if h <= 0 or w <= 0:
            raise InputError(f"--shape: image size must be positive, got {h}x{w}")
    kind = _kind(display)
    if kind not in ("npy", "npz", "csv", "idx"):
        suffix = Path(display).suffix or Path(display).name
        raise _fail(
            display,
            f"unsupported file type '{suffix}' (expected .npy, .npz, .csv or an IDX file"
            " such as train-images-idx3-ubyte.gz)",
        )
    size = _check_file(path, display)
    raw_labels: np.ndarray | None = None
    labels_display = display
    if kind == "npy":
        raw = _load_npy(path, display, size)
    elif kind == "npz":
        raw, raw_labels = _load_npz(path, display)
    elif kind == "csv":
        raw, raw_labels = _load_csv_images(path, display, shape)
    else:
        raw = _load_idx(path, display, size)
        sibling = _idx_sibling_labels(Path(path)) if labels is None else None
        if sibling is not None:
            labels_display = os.fspath(sibling)
            raw_labels = _load_labels_file(sibling, labels_display)
    images, value_range = _as_images(raw, display, shape)
    n = images.shape[0]
    if labels is not None:
        labels_display = os.fspath(labels)
        raw_labels = _load_labels_file(labels, labels_display)
    label_array = None
    if raw_labels is not None:
        label_array = _as_labels(raw_labels, labels_display)
        _check_count(label_array, labels_display, n, display)
    dataset = Dataset(images=images, labels=label_array, name=Path(display).name)
    if value_range is not None:
        dataset._memo["value_range"] = value_range
    return dataset


def _load_labels_file(path: PathArg, display: str) -> np.ndarray:
    kind = _kind(display)
    if not kind:
        suffix = Path(display).suffix or Path(display).name
        raise _fail(
            display,
            f"unsupported labels file type '{suffix}' (expected .npy, .npz, .csv, .txt or IDX)",
        )
    size = _check_file(path, display)
    if kind == "npy":
        raw = _load_npy(path, display, size)
    elif kind == "npz":
        raw = _load_npz_labels(path, display)
    elif kind in ("csv", "txt"):
        raw = _load_csv_column(path, display)
    else:
        raw = _load_idx(path, display, size)
    return _as_labels(raw, display)


def load_embedding(path: PathArg, n: int) -> np.ndarray:
    """Load a precomputed (N, 2) embedding from .npy or .csv; finite float64, N must equal n."""
    display = os.fspath(path)
    kind = _kind(display)
    if kind not in ("npy", "csv"):
        suffix = Path(display).suffix or Path(display).name
        raise _fail(display, f"unsupported embedding file type '{suffix}' (expected .npy or .csv)")
    size = _check_file(path, display)
    if kind == "npy":
        raw = _load_npy(path, display, size)
    else:
        header, raw = _read_csv(path, display)
        if header is not None and raw.shape[1] != 2:
            names = [h.lower() for h in header]
            if "x" in names and "y" in names:
                raw = raw[:, [names.index("x"), names.index("y")]]
    problem = _dtype_problem(raw.dtype)
    if raw.dtype.kind == "b":
        problem = "expected coordinates, got booleans"
    if problem:
        raise _fail(display, problem)
    if raw.ndim != 2 or raw.shape[1] != 2:
        raise _fail(display, f"expected an embedding of shape (N, 2), got {raw.shape}")
    if raw.shape[0] != n:
        raise _fail(display, f"embedding has {raw.shape[0]} points but the data has {n} images")
    # A memory-mapped float64 file stays mapped (10M points: 160 MB not copied into RAM).
    coords = np.asarray(raw, dtype=np.float64, order="C")
    # min/max propagate NaN and reach ±inf: two reductions over the flat array (no temporary,
    # ~10x faster than isfinite(...).all(axis=1) on N x 2) prove every value finite.
    if len(coords) and not (math.isfinite(coords.min()) and math.isfinite(coords.max())):
        i = int(np.argmin(np.isfinite(coords).all(axis=1)))
        raise _fail(display, f"point {i} has NaN or infinite coordinates")
    return coords


_SHAPE_TEXT = re.compile(r"^\s*(\d+)\s*[x×X*,]\s*(\d+)\s*$")


def parse_shape(text: str) -> tuple[int, int]:
    """Parse an image size such as "28x28" into (H, W)."""
    match = _SHAPE_TEXT.match(text)
    if not match:
        raise InputError(_one_line(f"--shape: expected HxW such as 28x28, got {text!r}"))
    h, w = int(match.group(1)), int(match.group(2))
    if h <= 0 or w <= 0:
        raise InputError(f"--shape: image size must be positive, got {h}x{w}")
    return h, w


# --------------------------------------------------------------------------- built-in digits


def _sklearn_digits_csv() -> Path | None:
    """scikit-learn's bundled digits.csv.gz, found without importing scikit-learn."""
    # find_spec on a top-level package locates it without executing its __init__ (~1 s).
    try:
        spec = importlib.util.find_spec("sklearn")
    except (ImportError, ValueError):
        return None
    if spec is None or not spec.submodule_search_locations:
        return None
    for location in spec.submodule_search_locations:
        candidate = Path(location) / "datasets" / "data" / "digits.csv.gz"
        if candidate.is_file():
            return candidate
    return None


def _valid_digits(images: np.ndarray, labels: np.ndarray) -> bool:
    return (
        images.shape == DIGITS_SHAPE
        and images.dtype == np.float64
        and labels.shape == DIGITS_SHAPE[:1]
        and labels.dtype == np.int64
        and bool(np.isfinite(images).all())
        and bool(((labels >= 0) & (labels <= 9)).all())
    )


def _read_digits_cache(file: Path, source_stat: np.ndarray | None) -> Dataset | None:
    """The cached copy, or None when it is missing, damaged or from another source file."""
    try:
        with np.load(file, allow_pickle=False) as npz:
            images, labels = npz["images"], npz["labels"]
            stamp = npz["source_stat"] if "source_stat" in npz.files else None
    except Exception:
        # Anything wrong with our own cache file only means: rebuild it.
        return None
    if not _valid_digits(images, labels):
        return None
    if source_stat is not None and (stamp is None or not np.array_equal(stamp, source_stat)):
        return None
    return Dataset(images=images, labels=labels, name="digits")


def _write_digits_cache(
    file: Path, images: np.ndarray, labels: np.ndarray, source_stat: np.ndarray
) -> None:
    """Atomically store the parsed digits; failure only costs the next start a re-parse."""
    tmp_name = None
    try:
        file.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(
            dir=file.parent, prefix=".digits-", suffix=".tmp", delete=False
        ) as tmp:
            tmp_name = tmp.name
            # An open file object: np.savez would append ".npz" to a path.
            np.savez(tmp, images=images, labels=labels, source_stat=source_stat)
        os.replace(tmp_name, file)
        tmp_name = None
    except OSError:
        pass
    finally:
        if tmp_name is not None:
            with suppress(OSError):
                os.unlink(tmp_name)


def load_digits(cache_dir: Path | None = None) -> Dataset:
    """scikit-learn's 8x8 digits (1797 images, labels 0-9) without importing scikit-learn.

    With ``cache_dir`` the parsed data is kept there as an .npz that later calls read instead
    of the CSV; a damaged copy is ignored and rewritten. ``None`` parses the CSV every time.
    """
    source = _sklearn_digits_csv()
    cache_file = Path(cache_dir) / DIGITS_CACHE_NAME if cache_dir is not None else None
    source_stat = None
    if source is not None:
        try:
            st = source.stat()
            source_stat = np.array([st.st_size, st.st_mtime_ns], dtype=np.int64)
        except OSError:
            source = None
    if cache_file is not None:
        cached = _read_digits_cache(cache_file, source_stat)
        if cached is not None:
            return cached
    if source is None:
        raise InputError(
            "digits: the built-in dataset needs scikit-learn (pip install scikit-learn)"
        )
    display = f"digits ({source})"
    with _open_text(source, display) as f, _reading(display):
        table = np.loadtxt(f, delimiter=",", dtype=np.float64, ndmin=2)
    if table.shape != (DIGITS_SHAPE[0], 65):
        raise _fail(display, f"unexpected table shape {table.shape}")
    images = np.ascontiguousarray(table[:, :64]).reshape(DIGITS_SHAPE)
    labels = table[:, 64].astype(np.int64)
    if not _valid_digits(images, labels):
        raise _fail(display, "unexpected values")
    dataset = Dataset(images=images, labels=labels, name="digits")
    if cache_file is not None and source_stat is not None:
        _write_digits_cache(cache_file, images, labels, source_stat)
    return dataset
