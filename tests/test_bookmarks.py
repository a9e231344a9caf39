"""Bookmarks: names, scopes, the readable file, atomic writes and damaged files moved aside."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import datetime
from pathlib import Path

import numpy as np
import platformdirs
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from digitmap_tui import bookmarks as bm
from digitmap_tui import export
from digitmap_tui.bookmarks import (
    BookmarkStore,
    check_name,
    default_bookmarks_path,
    default_data_dir,
    scope_key,
    validate_state,
)
from digitmap_tui.errors import InputError
from digitmap_tui.text import is_safe

FP = "ab12cd34ef56ab78" + "0" * 48
SCOPE = scope_key(FP, "t-SNE perplexity 30 seed 0")
OTHER = scope_key(FP, "UMAP n_neighbors 15 min_dist 0.1 seed 0")
STATE = {
    "method": "tsne",
    "params": {"perplexity": 30.0, "seed": 0},
    "view": [-50.0, 50.0, -40.0, 40.0],
    "box": [0.30000000000000004, 10.0, -8.0, 8.0],
    "mode": "label",
    "grid": [4, 4],
    "list_mode": False,
    "sort": "x",
}
FIXED = datetime(2024, 5, 1, 9, 8, 7)


@pytest.fixture
def store(tmp_path):
    return BookmarkStore(tmp_path / "bookmarks.json", clock=lambda: FIXED)


def files(directory: Path) -> list[str]:
    """What the directory holds, the store's lock file aside."""
    return sorted(p.name for p in directory.iterdir() if not p.name.endswith(".lock"))


# --------------------------------------------------------------------------- locations, keys, names


def test_default_data_dir_env_override_and_platformdirs(tmp_path):
    assert default_data_dir({"DIGITMAP_DATA_DIR": str(tmp_path)}) == tmp_path
    assert default_data_dir({"DIGITMAP_DATA_DIR": "~/dm"}) == Path("~/dm").expanduser()
    assert default_data_dir({}) == Path(platformdirs.user_data_dir("digitmap-tui"))
    assert default_data_dir({"DIGITMAP_DATA_DIR": ""}) == default_data_dir({})
    assert default_bookmarks_path({"DIGITMAP_DATA_DIR": str(tmp_path)}) == (
        tmp_path / "bookmarks.json"
    )


def test_store_path_from_environment(tmp_path, monkeypatch):
    monkeypatch.setenv("DIGITMAP_DATA_DIR", str(tmp_path / "data"))
    assert BookmarkStore().path == tmp_path / "data" / "bookmarks.json"
    assert BookmarkStore(env={"DIGITMAP_DATA_DIR": "/x"}).path == Path("/x/bookmarks.json")
    assert BookmarkStore(tmp_path / "b.json").path == tmp_path / "b.json"


def test_scope_key():
    assert (
        scope_key(FP, "t-SNE perplexity 30 seed 0") == "ab12cd34ef56ab78:t-SNE perplexity 30 seed 0"
    )
    assert scope_key(FP.upper(), "  t-SNE  perplexity 30\tseed 0 ") == SCOPE
    assert SCOPE != OTHER
    with pytest.raises(ValueError):
        scope_key("", "PCA")
    with pytest.raises(ValueError):
        scope_key(FP, "  ")


def test_check_name_accepts_and_strips():
    assert check_name("  left cluster ") == "left cluster"
    assert check_name("數字 ✓ 7s vs 1s") == "數字 ✓ 7s vs 1s"
    assert check_name("x" * 64) == "x" * 64


@pytest.mark.parametrize(
    "name, message",
    [
        ("", "bookmark name: must not be empty"),
        ("   ", "bookmark name: must not be empty"),
        ("x" * 65, "bookmark name 'xxxxxxxxxxxxxxxxxxxx'…: 65 characters; at most 64"),
        ("a\nb", "bookmark name 'a\\x0ab': contains a control character"),
        ("a\tb", "bookmark name 'a\\x09b': contains a control character"),
        ("red\x1b[31m", "bookmark name 'red\\x1b[31m': contains a control character"),
        ("a\x7f", "bookmark name 'a\\x7f': contains a control character"),
        ("a\u2028b", "bookmark name 'a\\u2028b': contains a control character"),
        ("abc\u202edef", "bookmark name 'abc\\u202edef': contains a control character"),
    ],
)
def test_check_name_rejects(name, message):
    with pytest.raises(InputError) as err:
        check_name(name)
    assert str(err.value) == message
    assert "\n" not in str(err.value)


