"""Image folders: the shipped fixtures, a corpus of broken files, sizes, colour and the cache."""

from __future__ import annotations

import json
import os
import struct
import zlib
from collections import Counter
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image

from digitmap_tui import folder
from digitmap_tui.data import load_dataset, load_digits
from digitmap_tui.errors import InputError
from digitmap_tui.folder import default_size, load_folder, parse_size, scan_folder

FIXTURES = Path(__file__).parent / "fixtures"
DIGITS_PNG = FIXTURES / "digits_png"
SCENES = FIXTURES / "colour_scenes"


def png(path: Path, pixels: np.ndarray, mode: str | None = None) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(pixels, mode=mode).save(path)
    return path


def grey(value: int, h: int = 6, w: int = 6) -> np.ndarray:
    return np.full((h, w), value, dtype=np.uint8)


def png_header(width: int, height: int) -> bytes:
    """A PNG whose header promises width x height pixels, with one tiny (bogus) data chunk."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", ihdr)
        + chunk(b"IDAT", zlib.compress(b"\0" * 64))
        + chunk(b"IEND", b"")
    )


# --------------------------------------------------------------------------- the shipped folders


def test_digits_folder_reads_back_the_digits_exactly() -> None:
    loaded = load_folder(DIGITS_PNG)
    ds = loaded.dataset
    digits = load_digits()
    assert ds.images.shape == (300, 8, 8) and ds.images.dtype == np.uint8
    assert ds.label_names == tuple(str(k) for k in range(10))
    assert loaded.summary() is None
    assert ds.paths is not None and list(ds.paths) == sorted(ds.paths)
    for k, rel in enumerate(ds.paths):
        label, name = rel.split("/")
        index = int(name.removesuffix(".png"))
        assert ds.labels is not None and ds.labels[k] == int(label) == digits.labels[index]  # type: ignore[index]
        expected = np.rint(digits.images[index] * (255 / 16)).astype(np.uint8)
        assert np.array_equal(ds.images[k], expected)


def test_colour_scenes_stay_in_colour() -> None:
    ds = load_folder(SCENES).dataset
    assert ds.is_color and ds.channels == 3
    assert ds.images.shape == (36, 40, 48, 3)  # the median size of the files
    assert ds.label_names == ("foliage", "fruit", "sky")
    assert ds.features().shape == (36, 40 * 48 * 3)
    assert ds.value_range() == (0.0, 255.0)
    # colour carries the classes: skies are bluer than foliage, foliage greener than fruit
    assert ds.labels is not None
    mean = {k: ds.images[ds.labels == k].reshape(-1, 3).mean(axis=0) for k in range(3)}
    assert mean[2][2] > mean[0][2] and mean[0][1] > mean[1][1]


def test_folder_bytes_stay_small() -> None:
    total = sum(p.stat().st_size for d in (DIGITS_PNG, SCENES) for p in d.rglob("*"))
    assert total < 1_000_000


# --------------------------------------------------------------------------- layout


def test_classes_are_sorted_subfolders_and_files_sorted_paths(tmp_path: Path) -> None:
    png(tmp_path / "zebra" / "b.png", grey(10))
    png(tmp_path / "zebra" / "a.png", grey(20))
    png(tmp_path / "cat" / "deep" / "er" / "x.png", grey(30))  # nested: still a cat
    Image.fromarray(grey(40)).save(tmp_path / "cat" / "y.bmp")
    (tmp_path / "empty_class").mkdir()
    png(tmp_path / "stray.png", grey(50))  # outside the class folders: ignored
    png(tmp_path / ".hidden" / "h.png", grey(60))
    png(tmp_path / "cat" / ".ipynb_checkpoints" / "c.png", grey(70))
    loaded = load_folder(tmp_path)
    ds = loaded.dataset
    assert ds.label_names == ("cat", "zebra")
    assert ds.paths == ("cat/deep/er/x.png", "cat/y.bmp", "zebra/a.png", "zebra/b.png")
    assert ds.labels is not None and ds.labels.tolist() == [0, 0, 1, 1]
    assert ds.images[:, 0, 0].tolist() == [30, 40, 20, 10]
    assert loaded.ignored["outside class folders"] == 1
    assert loaded.ignored["hidden"] >= 1


def test_flat_folder_and_labels_none(tmp_path: Path) -> None:
    png(tmp_path / "flat" / "1.png", grey(1))
    png(tmp_path / "flat" / "2.png", grey(2))
    ds = load_folder(tmp_path / "flat").dataset
    assert ds.labels is None and ds.label_names is None
    png(tmp_path / "classes" / "a" / "1.png", grey(1))
    png(tmp_path / "classes" / "b" / "2.png", grey(2))
    png(tmp_path / "classes" / "3.png", grey(3))
    ds = load_folder(tmp_path / "classes", labels=False).dataset
    assert ds.labels is None
    assert ds.paths == ("3.png", "a/1.png", "b/2.png")  # every image, at any depth


def test_symlink_loops_and_broken_links_are_survived(tmp_path: Path) -> None:
    png(tmp_path / "a" / "1.png", grey(5))
    os.symlink(tmp_path, tmp_path / "a" / "loop")  # a loop back to the root
    os.symlink(tmp_path / "a", tmp_path / "a" / "self")
    os.symlink(tmp_path / "nowhere.png", tmp_path / "a" / "broken.png")
    png(tmp_path / "elsewhere" / "e.png", grey(9))
    os.symlink(tmp_path / "elsewhere", tmp_path / "b")  # a symlinked class folder
    loaded = load_folder(tmp_path)
    # every folder is read once: "elsewhere" was already read as class "b"
    assert loaded.dataset.paths == ("a/1.png", "b/e.png")
    assert loaded.dataset.label_names == ("a", "b")
    assert loaded.ignored["broken links"] == 1
    assert loaded.ignored["folder loops"] >= 3


def test_fifo_is_never_opened(tmp_path: Path) -> None:
    png(tmp_path / "a" / "ok.png", grey(1))
    os.mkfifo(tmp_path / "a" / "pipe.png")  # opening it would block forever
    loaded = load_folder(tmp_path)
    assert loaded.dataset.n == 1
    assert loaded.ignored["not regular files"] == 1


# --------------------------------------------------------------------------- the broken corpus


def build_broken(root: Path) -> None:
    cls = root / "c"
    png(cls / "good1.png", grey(100))
    png(cls / "good2.jpg", np.full((6, 6, 3), 120, dtype=np.uint8))
    whole = (cls / "good1.png").read_bytes()
    Image.fromarray(np.random.default_rng(0).integers(0, 255, (64, 64), dtype=np.uint8)).save(
        cls / "big.png"
    )
    (cls / "truncated.png").write_bytes((cls / "big.png").read_bytes()[:300])
    (cls / "big.png").unlink()
    (cls / "zero.png").write_bytes(b"")
    (cls / "text.jpg").write_text("not a jpeg at all\n")
    (cls / "huge.png").write_bytes(png_header(100_000, 100_000))
    Image.fromarray(grey(7)).save(cls / "gif-in-disguise.png", format="GIF")
    (cls / "notes.txt").write_text("ignored: not an image type")
    assert whole  # the good file is intact


def test_broken_files_are_skipped_and_counted(tmp_path: Path) -> None:
    build_broken(tmp_path)
    loaded = load_folder(tmp_path, cache_dir=tmp_path / "cache")
    ds = loaded.dataset
    assert ds.paths == ("c/good1.png", "c/good2.jpg")
    assert loaded.skipped == Counter({"not images": 3, "truncated": 1, "too many pixels": 1})
    assert loaded.summary() == "5 files skipped: 3 not images, 1 too many pixels, 1 truncated"
    assert loaded.ignored["other files"] == 1


@pytest.mark.parametrize("size", [None, (4, 4)])
def test_huge_dimensions_are_refused_without_decoding(tmp_path: Path, size: object) -> None:
    (tmp_path / "a").mkdir()
    (tmp_path / "a" / "bomb.png").write_bytes(png_header(60_000, 60_000))
    png(tmp_path / "a" / "ok.png", grey(3))
    loaded = load_folder(tmp_path, size=size)  # type: ignore[arg-type]
    assert loaded.skipped == Counter({"too many pixels": 1})
    assert loaded.dataset.n == 1


def test_permission_denied_is_counted(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    png(tmp_path / "a" / "locked.png", grey(1))
    png(tmp_path / "a" / "ok.png", grey(2))
    real_open = folder._open

    def guarded(path: str):  # root reads every file, so deny the way the OS would
        if path.endswith("locked.png"):
            raise PermissionError(13, "Permission denied", path)
        return real_open(path)

    monkeypatch.setattr(folder, "_open", guarded)
    loaded = load_folder(tmp_path, workers=1)
    assert loaded.summary() == "1 file skipped: permission denied"


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads files whatever their mode")
def test_unreadable_file_mode(tmp_path: Path) -> None:
    locked = png(tmp_path / "a" / "locked.png", grey(1))
    png(tmp_path / "a" / "ok.png", grey(2))
    locked.chmod(0)
    try:
        assert load_folder(tmp_path).summary() == "1 file skipped: permission denied"
    finally:
        locked.chmod(0o644)


def test_empty_folder_is_one_line(tmp_path: Path) -> None:
    (tmp_path / "empty" / "cls").mkdir(parents=True)
    with pytest.raises(InputError) as exc:
        load_folder(tmp_path / "empty")
    assert "no images in the folder" in str(exc.value) and "\n" not in str(exc.value)


def test_folder_of_only_broken_files_is_one_line(tmp_path: Path) -> None:
    (tmp_path / "a").mkdir()
    (tmp_path / "a" / "x.png").write_bytes(b"garbage")
    (tmp_path / "a" / "y.png").write_bytes(b"")
    with pytest.raises(InputError) as exc:
        load_folder(tmp_path)
    assert str(exc.value).endswith("none of its 2 image files could be read (2 not images)")


def test_not_a_folder_and_missing(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="no such file"):
        scan_folder(tmp_path / "missing")
    (tmp_path / "f").write_text("x")
    with pytest.raises(InputError, match="not a folder"):
        scan_folder(tmp_path / "f")


def test_control_characters_in_names_are_kept_raw_but_shown_safe(tmp_path: Path) -> None:
    png(tmp_path / "bad\x1b[31mclass" / "x\x07.png", grey(1))
    ds = load_folder(tmp_path).dataset
    assert ds.label_names == ("bad\x1b[31mclass",)
    assert ds.paths == ("bad\x1b[31mclass/x\x07.png",)
    (tmp_path / "empty\x1b]0;pwn\x07").mkdir()
    with pytest.raises(InputError) as exc:
        load_folder(tmp_path / "empty\x1b]0;pwn\x07")
    assert "\x1b" not in str(exc.value) and "\\x1b" in str(exc.value)


def test_file_name_that_is_not_utf8(tmp_path: Path) -> None:
    (tmp_path / "a").mkdir()
    raw = os.fsencode(tmp_path / "a") + b"/caf\xe9.png"
    with open(raw, "wb") as f:
        Image.fromarray(grey(9)).save(f, format="PNG")
    ds = load_folder(tmp_path, cache_dir=tmp_path / "cache").dataset
    assert ds.paths is not None and os.fsencode(ds.paths[0]) == b"a/caf\xe9.png"
    again = load_folder(tmp_path, cache_dir=tmp_path / "cache")
    assert again.from_cache and again.dataset.paths == ds.paths


# --------------------------------------------------------------------------- pixels


def test_resize_is_area_averaging(tmp_path: Path) -> None:
    rng = np.random.default_rng(3)
    pixels = rng.integers(0, 256, (8, 12), dtype=np.uint8)
    png(tmp_path / "a" / "x.png", pixels)
    ds = load_folder(tmp_path, size=(4, 6)).dataset
    blocks = pixels.reshape(4, 2, 6, 2).astype(np.float64).mean(axis=(1, 3))
    assert np.abs(ds.images[0].astype(np.float64) - blocks).max() <= 1.0


def test_rgba_is_composited_on_black(tmp_path: Path) -> None:
    rgba = np.zeros((4, 4, 4), dtype=np.uint8)
    rgba[..., 0] = 255
    rgba[..., 1] = 200
    rgba[..., 3] = 128
    rgba[0, 0, 3] = 0  # fully transparent: black
    png(tmp_path / "a" / "x.png", rgba, mode="RGBA")
    img = load_folder(tmp_path).dataset.images[0]
    assert img.shape == (4, 4, 3)
    assert np.abs(img[1, 1].astype(int) - [128, 100, 0]).max() <= 1
    assert img[0, 0].tolist() == [0, 0, 0]


def test_grey_pictures_saved_as_rgb_are_grey_and_mixed_folders_colour(tmp_path: Path) -> None:
    png(tmp_path / "g" / "a" / "x.png", np.full((4, 4, 3), 77, dtype=np.uint8))
    ds = load_folder(tmp_path / "g").dataset
    assert not ds.is_color and ds.images[0, 0, 0] == 77
    png(tmp_path / "m" / "a" / "grey.png", grey(50, 4, 4))
    png(tmp_path / "m" / "a" / "red.png", np.tile(np.array([200, 0, 0], np.uint8), (4, 4, 1)))
    ds = load_folder(tmp_path / "m").dataset
    assert ds.is_color
    assert ds.images[0, 0, 0].tolist() == [50, 50, 50] and ds.images[1, 0, 0].tolist() == [
        200,
        0,
        0,
    ]


def test_sixteen_bit_greys_and_palette_images(tmp_path: Path) -> None:
    deep = np.full((4, 4), 65535 // 2, dtype=np.uint16)
    Image.fromarray(deep).save(png(tmp_path / "a" / "deep.png", grey(0, 4, 4)))
    pal = Image.fromarray(np.tile(np.array([0, 0, 255], np.uint8), (4, 4, 1))).quantize(4)
    pal.save(tmp_path / "a" / "pal.png")
    ds = load_folder(tmp_path).dataset
    assert ds.is_color
    by_path = dict(zip(ds.paths or (), ds.images, strict=True))
    assert abs(int(by_path["a/deep.png"][0, 0, 0]) - 127) <= 1
    assert by_path["a/pal.png"][0, 0].tolist() == [0, 0, 255]


def test_exif_rotation_is_applied(tmp_path: Path) -> None:
    pixels = np.zeros((4, 8, 3), dtype=np.uint8)
    pixels[:, :4] = 255  # left half white, landscape
    image = Image.fromarray(pixels)
    exif = image.getexif()
    exif[0x0112] = 6  # "rotate 90° clockwise to view"
    (tmp_path / "a").mkdir()
    image.save(tmp_path / "a" / "x.jpg", exif=exif, quality=100)
    ds = load_folder(tmp_path).dataset
    assert ds.image_shape == (8, 4)  # portrait once rotated
    assert ds.images[0, :3].mean() > 200 and ds.images[0, -3:].mean() < 50  # white on top


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.integers(1, 500), st.integers(1, 500)), min_size=1, max_size=30))
def test_default_size_is_the_median_capped(sizes: list[tuple[int, int]]) -> None:
    h, w = default_size(sizes)
    assert 1 <= h <= folder.DEFAULT_MAX_SIDE and 1 <= w <= folder.DEFAULT_MAX_SIDE
    mh, mw = np.median(np.array(sizes, dtype=float), axis=0)
    if max(mh, mw) <= folder.DEFAULT_MAX_SIDE:
        assert (h, w) == (max(1, round(mh)), max(1, round(mw)))
    else:
        # shrunk to fit, aspect kept to within rounding (a side is never below 1 pixel)
        assert max(h, w) == folder.DEFAULT_MAX_SIDE
        s = folder.DEFAULT_MAX_SIDE / max(mh, mw)
        assert abs(h - mh * s) <= 0.5 or h == 1
        assert abs(w - mw * s) <= 0.5 or w == 1


def test_parse_size() -> None:
    assert parse_size("32") == (32, 32)
    assert parse_size("24x32") == (24, 32)
    for bad in ("0", "x", "10x", "600x10", "-3"):
        with pytest.raises(InputError, match="--size"):
            parse_size(bad)


# --------------------------------------------------------------------------- cache and pool


def test_cache_round_trip_and_invalidation(tmp_path: Path) -> None:
    root = tmp_path / "data"
    png(root / "a" / "1.png", grey(1))
    png(root / "b" / "2.png", grey(2))
    cache = tmp_path / "cache"
    first = load_folder(root, cache_dir=cache)
    assert not first.from_cache
    files = sorted(p.name for p in (cache / "folders").iterdir())
    assert len(files) == 2 and files[0].endswith(".json") and files[1].endswith(".npy")
    sidecar = json.loads(next((cache / "folders").glob("*.json")).read_text())
    assert sidecar["label_names"] == ["a", "b"] and sidecar["paths"] == ["a/1.png", "b/2.png"]
    again = load_folder(root, cache_dir=cache)
    assert again.from_cache
    assert np.array_equal(again.dataset.images, first.dataset.images)
    assert again.dataset.fingerprint() == first.dataset.fingerprint()
    # a changed file (new mtime) is a new key: read again
    png(root / "a" / "1.png", grey(99))
    os.utime(root / "a" / "1.png", ns=(1, 1))
    changed = load_folder(root, cache_dir=cache)
    assert not changed.from_cache and changed.dataset.images[0, 0, 0] == 99
    # a damaged entry only means: read again (and never unpickle anything)
    for npy in (cache / "folders").glob("*.npy"):
        npy.write_bytes(b"\x93NUMPY garbage")
    for side in (cache / "folders").glob("*.json"):
        side.write_text("{")
    repaired = load_folder(root, cache_dir=cache)
    assert not repaired.from_cache and repaired.dataset.images[0, 0, 0] == 99


def test_a_different_size_is_a_different_cache_entry(tmp_path: Path) -> None:
    png(tmp_path / "d" / "a" / "1.png", grey(1, 8, 8))
    a = load_folder(tmp_path / "d", cache_dir=tmp_path / "c")
    b = load_folder(tmp_path / "d", size=(4, 4), cache_dir=tmp_path / "c")
    assert a.dataset.image_shape == (8, 8) and b.dataset.image_shape == (4, 4)
    assert not b.from_cache


def test_process_pool_gives_the_same_images(monkeypatch: pytest.MonkeyPatch) -> None:
    seen: list[tuple[int, int]] = []
    alone = load_folder(DIGITS_PNG, workers=1)
    monkeypatch.setattr(folder, "POOL_WORTH_SECONDS", 0.0)
    monkeypatch.setattr(folder, "PROBE_FILES", 8)
    pooled = load_folder(DIGITS_PNG, workers=2, progress=lambda d, t: seen.append((d, t)))
    assert np.array_equal(pooled.dataset.images, alone.dataset.images)
    assert pooled.dataset.paths == alone.dataset.paths
    assert seen[-1] == (300, 300) and all(t == 300 for _, t in seen)
    assert [d for d, _ in seen] == sorted(d for d, _ in seen)


def test_load_dataset_dispatches_folders(tmp_path: Path) -> None:
    notes: list[str] = []
    (tmp_path / "a").mkdir()
    png(tmp_path / "a" / "ok.png", grey(1))
    (tmp_path / "a" / "bad.png").write_bytes(b"x")
    ds = load_dataset(tmp_path, notes=notes)
    assert ds.n == 1 and ds.label_names == ("a",)
    assert notes == [f"{tmp_path.name}: 1 file skipped: not images"]
    assert load_dataset(tmp_path, no_labels=True).labels is None
    with pytest.raises(InputError, match="does not apply to an image folder"):
        load_dataset(tmp_path, shape=(2, 2))
    with pytest.raises(InputError, match="--size applies to image folders only"):
        np.save(tmp_path / "x.npy", np.zeros((2, 2, 2)))
        load_dataset(tmp_path / "x.npy", image_size=(2, 2))


# --------------------------------------------------------------------------- end to end


def run_cli(args: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    from digitmap_tui import cli

    code = cli.main(args)
    out, err = capsys.readouterr()
    return code, out, err


def test_render_a_folder_in_text_and_json(tmp_path: Path, capsys) -> None:
    base = ["--data", str(SCENES), "--method", "pca", "--cache-dir", str(tmp_path)]
    code, out, err = run_cli(["render", *base, "--width", "60", "--height", "16"], capsys)
    assert code == 0 and err == ""
    assert "colour_scenes (36)" in out and "0 foliage  1 fruit  2 sky" in out
    code, out, _ = run_cli(["render", *base, "--json", "--box=-1e9,1e9,-1e9,1e9"], capsys)
    record = json.loads(out)
    assert record["label_names"] == ["foliage", "fruit", "sky"]
    assert record["count"] == 36 and len(record["paths"]) == 36
    assert {p.split("/")[0] for p in record["paths"]} == {"foliage", "fruit", "sky"}
    assert record["labels"] == {"0": 12, "1": 12, "2": 12}


def test_pca_separates_the_colour_scenes(tmp_path: Path, capsys) -> None:
    """Colour carries the classes: in PCA of the RGB features each class keeps to itself."""
    out = tmp_path / "xy.npy"
    code, _, err = run_cli(
        ["embed", "--data", str(SCENES), "--method", "pca", "--no-cache", "--out", str(out)], capsys
    )
    assert code == 0, err
    xy = np.load(out)
    labels = load_folder(SCENES).dataset.labels
    assert xy.shape == (36, 2) and labels is not None
    from digitmap_tui.analysis import misfits

    assert len(misfits(xy, labels, k=5)) <= 3


def test_render_digits_folder_points_mode_and_tile_scale(tmp_path: Path, capsys) -> None:
    base = ["render", "--data", str(DIGITS_PNG), "--method", "pca", "--no-cache"]
    code, out, _ = run_cli([*base, "--mode", "points", "--colors", "256"], capsys)
    assert code == 0 and any(0x2800 < ord(ch) <= 0x28FF for ch in out)
    code, out, _ = run_cli(
        [*base, "--mode", "points", "--glyphs", "ascii", "--colors", "none"], capsys
    )
    assert code == 0 and not any(0x2800 <= ord(ch) <= 0x28FF for ch in out)
    code, out, _ = run_cli(
        [*base, "--tile-scale", "2", "--colors", "none", "--grid", "1x2"], capsys
    )
    assert code == 0
    tile_lines = out.split("grid 1×2")[1].splitlines()[1:]
    assert len(tile_lines) == 1 + 8  # header + 16 pixel rows as 8 shade rows


def test_labels_none_and_size_flags(tmp_path: Path, capsys) -> None:
    base = ["render", "--data", str(SCENES), "--method", "pca", "--no-cache", "--json"]
    code, out, _ = run_cli([*base, "--labels", "none", "--size", "8x10"], capsys)
    record = json.loads(out)
    assert code == 0 and "label_names" not in record and record["labels"] == {}
    code, _, err = run_cli(["render", "--size", "8", "--method", "pca"], capsys)
    assert code == 2 and err.count("\n") == 1 and "--size" in err
    code, _, err = run_cli([*base, "--size", "0x3"], capsys)
    assert code == 2 and "--size" in err


def test_skipped_files_are_one_warning_and_empty_folder_is_exit_2(tmp_path: Path, capsys) -> None:
    build_broken(tmp_path / "photos")
    for k in range(4):  # PCA wants a few points
        png(tmp_path / "photos" / "c" / f"more{k}.png", grey(10 * k))
    code, out, err = run_cli(
        ["render", "--data", str(tmp_path / "photos"), "--method", "pca", "--no-cache", "--json"],
        capsys,
    )
    assert code == 0 and json.loads(out)["n"] == 6
    assert err == (
        "digitmap: warning: photos: 5 files skipped: 3 not images, 1 too many pixels, 1 truncated\n"
    )
    (tmp_path / "empty").mkdir()
    code, out, err = run_cli(["embed", "--data", str(tmp_path / "empty")], capsys)
    assert code == 2 and out == "" and err.count("\n") == 1
    assert err.startswith("digitmap: error: ") and "no images in the folder" in err


def test_export_carries_paths_and_class_names(tmp_path: Path) -> None:
    import csv

    from digitmap_tui.export import export_selection

    (tmp_path / "d" / "c,1").mkdir(parents=True)
    raw = os.fsencode(tmp_path / "d" / "c,1") + b'/we"ird\xff.png'
    with open(raw, "wb") as f:
        Image.fromarray(grey(3)).save(f, format="PNG")
    png(tmp_path / "d" / "dog" / "a.png", grey(4))
    ds = load_folder(tmp_path / "d").dataset
    coords = np.array([[0.5, 1.5], [2.0, -1.0]])
    kw = {"labels": ds.labels, "coords": coords, "meta": {}, "paths": ds.paths}
    csv_path = export_selection(
        tmp_path / "s.csv", indices=[1, 0], label_names=ds.label_names, **kw
    )
    with open(csv_path, newline="", encoding="utf-8", errors="surrogateescape") as f:
        rows = list(csv.DictReader(f))
    assert [r["label_name"] for r in rows] == ["dog", "c,1"]
    assert os.fsencode(rows[1]["path"]) == b'c,1/we"ird\xff.png'  # the file's own bytes
    json_path = export_selection(
        tmp_path / "s.json", indices=[0, 1], label_names=ds.label_names, **kw
    )
    record = json.loads(json_path.read_text(encoding="utf-8"))
    assert record["paths"] == list(ds.paths or ())
    assert record["label_names"] == ["c,1", "dog"]
    # without paths, the CSV is as it always was
    plain = export_selection(tmp_path / "p.csv", indices=[0], labels=None, coords=coords, meta={})
    assert plain.read_text().splitlines()[0] == "index,label,x,y"
