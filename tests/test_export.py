"""Results out: atomic writes, selection exports, piping text, file names, the render command."""

from __future__ import annotations

import csv
import io
import json
import os
import shlex
import stat
from datetime import datetime
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from digitmap_tui import export
from digitmap_tui.cli import build_parser
from digitmap_tui.errors import InputError
from digitmap_tui.export import (
    default_export_name,
    default_screenshot_path,
    export_selection,
    format_selection,
    render_command,
    write_atomic,
    write_atomic_array,
)
from digitmap_tui.grid import Rect, list_select, parse_grid
from digitmap_tui.methods import registry
from digitmap_tui.methods.params import EmbedParams

# Coordinates whose shortest repr needs all 17 digits, so any rounding shows.
COORDS = np.array(
    [[0.1 + 0.2, -1.0 / 3.0], [2.5, 7.0], [-0.0, 1e-300], [123456.789, -9.87654321e-5]],
    dtype=np.float64,
)
LABELS = np.array([3, 1, 4, 1], dtype=np.int64)
META = {
    "dataset": "digits",
    "embedding": "t-SNE perplexity 30 seed 0",
    "view": [-50.0, 50.0, -40.0, 40.0],
    "box": (np.float64(-0.1), 3.0, -1.0, 8.0),
    "mode": "label",
    "grid": (4, 4),
    "command": "digitmap render --view=-50.0,50.0,-40.0,40.0",
}


def leftovers(directory: Path) -> list[str]:
    """Temporary files write_atomic may have left behind."""
    return sorted(p.name for p in directory.iterdir() if p.name.endswith(".tmp"))


# --------------------------------------------------------------------------- write_atomic


def test_write_atomic_writes_and_replaces(tmp_path):
    target = tmp_path / "out.bin"
    write_atomic(target, lambda fh: fh.write(b"one"))
    write_atomic(target, lambda fh: fh.write(b"two"))
    assert target.read_bytes() == b"two"
    assert leftovers(tmp_path) == []


def test_write_atomic_failure_mid_write_keeps_old_file_and_no_temp(tmp_path):
    target = tmp_path / "out.bin"
    target.write_bytes(b"precious")

    def broken(fh):
        fh.write(b"half a fi")
        raise OSError("disk full")

    with pytest.raises(OSError, match="disk full"):
        write_atomic(target, broken)
    assert target.read_bytes() == b"precious"
    assert leftovers(tmp_path) == []
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.bin"]


def test_write_atomic_interrupt_mid_write_keeps_old_file(tmp_path):
    target = tmp_path / "out.bin"
    target.write_bytes(b"precious")

    def interrupted(fh):
        fh.write(b"x")
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        write_atomic(target, interrupted)
    assert target.read_bytes() == b"precious"
    assert leftovers(tmp_path) == []


def test_write_atomic_no_overwrite_refuses_existing(tmp_path):
    target = tmp_path / "out.bin"
    target.write_bytes(b"precious")
    with pytest.raises(InputError) as err:
        write_atomic(target, lambda fh: fh.write(b"new"), overwrite=False)
    assert str(err.value) == f"{target}: exists; choose another name"
    assert target.read_bytes() == b"precious"
    assert leftovers(tmp_path) == []


def test_write_atomic_no_overwrite_wins_against_a_file_appearing_mid_write(tmp_path):
    target = tmp_path / "out.bin"

    def racing(fh):
        target.write_bytes(b"someone else's")  # another process creates it meanwhile
        fh.write(b"ours")

    with pytest.raises(InputError, match="exists; choose another name"):
        write_atomic(target, racing, overwrite=False)
    assert target.read_bytes() == b"someone else's"
    assert leftovers(tmp_path) == []


def test_write_atomic_no_overwrite_creates_new_file(tmp_path):
    target = tmp_path / "new.bin"
    write_atomic(target, lambda fh: fh.write(b"fresh"), overwrite=False)
    assert target.read_bytes() == b"fresh"
    assert leftovers(tmp_path) == []


@pytest.mark.skipif(os.name != "posix", reason="POSIX permissions")
def test_write_atomic_new_file_gets_umask_mode_and_replaced_file_keeps_its_mode(tmp_path):
    umask = os.umask(0o022)
    os.umask(umask)
    new = tmp_path / "new.csv"
    write_atomic(new, lambda fh: fh.write(b"a"))
    assert stat.S_IMODE(new.stat().st_mode) == 0o666 & ~umask  # not mkstemp's 0600

    private = tmp_path / "private.csv"
    private.write_bytes(b"old")
    private.chmod(0o600)
    write_atomic(private, lambda fh: fh.write(b"new"))
    assert stat.S_IMODE(private.stat().st_mode) == 0o600


