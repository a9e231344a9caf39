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
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from digitmap_tui import cli
from digitmap_tui.cache import TEMP_SUFFIX, EmbeddingCache, embedding_key
from digitmap_tui.data import load_digits
from digitmap_tui.embed import EmbedParams

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
    ("npy-directory", "--data {d}/adir.npy", "is a directory"),
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
]
# Flags of the two commands that draw (render, the explorer); the data is fine.
GOOD = "--data {d}/ok.npy --embedding {d}/emb_ok.npy"
VIEW_CASES: list[tuple[str, str, str]] = [
    ("grid-zero", f"{GOOD} --grid 0x4", "--grid '0x4'"),
    ("grid-huge", f"{GOOD} --grid 1000x1000", "between 1 and 64"),
    ("grid-words", f"{GOOD} --grid abc", "--grid 'abc'"),
    ("grid-three-numbers", f"{GOOD} --grid 4x4x4", "--grid"),
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