# --------------------------------------------------------------------------- save, list, get


def test_missing_file_is_an_empty_store(store, tmp_path):
    assert store.load() is None
    assert store.list(SCOPE) == []
    assert store.names(SCOPE) == []
    assert store.scopes() == []
    assert files(tmp_path) == []  # reading creates nothing


def test_save_get_list_round_trip(store):
    assert store.save(SCOPE, " left ", STATE, dataset="digits", embedding="t-SNE") == "left"
    store.save(SCOPE, "right", dict(STATE, box=[1.0, 2.0, 3.0, 4.0]))
    assert store.get(SCOPE, "left") == STATE
    assert store.get(SCOPE, " left") == STATE
    assert store.names(SCOPE) == ["left", "right"]
    assert store.list(SCOPE)[1] == ("right", dict(STATE, box=[1.0, 2.0, 3.0, 4.0]))
    assert store.list(OTHER) == []
    assert store.scopes() == [(SCOPE, "digits", "t-SNE", 2)]


def test_state_is_stored_as_plain_json(store):
    state = {"view": (np.float64(-1.5), 2, 3.0, 4.0), "grid": (4, 4), "seed": np.int64(7)}
    store.save(SCOPE, "np", state)
    got = store.get(SCOPE, "np")
    assert got == {"view": [-1.5, 2, 3.0, 4.0], "grid": [4, 4], "seed": 7}
    assert type(got["seed"]) is int


def test_get_returns_a_copy(store):
    store.save(SCOPE, "a", STATE)
    got = store.get(SCOPE, "a")
    got["view"].append(99.0)
    assert store.get(SCOPE, "a") == STATE


def test_get_missing_names_what_is_saved(store):
    with pytest.raises(InputError) as err:
        store.get(SCOPE, "nope")
    assert str(err.value) == "bookmark 'nope': none saved for this dataset and embedding"
    store.save(SCOPE, "a", STATE)
    store.save(SCOPE, "b", STATE)
    with pytest.raises(InputError) as err:
        store.get(SCOPE, "nope")
    assert str(err.value) == "bookmark 'nope': not found; saved: a, b"


def test_save_refuses_to_overwrite_unless_asked_and_keeps_the_place(store):
    store.save(SCOPE, "a", STATE)
    store.save(SCOPE, "b", STATE)
    with pytest.raises(InputError) as err:
        store.save(SCOPE, "a", {"other": 1})
    assert str(err.value) == "bookmark 'a': exists; choose another name or overwrite it"
    assert store.get(SCOPE, "a") == STATE
    store.save(SCOPE, "a", {"other": 1}, overwrite=True)
    assert store.list(SCOPE) == [("a", {"other": 1}), ("b", STATE)]


def test_same_name_in_other_scope_is_independent(store):
    store.save(SCOPE, "a", STATE)
    store.save(OTHER, "a", {"method": "umap"})
    assert store.get(SCOPE, "a") == STATE
    assert store.get(OTHER, "a") == {"method": "umap"}


def test_save_rejects_bad_names_and_states_without_touching_the_file(store):
    store.save(SCOPE, "a", STATE)
    before = store.path.read_bytes()
    with pytest.raises(InputError, match="control character"):
        store.save(SCOPE, "bad\x00name", STATE)
    with pytest.raises(ValueError, match="not JSON-ready"):
        store.save(SCOPE, "b", {"f": object()})
    with pytest.raises(ValueError, match="not JSON-ready"):
        store.save(SCOPE, "b", {"x": float("nan")})
    assert store.path.read_bytes() == before


# --------------------------------------------------------------------------- rename, delete


def test_rename_keeps_order_and_state(store):
    for name in ("a", "b", "c"):
        store.save(SCOPE, name, {"n": name})
    assert store.rename(SCOPE, "b", " middle ") == "middle"
    assert store.list(SCOPE) == [("a", {"n": "a"}), ("middle", {"n": "b"}), ("c", {"n": "c"})]
    assert store.rename(SCOPE, "a", "a") == "a"


