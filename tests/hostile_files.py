"""Small files that once cost gigabytes or minutes, built cheaply, for tests and benchmarks.

Each builder writes one file (a few MB at most) into a directory and returns the arguments of
``digitmap render`` that load it and a fragment of the one-line refusal. Gzip and zip bombs
are made from one compressed block of zeros repeated (gzip members concatenate; deflate
blocks after a full flush stand alone), so building a 4 GB bomb costs a fraction of a second.
"""

from __future__ import annotations

import gzip
import io
import struct
import zipfile
import zlib
from collections.abc import Callable
from pathlib import Path

import numpy as np

Builder = Callable[[Path], tuple[list[str], str]]

_BLOCK = 64 * 2**20  # bytes of zeros (or repeated text) compressed once and repeated


def _gzip_repeated(pattern: bytes, copies: int, prefix: bytes = b"") -> bytes:
    """A gzip file of ``prefix`` then ``copies`` x 64 MiB of ``pattern`` (concatenated members)."""
    block = (pattern * (_BLOCK // len(pattern) + 1))[:_BLOCK]
    member = zlib.compressobj(9, zlib.DEFLATED, 31)
    body = member.compress(block) + member.flush()
    head = gzip.compress(prefix) if prefix else b""
    return head + body * copies


def _deflate_zeros(prefix: bytes, copies: int) -> bytes:
    """A raw deflate stream of ``prefix`` and ``copies`` x 64 MiB of zeros."""
    c = zlib.compressobj(9, zlib.DEFLATED, -15)
    head = c.compress(prefix) + c.flush(zlib.Z_FULL_FLUSH)
    block = c.compress(bytes(_BLOCK)) + c.flush(zlib.Z_FULL_FLUSH)
    return head + block * copies + c.flush(zlib.Z_FINISH)


def npy_header(shape: tuple[int, ...], descr: str = "<f8") -> bytes:
    out = io.BytesIO()
    np.lib.format.write_array_header_1_0(
        out, {"descr": descr, "fortran_order": False, "shape": shape}
    )
    return out.getvalue()


def zip64_member(name: str, payload: bytes, declared: int, method: int = 8) -> bytes:
    """A one-member zip64 archive whose directory declares ``declared`` uncompressed bytes."""
    raw = name.encode()
    extra = struct.pack("<HHQQ", 1, 16, declared, len(payload))
    local = (
        struct.pack(
            "<IHHHHHIIIHH",
            0x04034B50,
            45,
            0,
            method,
            0,
            0x21,
            0,
            0xFFFFFFFF,
            0xFFFFFFFF,
            len(raw),
            len(extra),
        )
        + raw
        + extra
    )
    central = (
        struct.pack(
            "<IHHHHHHIIIHHHHHII",
            0x02014B50,
            45,
            45,
            0,
            method,
            0,
            0x21,
            0,
            0xFFFFFFFF,
            0xFFFFFFFF,
            len(raw),
            len(extra),
            0,
            0,
            0,
            0,
            0,
        )
        + raw
        + extra
    )
    end = struct.pack(
        "<IHHHHIIH", 0x06054B50, 0, 0, 1, 1, len(central), len(local) + len(payload), 0
    )
    return local + payload + central + end


def _idx_head(code: int, dims: tuple[int, ...], magic: bytes = b"\x00\x00") -> bytes:
    return magic + bytes([code, len(dims)]) + struct.pack(f">{len(dims)}I", *dims)


# --------------------------------------------------------------------------- the bombs


def idx_gz_wrong_magic(d: Path) -> tuple[list[str], str]:
    """3 MB of gzip, 3 GB of zeros behind an IDX header with a wrong magic number."""
    path = d / "bomb-images-idx3-ubyte.gz"
    path.write_bytes(_gzip_repeated(b"\0", 48, _idx_head(8, (100_000, 100, 100), b"\x12\x34")))
    return ["--data", str(path)], "bad magic 0x12340803"


def idx_gz_impossible_size(d: Path) -> tuple[list[str], str]:
    """A 3 MB gzip whose IDX header asks for 7.8 GB: more than 3 MB of deflate can hold."""
    path = d / "tall-images-idx3-ubyte.gz"
    path.write_bytes(_gzip_repeated(b"\0", 48, _idx_head(8, (10_000_000, 28, 28))))
    return ["--data", str(path)], "more than a"


def csv_gz_blank_lines(d: Path) -> tuple[list[str], str]:
    """4 MB of gzip, 4 GB of newlines (ran for over ten minutes)."""
    path = d / "blank.csv.gz"
    path.write_bytes(_gzip_repeated(b"\n", 64))
    return ["--data", str(path)], "blank lines"


def csv_gz_one_huge_line(d: Path) -> tuple[list[str], str]:
    """4 MB of gzip, one 4 GB line of ``0,0,0,...``."""
    path = d / "line.csv.gz"
    path.write_bytes(_gzip_repeated(b"0,", 64))
    return ["--data", str(path)], "is longer than"


def csv_gz_label_column_only(d: Path) -> tuple[list[str], str]:
    """4 MB of gzip, 2 billion rows of one column: refused from the first row."""
    path = d / "labels-only.csv.gz"
    path.write_bytes(_gzip_repeated(b"0\n", 64))
    return ["--data", str(path)], "no pixel columns"


def npz_zip_bomb(d: Path) -> tuple[list[str], str]:
    """A 6 MB .npz whose member declares 24 GiB (its deflate data expands to 6 GB)."""
    shape = (3 * 2**26, 16)  # 24 GiB of float64
    header = npy_header(shape)
    declared = len(header) + 3 * 2**26 * 16 * 8
    payload = _deflate_zeros(header, 96)
    path = d / "bomb.npz"
    path.write_bytes(zip64_member("images.npy", payload, declared))
    return ["--data", str(path)], "zip bomb"


def npz_header_asks_24gib(d: Path) -> tuple[list[str], str]:
    """A small .npz whose array header promises 24 GiB."""
    path = d / "liar.npz"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("images.npy", npy_header((3 * 2**26, 16)) + bytes(4096))  # 24 GiB
    return ["--data", str(path)], "its header promises"


def npz_lzma_member(d: Path) -> tuple[list[str], str]:
    """LZMA and bzip2 expand far beyond deflate's 1032:1; numpy never writes them."""
    buffer = io.BytesIO()
    np.save(buffer, np.zeros((10, 8, 8)))
    path = d / "lzma.npz"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_LZMA) as zf:
        zf.writestr("images.npy", buffer.getvalue())
    return ["--data", str(path)], "compression method 14"


def labels_million_distinct(d: Path) -> tuple[list[str], str]:
    """A million images with a million distinct labels (the map asked for 12-39 GiB)."""
    images, labels = d / "million.npy", d / "million-labels.npy"
    np.save(images, np.zeros((1_000_000, 1, 1), dtype=np.uint8))
    np.save(labels, np.arange(1_000_000, dtype=np.int32))
    return ["--data", str(images), "--labels", str(labels)], "labels must be 0 to 255"


def images_at_1e300(d: Path) -> tuple[list[str], str]:
    """Finite values whose squares overflow float64."""
    path = d / "e300.npy"
    images = np.random.default_rng(0).random((40, 8, 8))
    images[7, 3, 3] = -1e300
    np.save(path, images)
    return ["--data", str(path)], "image 7 has the value -1e+300"


def images_over_the_pixel_cap(d: Path) -> tuple[list[str], str]:
    """101 images of 2000x2000: refused from the header (the file is sparse, 400 MB long)."""
    path = d / "huge-images.npy"
    header = npy_header((101, 2000, 2000), "|u1")
    with open(path, "wb") as f:
        f.write(header)
        f.truncate(len(header) + 101 * 2000 * 2000)
    return ["--data", str(path)], "at most 1,048,576 per image"


def embedding_at_1_7e308(d: Path) -> tuple[list[str], str]:
    """Finite coordinates whose differences overflow."""
    data, coords = d / "small.npy", d / "emb-huge.npy"
    np.save(data, np.random.default_rng(0).random((40, 8, 8)))
    xy = np.random.default_rng(1).random((40, 2))
    xy[3] = (1.7e308, -1.7e308)
    np.save(coords, xy)
    return ["--data", str(data), "--embedding", str(coords)], "--embedding"


#: The cases above, by name: each is refused in one line after reading little.
BOMBS: dict[str, Builder] = {
    "idx-gz-wrong-magic-3GB": idx_gz_wrong_magic,
    "idx-gz-header-beyond-file": idx_gz_impossible_size,
    "csv-gz-4GB-of-blank-lines": csv_gz_blank_lines,
    "csv-gz-4GB-line": csv_gz_one_huge_line,
    "csv-gz-label-column-only": csv_gz_label_column_only,
    "npz-zip-bomb-24GiB": npz_zip_bomb,
    "npz-header-asks-24GiB": npz_header_asks_24gib,
    "npz-lzma-member": npz_lzma_member,
    "labels-million-distinct": labels_million_distinct,
    "images-at-1e300": images_at_1e300,
    "images-101x2000x2000": images_over_the_pixel_cap,
    "embedding-at-1.7e308": embedding_at_1_7e308,
}
