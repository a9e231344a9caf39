"""Tests for digitmap_tui.data: every loader round-trips, every malformed input is one line."""

from __future__ import annotations

import gzip
import json
import os
import struct
import subprocess
import sys
import zipfile
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from digitmap_tui import data
from digitmap_tui.data import Dataset, load_dataset, load_digits, load_embedding, parse_shape
from digitmap_tui.errors import InputError
from tests.hostile_files import BOMBS

REPO = Path(__file__).resolve().parents[1]

IDX_CODES = {
    np.dtype(np.uint8): 0x08,
    np.dtype(np.int8): 0x09,
    np.dtype(">i2"): 0x0B,
    np.dtype(">i4"): 0x0C,
    np.dtype(">f4"): 0x0D,
    np.dtype(">f8"): 0x0E,
}


# --------------------------------------------------------------------------- helpers


def idx_bytes(array: np.ndarray, magic: int | None = None) -> bytes:
    """IDX by hand: magic 0x0000<type><ndim>, big-endian uint32 dims, big-endian data."""
    if magic is None:
        magic = (IDX_CODES[array.dtype] << 8) | array.ndim
    header = struct.pack(">I", magic) + struct.pack(f">{array.ndim}I", *array.shape)
    return header + array.tobytes()


def write_idx(path: Path, array: np.ndarray, magic: int | None = None) -> Path:
    raw = idx_bytes(array, magic)
    path.write_bytes(gzip.compress(raw) if path.name.endswith(".gz") else raw)
    return path


def sample_images(n: int = 6, h: int = 4, w: int = 3) -> np.ndarray:
    return (np.arange(n * h * w, dtype=np.uint8) % 17).reshape(n, h, w)


def sample_labels(n: int = 6) -> np.ndarray:
    return np.arange(n, dtype=np.int64) % 3