def test_rename_errors(store):
    store.save(SCOPE, "a", STATE)
    store.save(SCOPE, "b", STATE)
    with pytest.raises(InputError) as err:
        store.rename(SCOPE, "a", "b")
    assert str(err.value) == "bookmark 'b': exists; choose another name"
    with pytest.raises(InputError, match="'zz': not found; saved: a, b"):
        store.rename(SCOPE, "zz", "c")
    with pytest.raises(InputError, match="must not be empty"):
        store.rename(SCOPE, "a", " ")
    assert store.names(SCOPE) == ["a", "b"]


def test_delete(store):
    store.save(SCOPE, "a", STATE)
    store.save(SCOPE, "b", STATE)
    store.save(OTHER, "c", STATE)
    store.delete(SCOPE, "a")
    assert store.names(SCOPE) == ["b"]
    with pytest.raises(InputError, match="'a': not found; saved: b"):
        store.delete(SCOPE, "a")
    store.delete(SCOPE, "b")
    # An emptied scope leaves the file.
    assert list(json.loads(store.path.read_text())["scopes"]) == [OTHER]


# --------------------------------------------------------------------------- the file


def test_file_is_readable_json(store):
    store.save(SCOPE, "left", STATE, dataset="digits", embedding="t-SNE perplexity 30 seed 0")
    text = store.path.read_text(encoding="utf-8")
    assert text.startswith('{\n  "version": 1,\n  "scopes": {\n')
    assert text.endswith("}\n")
    data = json.loads(text)
    assert data == {
        "version": 1,
        "scopes": {
            SCOPE: {
                "dataset": "digits",
                "embedding": "t-SNE perplexity 30 seed 0",
                "bookmarks": {"left": {"saved": "2024-05-01T09:08:07", "state": STATE}},
            }
        },
    }


def test_non_ascii_names_stay_readable(store):
    store.save(SCOPE, "數字", STATE)
    assert "數字" in store.path.read_text(encoding="utf-8")
    assert store.names(SCOPE) == ["數字"]


def test_missing_data_directory_is_created(tmp_path):
    store = BookmarkStore(tmp_path / "a" / "b" / "bookmarks.json")
    store.save(SCOPE, "x", STATE)
    assert store.get(SCOPE, "x") == STATE


def test_two_stores_on_one_file_keep_each_others_bookmarks(tmp_path):
    first = BookmarkStore(tmp_path / "bookmarks.json")
    second = BookmarkStore(tmp_path / "bookmarks.json")
    first.save(SCOPE, "from first", STATE)
    second.save(SCOPE, "from second", STATE)
    first.save(SCOPE, "first again", STATE)
    assert second.names(SCOPE) == ["from first", "from second", "first again"]


def test_failed_write_keeps_the_old_file_and_leaves_no_temp(store, tmp_path, monkeypatch):
    store.save(SCOPE, "a", STATE)
    before = store.path.read_bytes()

    def failing(path, write, **kwargs):
        # Fail the way a full disk does: inside the real atomic writer, mid-write.
        def broken(fh):
            fh.write(b'{"version": 1, "sco')
            raise OSError(28, "No space left on device")

        return export.write_atomic(path, broken, **kwargs)

    monkeypatch.setattr(bm, "write_atomic", failing)
    with pytest.raises(InputError) as err:
        store.save(SCOPE, "b", STATE)
    assert str(err.value) == f"{store.path}: disk full (No space left on device)"
    assert store.path.read_bytes() == before
    assert files(tmp_path) == ["bookmarks.json"]


# --------------------------------------------------------------------------- damaged files


