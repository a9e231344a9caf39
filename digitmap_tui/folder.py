"""Image folders: PNG/JPEG/WebP/BMP files read with Pillow, one subfolder per class.

The layout is the one torchvision's ``ImageFolder``, Keras and Hugging Face's ``imagefolder``
use: ``root/<class>/**/<image>``; a folder without subfolders (or ``labels=False``) is read
as unlabelled images at any depth. Class names are the subfolder names, sorted, so label
``k`` is the k-th name; files are listed by their relative path, sorted, so the order (and
the embedding cached for it) never depends on the file system.

Every image is resized (area averaging) to one common size, in a pool of processes, and the
result is cached as an ``.npy`` with a JSON sidecar (never pickle), keyed by the folder's file
list, sizes and modification times. A file that cannot be read (not an image, truncated,
too many pixels, permission denied) is skipped and counted, never fatal; a folder with no
image at all is a one-line :class:`InputError`.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import re
import stat
import tempfile
import warnings
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from contextlib import suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from digitmap_tui.data import Dataset
from digitmap_tui.errors import InputError
from digitmap_tui.text import safe

__all__ = [
    "IMAGE_SUFFIXES",
    "FolderLoad",
    "FolderScan",
    "load_folder",
    "parse_size",
    "scan_folder",
]

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".webp", ".bmp")
#: What Pillow may decode: only these formats, whatever a file's name claims.
PILLOW_FORMATS = ("PNG", "JPEG", "WEBP", "BMP")
#: The default size is the median image size, shrunk (keeping its aspect) to fit this.
DEFAULT_MAX_SIDE = 64
#: --size may not exceed this per side: tiles and features of larger images cost memory
#: (N x H x W x 3 bytes) for nothing a terminal can show.
MAX_SIDE = 512
#: An image with more pixels than this is refused (Pillow's own decompression-bomb limit).
MAX_PIXELS = 89_478_485
#: Files decoded in this process first, to time them (see _run_chunks).
PROBE_FILES = 32
#: Work (seconds, estimated) above which the rest is decoded in a process pool: starting
#: spawn workers took 2-3 s on a busy 2-core machine (benchmarks/folders.py), and a
#: 640x480 JPEG decodes to 64 pixels in about 1.6 ms here (JPEG draft mode).
POOL_WORTH_SECONDS = 3.0
CACHE_VERSION = 1
CACHE_SUBDIR = "folders"

ProgressFn = Callable[[int, int], None]
"""``progress(done, total)``: images decoded so far, out of ``total``."""

# Reasons a file is skipped, as counted in FolderLoad.skipped.
NOT_IMAGE = "not images"
TRUNCATED = "truncated"
TOO_LARGE = "too many pixels"
NO_PERMISSION = "permission denied"
UNREADABLE = "unreadable"


@dataclass(frozen=True)
class ImageFile:
    """One candidate image: its path relative to the folder (``/``-separated) and label."""

    rel: str
    path: str
    label: int
    size: int
    mtime_ns: int


@dataclass
class FolderScan:
    """The files of a folder, sorted, with their class labels (or -1 without classes)."""

    root: Path
    files: list[ImageFile]
    class_names: tuple[str, ...] | None
    ignored: Counter[str] = field(default_factory=Counter)

    def key(self, size: tuple[int, int] | None) -> str:
        """Cache key: the file list with sizes and mtimes, the classes and the size asked."""
        h = hashlib.sha256()
        h.update(f"digitmap-folder v{CACHE_VERSION} size={size}\n".encode())
        h.update(json.dumps(self.class_names).encode() + b"\n")
        for f in self.files:
            h.update(
                f"{f.rel}\0{f.label}\0{f.size}\0{f.mtime_ns}\n".encode("utf-8", "surrogateescape")
            )
        return h.hexdigest()


@dataclass
class FolderLoad:
    """A loaded folder: the dataset and what was skipped along the way."""

    dataset: Dataset
    skipped: Counter[str]
    ignored: Counter[str]
    from_cache: bool = False

    def summary(self) -> str | None:
        """``3 files skipped: 2 not images, 1 truncated`` (None when nothing was skipped)."""
        total = sum(self.skipped.values())
        if not total:
            return None
        parts = ", ".join(f"{n} {why}" for why, n in sorted(self.skipped.items()))
        noun = "file" if total == 1 else "files"
        if len(self.skipped) == 1:
            return f"{total} {noun} skipped: {next(iter(self.skipped))}"
        return f"{total} {noun} skipped: {parts}"


# --------------------------------------------------------------------------- listing


def _is_hidden(name: str) -> bool:
    # .ipynb_checkpoints, .DS_Store, .git...: never a class, never an image anyone meant.
    return name.startswith(".")


def _walk(top: Path, visited: set[tuple[int, int]], ignored: Counter[str]) -> Iterable[Path]:
    """Every regular file under ``top``; symlinked folders are followed once (no loops)."""
    try:
        entries = sorted(os.scandir(top), key=lambda e: e.name)
    except PermissionError:
        ignored["folders not readable"] += 1
        return
    except OSError:
        ignored["folders not readable"] += 1
        return
    for entry in entries:
        if _is_hidden(entry.name):
            ignored["hidden"] += 1
            continue
        try:
            st = entry.stat()  # follows symlinks
        except OSError:
            ignored["broken links"] += 1
            continue
        if stat.S_ISDIR(st.st_mode):
            ident = (st.st_dev, st.st_ino)
            if ident in visited:
                ignored["folder loops"] += 1
                continue
            visited.add(ident)
            yield from _walk(Path(entry.path), visited, ignored)
        elif stat.S_ISREG(st.st_mode):
            yield Path(entry.path)
        else:
            ignored["not regular files"] += 1  # a FIFO would block a reader forever


def _image_file(path: Path, root: Path, label: int, ignored: Counter[str]) -> ImageFile | None:
    if path.suffix.lower() not in IMAGE_SUFFIXES:
        ignored["other files"] += 1
        return None
    try:
        st = path.stat()
    except OSError:
        ignored["broken links"] += 1
        return None
    rel = path.relative_to(root).as_posix()
    return ImageFile(rel, os.fspath(path), label, int(st.st_size), int(st.st_mtime_ns))


def scan_folder(root: str | os.PathLike[str], labels: bool = True) -> FolderScan:
    """List a folder's image files in a stable order, with labels from the class subfolders.

    With ``labels`` and at least one (non-hidden) subfolder, each subfolder is a class (its
    images are read at any depth below it) and images lying directly in ``root`` are
    ignored, as ``ImageFolder`` does. Otherwise every image at any depth is read, unlabelled.
    Hidden entries (``.name``) are ignored; symlinks are followed, loops are not.
    """
    top = Path(root)
    display = safe(os.fspath(root))
    try:
        st = top.stat()
    except FileNotFoundError:
        raise InputError(f"{display}: no such file or folder") from None
    except OSError as exc:
        raise InputError(f"{display}: cannot read ({exc.strerror or exc})") from None
    if not stat.S_ISDIR(st.st_mode):
        raise InputError(f"{display}: not a folder")
    try:
        entries = sorted(os.scandir(top), key=lambda e: e.name)
    except OSError as exc:
        raise InputError(f"{display}: cannot list ({exc.strerror or exc})") from None
    ignored: Counter[str] = Counter()
    visited = {(st.st_dev, st.st_ino)}
    class_dirs: list[tuple[str, Path]] = []
    if labels:
        for entry in entries:
            if _is_hidden(entry.name):
                continue
            with suppress(OSError):
                if entry.is_dir():  # follows a symlinked class folder
                    class_dirs.append((entry.name, Path(entry.path)))
    files: list[ImageFile] = []
    if class_dirs:
        names: list[str] = []
        for name, folder in class_dirs:
            try:
                fst = folder.stat()
            except OSError:
                continue
            ident = (fst.st_dev, fst.st_ino)
            if ident in visited:
                ignored["folder loops"] += 1
                continue
            visited.add(ident)
            label = len(names)
            found = [
                f
                for p in _walk(folder, visited, ignored)
                if (f := _image_file(p, top, label, ignored)) is not None
            ]
            if found:  # an empty class would be a label no point has
                names.append(name)
                files.extend(found)
        for entry in entries:
            with suppress(OSError):
                if entry.is_file() and not _is_hidden(entry.name):
                    ignored["outside class folders"] += 1
        class_names: tuple[str, ...] | None = tuple(names)
    else:
        files = [
            f
            for p in _walk(top, visited, ignored)
            if (f := _image_file(p, top, -1, ignored)) is not None
        ]
        class_names = None
    files.sort(key=lambda f: f.rel)
    if not files:
        kinds = ", ".join(s.lstrip(".") for s in IMAGE_SUFFIXES)
        raise InputError(f"{display}: no images in the folder (looked for {kinds})")
    return FolderScan(top, files, class_names, ignored)


# --------------------------------------------------------------------------- sizes


_SIZE_TEXT = re.compile(r"^\s*(\d+)\s*(?:[x×X*,]\s*(\d+)\s*)?$")


def parse_size(text: str) -> tuple[int, int]:
    """``--size``: ``HxW`` (``32x48``) or one number for a square (``32``); 1..MAX_SIDE."""
    match = _SIZE_TEXT.match(text)
    if not match:
        raise InputError(f"--size: expected HxW such as 32x32, or one number, got {safe(text)!r}")
    h = int(match.group(1))
    w = int(match.group(2)) if match.group(2) else h
    if not (1 <= h <= MAX_SIDE and 1 <= w <= MAX_SIDE):
        raise InputError(f"--size {h}x{w}: each side must be between 1 and {MAX_SIDE}")
    return h, w


def default_size(sizes: Sequence[tuple[int, int]]) -> tuple[int, int]:
    """The median (height, width), shrunk with its aspect kept to fit DEFAULT_MAX_SIDE."""
    arr = np.asarray(sizes, dtype=np.float64).reshape(-1, 2)
    h, w = (float(v) for v in np.median(arr, axis=0))
    side = max(h, w)
    if side > DEFAULT_MAX_SIDE:
        h, w = h * DEFAULT_MAX_SIDE / side, w * DEFAULT_MAX_SIDE / side
    return max(1, round(h)), max(1, round(w))


# --------------------------------------------------------------------------- decoding (workers)


def _classify(exc: BaseException) -> str:
    """Why a file could not be read, as counted in the summary."""
    from PIL import Image, UnidentifiedImageError

    if isinstance(exc, PermissionError):
        return NO_PERMISSION
    if isinstance(exc, (Image.DecompressionBombError, Image.DecompressionBombWarning)):
        return TOO_LARGE
    if isinstance(exc, UnidentifiedImageError):
        return NOT_IMAGE
    if isinstance(exc, EOFError) or "truncated" in str(exc).lower():
        return TRUNCATED
    return UNREADABLE


def _open(path: str) -> Any:
    """Open with Pillow, refusing other formats and images over MAX_PIXELS."""
    from PIL import Image

    image = Image.open(path, formats=PILLOW_FORMATS)
    if image.width * image.height > MAX_PIXELS:
        image.close()
        raise Image.DecompressionBombError(f"{image.width}x{image.height} pixels")
    return image


def _oriented_size(image: Any) -> tuple[int, int]:
    """(height, width) after the EXIF rotation a camera asked for."""
    w, h = image.size
    try:
        orientation = image.getexif().get(0x0112)
    except Exception:
        orientation = None
    return (w, h) if orientation in (5, 6, 7, 8) else (h, w)


def _header(path: str) -> tuple[int, int] | str:
    """(height, width) from the file's header (no pixel is decoded), or why not."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error")  # a DecompressionBombWarning refuses the file
            with _open(path) as image:
                return _oriented_size(image)
    except Exception as exc:
        return _classify(exc)


