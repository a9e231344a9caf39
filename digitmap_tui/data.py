"""Datasets: the built-in digits, user images (.npy, .npz, CSV, IDX) and precomputed embeddings.

Everything here is numpy only. Every malformed input becomes an :class:`InputError` whose
message is one line naming the file (as the user gave it) and the problem; no other exception
is meant to escape the loaders. Messages and :attr:`Dataset.name` are safe to print: file
names, archive member names and CSV text in them have their control characters escaped
(:func:`digitmap_tui.text.safe`).

Hostile files cost little: headers are checked before any bulk read, gzip is read as a stream
no further than the header (IDX) or the rows so far (CSV) justify, zip members' declared
sizes are checked before they are decompressed, and sizes no image needs are refused
(:data:`MAX_PIXELS` per image, :data:`MAX_LABEL`, :data:`MAX_ABS_VALUE`).
"""

from __future__ import annotations

import csv
import gzip
import hashlib
import importlib.util
import itertools
import math
import os
import re
import stat
import struct
import tempfile
import warnings
import zipfile
import zlib
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import numpy as np

from digitmap_tui.errors import InputError
from digitmap_tui.text import safe

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

#: Labels above this are refused: the map keeps a count of every label in every cell (dense
#: arrays of n_labels entries) and its palette tells at most 256 classes apart; a million
#: distinct labels once asked for 12-39 GiB.
MAX_LABEL = 255

#: Most values in one image (512x512 with 4 channels' worth, e.g. 1024x1024 grey): no
#: image explorer needs more, and a header asking for more is refused before any data is read.
MAX_PIXELS = 512 * 512 * 4

#: Largest magnitude of a pixel value: features are float32 and the embeddings square their
#: differences, which must stay finite (2e15 squared, times MAX_PIXELS, is far below 3.4e38).
MAX_ABS_VALUE = 1e15

#: Largest magnitude of a given embedding's coordinate: the map squares distances too.
MAX_ABS_COORD = 1e150

#: CSV limits: the longest line (MAX_PIXELS values of up to 32 characters) and how many blank
#: lines may come before or between the rows (this many, plus four per row read so far).
MAX_CSV_LINE = 32 * (MAX_PIXELS + 1)
MAX_CSV_BLANK_LINES = 1000
_CSV_BLANK_PER_ROW = 4
_CSV_CHUNK_ROWS = 4096