@pytest.mark.parametrize(
    "content, reason",
    [
        (b"{not json", "not valid JSON: Expecting property name enclosed in double quotes"),
        (b"", "not valid JSON: Expecting value"),
        (b"\xff\xfe garbage", "not valid JSON: 'utf-8' codec can't decode"),
        (b"[1, 2]", "expected an object at the top, got list"),
        (b'{"scopes": {}}', 'expected "version": 1, got null'),
        (b'{"version": true, "scopes": {}}', 'expected "version": 1, got true'),
        (b'{"version": 1, "scopes": []}', '"scopes" must be an object'),
        (b'{"version": 1, "scopes": {"k": {"bookmarks": 3}}}', "scope 'k' has no \"bookmarks\""),
        (
            b'{"version": 1, "scopes": {"k": {"bookmarks": {"n": {"state": []}}}}}',
            "bookmark 'n' has no \"state\" object",
        ),
    ],
)
def test_damaged_file_is_moved_aside_and_reported(store, tmp_path, content, reason):
    store.path.write_bytes(content)
    problem = store.load()
    assert problem is not None
    assert problem.startswith(f"{store.path}: damaged bookmarks file ({reason}")
    assert problem.endswith(
        "; moved aside to bookmarks.json.damaged-20240501-090807, starting with no bookmarks"
    )
    assert "\n" not in problem
    aside = tmp_path / "bookmarks.json.damaged-20240501-090807"
    assert aside.read_bytes() == content  # never lost
    assert files(tmp_path) == [aside.name]
    assert store.list(SCOPE) == []
    assert store.take_problem() is None  # reported once


def test_damage_found_by_save_is_kept_for_the_app_and_the_save_succeeds(store, tmp_path):
    store.path.write_text("{oops")
    store.save(SCOPE, "a", STATE)
    problem = store.take_problem()
    assert problem is not None and "damaged bookmarks file" in problem
    assert (tmp_path / "bookmarks.json.damaged-20240501-090807").read_text() == "{oops"
    assert store.names(SCOPE) == ["a"]


def test_damaged_files_never_overwrite_earlier_damaged_files(store, tmp_path):
    store.path.write_text("first")
    store.load()
    store.path.write_text("second")
    store.load()
    assert (tmp_path / "bookmarks.json.damaged-20240501-090807").read_text() == "first"
    assert (tmp_path / "bookmarks.json.damaged-20240501-090807-2").read_text() == "second"


def test_damaged_file_that_cannot_be_moved_is_left_alone(store, monkeypatch):
    store.path.write_text("{oops")

    def refuse(src, dst):
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(bm.os, "replace", refuse)
    with pytest.raises(InputError) as err:
        store.save(SCOPE, "a", STATE)
    assert str(err.value) == (
        f"{store.path}: damaged bookmarks file (not valid JSON: Expecting property name "
        "enclosed in double quotes: line 1 column 2 (char 1)) and cannot move it aside "
        "(Permission denied); fix or remove it"
    )
    assert store.path.read_text() == "{oops"


def test_file_from_a_newer_version_is_left_untouched(store, tmp_path):
    content = '{"version": 2, "scopes": {"whatever": []}}'
    store.path.write_text(content)
    with pytest.raises(InputError) as err:
        store.save(SCOPE, "a", STATE)
    assert str(err.value) == (
        f"{store.path}: written by a newer digitmap-tui (format 2); "
        "left untouched, upgrade to use these bookmarks"
    )
    with pytest.raises(InputError, match="newer digitmap-tui"):
        store.list(SCOPE)
    assert store.path.read_text() == content
    assert files(tmp_path) == ["bookmarks.json"]


def test_unreadable_path_is_one_line_error(tmp_path):
    (tmp_path / "bookmarks.json").mkdir()
    store = BookmarkStore(tmp_path / "bookmarks.json")
    with pytest.raises(InputError, match="cannot read bookmarks"):
        store.list(SCOPE)


def test_hand_edited_extra_keys_survive_a_save(store):
    store.path.write_text(
        json.dumps(
            {
                "version": 1,
                "note": "mine",
                "scopes": {SCOPE: {"dataset": "d", "colour": "red", "bookmarks": {}}},
            }
        )
    )
    store.save(SCOPE, "a", STATE)
    data = json.loads(store.path.read_text())
    assert data["note"] == "mine"
    assert data["scopes"][SCOPE]["colour"] == "red"
    assert store.take_problem() is None


# --------------------------------------------------------------------------- hostile files


def hand_edit(store: BookmarkStore, edit) -> None:  # type: ignore[no-untyped-def]
    """Change the file the way a person with an editor would (no checks)."""
    data = json.loads(store.path.read_text())
    edit(data)
    store.path.write_text(json.dumps(data))


