"""Report figures (``digitmap plot`` and ``digitmap_tui.plot``): the images drawn are exactly
those ``digitmap render --json`` selects; files are written atomically, never clobbered."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys

import pytest

pytest.importorskip("matplotlib")

import digitmap_tui
from digitmap_tui.data import load_digits
from digitmap_tui.figures import EMPTY_GID, figure_images
from tests.pty_program import REPO_ROOT, seed_cache

BOX = "-55,-20,-30,-5"


def _run(args, cache_dir, **env_extra):
    env = dict(os.environ, PYTHONPATH=str(REPO_ROOT), DIGITMAP_CACHE_DIR=str(cache_dir))
    env.update(env_extra)
    return subprocess.run(
        [sys.executable, "-m", "digitmap_tui", *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )


def _render_json(cache_dir, *args):
    done = _run(["render", "--json", *args], cache_dir)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


@pytest.mark.parametrize(
    "args",
    [
        ["--box", BOX],
        ["--box", BOX, "--grid", "3x5"],
        ["--box", "0,30,-20,10", "--grid", "6x6"],
        ["--view", "-60,60,-70,60"],  # the default box, as render --json resolves it
        ["--width", "60", "--height", "20"],
    ],
)
def test_grid_images_are_render_jsons_grid(cache_dir, args):
    seed_cache(cache_dir)
    expected = _render_json(cache_dir, *args)
    options = _api_options(args)
    fig = digitmap_tui.plot(cache=cache_dir, **options)
    assert figure_images(fig) == [v for row in expected["grid"] for v in row]
    # Every drawn image is annotated as the seed does: its index and L:label.
    labels = load_digits(cache_dir).labels
    for ax in fig.axes:
        gid = ax.get_gid() or ""
        if gid.startswith("image-") and gid != EMPTY_GID:
            index = int(gid.removeprefix("image-"))
            texts = [t.get_text() for t in ax.texts]
            assert texts == [str(index), f"L:{labels[index]}"]


def _api_options(args):
    options = {}
    pairs = dict(zip(args[::2], args[1::2], strict=True))
    if "--box" in pairs:
        options["box"] = tuple(float(v) for v in pairs["--box"].split(","))
    if "--view" in pairs:
        options["view"] = tuple(float(v) for v in pairs["--view"].split(","))
    if "--grid" in pairs:
        options["grid"] = tuple(int(v) for v in pairs["--grid"].split("x"))
    if "--width" in pairs:
        from digitmap_tui.selection import default_box, initial_view
        from tests.factory import fixed_coords

        # The default box is the middle fifth of the initial view, whatever the map's size.
        options["box"] = default_box(initial_view(fixed_coords())).as_list()
    return options


def test_list_images_are_render_jsons_selection_sorted(cache_dir):
    seed_cache(cache_dir)
    for sort in ("x", "y", "label", "index"):
        expected = _render_json(cache_dir, "--box", BOX, "--list", "--sort", sort)
        box = tuple(float(v) for v in BOX.split(","))
        fig = digitmap_tui.plot(box=box, list_mode=True, sort=sort, max_images=40, cache=cache_dir)
        assert figure_images(fig) == expected["indices"][:40]


def test_cli_writes_a_figure_atomically_and_never_clobbers(cache_dir, tmp_path):
    seed_cache(cache_dir)
    (tmp_path / "out").mkdir()
    tmp_path = tmp_path / "out"
    out = tmp_path / "fig.svg"
    done = _run(["plot", "--box", BOX, "--out", str(out)], cache_dir)
    assert done.returncode == 0, done.stderr
    svg = out.read_text()
    expected = _render_json(cache_dir, "--box", BOX)
    drawn = [int(i) for i in re.findall(r'id="image-(\d+)"', svg)]
    assert drawn == [v for row in expected["grid"] for v in row if v is not None]
    assert svg.count(f'id="{EMPTY_GID}"') == sum(v is None for row in expected["grid"] for v in row)
    before = out.read_bytes()
    again = _run(["plot", "--box", BOX, "--out", str(out)], cache_dir)
    assert again.returncode == 2
    assert again.stderr == f"digitmap: error: --out {out}: file exists (use --force to overwrite)\n"
    assert out.read_bytes() == before
    forced = _run(["plot", "--box", BOX, "--grid", "2x2", "--out", str(out), "--force"], cache_dir)
    assert forced.returncode == 0 and out.read_bytes() != before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["fig.svg"]  # no temporary left
    for name in ("fig.png", "fig.pdf"):
        assert (
            _run(["plot", "--box", BOX, "--out", str(tmp_path / name)], cache_dir).returncode == 0
        )
    assert (tmp_path / "fig.png").read_bytes().startswith(b"\x89PNG")
    assert (tmp_path / "fig.pdf").read_bytes().startswith(b"%PDF")


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--out", "x.jpg"], "--out x.jpg: use a .png, .svg or .pdf file name"),
        (["--out", "missing/x.png"], "directory missing does not exist"),
        (["--out", "x.png", "--grid", "0x3"], "--grid '0x3'"),
        (["--out", "x.png", "--twin", "tsen"], "unknown method 'tsen'"),
    ],
)
def test_cli_bad_plot_flags_are_one_line(cache_dir, tmp_path, args, message):
    seed_cache(cache_dir)
    tmp_path = tmp_path / "cwd"
    tmp_path.mkdir()
    done = subprocess.run(
        [sys.executable, "-m", "digitmap_tui", "plot", *args],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env=dict(os.environ, PYTHONPATH=str(REPO_ROOT), DIGITMAP_CACHE_DIR=str(cache_dir)),
        timeout=120,
    )
    assert done.returncode == 2
    assert done.stderr.count("\n") == 1 and message in done.stderr, done.stderr
    assert list(tmp_path.iterdir()) == []


def test_without_matplotlib_the_error_names_the_extra(cache_dir, tmp_path):
    blocker = tmp_path / "blocker"
    blocker.mkdir()
    (blocker / "sitecustomize.py").write_text(
        "import importlib.abc, sys\n"
        "class Block(importlib.abc.MetaPathFinder):\n"
        "    def find_spec(self, name, path=None, target=None):\n"
        "        if name.split('.')[0] == 'matplotlib':\n"
        "            raise ModuleNotFoundError(f\"No module named '{name}'\", name=name)\n"
        "sys.meta_path.insert(0, Block())\n"
    )
    done = _run(
        ["plot", "--out", str(tmp_path / "x.png")],
        cache_dir,
        PYTHONPATH=f"{blocker}{os.pathsep}{REPO_ROOT}",
    )
    assert done.returncode == 2
    assert done.stderr == (
        "digitmap: error: figures need matplotlib: pip install 'digitmap-tui[plot]'\n"
    )


def test_twin_draws_both_maps_with_the_selection(cache_dir):
    """t-SNE with its twin (PCA here: instant) side by side, the box's points marked in both."""
    seed_cache(cache_dir)
    box = tuple(float(v) for v in BOX.split(","))
    fig = digitmap_tui.plot(box=box, twin="pca", cache=cache_dir)
    maps = {ax.get_gid(): ax for ax in fig.axes if ax.get_gid() in ("map", "twin-map")}
    assert set(maps) == {"map", "twin-map"}
    expected = _render_json(cache_dir, "--box", BOX)["indices"]
    for ax in maps.values():
        (dots,) = [c for c in ax.collections if c.get_gid() == "selection"]
        assert len(dots.get_offsets()) == len(expected)
    assert "PCA" in maps["twin-map"].get_title()