#: The most a deflate stream can expand (1032:1, plus slack for headers): a zip member or
#: gzip file that claims more than this from its compressed size is damaged or a bomb.
_DEFLATE_MAX_RATIO = 1100

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
    """Images with optional integer labels (N,) and a display name.

    Images are grey ``(N, H, W)`` or colour ``(N, H, W, 3)`` (RGB, channels last).
    ``label_names`` names label ``k`` (from an image folder's class subfolders); ``paths``
    holds each image's file path relative to its folder, for exports. Both are untrusted
    text: show them through :func:`digitmap_tui.text.safe`.

    ``name`` is stored with its control characters escaped (:func:`digitmap_tui.text.safe`),
    so it can go to a terminal as is.
    """

    images: np.ndarray
    labels: np.ndarray | None
    name: str
    label_names: tuple[str, ...] | None = None
    paths: tuple[str, ...] | None = None
    # Derived values (fingerprint, value range) are computed once; the dataclass is frozen,
    # so they live in a private dict rather than in attributes.
    _memo: dict[str, Any] = field(default_factory=dict, init=False, repr=False)

    def __post_init__(self) -> None:
        # The name comes from a file name: made safe to print once, here, for every consumer
        # (the title, `render`, exports). Rich markup is not escaped: print it as a Text.
        object.__setattr__(self, "name", safe(self.name))
        # Loaders validate user input with InputError first; this only catches programming errors.
        ndim = self.images.ndim
        if not (ndim == 3 or (ndim == 4 and self.images.shape[3] == 3)):
            raise ValueError(
                f"images must be (N, H, W) or (N, H, W, 3), got shape {self.images.shape}"
            )
        if self.labels is not None and (
            self.labels.shape != (self.images.shape[0],) or self.labels.dtype != np.int64
        ):
            raise ValueError("labels must be an int64 array of shape (N,)")
        if self.label_names is not None and len(self.label_names) < self.n_labels:
            raise ValueError("label_names must name every label")
        if self.paths is not None and len(self.paths) != self.images.shape[0]:
            raise ValueError("paths must hold one path per image")

    @property
    def n(self) -> int:
        """Number of images."""
        return int(self.images.shape[0])

    @property
    def image_shape(self) -> tuple[int, int]:
        """(H, W) of one image, in pixels (colour or not: see :attr:`channels`)."""
        return int(self.images.shape[1]), int(self.images.shape[2])

    @property
    def channels(self) -> int:
        """1 for grey images, 3 for RGB."""
        return 3 if self.images.ndim == 4 else 1

    @property
    def is_color(self) -> bool:
        """Whether the images are RGB."""
        return self.images.ndim == 4

    @property
    def n_labels(self) -> int:
        """Largest label + 1, or 0 without labels."""
        if self.labels is None or self.labels.size == 0:
            return 0
        if "n_labels" not in self._memo:
            self._memo["n_labels"] = int(self.labels.max()) + 1
        return int(self._memo["n_labels"])

    def label_name(self, label: int) -> str:
        """The class name of ``label`` (its number when the data has no names); untrusted."""
        if self.label_names is not None and 0 <= label < len(self.label_names):
            return self.label_names[label]
        return str(label)

    def features(self) -> np.ndarray:
        """Images flattened to (N, H*W) or (N, H*W*3) float32 (colour is seen by the methods).

        A view when the images already are float32.
        """
        return np.asarray(self.images, dtype=np.float32).reshape(self.n, -1)

    def fingerprint(self) -> str:
        """Hex sha256 over shape, dtype, image bytes and label bytes (computed once).

        The shape holds the channels, so colour data never shares a fingerprint with grey.
        Names and paths are not hashed: they change neither the embedding nor the picture.
        """
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
        """(lo, hi) the pixels are drawn against (computed once).

        Grey: the images' min and max (contrast stretched, as the digits are 0..16). Colour:
        the pixel type's own range (0..255 for 8 bits, 0..1 for floats within it), so that
        colours are shown as they are rather than stretched.
        """
        if "value_range" not in self._memo:
            self._memo["value_range"] = _value_range(self.images, self.is_color)
        lo, hi = self._memo["value_range"]
        return float(lo), float(hi)


def _value_range(images: np.ndarray, color: bool) -> tuple[float, float]:
    lo, hi = float(images.min()), float(images.max())
    if not color:
        return lo, hi
    if images.dtype.kind == "u":
        return 0.0, float(np.iinfo(images.dtype).max)
    if lo >= 0.0 and hi <= 1.0:
        return 0.0, 1.0
    return lo, hi


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


def _fail(display: str, problem: str) -> InputError:
    # The display name and the problem may hold text from the file (member names, cells):
    # escaped here, once, so every message is one line a terminal cannot act on.
    return InputError(safe(f"{display}: {problem}"))


def _physical_memory() -> int | None:
    try:
        return int(os.sysconf("SC_PAGE_SIZE")) * int(os.sysconf("SC_PHYS_PAGES"))
    except (ValueError, OSError, AttributeError):
        return None


def _check_memory(display: str, nbytes: int, what: str = "the data") -> None:
    """Refuse at once when ``nbytes`` could never fit in this machine's memory."""
    total = _physical_memory()
    if total is not None and nbytes > total:
        raise _fail(
            display,
            f"{what} would need {_gib(nbytes)} of memory; this machine has {_gib(total)}",
        )


def _gib(nbytes: float) -> str:
    return f"{nbytes / 2**30:.1f} GiB" if nbytes >= 2**30 else f"{nbytes / 2**20:.1f} MiB"