def write_csv(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def csv_text(images: np.ndarray, labels: np.ndarray, header: bool) -> str:
    flat = images.reshape(len(images), -1)
    lines = []
    if header:
        lines.append(",".join(["label"] + [f"pixel{i}" for i in range(flat.shape[1])]))
    for label, row in zip(labels, flat, strict=True):
        lines.append(",".join([str(label)] + [str(v) for v in row]))
    return "\n".join(lines) + "\n"


def assert_one_line_error(exc: pytest.ExceptionInfo[InputError], name: str) -> str:
    message = str(exc.value)
    assert "\n" not in message and "\r" not in message
    assert name in message
    return message


# --------------------------------------------------------------------------- Dataset


def test_dataset_properties_and_features() -> None:
    images = sample_images().astype(np.float32)
    ds = Dataset(images=images, labels=sample_labels(), name="t")
    assert ds.n == 6
    assert ds.image_shape == (4, 3)
    assert ds.n_labels == 3
    feats = ds.features()
    assert feats.shape == (6, 12) and feats.dtype == np.float32
    assert np.shares_memory(feats, images)  # float32 images are not copied
    assert ds.value_range() == (0.0, 16.0)
    assert Dataset(images=images, labels=None, name="t").n_labels == 0


def test_dataset_rejects_malformed_arrays() -> None:
    with pytest.raises(ValueError):
        Dataset(images=np.zeros((3, 4)), labels=None, name="t")
    with pytest.raises(ValueError):
        Dataset(images=np.zeros((3, 2, 2)), labels=np.zeros(2, dtype=np.int64), name="t")


def test_fingerprint_stable_and_content_addressed() -> None:
    images, labels = sample_images(), sample_labels()
    fp = Dataset(images=images, labels=labels, name="a").fingerprint()
    assert len(fp) == 64 and int(fp, 16) >= 0
    # Same content, other objects and name: same fingerprint.
    assert Dataset(images=images.copy(), labels=labels.copy(), name="b").fingerprint() == fp
    # A non-contiguous view of equal content hashes the same (chunked path).
    wide = np.zeros((6, 4, 6), dtype=np.uint8)
    wide[:, :, ::2] = images
    assert Dataset(images=wide[:, :, ::2], labels=labels, name="c").fingerprint() == fp
    changed = images.copy()
    changed[3, 2, 1] += 1
    assert Dataset(images=changed, labels=labels, name="a").fingerprint() != fp
    other_labels = labels.copy()
    other_labels[0] = 2
    assert Dataset(images=images, labels=other_labels, name="a").fingerprint() != fp
    assert Dataset(images=images, labels=None, name="a").fingerprint() != fp
    assert Dataset(images=images.astype(np.float32), labels=labels, name="a").fingerprint() != fp


def test_fingerprint_and_value_range_computed_once() -> None:
    images = sample_images()
    ds = Dataset(images=images, labels=None, name="a")
    fp, vr = ds.fingerprint(), ds.value_range()
    images[0, 0, 0] = 200  # in-place edits after the first call are not seen: values are cached
    assert ds.fingerprint() == fp
    assert ds.value_range() == vr == (0.0, 16.0)


# --------------------------------------------------------------------------- digits


def test_digits_equals_sklearn(tmp_path: Path) -> None:
    from sklearn.datasets import load_digits as sk_load_digits

    expected = sk_load_digits()
    fresh = load_digits()
    built = load_digits(tmp_path)
    assert (tmp_path / data.DIGITS_CACHE_NAME).is_file()
    cached = load_digits(tmp_path)
    for ds in (fresh, built, cached):
        assert ds.name == "digits"
        assert ds.images.dtype == expected.images.dtype
        assert np.array_equal(ds.images, expected.images)
        assert ds.labels is not None and ds.labels.dtype == np.int64
        assert np.array_equal(ds.labels, expected.target)
        assert ds.n_labels == 10
        assert ds.value_range() == (0.0, 16.0)
    assert fresh.fingerprint() == built.fingerprint() == cached.fingerprint()
    assert [p.name for p in tmp_path.iterdir()] == [data.DIGITS_CACHE_NAME]  # no temp left


def test_digits_reads_the_cached_copy(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    load_digits(tmp_path)

    def no_csv(*args: object, **kwargs: object) -> None:
        raise AssertionError("the CSV was parsed although a valid cache exists")

    monkeypatch.setattr(data.np, "loadtxt", no_csv)
    assert load_digits(tmp_path).n == 1797


@pytest.mark.parametrize(
    "damage",
    [
        b"",
        b"garbage, not a zip",
        b"PK\x03\x04truncated",
    ],
    ids=["empty", "garbage", "truncated-zip"],
)
def test_damaged_digits_cache_is_rebuilt(tmp_path: Path, damage: bytes) -> None:
    reference = load_digits()
    (tmp_path / data.DIGITS_CACHE_NAME).write_bytes(damage)
    ds = load_digits(tmp_path)
    assert np.array_equal(ds.images, reference.images)
    with np.load(tmp_path / data.DIGITS_CACHE_NAME, allow_pickle=False) as npz:
        assert np.array_equal(npz["images"], reference.images)


def test_digits_cache_with_wrong_content_is_rebuilt(tmp_path: Path) -> None:
    reference = load_digits()
    file = tmp_path / data.DIGITS_CACHE_NAME
    np.savez(file, images=np.zeros((3, 8, 8)), labels=np.zeros(3, dtype=np.int64))
    assert np.array_equal(load_digits(tmp_path).images, reference.images)
    # A copy made from another source file (other size/mtime stamp) is also rebuilt.
    np.savez(
        file,
        images=reference.images + 1,
        labels=reference.labels,
        source_stat=np.array([1, 2], dtype=np.int64),
    )
    assert np.array_equal(load_digits(tmp_path).images, reference.images)


def test_digits_unwritable_cache_dir_still_loads(tmp_path: Path) -> None:
    not_a_dir = tmp_path / "file"
    not_a_dir.write_text("x")
    assert load_digits(not_a_dir).n == 1797


def test_digits_without_sklearn_uses_cache_or_says_what_to_install(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    load_digits(tmp_path)
    monkeypatch.setattr(data, "_sklearn_digits_csv", lambda: None)
    assert load_digits(tmp_path).n == 1797
    with pytest.raises(InputError, match="scikit-learn"):
        load_digits(tmp_path / "empty")


def test_load_digits_does_not_import_sklearn_or_textual(tmp_path: Path) -> None:
    code = (
        "import sys\n"
        "from pathlib import Path\n"
        "from digitmap_tui.data import load_digits\n"
        "cache = Path(sys.argv[1])\n"
        "a = load_digits(cache)\n"
        "b = load_digits(cache)\n"
        "assert a.n == b.n == 1797\n"
        "assert 'sklearn' not in sys.modules, 'sklearn imported'\n"
        "assert 'textual' not in sys.modules, 'textual imported'\n"
        "print('ok')\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code, str(tmp_path)],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "ok"


# --------------------------------------------------------------------------- .npy / .npz


def test_npy_3d_with_separate_labels(tmp_path: Path) -> None:
    images, labels = sample_images(), sample_labels()
    np.save(tmp_path / "x.npy", images)
    np.save(tmp_path / "y.npy", labels.astype(np.uint8))
    ds = load_dataset(tmp_path / "x.npy", labels=tmp_path / "y.npy")
    assert ds.name == "x.npy"
    assert ds.images.dtype == np.uint8 and np.array_equal(ds.images, images)
    assert ds.labels is not None and ds.labels.dtype == np.int64
    assert np.array_equal(ds.labels, labels)


def test_npy_flat_rows_with_shape_or_square(tmp_path: Path) -> None:
    images = sample_images(h=4, w=3)
    np.save(tmp_path / "flat.npy", images.reshape(6, 12))
    ds = load_dataset(tmp_path / "flat.npy", shape=(4, 3))
    assert ds.image_shape == (4, 3) and np.array_equal(ds.images, images)
    square = sample_images(h=3, w=3)
    np.save(tmp_path / "sq.npy", square.reshape(6, 9))
    ds = load_dataset(str(tmp_path / "sq.npy"))
    assert ds.image_shape == (3, 3) and np.array_equal(ds.images, square)
    assert ds.labels is None and ds.n_labels == 0


def test_npy_3d_reshaped_by_matching_shape(tmp_path: Path) -> None:
    np.save(tmp_path / "x.npy", sample_images(h=4, w=3))
    ds = load_dataset(tmp_path / "x.npy", shape=(2, 6))
    assert ds.image_shape == (2, 6)


@pytest.mark.parametrize("layout", ["nhwc", "nchw"])
def test_npy_single_channel_is_squeezed(tmp_path: Path, layout: str) -> None:
    images = sample_images()
    stored = images[:, :, :, None] if layout == "nhwc" else images[:, None, :, :]
    np.save(tmp_path / "c.npy", stored)
    assert np.array_equal(load_dataset(tmp_path / "c.npy").images, images)


def test_npy_bool_and_big_endian_are_normalised(tmp_path: Path) -> None:
    np.save(tmp_path / "b.npy", sample_images() > 8)
    ds = load_dataset(tmp_path / "b.npy")
    assert ds.images.dtype == np.uint8 and ds.value_range() == (0.0, 1.0)
    floats = sample_images().astype(">f4") / 2
    np.save(tmp_path / "be.npy", floats)
    ds = load_dataset(tmp_path / "be.npy")
    assert ds.images.dtype == np.dtype("=f4")
    assert np.array_equal(ds.images, floats)
    assert ds.value_range() == (0.0, 8.0)


def test_large_npy_is_memory_mapped(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    images = sample_images().astype(np.float32)
    np.save(tmp_path / "big.npy", images.reshape(6, 12))
    small = load_dataset(tmp_path / "big.npy", shape=(4, 3))
    assert not isinstance(small.images, np.memmap)
    monkeypatch.setattr(data, "MMAP_MIN_BYTES", 0)
    big = load_dataset(tmp_path / "big.npy", shape=(4, 3))
    assert isinstance(big.images, np.memmap) and not big.images.flags.writeable
    assert np.array_equal(big.images, images)
    assert big.fingerprint() == small.fingerprint()


@pytest.mark.parametrize(
    ("image_key", "label_key"),
    [("images", "labels"), ("x", "y"), ("X", "target"), ("data", None), ("arr_0", "arr_1")],
)
def test_npz_keys(tmp_path: Path, image_key: str, label_key: str | None) -> None:
    images, labels = sample_images(), sample_labels()
    arrays = {image_key: images}
    if label_key:
        arrays[label_key] = labels
    np.savez(tmp_path / "d.npz", **arrays)
    ds = load_dataset(tmp_path / "d.npz")
    assert np.array_equal(ds.images, images)
    if label_key:
        assert ds.labels is not None and np.array_equal(ds.labels, labels)
    else:
        assert ds.labels is None


def test_npz_single_array_under_any_name_and_compressed(tmp_path: Path) -> None:
    images = sample_images()
    np.savez_compressed(tmp_path / "d.npz", pictures=images)
    assert np.array_equal(load_dataset(tmp_path / "d.npz").images, images)


def test_separate_labels_override_embedded_ones(tmp_path: Path) -> None:
    np.savez(tmp_path / "d.npz", images=sample_images(), labels=np.zeros(6, dtype=np.int64))
    (tmp_path / "l.txt").write_text("\n".join(str(v) for v in [5, 4, 3, 2, 1, 0]) + "\n")
    ds = load_dataset(tmp_path / "d.npz", labels=tmp_path / "l.txt")
    assert ds.labels is not None and ds.labels.tolist() == [5, 4, 3, 2, 1, 0]


# --------------------------------------------------------------------------- CSV


@pytest.mark.parametrize("header", [True, False])
def test_csv_label_then_pixels(tmp_path: Path, header: bool) -> None:
    images, labels = sample_images(h=3, w=3), sample_labels()
    path = write_csv(tmp_path / "d.csv", csv_text(images, labels, header))
    ds = load_dataset(path)
    assert ds.images.dtype == np.uint8  # 0..255 integers are stored compactly
    assert np.array_equal(ds.images, images)
    assert ds.labels is not None and np.array_equal(ds.labels, labels)


def test_csv_named_label_column_anywhere_and_shape(tmp_path: Path) -> None:
    text = "p0,p1,Target,p2,p3,p4,p5\n0.5,1,2,2,3,4,5\n6,7,1,8,9,10,11.25\n"
    ds = load_dataset(write_csv(tmp_path / "d.csv", text), shape=(2, 3))
    assert ds.images.dtype == np.float64
    assert ds.images.tolist() == [[[0.5, 1, 2], [3, 4, 5]], [[6, 7, 8], [9, 10, 11.25]]]
    assert ds.labels is not None and ds.labels.tolist() == [2, 1]


def test_csv_header_without_label_column_of_image_width(tmp_path: Path) -> None:
    text = "a,b,c,d\n1,2,3,4\n5,6,7,8\n"
    ds = load_dataset(write_csv(tmp_path / "d.csv", text))
    assert ds.labels is None and ds.images.tolist() == [[[1, 2], [3, 4]], [[5, 6], [7, 8]]]


def test_csv_gzip_bom_quotes_and_blank_lines(tmp_path: Path) -> None:
    text = '\ufefflabel,p0,p1,p2,p3\n\n"1",0,1,2,3\n 2 , 4,5,6,7\n\n'
    path = tmp_path / "d.csv.gz"
    path.write_bytes(gzip.compress(text.encode("utf-8")))
    ds = load_dataset(path)
    assert ds.labels is not None and ds.labels.tolist() == [1, 2]
    assert ds.images.tolist() == [[[0, 1], [2, 3]], [[4, 5], [6, 7]]]


def test_labels_from_csv_and_txt_files(tmp_path: Path) -> None:
    np.save(tmp_path / "x.npy", sample_images())
    write_csv(tmp_path / "l.csv", "id,label\n0,2\n1,2\n2,0\n3,1\n4,1\n5,0\n")
    ds = load_dataset(tmp_path / "x.npy", labels=tmp_path / "l.csv")
    assert ds.labels is not None and ds.labels.tolist() == [2, 2, 0, 1, 1, 0]
    write_csv(tmp_path / "l.txt", "1\n2\n3.0\n4\n5\n6\n")
    ds = load_dataset(tmp_path / "x.npy", labels=tmp_path / "l.txt")
    assert ds.labels is not None and ds.labels.tolist() == [1, 2, 3, 4, 5, 6]


# --------------------------------------------------------------------------- IDX


def test_idx_header_matches_mnist_magic() -> None:
    raw = idx_bytes(np.zeros((2, 28, 28), dtype=np.uint8))
    assert raw[:16] == bytes.fromhex("00000803 00000002 0000001c 0000001c")
    assert idx_bytes(np.zeros(5, dtype=np.uint8))[:8] == bytes.fromhex("00000801 00000005")


@pytest.mark.parametrize(
    ("images_name", "labels_name"),
    [
        ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
        ("t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"),
        ("train-images.idx3-ubyte", "train-labels.idx1-ubyte"),
        ("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte"),  # unpacked labels only
    ],
)
def test_idx_finds_sibling_labels(tmp_path: Path, images_name: str, labels_name: str) -> None:
    images, labels = sample_images(), sample_labels()
    write_idx(tmp_path / images_name, images)
    write_idx(tmp_path / labels_name, labels.astype(np.uint8))
    ds = load_dataset(tmp_path / images_name)
    assert ds.name == images_name
    assert np.array_equal(ds.images, images)
    assert ds.labels is not None and np.array_equal(ds.labels, labels)


def test_idx_without_labels_and_explicit_labels_win(tmp_path: Path) -> None:
    images = sample_images()
    write_idx(tmp_path / "fashion-images-idx3-ubyte", images)
    assert load_dataset(tmp_path / "fashion-images-idx3-ubyte").labels is None
    write_idx(tmp_path / "fashion-labels-idx1-ubyte", np.zeros(6, dtype=np.uint8))
    write_idx(tmp_path / "other-labels-idx1-ubyte.gz", np.full(6, 7, dtype=np.uint8))
    ds = load_dataset(
        tmp_path / "fashion-images-idx3-ubyte", labels=tmp_path / "other-labels-idx1-ubyte.gz"
    )
    assert ds.labels is not None and ds.labels.tolist() == [7] * 6


def test_large_idx_is_memory_mapped(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    images = sample_images()
    write_idx(tmp_path / "train-images-idx3-ubyte", images)
    monkeypatch.setattr(data, "MMAP_MIN_BYTES", 0)
    ds = load_dataset(tmp_path / "train-images-idx3-ubyte")
    assert isinstance(ds.images, np.memmap)
    assert np.array_equal(ds.images, images)


def test_idx_float_and_flat(tmp_path: Path) -> None:
    floats = (sample_images() / 4).astype(">f4")
    write_idx(tmp_path / "f-images-idx3-ubyte", floats)
    ds = load_dataset(tmp_path / "f-images-idx3-ubyte")
    assert ds.images.dtype == np.dtype("=f4") and np.array_equal(ds.images, floats)
    write_idx(tmp_path / "flat.idx", sample_images().reshape(6, 12).astype(">i2"))
    ds = load_dataset(tmp_path / "flat.idx", shape=(3, 4))
    assert ds.image_shape == (3, 4) and ds.images.dtype == np.dtype("=i2")


# --------------------------------------------------------------------------- embeddings, shape


def test_load_embedding_npy_and_csv(tmp_path: Path) -> None:
    coords = np.array([[0.5, -1.0], [2.0, 3.5], [1e6, -2e-3]])
    np.save(tmp_path / "e.npy", coords.astype(np.float32))
    loaded = load_embedding(tmp_path / "e.npy", 3)
    assert loaded.dtype == np.float64 and loaded.flags.c_contiguous
    assert np.array_equal(loaded, coords.astype(np.float32))
    np.save(tmp_path / "i.npy", np.arange(6, dtype=np.int32).reshape(3, 2))
    assert load_embedding(tmp_path / "i.npy", 3).dtype == np.float64
    write_csv(tmp_path / "plain.csv", "0.5,-1\n2,3.5\n1e6,-2e-3\n")
    assert np.array_equal(load_embedding(tmp_path / "plain.csv", 3), coords)
    write_csv(tmp_path / "head.csv", "x,y\n0.5,-1\n2,3.5\n1e6,-2e-3\n")
    assert np.array_equal(load_embedding(tmp_path / "head.csv", 3), coords)
    write_csv(tmp_path / "idx.csv", "index,label,x,y\n0,1,0.5,-1\n1,1,2,3.5\n2,0,1e6,-2e-3\n")
    assert np.array_equal(load_embedding(tmp_path / "idx.csv", 3), coords)


@pytest.mark.parametrize(
    ("text", "expected"),
    [("28x28", (28, 28)), ("8X16", (8, 16)), (" 4 x 5 ", (4, 5)), ("3×7", (3, 7)), ("2,3", (2, 3))],
)
def test_parse_shape(text: str, expected: tuple[int, int]) -> None:
    assert parse_shape(text) == expected


@pytest.mark.parametrize("text", ["28", "0x28", "28x0", "-1x5", "axb", "", "2x3x4", "2.5x3"])
def test_parse_shape_rejects(text: str) -> None:
    with pytest.raises(InputError) as exc:
        parse_shape(text)
    assert_one_line_error(exc, "--shape")


# --------------------------------------------------------------------------- bad inputs

Case = Callable[[Path], tuple[Callable[[], object], str, str]]
"""Builds a malformed input in tmp_path; returns (the call, the file name, a message fragment)."""


def _npy(name: str, array: np.ndarray, **kwargs: object) -> Case:
    def build(tmp: Path) -> tuple[Callable[[], object], str, str]:
        np.save(tmp / name, array)
        return (lambda: load_dataset(tmp / name, **kwargs)), str(tmp / name), ""

    return build


def _file(name: str, content: bytes, fragment: str, **kwargs: object) -> Case:
    def build(tmp: Path) -> tuple[Callable[[], object], str, str]:
        (tmp / name).write_bytes(content)
        return (lambda: load_dataset(tmp / name, **kwargs)), str(tmp / name), fragment

    return build


def _with(fragment: str, case: Case) -> Case:
    def build(tmp: Path) -> tuple[Callable[[], object], str, str]:
        call, name, _ = case(tmp)
        return call, name, fragment

    return build


def _missing(tmp: Path) -> tuple[Callable[[], object], str, str]:
    return (lambda: load_dataset(tmp / "nope.npy")), str(tmp / "nope.npy"), "no such file"


def _directory(tmp: Path) -> tuple[Callable[[], object], str, str]:
    (tmp / "dir.npy").mkdir()
    # A folder is read as an image folder; this one holds no image.
    return (lambda: load_dataset(tmp / "dir.npy")), str(tmp / "dir.npy"), "no images in the folder"


def _truncated_npy(tmp: Path) -> tuple[Callable[[], object], str, str]:
    np.save(tmp / "t.npy", sample_images())
    raw = (tmp / "t.npy").read_bytes()
    (tmp / "t.npy").write_bytes(raw[:-10])
    return (lambda: load_dataset(tmp / "t.npy")), str(tmp / "t.npy"), "truncated"


def _npz_no_images(tmp: Path) -> tuple[Callable[[], object], str, str]:
    np.savez(tmp / "d.npz", foo=sample_images(), bar=sample_labels())
    return (lambda: load_dataset(tmp / "d.npz")), str(tmp / "d.npz"), "found foo, bar"


def _npz_label_count(tmp: Path) -> tuple[Callable[[], object], str, str]:
    np.savez(tmp / "d.npz", images=sample_images(), labels=np.arange(5))
    return (lambda: load_dataset(tmp / "d.npz")), str(tmp / "d.npz"), "5 labels but"


def _npz_objects(tmp: Path) -> tuple[Callable[[], object], str, str]:
    objects = np.empty(6, dtype=object)
    objects[:] = [{"a": i} for i in range(6)]
    np.savez(tmp / "d.npz", images=sample_images(), labels=objects)
    return (lambda: load_dataset(tmp / "d.npz")), str(tmp / "d.npz"), "Python objects"


def _npz_string_labels(tmp: Path) -> tuple[Callable[[], object], str, str]:
    np.savez(tmp / "d.npz", images=sample_images(), labels=np.array(list("abcdef")))
    return (lambda: load_dataset(tmp / "d.npz")), str(tmp / "d.npz"), "labels must be integers"


def _npz_damaged_member(tmp: Path) -> tuple[Callable[[], object], str, str]:
    with zipfile.ZipFile(tmp / "d.npz", "w") as zf:
        zf.writestr("images.npy", b"\x93NUMPY garbage")
    return (lambda: load_dataset(tmp / "d.npz")), str(tmp / "d.npz"), "'images' is damaged"


def _labels_file(name: str, content: bytes | np.ndarray | None, fragment: str) -> Case:
    def build(tmp: Path) -> tuple[Callable[[], object], str, str]:
        np.save(tmp / "x.npy", sample_images())
        target = tmp / name
        if content is None:
            pass
        elif isinstance(content, np.ndarray):
            if ".npy" in name:
                np.save(target, content)
            else:
                write_idx(target, content)
        else:
            target.write_bytes(content)
        return (lambda: load_dataset(tmp / "x.npy", labels=target)), str(target), fragment

    return build


def _idx_images(name: str, raw: bytes, fragment: str, gz: bool = False) -> Case:
    def build(tmp: Path) -> tuple[Callable[[], object], str, str]:
        (tmp / name).write_bytes(gzip.compress(raw) if gz else raw)
        return (lambda: load_dataset(tmp / name)), str(tmp / name), fragment

    return build


def _idx_bad_sibling(tmp: Path) -> tuple[Callable[[], object], str, str]:
    write_idx(tmp / "train-images-idx3-ubyte", sample_images())
    write_idx(tmp / "train-labels-idx1-ubyte", np.zeros(4, dtype=np.uint8))
    call = lambda: load_dataset(tmp / "train-images-idx3-ubyte")  # noqa: E731
    return call, str(tmp / "train-labels-idx1-ubyte"), "4 labels but"


def _idx_sibling_wrong_magic(tmp: Path) -> tuple[Callable[[], object], str, str]:
    write_idx(tmp / "train-images-idx3-ubyte.gz", sample_images())
    (tmp / "train-labels-idx1-ubyte.gz").write_bytes(
        gzip.compress(b"\x12\x34\x56\x78" + b"\x00" * 10)
    )
    call = lambda: load_dataset(tmp / "train-images-idx3-ubyte.gz")  # noqa: E731
    return call, str(tmp / "train-labels-idx1-ubyte.gz"), "bad magic 0x12345678"


def _embedding(name: str, content: bytes | np.ndarray, fragment: str, n: int = 3) -> Case:
    def build(tmp: Path) -> tuple[Callable[[], object], str, str]:
        if isinstance(content, np.ndarray):
            np.save(tmp / name, content)
        else:
            (tmp / name).write_bytes(content)
        return (lambda: load_embedding(tmp / name, n)), str(tmp / name), fragment

    return build


def _nan_images() -> np.ndarray:
    images = sample_images().astype(np.float64)
    images[4, 1, 2] = np.nan
    return images


def _inf_images() -> np.ndarray:
    images = sample_images().astype(np.float32)
    images[2, 0, 0] = -np.inf
    return images


IMAGES_IDX = idx_bytes(sample_images())
OBJECTS = np.array([{"a": 1}, None], dtype=object)

BAD_INPUTS: dict[str, Case] = {
    # the file itself
    "missing": _missing,
    "directory": _directory,
    "empty-npy": _file("e.npy", b"", "empty file"),
    "empty-csv": _file("e.csv", b"", "empty file"),
    "blank-csv": _file("b.csv", b"\n \n\n", "no data"),
    "unsupported-extension": _file("pic.png", b"\x89PNG....", "unsupported file type '.png'"),
    # .npy
    "npy-garbage": _file("g.npy", b"this is not numpy", "not a .npy file"),
    "npy-truncated": _truncated_npy,
    "npy-pickled-objects": _with("Python objects", _npy("o.npy", OBJECTS)),
    "npy-1d": _with("got shape (5,)", _npy("v.npy", np.arange(5))),
    # (N, H, W, 3) is colour and loads; five channels are nothing we can draw.
    "npy-5-channels": _with("3 (RGB) or 4 (RGBA)", _npy("c5.npy", np.zeros((2, 5, 5, 5)))),
    "npy-complex": _with("complex", _npy("c.npy", np.zeros((2, 3, 3), dtype=complex))),
    "npy-strings": _with("strings", _npy("s.npy", np.array([["a", "b"], ["c", "d"]]))),
    "npy-nan": _with("image 4 contains NaN", _npy("n.npy", _nan_images())),
    "npy-inf": _with("image 2 contains NaN or infinite", _npy("i.npy", _inf_images())),
    "npy-zero-images": _with("no images", _npy("z.npy", np.zeros((0, 8, 8)))),
    "npy-empty-images": _with("images are empty", _npy("z.npy", np.zeros((3, 0, 8)))),
    "npy-not-square": _with("--shape HxW", _npy("f.npy", np.zeros((4, 10)))),
    "npy-shape-mismatch": _with(
        "--shape 5x5 needs 25 values per image, the data has 64",
        _npy("f.npy", np.zeros((4, 64)), shape=(5, 5)),
    ),
    "npy-3d-shape-mismatch": _with(
        "does not match images of 8x8", _npy("f.npy", np.zeros((4, 8, 8)), shape=(5, 5))
    ),
    # .npz
    "npz-not-zip": _file("d.npz", b"hello world", "not a .npz file"),
    "npz-truncated-zip": _file("d.npz", b"PK\x03\x04\x14\x00", "not a valid .npz"),
    "npz-no-image-key": _npz_no_images,
    "npz-label-count": _npz_label_count,
    "npz-object-labels": _npz_objects,
    "npz-string-labels": _npz_string_labels,
    "npz-damaged-member": _npz_damaged_member,
    "csv-semicolons": _file("d.csv", b"a;b\n1;2\n", "separated by commas"),
    # CSV
    "csv-non-numeric": _file(
        "d.csv", b"1,2,3,4,5\n0,1,2,3,4\n1,2,x7,3,4\n", "'x7' at line 3, column 3"
    ),
    "csv-ragged": _file("d.csv", b"1,2,3,4,5\n0,1,2,3\n", "line 2 has 4 columns, expected 5"),
    "csv-header-only": _file("d.csv", b"label,p0,p1,p2,p3\n", "no data rows"),
    "csv-header-width": _file("d.csv", b"label,p0,p1\n1,2,3,4,5\n", "header has 3 columns"),
    "csv-non-integer-label": _file(
        "d.csv", b"1,2,3,4,5\n3.5,1,2,3,4\n", "non-integer label 3.5 at index 1"
    ),
    "csv-negative-label": _file(
        "d.csv", b"1,2,3,4,5\n-2,1,2,3,4\n", "negative label -2 at index 1"
    ),
    "csv-nan-label": _file("d.csv", b"1,2,3,4,5\nnan,1,2,3,4\n", "non-integer label nan"),
    "csv-huge-label": _file("d.csv", b"10000000,2,3,4,5\n", "label 10000000 at index 0 is too"),
    "csv-binary": _file("d.csv", b"\xff\xfe\x00\x81garbage\x00\n", "not a UTF-8 text file"),
    "csv-only-label-column": _file("d.csv", b"label\n1\n2\n", "no pixel columns"),
    "csv-gzip-corrupt": _file("d.csv.gz", b"\x1f\x8b\x08\x00 not really gzip", "corrupt gzip"),
    # IDX
    "idx-wrong-magic": _idx_images(
        "train-images-idx3-ubyte", b"\x00\x00\x07\x03" + IMAGES_IDX[4:], "bad magic 0x00000703"
    ),
    "idx-text-file": _idx_images("train-images-idx3-ubyte", b"hello, world!", "bad magic"),
    "idx-header-cut": _idx_images("train-images-idx3-ubyte", IMAGES_IDX[:9], "header cut short"),
    "idx-truncated": _idx_images(
        "train-images-idx3-ubyte", IMAGES_IDX[:-5], "need 72 data bytes, found 67"
    ),
    "idx-trailing": _idx_images("train-images-idx3-ubyte", IMAGES_IDX + b"xx", "2 bytes beyond"),
    "idx-truncated-gzip": _file(
        "train-images-idx3-ubyte.gz", gzip.compress(IMAGES_IDX)[:-12], "truncated"
    ),
    "idx-gzip-crc": _file(
        "train-images-idx3-ubyte.gz",
        gzip.compress(IMAGES_IDX)[:-8] + b"\x00\x00\x00\x00" + gzip.compress(IMAGES_IDX)[-4:],
        "corrupt gzip",
    ),
    "idx-not-gzip": _idx_images("train-images-idx3-ubyte.gz", IMAGES_IDX, "corrupt gzip"),
    "idx-labels-as-images": _idx_images(
        "train-labels-idx1-ubyte", idx_bytes(np.zeros(5, np.uint8)), "got shape (5,)"
    ),
    "idx-zero-images": _idx_images(
        "train-images-idx3-ubyte", idx_bytes(np.zeros((0, 4, 4), np.uint8)), "no images"
    ),
    "idx-sibling-count": _idx_bad_sibling,
    "idx-sibling-magic": _idx_sibling_wrong_magic,
    # separate labels files
    "labels-missing": _labels_file("gone.npy", None, "no such file"),
    "labels-empty": _labels_file("empty.txt", b"", "empty file"),
    "labels-count": _labels_file("l.npy", np.arange(4), "4 labels but"),
    "labels-2d": _labels_file("l.npy", np.zeros((6, 2), dtype=np.int64), "must be 1-D"),
    "labels-float": _labels_file("l.npy", np.full(6, 0.25), "non-integer label 0.25 at index 0"),
    "labels-txt-words": _labels_file("l.txt", b"1\n2\ncat\n4\n5\n6\n", "'cat' at line 3"),
    "labels-idx-images": _labels_file("l-idx3-ubyte", sample_images(), "must be 1-D"),
    "labels-unsupported": _labels_file("l.json", b"[1,2]", "unsupported labels file type"),
    "labels-csv-columns": _labels_file("l.csv", b"1,2\n3,4\n", "expected one column"),
    # embeddings
    "embedding-n-mismatch": _embedding("e.npy", np.zeros((4, 2)), "4 points but the data has 3"),
    "embedding-3-columns": _embedding("e.npy", np.zeros((3, 3)), "shape (N, 2), got (3, 3)"),
    "embedding-1d": _embedding("e.npy", np.zeros(6), "got (6,)"),
    "embedding-nan": _embedding("e.csv", b"0,1\n2,nan\n4,5\n", "point 1 has NaN"),
    "embedding-inf": _embedding("e.npy", np.array([[0, 1], [2, 3], [np.inf, 0]]), "point 2"),
    "embedding-text": _embedding("e.csv", b"x,y\n0,1\n2,abc\n4,5\n", "'abc' at line 3, column 2"),
    "embedding-strings": _embedding("e.npy", np.array([["a", "b"]] * 3), "strings"),
    "embedding-bool": _embedding("e.npy", np.ones((3, 2), dtype=bool), "booleans"),
    "embedding-empty": _embedding("e.csv", b"", "empty file"),
    "embedding-extension": _embedding("e.txt", b"0 1\n", "unsupported embedding file type"),
    "embedding-pickled": _embedding("e.npy", OBJECTS, "Python objects"),
}


@pytest.mark.parametrize("case", BAD_INPUTS.values(), ids=BAD_INPUTS.keys())
def test_bad_input_is_one_line_naming_the_file(tmp_path: Path, case: Case) -> None:
    call, name, fragment = case(tmp_path)
    with pytest.raises(InputError) as exc:
        call()
    message = assert_one_line_error(exc, name)
    assert message.startswith(name + ":") or f"{name}:" in message
    assert fragment in message
    assert exc.value.__cause__ is None  # no chained traceback to leak


def test_bad_input_corpus_is_large_and_distinct() -> None:
    assert len(BAD_INPUTS) >= 25


def test_error_names_the_path_as_given(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "sub").mkdir()
    np.save(tmp_path / "sub" / "v.npy", np.arange(3))
    with pytest.raises(InputError) as exc:
        load_dataset(os.path.join("sub", "v.npy"))
    assert str(exc.value).startswith(os.path.join("sub", "v.npy") + ": ")


def test_message_stays_one_line_for_odd_file_names(tmp_path: Path) -> None:
    with pytest.raises(InputError) as exc:
        load_dataset(tmp_path / "two\nlines.npy")
    assert "\n" not in str(exc.value) and "two\\x0alines.npy" in str(exc.value)


def test_unreadable_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    np.save(tmp_path / "x.npy", sample_images())

    def denied(*args: object, **kwargs: object) -> None:
        raise PermissionError(13, "Permission denied")

    # Root reads any file whatever its mode, so simulate the refusal at open().
    monkeypatch.setattr(data, "open", denied, raising=False)
    with pytest.raises(InputError) as exc:
        load_dataset(tmp_path / "x.npy")
    assert "permission denied" in assert_one_line_error(exc, str(tmp_path / "x.npy"))


@pytest.mark.skipif(
    not hasattr(os, "geteuid") or os.geteuid() == 0, reason="root ignores file modes"
)
def test_unreadable_file_by_mode(tmp_path: Path) -> None:
    path = tmp_path / "x.npy"
    np.save(path, sample_images())
    path.chmod(0)
    try:
        with pytest.raises(InputError, match="permission denied"):
            load_dataset(path)
    finally:
        path.chmod(0o644)


def test_truncated_npy_is_caught_when_memory_mapped(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    np.save(tmp_path / "t.npy", sample_images())
    (tmp_path / "t.npy").write_bytes((tmp_path / "t.npy").read_bytes()[:-1])
    monkeypatch.setattr(data, "MMAP_MIN_BYTES", 0)
    with pytest.raises(InputError, match="truncated"):
        load_dataset(tmp_path / "t.npy")


def test_bad_shape_argument_names_the_flag(tmp_path: Path) -> None:
    np.save(tmp_path / "x.npy", np.zeros((2, 4)))
    with pytest.raises(InputError, match=r"^--shape: image size must be positive"):
        load_dataset(tmp_path / "x.npy", shape=(0, 4))


# --------------------------------------------------------------------------- bounded cost

#: Peak memory allowed for refusing a hostile file, whole process included (Python and numpy
#: alone take ~40 MB). Before, these files took 3-24 GiB; the figures are in benchmarks/.
REFUSAL_PEAK_MB = 250

MEASURE = """
import json, resource, subprocess, sys
done = subprocess.run(
    [sys.executable, "-m", "digitmap_tui", "render", "--json", *sys.argv[1:]],
    capture_output=True, text=True, stdin=subprocess.DEVNULL,
)
print(json.dumps({
    "status": done.returncode, "out": done.stdout, "err": done.stderr,
    "peak_mb": resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024,
}))
"""


@pytest.mark.parametrize("name", sorted(BOMBS))
def test_a_hostile_file_is_refused_in_one_line_in_bounded_memory(tmp_path: Path, name: str):
    args, fragment = BOMBS[name](tmp_path)
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1])}
    done = subprocess.run(
        [sys.executable, "-c", MEASURE, *args],
        capture_output=True,
        text=True,
        env=env,
        check=True,
        timeout=120,
    )
    result = json.loads(done.stdout)
    lines = result["err"].splitlines()
    assert result["status"] == 2, result["err"]
    assert len(lines) == 1 and lines[0].startswith("digitmap: error: "), result["err"]
    assert fragment in lines[0]
    assert result["out"] == ""
    assert result["peak_mb"] < REFUSAL_PEAK_MB, f"{name}: peak {result['peak_mb']:.0f} MB"


def test_a_gzip_idx_is_read_no_further_than_its_header_says(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A wrong magic number costs 4 decompressed bytes, whatever follows."""
    import gzip as gzip_module

    path = tmp_path / "train-images-idx3-ubyte.gz"
    path.write_bytes(gzip.compress(b"\x12\x34\x08\x03" + bytes(10**6)))
    asked: list[int] = []
    real_open = gzip_module.open

    def counting_open(*args: object, **kwargs: object) -> object:
        handle = real_open(*args, **kwargs)  # type: ignore[call-overload]
        read = handle.read

        def counted(size: int = -1) -> bytes:
            asked.append(size)
            return read(size)

        handle.read = counted
        return handle

    monkeypatch.setattr(data.gzip, "open", counting_open)
    with pytest.raises(InputError, match="bad magic 0x12340803"):
        load_dataset(path)
    assert asked == [4]


def test_a_zip_member_larger_than_memory_is_refused_before_reading(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    np.savez_compressed(tmp_path / "d.npz", images=np.zeros((200, 8, 8)))
    monkeypatch.setattr(data, "_physical_memory", lambda: 1000)
    with pytest.raises(InputError, match=r"array 'images' would need .* this machine has"):
        load_dataset(tmp_path / "d.npz")


def test_csv_blank_lines_between_rows_are_fine_but_not_without_end(tmp_path: Path) -> None:
    rows = "".join(f"{i % 3},1,2,3,4\n\n\n" for i in range(3000))  # two blank lines per row
    (tmp_path / "ok.csv").write_text("\n" * 900 + rows)
    assert load_dataset(tmp_path / "ok.csv").n == 3000
    (tmp_path / "bad.csv").write_text("1,2,3,4,5\n" + "\n" * 1500)
    with pytest.raises(InputError, match="1,005 blank lines by line 1006 and only 1 rows"):
        load_dataset(tmp_path / "bad.csv")


def test_csv_tables_are_parsed_in_chunks_with_the_same_result(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(data, "_CSV_CHUNK_ROWS", 7)
    rng = np.random.default_rng(0)
    pixels = rng.integers(0, 256, (50, 16))
    text = "\n".join(",".join(map(str, [i % 4, *row])) for i, row in enumerate(pixels))
    (tmp_path / "u8.csv").write_text(text + "\n")
    ds = load_dataset(tmp_path / "u8.csv")
    assert ds.images.dtype == np.uint8 and np.array_equal(ds.images.reshape(50, 16), pixels)
    floats = rng.random((50, 16))
    text = "\n".join(
        ",".join([str(i % 4), *(repr(float(v)) for v in row)]) for i, row in enumerate(floats)
    )
    (tmp_path / "f.csv").write_text(text + "\n")
    ds = load_dataset(tmp_path / "f.csv")
    assert ds.images.dtype == np.float64 and np.array_equal(ds.images.reshape(50, 16), floats)
    (tmp_path / "ragged.csv").write_text(text + "\n1,2,3\n")
    with pytest.raises(InputError, match="line 51 has 3 columns, expected 17"):
        load_dataset(tmp_path / "ragged.csv")


def test_dataset_names_are_safe_to_print(tmp_path: Path) -> None:
    name = "x\x1b]0;owned\x07\u2028y.npy"
    np.save(tmp_path / name, sample_images())
    ds = load_dataset(tmp_path / name)
    assert ds.name == "x\\x1b]0;owned\\x07\\u2028y.npy"
    assert Dataset(images=np.zeros((1, 2, 2)), labels=None, name="a\nb").name == "a\\x0ab"