def _decode(path: str, size: tuple[int, int]) -> np.ndarray | str:
    """The image at ``size`` (H, W) as uint8: (H, W) when grey, (H, W, 3) RGB; or why not.

    Alpha is composited onto black, EXIF rotation applied, and the resize is Pillow's BOX
    filter: every output pixel is the area-weighted mean of the input pixels it covers.
    """
    from PIL import Image, ImageOps

    h, w = size
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            with _open(path) as image:
                if image.format == "JPEG":
                    # DCT scaling: decode at 1/2..1/8 size when that is still >= the target.
                    image.draft("RGB", (w, h))
                oriented = ImageOps.exif_transpose(image)
                oriented.load()
                pixels = _to_8bit(oriented)
                resized = pixels.resize((w, h), Image.Resampling.BOX)
                array = np.asarray(resized, dtype=np.uint8)
    except Exception as exc:
        return _classify(exc)
    if (
        array.ndim == 3
        and (array[..., 0] == array[..., 1]).all()
        and (array[..., 1] == array[..., 2]).all()
    ):
        array = array[..., 0]  # an RGB file holding greys is grey data (a third of the features)
    return np.ascontiguousarray(array)


def _to_8bit(image: Any) -> Any:
    """An L or RGB image: alpha composited onto black, 16-bit greys scaled to 8 bits."""
    from PIL import Image

    mode = image.mode
    if mode in ("I;16", "I;16B", "I;16L", "I;16N", "I", "F"):
        values = np.asarray(image, dtype=np.float64)
        top = 65535.0 if mode.startswith("I;16") else max(1.0, float(values.max()))
        grey = np.clip(np.rint(values * (255.0 / top)), 0, 255).astype(np.uint8)
        return Image.fromarray(grey)
    if mode == "1":
        return image.convert("L")
    has_alpha = mode in ("RGBA", "LA", "PA", "La", "RGBa") or "transparency" in image.info
    if has_alpha:
        rgba = image.convert("RGBA")
        black = Image.new("RGBA", rgba.size, (0, 0, 0, 255))
        return Image.alpha_composite(black, rgba).convert("RGB")
    if mode == "L":
        return image
    return image.convert("RGB")