def test_write_atomic_missing_directory_is_one_line_input_error(tmp_path):
    with pytest.raises(InputError, match="cannot write here"):
        write_atomic(tmp_path / "nope" / "x.bin", lambda fh: fh.write(b""))


def test_write_atomic_array_npy_and_csv(tmp_path):
    write_atomic_array(tmp_path / "c.npy", COORDS)
    np.testing.assert_array_equal(np.load(tmp_path / "c.npy", allow_pickle=False), COORDS)
    write_atomic_array(tmp_path / "c.csv", COORDS)
    back = np.loadtxt(tmp_path / "c.csv", delimiter=",", skiprows=1)
    np.testing.assert_array_equal(back, COORDS)
    assert (tmp_path / "c.csv").read_text().splitlines()[0] == "x,y"


# --------------------------------------------------------------------------- export_selection


def test_export_csv_exact_text(tmp_path):
    out = export_selection(
        tmp_path / "sel.csv", indices=[2, 0], labels=LABELS, coords=COORDS, meta=META
    )
    assert out == tmp_path / "sel.csv"
    assert out.read_text() == (
        "index,label,x,y\n2,4,-0.0,1e-300\n0,3,0.30000000000000004,-0.3333333333333333\n"
    )


def test_export_csv_round_trip_keeps_order_and_exact_floats(tmp_path):
    idx = np.array([3, 1, 0], dtype=np.int64)
    out = export_selection(tmp_path / "s.csv", indices=idx, labels=LABELS, coords=COORDS, meta=META)
    with out.open(newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert [int(r["index"]) for r in rows] == [3, 1, 0]
    assert [int(r["label"]) for r in rows] == [1, 1, 3]
    assert [float(r["x"]) for r in rows] == COORDS[idx, 0].tolist()
    assert [float(r["y"]) for r in rows] == COORDS[idx, 1].tolist()


def test_export_csv_without_labels_leaves_the_column_empty(tmp_path):
    out = export_selection(tmp_path / "s.csv", indices=[1], labels=None, coords=COORDS, meta={})
    assert out.read_text() == "index,label,x,y\n1,,2.5,7.0\n"


def test_export_json_round_trip_with_metadata(tmp_path):
    idx = [3, 0]
    out = export_selection(
        tmp_path / "s.json", indices=idx, labels=LABELS, coords=COORDS, meta=META
    )
    data = json.loads(out.read_text())
    assert list(data) == [
        "count",
        "dataset",
        "embedding",
        "view",
        "box",
        "mode",
        "grid",
        "command",
        "indices",
        "labels",
        "x",
        "y",
    ]
    assert data["count"] == 2
    assert data["indices"] == [3, 0]
    assert data["labels"] == [1, 3]
    assert data["x"] == COORDS[idx, 0].tolist()
    assert data["y"] == COORDS[idx, 1].tolist()
    assert data["dataset"] == "digits"
    assert data["embedding"] == "t-SNE perplexity 30 seed 0"
    assert data["view"] == [-50.0, 50.0, -40.0, 40.0]
    assert data["box"] == [-0.1, 3.0, -1.0, 8.0]
    assert data["grid"] == [4, 4]
    assert data["mode"] == "label"
    assert data["command"] == META["command"]
    # One key per line: readable with `head`, not one number per line.
    assert len(out.read_text().splitlines()) == 2 + len(data)


def test_export_json_without_labels_has_null(tmp_path):
    out = export_selection(tmp_path / "s.json", indices=[1], labels=None, coords=COORDS, meta={})
    assert json.loads(out.read_text()) == {
        "count": 1,
        "indices": [1],
        "labels": None,
        "x": [2.5],
        "y": [7.0],
    }


def test_export_npy_holds_plain_int64_indices(tmp_path):
    out = export_selection(
        tmp_path / "s.npy", indices=[3, 1, 2], labels=LABELS, coords=COORDS, meta=META
    )
    back = np.load(out, allow_pickle=False)
    assert back.dtype == np.int64
    assert back.tolist() == [3, 1, 2]


@pytest.mark.parametrize("suffix", [".csv", ".json", ".npy"])
def test_export_empty_selection(tmp_path, suffix):
    out = export_selection(
        tmp_path / f"s{suffix}", indices=np.array([], dtype=np.int64), labels=LABELS,
        coords=COORDS, meta={},
    )  # fmt: skip
    if suffix == ".npy":
        back = np.load(out, allow_pickle=False)
        assert back.dtype == np.int64 and back.shape == (0,)
    elif suffix == ".json":
        assert json.loads(out.read_text())["indices"] == []
    else:
        assert out.read_text() == "index,label,x,y\n"


def test_export_suffix_is_case_insensitive(tmp_path):
    out = export_selection(tmp_path / "S.CSV", indices=[0], labels=LABELS, coords=COORDS, meta={})
    assert out.read_text().startswith("index,label,x,y\n")


@pytest.mark.parametrize("suffix", [".csv", ".json", ".npy"])
def test_export_refuses_to_overwrite(tmp_path, suffix):
    target = tmp_path / f"s{suffix}"
    target.write_bytes(b"precious")
    with pytest.raises(InputError) as err:
        export_selection(target, indices=[0], labels=LABELS, coords=COORDS, meta={})
    assert str(err.value) == f"{target}: exists; choose another name"
    assert target.read_bytes() == b"precious"
    assert leftovers(tmp_path) == []


def test_export_overwrites_when_asked(tmp_path):
    target = tmp_path / "s.npy"
    target.write_bytes(b"old")
    export_selection(target, indices=[1], labels=LABELS, coords=COORDS, meta={}, overwrite=True)
    assert np.load(target, allow_pickle=False).tolist() == [1]


def test_export_failure_mid_write_keeps_old_file_and_no_temp(tmp_path, monkeypatch):
    target = tmp_path / "s.npy"
    np.save(target, np.array([7, 8, 9]))
    before = target.read_bytes()

    def broken_save(fh, *args, **kwargs):
        fh.write(b"\x93NUMPY half")
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(export.np, "save", broken_save)
    with pytest.raises(InputError) as err:
        export_selection(target, indices=[0], labels=LABELS, coords=COORDS, meta={}, overwrite=True)
    assert str(err.value) == f"{target}: disk full (No space left on device)"
    assert target.read_bytes() == before
    assert leftovers(tmp_path) == []


@pytest.mark.parametrize(
    "name, message",
    [
        ("s.txt", "s.txt: unknown format '.txt'; use .csv, .json or .npy"),
        ("s.pkl", "s.pkl: unknown format '.pkl'; use .csv, .json or .npy"),
        ("selection", "selection: no file extension; use .csv, .json or .npy"),
    ],
)
def test_export_unknown_suffix(tmp_path, name, message):
    with pytest.raises(InputError) as err:
        export_selection(tmp_path / name, indices=[0], labels=LABELS, coords=COORDS, meta={})
    assert str(err.value) == f"{tmp_path}/{message}"
    assert list(tmp_path.iterdir()) == []


def test_export_missing_directory(tmp_path):
    target = tmp_path / "missing" / "s.csv"
    with pytest.raises(InputError) as err:
        export_selection(target, indices=[0], labels=LABELS, coords=COORDS, meta={})
    assert str(err.value) == f"{target}: directory {tmp_path / 'missing'} does not exist"


def test_export_onto_a_directory(tmp_path):
    (tmp_path / "d.csv").mkdir()
    with pytest.raises(InputError, match="is a directory"):
        export_selection(tmp_path / "d.csv", indices=[0], labels=LABELS, coords=COORDS, meta={})


def test_export_rejects_programming_errors(tmp_path):
    with pytest.raises(ValueError, match="indices must lie in"):
        export_selection(tmp_path / "s.csv", indices=[4], labels=LABELS, coords=COORDS, meta={})
    with pytest.raises(ValueError, match="1-D integer"):
        export_selection(tmp_path / "s.csv", indices=[0.5], labels=LABELS, coords=COORDS, meta={})
    with pytest.raises(ValueError, match="meta may not set count, indices"):
        export_selection(
            tmp_path / "s.json", indices=[0], labels=LABELS, coords=COORDS,
            meta={"indices": [], "count": 3},
        )  # fmt: skip
    assert list(tmp_path.iterdir()) == []


# --------------------------------------------------------------------------- names


def test_default_export_name(tmp_path):
    assert default_export_name("digits", "tsne", 13, ".csv", tmp_path) == (
        tmp_path / "digitmap-digits-tsne-13pts.csv"
    )
    assert default_export_name("digits", "pca", 1, "json", tmp_path).name == (
        "digitmap-digits-pca-1pt.json"
    )


def test_default_export_name_avoids_existing_files(tmp_path):
    (tmp_path / "digitmap-digits-tsne-13pts.csv").touch()
    assert default_export_name("digits", "tsne", 13, ".csv", tmp_path).name == (
        "digitmap-digits-tsne-13pts-2.csv"
    )
    (tmp_path / "digitmap-digits-tsne-13pts-2.csv").touch()
    assert default_export_name("digits", "tsne", 13, ".csv", tmp_path).name == (
        "digitmap-digits-tsne-13pts-3.csv"
    )
    # Another format is another file: no suffix needed.
    assert default_export_name("digits", "tsne", 13, ".npy", tmp_path).name == (
        "digitmap-digits-tsne-13pts.npy"
    )


@pytest.mark.parametrize(
    "dataset, method, expected",
    [
        ("train-images-idx3-ubyte.gz", "umap", "digitmap-train-images-idx3-ubyte-umap-5pts.csv"),
        ("mnist.npz", "tsne", "digitmap-mnist-tsne-5pts.csv"),
        ("my data (v2).npy", "pca", "digitmap-my-data-v2-pca-5pts.csv"),
        ("../../etc/passwd", "tsne", "digitmap-passwd-tsne-5pts.csv"),
        ("digits", "", "digitmap-digits-5pts.csv"),
    ],
)
def test_default_export_name_is_a_safe_file_name(tmp_path, dataset, method, expected):
    path = default_export_name(dataset, method, 5, ".csv", tmp_path)
    assert path == tmp_path / expected


def test_default_export_name_defaults_to_current_directory(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert default_export_name("digits", "tsne", 2, ".npy") == tmp_path / (
        "digitmap-digits-tsne-2pts.npy"
    )


def test_default_screenshot_path(tmp_path, monkeypatch):
    now = datetime(2024, 5, 1, 9, 8, 7)
    first = default_screenshot_path(tmp_path, now=now)
    assert first == tmp_path / "digitmap-20240501-090807.svg"
    first.touch()
    assert default_screenshot_path(tmp_path, now=now).name == "digitmap-20240501-090807-2.svg"
    assert default_screenshot_path(tmp_path, "txt", now=now).name == "digitmap-20240501-090807.txt"
    monkeypatch.chdir(tmp_path)
    auto = default_screenshot_path()
    assert auto.parent == tmp_path and auto.name.startswith("digitmap-") and auto.suffix == ".svg"


# --------------------------------------------------------------------------- piping


def test_format_selection_lines_and_json():
    assert format_selection([5, 0, 12]) == "5\n0\n12\n"
    assert format_selection(np.array([5, 0, 12], dtype=np.int32), as_json=True) == "[5, 0, 12]\n"
    assert format_selection([]) == ""
    assert format_selection(np.array([], dtype=np.int64), as_json=True) == "[]\n"
    assert json.loads(format_selection(np.arange(3), as_json=True)) == [0, 1, 2]
    assert np.loadtxt(io.StringIO(format_selection(np.arange(4))), dtype=np.int64).tolist() == [
        0,
        1,
        2,
        3,
    ]


# --------------------------------------------------------------------------- render_command

DEFAULTS = dict(
    data=None,
    labels=None,
    shape=None,
    embedding=None,
    params=None,
    view=[-50.0, 50.0, -40.0, 40.0],
    box=[-10.0, 10.0, -8.0, 8.0],
    grid=(4, 4),
    list_mode=False,
    sort="x",
    mode="label",
)


def parse_command(command: str):
    words = shlex.split(command)
    assert words[0] == "digitmap"
    return build_parser().parse_args(words[1:])


def test_render_command_defaults_give_only_view_box_grid():
    assert render_command(**DEFAULTS) == (
        "digitmap render --view=-50.0,50.0,-40.0,40.0 --box=-10.0,10.0,-8.0,8.0 --grid 4x4"
    )


def test_render_command_every_flag_round_trips_through_the_parser():
    box = [0.1 + 0.2, 1.0 / 3.0, -2.718281828459045, np.float64(1e-7)]
    given = dict(
        DEFAULTS,
        data="/data/my images/train set.npz",
        labels="-labels.npy",  # would look like a flag after a space
        shape=(28, 28),
        params=EmbedParams("umap", seed=42, n_neighbors=30, min_dist=0.25, pca_dims=0, threads=3),
        view=[-123.456789012345, 98.7654321, -1e-05, 3.0000000000000004],
        box=box,
        grid=(6, 8),
        list_mode=True,
        sort="label",
        mode="purity",
    )
    command = render_command(**given)
    args = parse_command(command)
    assert args.command == "render"
    assert args.data == "/data/my images/train set.npz"
    assert args.labels == "-labels.npy"
    assert args.shape == "28x28"
    assert args.embedding is None
    assert args.method == "umap"
    assert args.seed == 42
    assert args.n_neighbors == 30
    assert args.min_dist == 0.25
    assert (args.pca_dims, args.threads) == (0, 3)
    assert Rect.parse(args.view).as_list() == given["view"]
    assert Rect.parse(args.box, "--box") == Rect(*(float(v) for v in box))
    assert parse_grid(args.grid) == (6, 8)
    assert args.list is True
    assert args.sort == "label"
    assert args.mode == "purity"
    assert "np.float64" not in command


def test_render_command_defaults_round_trip_to_parser_defaults():
    args = parse_command(render_command(**DEFAULTS))
    assert args.data is None and args.labels is None and args.shape is None
    assert args.embedding is None
    assert (args.method, args.seed, args.perplexity) == ("auto", 0, 30.0)
    assert (args.n_neighbors, args.min_dist) == (15, 0.1)
    assert (args.list, args.sort, args.mode) == (False, "x", "label")
    assert Rect.parse(args.box) == Rect(-10.0, 10.0, -8.0, 8.0)


def test_render_command_box_reproduces_the_same_selection():
    rng = np.random.default_rng(0)
    coords = rng.normal(size=(5000, 2))
    # A box edge that sits between two points closer together than 6 significant digits.
    xs = np.sort(coords[:, 0])
    gap = int(np.argmin(np.diff(xs)))
    edge = (xs[gap] + xs[gap + 1]) / 2
    box = [edge, 2.0, -1.0, 1.0]
    args = parse_command(render_command(**dict(DEFAULTS, box=box)))
    original = list_select(coords, Rect(*box), None, "index")
    again = list_select(coords, Rect.parse(args.box, "--box"), None, "index")
    np.testing.assert_array_equal(again, original)
    assert Rect.parse(args.box, "--box") == Rect(*box)
    # Why repr precision: the 6-digit form shown on screen would pick a different set here.
    rounded = list_select(coords, Rect.parse(Rect(*box).text(), "--box"), None, "index")
    assert len(rounded) != len(original)


def test_render_command_shape_as_text_and_plain_paths_unquoted():
    command = render_command(**dict(DEFAULTS, data="mnist.npz", shape="28x28"))
    assert command.startswith("digitmap render --data mnist.npz --shape 28x28 --view=")


def test_render_command_rejects_a_box_without_four_numbers():
    with pytest.raises(ValueError, match="--box needs four numbers"):
        render_command(**dict(DEFAULTS, box=[0.0, 1.0]))


def test_render_command_carries_folder_flags():
    """An image folder's --size and --labels none come back through the parser."""
    command = render_command(
        **dict(DEFAULTS, data="/photos/my set", labels="none", size="32x48", mode="points")
    )
    args = parse_command(command)
    assert (args.data, args.labels, args.size, args.mode) == (
        "/photos/my set",
        "none",
        "32x48",
        "points",
    )


def test_render_command_names_the_method_auto_chose():
    # `auto` may choose differently for other data: the command says what was computed.
    command = render_command(**{**DEFAULTS, "params": EmbedParams("tsne", auto_choice="tsne")})
    assert " --method tsne " in command
    assert parse_command(command).method == "tsne"


def test_render_command_from_an_embedding_file_names_no_method():
    command = render_command(
        **{**DEFAULTS, "embedding": "coords 'quoted'.csv", "params": EmbedParams("umap")}
    )
    args = parse_command(command)
    assert args.embedding == "coords 'quoted'.csv" and "--method" not in command


def _params_of(method: str):
    """Any valid parameters of `method`, every registry parameter drawn (Hypothesis)."""
    from digitmap_tui.methods.registry import PARAMS

    fields = {}
    for name, p in PARAMS.items():
        if p.kind == "int":
            lo = 0 if p.zero_ok else int(p.lo)
            fields[name] = st.integers(lo, int(p.hi))
        else:
            lo = float(p.lo)
            hi = float(p.hi) if p.hi is not None else 1e6
            fields[name] = st.floats(lo, hi, allow_nan=False, exclude_min=p.lo_open)
    return st.fixed_dictionaries(fields).map(lambda f: EmbedParams(method, **f))


@settings(max_examples=60, deadline=None)
@given(st.sampled_from(registry.names()).flatmap(_params_of))
def test_render_command_reproduces_every_parameter_of_the_cache_key(params):
    """Whatever the method and parameters, the command's flags give back the same cache key
    (the registry's keyed parameters, thread count included) and the same description."""
    from digitmap_tui.inputs import params_from_args

    args = parse_command(render_command(**{**DEFAULTS, "params": params}))
    again = params_from_args(args)
    assert again.method == params.method
    assert again.relevant() == params.relevant()
    assert again.resolved(100).describe() == params.resolved(100).describe()