def _check_pixels(display: str, shape: tuple[int, ...]) -> None:
    """Refuse image arrays whose rows hold more than MAX_PIXELS values (from a header)."""
    if len(shape) >= 2:
        per_image = math.prod(shape[1:])
        if per_image > MAX_PIXELS:
            dims = "x".join(str(d) for d in shape[1:])
            raise _fail(
                display,
                f"images of {dims} = {per_image:,} values are too large"
                f" (at most {MAX_PIXELS:,} per image, e.g. 1024x1024)",
            )


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
    except csv.Error as exc:
        raise _fail(display, f"cannot parse CSV ({_first_line(exc)})") from None
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
    if array.ndim == 4:
        return _as_color_images(array, display, shape)
    if array.ndim not in (2, 3):
        raise _fail(
            display,
            f"expected 2-D (N×D), 3-D (N×H×W) or colour (N×H×W×3) images, got shape {array.shape}",
        )
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
    _check_pixels(display, array.shape)
    if array.dtype.kind == "b":
        array = array.astype(np.uint8)
    array = _native(array)
    value_range = _checked_values(array, display)
    return array, value_range if array.dtype.kind == "f" else None


def _checked_values(array: np.ndarray, display: str) -> tuple[float, float] | None:
    """``(min, max)`` of the pixel values once they are known finite and within
    ``±MAX_ABS_VALUE`` (one line naming the first bad image otherwise); None for small
    integer types, which always are."""
    if array.dtype.kind in "iu" and array.dtype.itemsize < 8:
        return None  # at most 4.3e9: far inside MAX_ABS_VALUE
    # min/max propagate NaN and reach ±inf, so two reductions (no temporary array, even on a
    # memmap) prove every value finite and in range; a chunked scan only runs to point at
    # the culprit.
    with np.errstate(all="ignore"):
        lo, hi = float(array.min()), float(array.max())
    if not (math.isfinite(lo) and math.isfinite(hi)):
        index = _first_image(array, lambda chunk: ~np.isfinite(chunk))
        raise _fail(display, f"image {index} contains NaN or infinite values")
    if max(-lo, hi) > MAX_ABS_VALUE:
        index = _first_image(array, lambda chunk: np.abs(chunk) > MAX_ABS_VALUE)
        value = lo if -lo > hi else hi
        raise _fail(
            display,
            f"image {index} has the value {value:g}; pixel values must lie within"
            f" ±{MAX_ABS_VALUE:g} (so that distances between images stay finite)",
        )
    return lo, hi


def _as_color_images(
    array: np.ndarray, display: str, shape: tuple[int, int] | None
) -> tuple[np.ndarray, tuple[float, float] | None]:
    """Colour images, channels last: (N, H, W, 3|4), or channels first (N, 3|4, H, W).

    RGBA is composited onto black (the tiles' background): a transparent pixel reads as
    background instead of showing whatever colour its invisible RGB happens to hold.
    """
    n, a, _, c = array.shape
    if c not in (3, 4) and a in (3, 4):
        array = np.moveaxis(array, 1, -1)  # PyTorch's (N, C, H, W), as a view
    if array.shape[3] not in (3, 4):
        raise _fail(
            display,
            f"colour images need 3 (RGB) or 4 (RGBA) channels, got shape {tuple(array.shape)}",
        )
    if shape is not None and tuple(array.shape[1:3]) != tuple(shape):
        h, w = shape
        raise _fail(
            display,
            f"--shape {h}x{w} does not match colour images of {array.shape[1]}x{array.shape[2]}",
        )
    if n == 0:
        raise _fail(display, f"no images (shape {tuple(array.shape)})")
    if array.shape[1] == 0 or array.shape[2] == 0:
        raise _fail(display, f"images are empty (shape {tuple(array.shape)})")
    _check_pixels(display, array.shape)
    if array.dtype.kind == "b":
        array = array.astype(np.uint8)
    array = _native(array)
    _checked_values(array, display)
    if array.shape[3] == 4:
        array = _composite_on_black(array)
    return array, None


