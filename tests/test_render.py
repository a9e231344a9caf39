"""The headless render: text picture and JSON, against the engine's rules."""

from __future__ import annotations

import io
import json

from rich.console import Console

from digitmap_tui.cli import _join_negative_values, main
from digitmap_tui.data import load_digits
from digitmap_tui.grid import EMPTY, Rect, grid_select, list_select
from digitmap_tui.render import RenderRequest, render_json, render_text
from digitmap_tui.session import Session
from tests.factory import TSNE_FIXTURE, fixed_coords


def test_render_json_grid_and_selection_follow_the_rules(cache_dir):
    ds = load_digits(cache_dir)
    xy = fixed_coords()
    box = Rect(-7, 14, -16, 8)
    request = RenderRequest(box=box, grid=(3, 5), sort="y")
    out = render_json(Session.of(ds, xy, request.state()))
    grid = grid_select(xy, box, 3, 5)
    assert out["grid"] == [[None if v == EMPTY else int(v) for v in row] for row in grid]
    assert out["indices"] == list_select(xy, box, ds.labels, "y").tolist()
    assert out["box"] == [-7, 14, -16, 8]
    assert sum(out["labels"].values()) == out["count"] == len(out["indices"])
    assert json.dumps(out)  # plain JSON types only


def test_render_text_plain_shows_title_map_box_and_tiles(cache_dir):
    ds = load_digits(cache_dir)
    console = Console(file=io.StringIO(), width=100, color_system=None, force_terminal=False)
    box = Rect(-7, 14, -16, 8)
    request = RenderRequest(box=box, width=60, height=20)
    render_text(console, Session.of(ds, fixed_coords(), request.state()), request)
    text = console.file.getvalue()
    lines = text.splitlines()
    assert lines[0] == "digitmap · digits (1797) · t-SNE perplexity 30 seed 0"
    assert "┌" in text and "┘" in text  # the box on the map
    first = int(grid_select(fixed_coords(), box, 4, 4)[0, 0])
    assert f"{first} " in text and "L:" in text
    assert "\x1b[" not in text  # no escape codes when colour is off


def test_cli_render_json_accepts_negative_box_without_equals(capsys):
    assert main(["render", "--embedding", str(TSNE_FIXTURE), "--box", "-7,14,-16,8", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["box"] == [-7, 14, -16, 8]


def test_join_negative_values_only_joins_numbers():
    assert _join_negative_values(["--box", "-1,2,-3,4", "--list"]) == ["--box=-1,2,-3,4", "--list"]
    assert _join_negative_values(["--view", "--box"]) == ["--view", "--box"]
    assert _join_negative_values(["--seed", "-3"]) == ["--seed=-3"]


def test_cli_render_list_text_to_a_pipe_has_no_escapes(capsys):
    box = "--box=-7,14,-16,8"
    assert main(["render", "--embedding", str(TSNE_FIXTURE), box, "--list", "--width", "60"]) == 0
    out = capsys.readouterr().out
    assert "list ·" in out and "\x1b[" not in out
    ds_labels = load_digits().labels
    n = len(list_select(fixed_coords(), Rect(-7, 14, -16, 8), ds_labels))
    assert f"list · {n} points in box" in out