def _headers_chunk(paths: list[str]) -> list[tuple[int, int] | str]:
    return [_header(p) for p in paths]


def _decode_chunk(paths: list[str], size: tuple[int, int]) -> list[np.ndarray | str]:
    return [_decode(p, size) for p in paths]


def _worker_init() -> None:
    import signal

    # Ctrl-C reaches the whole process group: the parent stops the pool, the workers must
    # not each print a traceback. A hang-up (SIGHUP) still ends them, as does the parent's
    # death (Linux: PR_SET_PDEATHSIG), so no worker outlives a dropped session.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    with suppress(Exception):
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        pr_set_pdeathsig = 1
        libc.prctl(pr_set_pdeathsig, signal.SIGKILL)


def _run_chunks(
    fn: Callable[..., list[Any]],
    paths: list[str],
    extra: tuple[Any, ...],
    workers: int,
    progress: ProgressFn | None,
) -> list[Any]:
    """``fn(chunk, *extra)`` over chunks of ``paths``, results in order.

    The first files are done here, timed; the rest go to a pool of ``workers`` processes
    only when doing them here would take longer than POOL_WORTH_SECONDS (starting spawn
    workers costs seconds: a few thousand small files are faster read in this process).
    """
    import time

    import PIL.Image  # noqa: F401 - imported before the probe is timed

    total = len(paths)
    out: list[Any] = []
    step = max(1, total // 100)
    started = time.perf_counter()
    while len(out) < total:
        start = len(out)
        out.extend(fn(paths[start : start + (PROBE_FILES if start == 0 else step)], *extra))
        if progress is not None:
            progress(len(out), total)
        if start == 0 and workers > 1:
            per_file = (time.perf_counter() - started) / len(out)
            if per_file * (total - len(out)) > POOL_WORTH_SECONDS:
                return out + _run_pool(fn, paths, len(out), extra, workers, progress)
    return out


def _run_pool(
    fn: Callable[..., list[Any]],
    paths: list[str],
    first: int,
    extra: tuple[Any, ...],
    workers: int,
    progress: ProgressFn | None,
) -> list[Any]:
    """``paths[first:]`` in a spawn process pool; results in order."""
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor, as_completed

    total = len(paths)
    rest = total - first
    chunk = max(8, math.ceil(rest / (workers * 16)))
    starts = list(range(first, total, chunk))
    results: list[list[Any] | None] = [None] * len(starts)
    done = first
    pool = ProcessPoolExecutor(
        max_workers=workers,
        mp_context=multiprocessing.get_context("spawn"),
        initializer=_worker_init,
    )
    try:
        futures = {pool.submit(fn, paths[s : s + chunk], *extra): k for k, s in enumerate(starts)}
        for future in as_completed(futures):
            part = future.result()
            results[futures[future]] = part
            done += len(part)
            if progress is not None:
                progress(done, total)
    finally:
        pool.shutdown(wait=True, cancel_futures=True)
    return [r for part in results if part is not None for r in part]


# --------------------------------------------------------------------------- cache


def _cache_paths(cache_dir: Path, key: str) -> tuple[Path, Path]:
    folder = cache_dir / CACHE_SUBDIR
    return folder / f"{key}.npy", folder / f"{key}.json"


def _read_cache(cache_dir: Path, key: str, scan: FolderScan) -> FolderLoad | None:
    """The cached folder, or None when missing, damaged or not this file list."""
    npy, sidecar = _cache_paths(cache_dir, key)
    try:
        meta = json.loads(sidecar.read_text(encoding="utf-8"))
        images = np.load(npy, allow_pickle=False)
        if not isinstance(meta, dict) or meta.get("key") != key:
            return None
        paths = tuple(str(p) for p in meta["paths"])
        labels_list = meta["labels"]
        names = meta["label_names"]
        skipped = Counter({str(k): int(v) for k, v in dict(meta["skipped"]).items()})
        if images.dtype != np.uint8 or images.ndim not in (3, 4) or len(images) != len(paths):
            return None
        if images.ndim == 4 and images.shape[3] != 3:
            return None
        known = {f.rel for f in scan.files}
        if not set(paths) <= known:
            return None
        labels = None
        if labels_list is not None:
            labels = np.asarray(labels_list, dtype=np.int64)
            if labels.shape != (len(paths),) or (labels < 0).any():
                return None
        label_names = None if names is None else tuple(str(n) for n in names)
        dataset = Dataset(
            images=images,
            labels=labels,
            name=str(meta["name"]),
            label_names=label_names,
            paths=paths,
        )
    except Exception:
        return None  # anything wrong with our own cache only means: read the folder again
    return FolderLoad(dataset, skipped, scan.ignored, from_cache=True)


def _write_cache(cache_dir: Path, key: str, load: FolderLoad) -> None:
    """Store the folder atomically (sidecar first, array last: the array's presence is the
    commit); a failure only costs the next start a re-read."""
    npy, sidecar = _cache_paths(cache_dir, key)
    ds = load.dataset
    meta = {
        "key": key,
        "version": CACHE_VERSION,
        "name": ds.name,
        "shape": list(ds.images.shape),
        "label_names": None if ds.label_names is None else list(ds.label_names),
        "labels": None if ds.labels is None else ds.labels.tolist(),
        "paths": list(ds.paths or ()),
        "skipped": dict(load.skipped),
    }
    try:
        npy.parent.mkdir(parents=True, exist_ok=True)
        # ASCII JSON: a file name that is not UTF-8 (surrogate escapes) survives as \udcXX.
        _atomic(sidecar, lambda f: f.write(json.dumps(meta).encode("ascii")))
        _atomic(npy, lambda f: np.save(f, ds.images, allow_pickle=False))
    except OSError:
        pass


def _atomic(path: Path, write: Callable[[Any], Any]) -> None:
    tmp = None
    try:
        with tempfile.NamedTemporaryFile(
            dir=path.parent, prefix=".folder-", suffix=".tmp", delete=False
        ) as f:
            tmp = f.name
            write(f)
        os.replace(tmp, path)
        tmp = None
    finally:
        if tmp is not None:
            with suppress(OSError):
                os.unlink(tmp)


# --------------------------------------------------------------------------- loading


def load_folder(
    root: str | os.PathLike[str],
    *,
    labels: bool = True,
    size: tuple[int, int] | None = None,
    cache_dir: Path | None = None,
    progress: ProgressFn | None = None,
    workers: int | None = None,
) -> FolderLoad:
    """Read an image folder into a :class:`Dataset` (see the module docstring).

    ``size`` (H, W) is the common image size (default: the median size capped at 64x64);
    ``workers`` the decoding processes (default ``os.cpu_count()``); ``cache_dir`` where the
    decoded images are kept (``None``: no cache).
    """
    display = safe(os.fspath(root))
    scan = scan_folder(root, labels=labels)
    key = scan.key(size)
    if cache_dir is not None:
        cached = _read_cache(Path(cache_dir), key, scan)
        if cached is not None:
            return cached
    workers = (os.cpu_count() or 1) if workers is None else max(1, workers)
    paths = [f.path for f in scan.files]
    skipped: Counter[str] = Counter()
    keep = list(range(len(paths)))
    if size is None:
        headers = _run_chunks(_headers_chunk, paths, (), workers, None)
        keep = [i for i, h in enumerate(headers) if not isinstance(h, str)]
        skipped.update(h for h in headers if isinstance(h, str))
        if not keep:
            raise InputError(f"{display}: {_none_readable(skipped)}")
        size = default_size([headers[i] for i in keep])
    decoded = _run_chunks(_decode_chunk, [paths[i] for i in keep], (size,), workers, progress)
    good = [(i, a) for i, a in zip(keep, decoded, strict=True) if not isinstance(a, str)]
    skipped.update(a for a in decoded if isinstance(a, str))
    if not good:
        raise InputError(f"{display}: {_none_readable(skipped)}")
    color = any(a.ndim == 3 for _, a in good)
    h, w = size
    images = np.empty((len(good), h, w, 3) if color else (len(good), h, w), dtype=np.uint8)
    for k, (_, a) in enumerate(good):
        images[k] = a[..., None] if (color and a.ndim == 2) else a
    files = [scan.files[i] for i, _ in good]
    label_array = None
    names = scan.class_names
    if names is not None:
        label_array = np.asarray([f.label for f in files], dtype=np.int64)
        # A class whose every file was skipped keeps its number (labels stay the sorted
        # subfolder order) and its name; it simply has no point.
    name = Path(os.path.abspath(os.fspath(root))).name or os.fspath(root)
    dataset = Dataset(
        images=images,
        labels=label_array,
        name=name,
        label_names=names,
        paths=tuple(f.rel for f in files),
    )
    load = FolderLoad(dataset, skipped, scan.ignored)
    if cache_dir is not None:
        _write_cache(Path(cache_dir), key, load)
    return load


def _none_readable(skipped: Counter[str]) -> str:
    total = sum(skipped.values())
    reasons = ", ".join(f"{n} {why}" for why, n in sorted(skipped.items()))
    return f"none of its {total} image files could be read ({reasons})"
