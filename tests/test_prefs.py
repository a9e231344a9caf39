"""What the explorer remembers: the panel width, best effort and never from others' files."""

from __future__ import annotations

import json
import os

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from digitmap_tui import prefs


def test_round_trip_in_the_data_dir(tmp_path, monkeypatch):
    monkeypatch.setenv("DIGITMAP_DATA_DIR", str(tmp_path / "data"))
    assert prefs.remembered_panel_width() is None
    assert prefs.remember_panel_width(64)
    assert prefs.layout_path() == tmp_path / "data" / "layout.json"
    assert json.loads(prefs.layout_path().read_text()) == {"panel_width": 64}
    assert prefs.remembered_panel_width() == 64


def test_other_keys_are_kept(tmp_path):
    path = tmp_path / "layout.json"
    path.write_text('{"later": [1, 2]}')
    assert prefs.remember_panel_width(40, path)
    assert json.loads(path.read_text()) == {"later": [1, 2], "panel_width": 40}


@pytest.mark.parametrize(
    "content",
    ["", "{", "[64]", '{"panel_width": "64"}', '{"panel_width": true}',
     '{"panel_width": 3}', '{"panel_width": 1e9}', "\xff\xfe", "x" * 5000],
)  # fmt: skip
def test_a_damaged_file_is_nothing_remembered(tmp_path, content):
    path = tmp_path / "layout.json"
    path.write_bytes(content.encode("utf-8", "surrogateescape"))
    assert prefs.remembered_panel_width(path) is None
    assert prefs.remember_panel_width(50, path)  # and saving replaces it
    assert prefs.remembered_panel_width(path) == 50


def test_a_file_others_could_write_is_not_read_by_mode(tmp_path):
    path = tmp_path / "layout.json"
    path.write_text('{"panel_width": 64}')
    os.chmod(path, 0o646)  # writable by others: whoever we are, not trusted
    assert prefs.remembered_panel_width(path) is None


def test_a_failed_save_changes_nothing(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("")
    assert not prefs.remember_panel_width(60, blocker / "layout.json")  # parent is a file
    assert not prefs.remember_panel_width(2, tmp_path / "layout.json")  # out of range
    assert not (tmp_path / "layout.json").exists()


@settings(max_examples=30, deadline=None)
@given(width=st.integers(-10, 3000))
def test_what_is_saved_is_what_is_read(tmp_path_factory, width):
    path = tmp_path_factory.mktemp("prefs") / "layout.json"
    saved = prefs.remember_panel_width(width, path)
    lo, hi = prefs.WIDTH_RANGE
    assert saved == (lo <= width <= hi)
    assert prefs.remembered_panel_width(path) == (width if saved else None)