def test_names_with_control_characters_in_a_hand_edited_file_are_shown_escaped(store):
    store.save(SCOPE, "plain", STATE)
    osc52 = "\x1b]52;c;Y3VybCBldmlsIHwgc2g=\x07"

    def plant(data: dict) -> None:  # type: ignore[type-arg]
        marks = data["scopes"][SCOPE]["bookmarks"]
        marks[f"evil{osc52}"] = marks["plain"]
        marks["two\nlines"] = marks["plain"]

    hand_edit(store, plant)
    names = store.names(SCOPE)
    assert names == ["plain", "evil\\x1b]52;c;Y3VybCBldmlsIHwgc2g=\\x07", "two\\x0alines"]
    assert all(is_safe(name) for name in names)
    assert store.get(SCOPE, "two\\x0alines") == STATE  # looked up as shown
    with pytest.raises(InputError) as err:
        store.get(SCOPE, "missing")
    assert is_safe(str(err.value)) and "evil\\x1b]52" in str(err.value)
    store.save(SCOPE, "more", STATE)  # a save writes the names back escaped
    assert "\x1b" not in store.path.read_text() and "\\u001b" not in store.path.read_text()


def test_dataset_and_embedding_texts_from_the_file_are_escaped(store):
    store.save(SCOPE, "a", STATE, dataset="x\x1b[2Jy", embedding="t\u2028u")
    assert store.scopes() == [(SCOPE, "x\\x1b[2Jy", "t\\u2028u", 1)]


def test_markup_in_a_name_is_stored_as_typed(store):
    # "[/b]" froze the explorer once: names are never markup, a UI shows them escaped.
    assert store.save(SCOPE, "[/b] sevens [red]", STATE) == "[/b] sevens [red]"
    assert store.names(SCOPE) == ["[/b] sevens [red]"]


def test_a_200000_deep_nesting_is_moved_aside_not_a_recursion_error(store, tmp_path):
    store.path.write_text("[" * 200_000 + "]" * 200_000)
    problem = store.load()
    assert problem is not None and "nested more than 64 levels deep" in problem
    assert "\n" not in problem
    assert files(tmp_path) == ["bookmarks.json.damaged-20240501-090807"]
    assert store.names(SCOPE) == []


def test_an_oversized_file_is_moved_aside(store, tmp_path, monkeypatch):
    monkeypatch.setattr(bm, "MAX_FILE_BYTES", 1000)
    store.path.write_text(json.dumps({"version": 1, "scopes": {}, "pad": "x" * 2000}))
    problem = store.load()
    assert problem is not None and "larger than 1,000 bytes" in problem
    assert files(tmp_path) == ["bookmarks.json.damaged-20240501-090807"]


def test_a_save_may_not_grow_the_file_past_the_cap(store, monkeypatch):
    store.save(SCOPE, "a", STATE)
    before = store.path.read_bytes()
    monkeypatch.setattr(bm, "MAX_FILE_BYTES", len(before) + 10)
    with pytest.raises(InputError, match="would exceed"):
        store.save(SCOPE, "b", STATE)
    assert store.path.read_bytes() == before


def test_a_state_holding_a_non_utf8_path_is_saved_and_read_back(store):
    state = dict(STATE, command="digitmap render --data /data/caf\udce9.npy")
    store.save(SCOPE, "a", state)
    assert store.get(SCOPE, "a") == state


def test_the_data_directory_is_created_private(tmp_path):
    store = BookmarkStore(tmp_path / "data" / "bookmarks.json")
    store.save(SCOPE, "a", STATE)
    assert (tmp_path / "data").stat().st_mode & 0o777 == 0o700


def test_a_data_directory_others_can_write_is_refused(tmp_path):
    shared = tmp_path / "shared"
    shared.mkdir()
    store = BookmarkStore(shared / "bookmarks.json")
    store.save(SCOPE, "a", STATE)
    shared.chmod(0o777)
    for attempt in (lambda: store.names(SCOPE), lambda: store.save(SCOPE, "b", STATE)):
        with pytest.raises(InputError) as err:
            attempt()
        assert str(err.value).startswith(f"data directory {shared} is not safe to load from")
        assert "DIGITMAP_DATA_DIR" in str(err.value)


def test_a_bookmarks_file_others_can_write_is_refused(store):
    store.save(SCOPE, "a", STATE)
    store.path.chmod(0o666)
    with pytest.raises(InputError, match=r"bookmarks file .* is not safe to load from"):
        store.names(SCOPE)