def _composite_on_black(rgba: np.ndarray) -> np.ndarray:
    """RGB premultiplied by alpha, in the input's dtype (alpha's full scale: the dtype's max,
    or 1.0 for floats up to 1)."""
    rgb = rgba[..., :3]
    alpha = rgba[..., 3:4]
    if rgba.dtype.kind in "ui":
        full = float(np.iinfo(rgba.dtype).max)
    else:
        full = max(1.0, float(alpha.max()))
    out = rgb.astype(np.float64) * (alpha.astype(np.float64) / full)
    if rgba.dtype.kind in "ui":
        return np.rint(out).astype(rgba.dtype)
    return out.astype(rgba.dtype)


def _first_image(array: np.ndarray, bad: Any) -> int:
    """Index of the first image where ``bad(values)`` holds for some value (chunked scan)."""
    size = array[0].size
    step = max(1, (4 * 2**20) // max(1, size))
    with np.errstate(all="ignore"):
        for start in range(0, array.shape[0], step):
            chunk = np.asarray(array[start : start + step]).reshape(-1, size)
            hits = np.flatnonzero(bad(chunk).any(axis=1))
            if hits.size:
                return start + int(hits[0])
    return -1


def _as_labels(array: np.ndarray, display: str) -> np.ndarray:
    """Validate labels: 1-D, integral, 0 <= label <= MAX_LABEL; returns int64.

    The cap is checked on the largest label, before anything is sized by the number of labels,
    so a million distinct labels are one line, not 12 GiB of map.
    """
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
                display,
                f"label {_num(array[i])} at index {i} is too large (labels must be 0 to"
                f" {MAX_LABEL}: the map tells at most {MAX_LABEL + 1} classes apart)",
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


def _load_npy(path: PathArg, display: str, size: int, images: bool = False) -> np.ndarray:
    """Load a .npy without pickle; large files are memory-mapped read-only.

    With ``images``, a header promising rows of more than :data:`MAX_PIXELS` values is
    refused before the data is touched.
    """
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
            if images:
                _check_pixels(display, tuple(shape))
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


def _open_npz(path: PathArg, display: str) -> zipfile.ZipFile:
    with _reading(display):
        with open(path, "rb") as f:
            magic = f.read(4)
        # Checked first: np.load treats any other content as a pickle and says only that.
        if magic not in (b"PK\x03\x04", b"PK\x05\x06"):
            raise _fail(display, "not a .npz file (not a zip archive)")
        return zipfile.ZipFile(path)


def _npz_members(archive: zipfile.ZipFile) -> dict[str, zipfile.ZipInfo]:
    """Array name -> member, as np.load names them ("images.npy" is "images")."""
    members: dict[str, zipfile.ZipInfo] = {}
    for info in archive.infolist():
        name = info.filename[:-4] if info.filename.endswith(".npy") else info.filename
        members.setdefault(name, info)
    return members


def _names(keys: list[str]) -> str:
    """A short list of member names for a message (they may be many, and long)."""
    shown = [k if len(k) <= 40 else k[:37] + "..." for k in keys[:10]]
    more = f" and {len(keys) - 10} more" if len(keys) > 10 else ""
    return ", ".join(shown) + more if keys else "nothing"


def _npz_array(
    archive: zipfile.ZipFile, info: zipfile.ZipInfo, key: str, display: str, images: bool = False
) -> np.ndarray:
    """One member, its declared sizes checked before a byte of it is decompressed."""
    what = f"array {key!r}"
    if info.compress_type not in (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED):
        raise _fail(
            display,
            f"{what} uses zip compression method {info.compress_type}"
            " (numpy writes stored or deflated arrays only)",
        )
    limit = info.compress_size * (
        1 if info.compress_type == zipfile.ZIP_STORED else _DEFLATE_MAX_RATIO
    )
    if info.file_size > limit + 2**16:
        raise _fail(
            display,
            f"{what} claims {info.file_size:,} bytes from {info.compress_size:,} compressed"
            " (damaged, or a zip bomb)",
        )
    with _reading(display):
        try:
            with archive.open(info) as member:
                version = np.lib.format.read_magic(member)
                header: tuple[Any, ...] | None = None
                if version == (1, 0):
                    header = np.lib.format.read_array_header_1_0(member)
                elif version == (2, 0):
                    header = np.lib.format.read_array_header_2_0(member)
                offset = member.tell()
        except ValueError as exc:
            raise _fail(display, f"{what} is damaged ({_first_line(exc)})") from None
        if header is not None:
            shape, _, dtype = header
            if dtype.hasobject:
                raise _fail(display, f"{what} holds Python objects (pickled data is never loaded)")
            expected = math.prod(shape) * dtype.itemsize
            if offset + expected > info.file_size:
                raise _fail(
                    display,
                    f"{what} is damaged (its header promises {expected:,} bytes of data,"
                    f" the archive holds {max(0, info.file_size - offset):,})",
                )
            if images:
                _check_pixels(display, tuple(shape))
        _check_memory(display, info.file_size, what)
        try:
            with archive.open(info) as member:
                return np.asarray(np.lib.format.read_array(member, allow_pickle=False))
        except ValueError as exc:
            if "pickle" in str(exc) or "object" in str(exc).lower():
                raise _fail(
                    display, f"{what} holds Python objects (pickled data is never loaded)"
                ) from None
            raise _fail(display, f"{what} is damaged ({_first_line(exc)})") from None


def _load_npz(path: PathArg, display: str) -> tuple[np.ndarray, np.ndarray | None]:
    with _open_npz(path, display) as archive, _reading(display):
        members = _npz_members(archive)
        keys = list(members)
        image_key = next((k for k in IMAGE_KEYS if k in members), None)
        if image_key is None and len(keys) == 1:
            image_key = keys[0]
        if image_key is None:
            raise _fail(
                display,
                f"no image array (expected one of {', '.join(IMAGE_KEYS)}; found {_names(keys)})",
            )
        label_key = next((k for k in LABEL_KEYS if k in members and k != image_key), None)
        images = _npz_array(archive, members[image_key], image_key, display, images=True)
        labels = _npz_array(archive, members[label_key], label_key, display) if label_key else None
    return images, labels


def _load_npz_labels(path: PathArg, display: str) -> np.ndarray:
    with _open_npz(path, display) as archive, _reading(display):
        members = _npz_members(archive)
        keys = list(members)
        key = next((k for k in LABEL_KEYS if k in members), None)
        if key is None and len(keys) == 1:
            key = keys[0]
        if key is None:
            raise _fail(
                display,
                f"no label array (expected one of {', '.join(LABEL_KEYS)}; found {_names(keys)})",
            )
        return _npz_array(archive, members[key], key, display)


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


class _CsvLines:
    """The non-blank lines of a text stream, with limits that keep a hostile file cheap.

    A line longer than :data:`MAX_CSV_LINE` is refused as soon as that much is read (a
    gigabyte line in a small .gz is never held whole), and more blank lines than
    :data:`MAX_CSV_BLANK_LINES` plus four per data row so far are refused (a .csv.gz of
    nothing but newlines ends at once). ``line_no`` is the number of the last line read.
    """

    def __init__(self, f: IO[str], display: str) -> None:
        self.f = f
        self.display = display
        self.line_no = 0
        self.blank = 0
        self.rows = 0

    def __iter__(self) -> Iterator[str]:
        while True:
            line = self.f.readline(MAX_CSV_LINE + 1)
            if not line:
                return
            self.line_no += 1
            if len(line) > MAX_CSV_LINE:
                raise _fail(
                    self.display,
                    f"line {self.line_no} is longer than {MAX_CSV_LINE:,} characters",
                )
            if not line.strip():
                self.blank += 1
                if self.blank > MAX_CSV_BLANK_LINES + _CSV_BLANK_PER_ROW * self.rows:
                    raise _fail(
                        self.display,
                        f"{self.blank:,} blank lines by line {self.line_no} and only"
                        f" {self.rows:,} rows (not a CSV table)",
                    )
                continue
            self.rows += 1
            yield line


def _small(chunk: np.ndarray) -> np.ndarray:
    """``chunk`` as uint8 when every value is a whole number 0..255 (exact, 8x smaller)."""
    if (
        chunk.size
        and np.isfinite(chunk).all()
        and chunk.min() >= 0
        and chunk.max() <= 255
        and np.array_equal(chunk, np.floor(chunk))
    ):
        return chunk.astype(np.uint8)
    return chunk


def _read_csv(
    path: PathArg, display: str, check_width: Any = None
) -> tuple[list[str] | None, np.ndarray]:
    """Read a numeric CSV with an optional header row into a 2-D array.

    The table is uint8 when every value is a whole number 0..255, else float64. It is parsed in
    chunks of rows, so a table too large for memory is refused while reading, not after.
    ``check_width(n_columns, header)`` may refuse the table from its first row, before the
    bulk of the file is read.
    """
    budget = (_physical_memory() or 2**62) // 2
    with _open_text(path, display) as f, _reading(display):
        lines = _CsvLines(f, display)
        rows = iter(lines)
        first = next(rows, None)
        if first is None:
            raise _fail(display, "no data (only blank lines)")
        cells = next(csv.reader([first]))
        if len(cells) > MAX_PIXELS + 1:
            raise _fail(display, f"{len(cells):,} columns (at most {MAX_PIXELS + 1:,})")
        header = None
        if not all(_is_number(c) for c in cells):
            header = [c.strip() for c in cells]
        if check_width is not None:
            check_width(len(cells), header)
        if header is None:
            rows = itertools.chain([first], rows)
        chunks: list[np.ndarray] = []
        parsed = 0
        try:
            with warnings.catch_warnings():
                # "input contained no data" is reported below as our own error.
                warnings.simplefilter("ignore", UserWarning)
                while True:
                    batch = list(itertools.islice(rows, _CSV_CHUNK_ROWS))
                    if not batch:
                        break
                    chunk = np.loadtxt(
                        batch,
                        delimiter=",",
                        dtype=np.float64,
                        ndmin=2,
                        quotechar='"',
                        comments=None,
                    )
                    if chunks and chunk.shape[1] != chunks[0].shape[1]:
                        raise ValueError("rows of different widths")
                    chunk = _small(chunk)
                    parsed += chunk.nbytes
                    if parsed > budget:
                        raise _fail(
                            display,
                            f"too large to load into memory (over {_gib(parsed)} parsed by"
                            f" line {lines.line_no})",
                        )
                    chunks.append(chunk)
        except UnicodeDecodeError:
            raise
        except ValueError as exc:
            f.seek(0)
            raise _fail(display, _locate_csv_problem(_CsvLines(f, display), header, exc)) from None
    if not chunks:
        raise _fail(display, "no data rows")
    if all(c.dtype == np.uint8 for c in chunks):
        table = np.concatenate(chunks) if len(chunks) > 1 else chunks[0]
    else:
        table = np.concatenate([c.astype(np.float64, copy=False) for c in chunks])
    del chunks
    if header is not None and table.shape[1] != len(header):
        raise _fail(display, f"header has {len(header)} columns but the rows have {table.shape[1]}")
    return header, table


def _locate_csv_problem(lines: _CsvLines, header: list[str] | None, exc: ValueError) -> str:
    """Find the first ragged row or non-numeric cell, for a message that points at it."""
    width = None
    skip_first = header is not None
    for line in lines:
        line_no = lines.line_no
        row = next(csv.reader([line]))
        if skip_first:
            skip_first = False
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
    n_pixels = shape[0] * shape[1] if shape else None

    def check_width(n_columns: int, header: list[str] | None) -> None:
        # Decided from the first row: a label-only CSV is refused before the rest is read.
        label_col = _label_column(header, n_columns, n_pixels)
        if n_columns - (label_col is not None) == 0:
            raise _fail(display, "no pixel columns (only a label column)")

    header, table = _read_csv(path, display, check_width)
    label_col = _label_column(header, table.shape[1], n_pixels)
    labels = None
    if label_col is not None:
        labels = table[:, label_col]
        table = np.delete(table, label_col, axis=1)
    if table.shape[1] == 0:
        raise _fail(display, "no pixel columns (only a label column)")
    # Most image CSVs hold 0..255 integers: uint8 is exact and 8x smaller than float64 (the
    # label column may have kept the table float64).
    return _small(table), labels


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


def _idx_type(head: bytes, display: str) -> tuple[np.dtype[Any], int]:
    """The element type and the number of dimensions from the 4 magic bytes."""
    if len(head) < 4:
        raise _fail(display, "truncated IDX file (no header)")
    magic = struct.unpack(">I", head[:4])[0]
    code, ndim = head[2], head[3]
    if head[0] != 0 or head[1] != 0 or code not in _IDX_DTYPES or not 1 <= ndim <= 4:
        raise _fail(display, f"not an IDX file (bad magic 0x{magic:08x})")
    return _IDX_DTYPES[code], ndim


def _idx_header(head: bytes, display: str) -> tuple[np.dtype[Any], tuple[int, ...], int]:
    dtype, ndim = _idx_type(head, display)
    offset = 4 + 4 * ndim
    if len(head) < offset:
        raise _fail(display, "truncated IDX file (header cut short)")
    dims = struct.unpack(f">{ndim}I", head[4:offset])
    return dtype, tuple(int(d) for d in dims), offset


def _dims_text(dims: tuple[int, ...]) -> str:
    return "x".join(map(str, dims))


def _load_idx(path: PathArg, display: str, size: int) -> np.ndarray:
    """Read an IDX file (gzipped or not); large uncompressed ones are memory-mapped.

    Nothing is read before the header is checked: a wrong magic number costs 4 bytes, and a
    gzipped file is decompressed only as far as its dimensions say (never more than a deflate
    stream of its size could hold), straight into the array.
    """
    gz = os.fspath(path).lower().endswith(".gz")
    with _reading(display):
        if gz:
            return _native(_load_idx_gz(path, display, size))
        with open(path, "rb") as f:
            head = f.read(20)
        dtype, dims, offset = _idx_header(head, display)
        expected = math.prod(dims) * dtype.itemsize
        found = size - offset
        if found < expected:
            raise _fail(
                display,
                f"truncated IDX file: dimensions {_dims_text(dims)} need {expected}"
                f" data bytes, found {found}",
            )
        if found > expected:
            raise _fail(
                display,
                f"IDX file has {found - expected} bytes beyond its dimensions {_dims_text(dims)}",
            )
        _check_pixels(display, dims)
        array: np.ndarray
        if size >= MMAP_MIN_BYTES and math.prod(dims) > 0:
            array = np.memmap(path, dtype=dtype, mode="r", offset=offset, shape=dims)
        else:
            with open(path, "rb") as f:
                f.seek(offset)
                array = np.frombuffer(f.read(expected), dtype=dtype).reshape(dims)
    return _native(array)


def _load_idx_gz(path: PathArg, display: str, size: int) -> np.ndarray:
    with gzip.open(path, "rb") as f:
        head = f.read(4)
        dtype, ndim = _idx_type(head, display)
        head += f.read(4 * ndim)
        dtype, dims, _ = _idx_header(head, display)
        expected = math.prod(dims) * dtype.itemsize
        if expected > size * _DEFLATE_MAX_RATIO + 2**16:
            raise _fail(
                display,
                f"truncated IDX file: dimensions {_dims_text(dims)} need {expected:,} data"
                f" bytes, more than a {size:,}-byte gzip file can hold",
            )
        _check_pixels(display, dims)
        _check_memory(display, expected)
        buffer = np.empty(expected, dtype=np.uint8)  # pages are touched only as data arrives
        view = memoryview(buffer.data)
        filled = 0
        while filled < expected:
            got = f.readinto(view[filled : filled + 2**22])
            if not got:
                raise _fail(
                    display,
                    f"truncated IDX file: dimensions {_dims_text(dims)} need {expected}"
                    f" data bytes, found {filled}",
                )
            filled += got
        extra = len(f.read(2**20 + 1))  # also reaches the end: the CRC is checked
        if extra:
            more = f"{extra}" if extra <= 2**20 else f"more than {2**20:,}"
            raise _fail(
                display, f"IDX file has {more} bytes beyond its dimensions {_dims_text(dims)}"
            )
    return buffer.view(dtype).reshape(dims)


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
    no_labels: bool = False,
    image_size: tuple[int, int] | None = None,
    cache_dir: Path | None = None,
    progress: Callable[[int, int], None] | None = None,
    notes: list[str] | None = None,
) -> Dataset:
    """Load user images from .npy, .npz, CSV, IDX or an image folder, with optional labels.

    ``labels`` is a separate labels file (.npy/.npz/.csv/.txt/IDX); it wins over labels found
    in the data file itself; ``no_labels`` drops labels (a folder is then read flat). ``shape``
    (H, W) turns flat N×D rows into images. A folder is read by
    :func:`digitmap_tui.folder.load_folder` (``image_size``, ``cache_dir`` and ``progress``
    apply to it); what it skipped is appended to ``notes`` as one line.
    """
    display = os.fspath(path)
    if os.path.isdir(path):
        if labels is not None or shape is not None:
            flag = "--labels FILE" if labels is not None else "--shape"
            raise InputError(
                safe(
                    f"{display}: {flag} does not apply to an image folder (labels are"
                    " its subfolders; --labels none reads it unlabelled)"
                )
            )
        from digitmap_tui.folder import load_folder

        loaded = load_folder(
            path, labels=not no_labels, size=image_size, cache_dir=cache_dir, progress=progress
        )
        summary = loaded.summary()
        if summary and notes is not None:
            notes.append(f"{loaded.dataset.name}: {summary}")
        return loaded.dataset
    if image_size is not None:
        raise InputError("--size applies to image folders only")
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
        raw = _load_npy(path, display, size, images=True)
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
    if no_labels:
        raw_labels = None
    label_array = None
    if raw_labels is not None:
        label_array = _as_labels(raw_labels, labels_display)
        _check_count(label_array, labels_display, n, display)
    dataset = Dataset(images=images, labels=label_array, name=Path(display).name)
    if value_range is not None and not dataset.is_color:
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
    # ~10x faster than isfinite(...).all(axis=1) on N x 2) prove every value finite, and in
    # range: the map takes differences and squares of distances, which must stay finite too.
    if len(coords):
        with np.errstate(all="ignore"):
            lo, hi = float(coords.min()), float(coords.max())
        if not (math.isfinite(lo) and math.isfinite(hi)):
            i = int(np.argmin(np.isfinite(coords).all(axis=1)))
            raise _fail(display, f"point {i} has NaN or infinite coordinates")
        if max(-lo, hi) > MAX_ABS_COORD:
            large = np.abs(coords).max(axis=1) > MAX_ABS_COORD
            i = int(np.argmax(large))
            value = coords[i, int(np.argmax(np.abs(coords[i])))]
            raise _fail(
                display,
                f"point {i} has the coordinate {value:g}; coordinates must lie within"
                f" ±{MAX_ABS_COORD:g} (so that distances on the map stay finite)",
            )
    return coords


# ASCII digits only ([0-9], not \d): int() would read Arabic-Indic digits, isdigit() accepts "²".
_SHAPE_TEXT = re.compile(r"^\s*([0-9]+)\s*[x×X*,]\s*([0-9]+)\s*$")


def parse_shape(text: str) -> tuple[int, int]:
    """Parse an image size such as "28x28" into (H, W)."""
    match = _SHAPE_TEXT.match(text)
    if not match:
        raise InputError(safe(f"--shape: expected HxW such as 28x28, got {text!r}"))
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