SAVER = """
import sys
from digitmap_tui.bookmarks import BookmarkStore
store = BookmarkStore(sys.argv[1])
for i in range(100):
    store.save("scope", f"{sys.argv[2]}-{i}", {"grid": [4, 4]})
"""


def test_two_processes_saving_100_bookmarks_each_keep_all_200(tmp_path):
    path = tmp_path / "bookmarks.json"
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1])}
    procs = [
        subprocess.Popen([sys.executable, "-c", SAVER, str(path), who], env=env)
        for who in ("first", "second")
    ]
    for proc in procs:
        assert proc.wait(timeout=120) == 0
    names = BookmarkStore(path).names("scope")
    assert len(names) == 200
    assert set(names) == {f"{who}-{i}" for who in ("first", "second") for i in range(100)}


# --------------------------------------------------------------------------- saved states


def test_validate_state_accepts_what_the_explorer_saves():
    state = dict(STATE, focus=[3, 1, 3], command="digitmap render", extra="dropped")
    checked = validate_state(state)
    assert checked == dict(STATE, focus=[1, 3], command="digitmap render")
    assert validate_state({}) == {}  # missing keys stay missing: the caller keeps its own


@pytest.mark.parametrize(
    ("key", "value", "fragment"),
    [
        ("grid", ["a", "b"], 'grid ["a", "b"]: expected [rows, cols]'),
        ("grid", [100000, 100000], "rows and columns must be between 1 and 64"),
        ("grid", [0, 0], "rows and columns must be between 1 and 64"),
        ("grid", [4], "expected [rows, cols]"),
        ("grid", [True, 4], "expected [rows, cols]"),
        ("view", [1, 0, 0, 1], "needs X0 < X1 and Y0 < Y1"),
        ("view", [0, "1", 0, 1], "expected four finite numbers"),
        ("view", [0, 1e-310, 0, 1e-310], "too small to draw"),
        ("view", [-1e308, 1e308, 0, 1], "too large"),
        ("view", [0, 10**400, 0, 1], "expected four finite numbers"),
        ("box", {"x0": 0}, "expected four finite numbers"),
        ("mode", "rainbow", "expected one of label, density, purity"),
        ("sort", None, "expected one of index, x, y, label"),
        ("list_mode", "yes", "expected true or false"),
        ("method", "pickle", "expected one of"),
        ("params", [], "expected an object"),
        ("params", {"seed": -1}, "seed -1: expected a whole number"),
        ("params", {"perplexity": "30"}, 'perplexity "30": expected a number >= 1/3'),
        ("params", {"perplexity": 0.25}, "perplexity 0.25: expected a number >= 1/3"),
        ("params", {"n_neighbors": 1.5}, "expected a whole number from 2"),
        ("params", {"min_dist": 7}, "expected a number from 0 to 1"),
        ("focus", [999], "expected null or a list of labels from 0 to 255"),
    ],
)
def test_validate_state_refuses_bad_values_in_one_line(key, value, fragment):
    with pytest.raises(InputError) as err:
        validate_state(dict(STATE, **{key: value}), "bookmark 'x'")
    message = str(err.value)
    assert message.startswith("bookmark 'x': ")
    assert fragment in message
    assert "\n" not in message and is_safe(message)


JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=5) | st.dictionaries(st.text(max_size=8), inner),
    max_leaves=10,
)


@settings(max_examples=300, deadline=None)
@given(st.dictionaries(st.sampled_from((*bm.STATE_KEYS, "command")), JSON))
def test_validate_state_refuses_in_one_line_or_returns_what_render_can_use(state):
    from digitmap_tui.grid import Rect

    try:
        checked = validate_state(state, "bookmark 'x'")
    except InputError as exc:
        assert "\n" not in str(exc) and is_safe(str(exc))
        return
    if "grid" in checked:
        rows, cols = checked["grid"]
        assert 1 <= rows <= 64 and 1 <= cols <= 64
    for key in ("view", "box"):
        if checked.get(key) is not None:
            Rect(*checked[key])  # raises if it is not a usable region
    assert set(checked) <= set(bm.STATE_KEYS) | {"command"}
