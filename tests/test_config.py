"""The config file: defaults for the flags, the theme, and a checked [keys] table."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from digitmap_tui.config import (
    Config,
    config_path,
    load_config,
    normalise_key,
    parse_keys,
    remember,
)
from digitmap_tui.errors import InputError
from tests.pty_program import REPO_ROOT


def test_the_file_lives_in_the_config_dir_and_may_be_missing(tmp_path):
    assert config_path() == tmp_path / "config" / "config.toml"  # conftest's isolation
    assert load_config() == Config(path=config_path())


@pytest.mark.skipif(sys.platform != "linux", reason="the XDG rule is written out on Linux only")
@given(home=st.sampled_from(["", "   ", "/x/conf", "~/conf", "rel/conf"]))
def test_the_config_dir_is_where_platformdirs_puts_it(home):
    """Written out for Linux (importing platformdirs costs every command ~8 ms)."""
    from platformdirs import user_config_dir

    from digitmap_tui.config import config_dir

    saved = {k: os.environ.pop(k, None) for k in ("DIGITMAP_CONFIG_DIR", "XDG_CONFIG_HOME")}
    try:
        os.environ["XDG_CONFIG_HOME"] = home
        assert config_dir() == Path(user_config_dir("digitmap-tui", appauthor=False))
    finally:
        for key, value in saved.items():
            os.environ.pop(key, None)
            if value is not None:
                os.environ[key] = value


def test_a_full_file_is_read(tmp_path):
    path = tmp_path / "c.toml"
    path.write_text(
        'method = "UMAP"\nglyphs = "shade"\ncolors = "256"\ntheme = "textual-light"\n'
        '[keys]\nsplit = "ctrl+k"\nquit = ["q", "Ctrl+Q"]\nmove_left = "left,h"\n',
        encoding="utf-8",
    )
    config = load_config(path)
    assert config.defaults() == {"method": "umap", "glyphs": "shade", "colors": "256"}
    assert config.theme == "textual-light"
    assert config.keys == {"split": ["ctrl+k"], "quit": ["q", "ctrl+Q"], "move_left": ["left", "h"]}


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("method = 'tsen'\n", "method = 'tsen': choose from auto, pca, tsne, umap, pacmap"),
        ("glyphs = 3\n", "glyphs = 3: choose from blocks, shade, ascii"),
        ("colour = 'none'\n", "unknown setting 'colour'"),
        ("theme = ''\n", "theme = '': expected a theme name"),
        ("method = \n", "not valid TOML"),
        ("keys = 'q'\n", "keys must be a table"),
        ("[keys]\nquit = 3\n", "keys.quit: expected a key or a list of keys"),
        ("[keys]\nquit = []\n", "keys.quit: no keys given"),
        ("[keys]\nquit = 'q'\nsplit = 'q'\n", "keys.split: 'q' is already bound to 'quit'"),
        ("[keys]\nquit = 'hyperdrive+q'\n", "unknown modifier 'hyperdrive'"),
        ("[keys]\nquit = 'ctrl+no way'\n", "not a key name"),
        ("[keys]\n'Quit!' = 'q'\n", "keys.Quit!: not an action name"),
    ],
)
def test_a_bad_file_is_one_line_naming_the_file_and_setting(tmp_path, text, message):
    path = tmp_path / "c.toml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(InputError) as info:
        load_config(path)
    assert str(info.value).startswith(f"{path}: ")
    assert message in str(info.value) and "\n" not in str(info.value)


def test_unknown_actions_are_refused_when_the_actions_are_known():
    assert parse_keys({"quit": "q"}, actions=["quit", "split"]) == {"quit": ["q"]}
    with pytest.raises(InputError, match=r"keys.splt: unknown action \(actions: quit, split\)"):
        parse_keys({"splt": "s"}, actions=["quit", "split"], where="f")


KEY = st.one_of(
    st.sampled_from(["q", "?", "/", "left", "f5", "question_mark", "pageup", "J"]),
    st.tuples(
        st.lists(st.sampled_from(["ctrl", "shift", "alt"]), unique=True, max_size=3),
        st.sampled_from(["a", "left", "k", "home"]),
    ).map(lambda t: "+".join([*t[0], t[1]])),
)


@given(
    st.dictionaries(
        st.sampled_from(["quit", "split", "search", "zoom_in"]),
        st.lists(KEY, min_size=1, max_size=3),
    )
)
def test_parse_keys_invariants(table):
    """Every key belongs to one action; normalising is idempotent; order is kept."""
    try:
        parsed = parse_keys(table)
    except InputError as exc:
        assert "already bound" in str(exc)
        return
    owners = [k for keys in parsed.values() for k in keys]
    assert len(owners) == len(set(owners))
    for action, keys in parsed.items():
        assert [normalise_key(k) for k in keys] == keys
        assert keys == list(dict.fromkeys(normalise_key(k) for k in table[action]))


def test_remember_sets_the_theme_and_keeps_the_rest(tmp_path):
    path = tmp_path / "sub" / "config.toml"
    remember("theme", "nord", path)
    assert load_config(path).theme == "nord"
    path.write_text('# mine\nmethod = "pca"\n\n[keys]\nquit = "q"\n', encoding="utf-8")
    remember("theme", 'gruvbox "x"', path)
    text = path.read_text(encoding="utf-8")
    assert text.startswith('# mine\nmethod = "pca"\n')
    config = load_config(path)
    assert (config.theme, config.method, config.keys) == ('gruvbox "x"', "pca", {"quit": ["q"]})
    remember("theme", "nord", path)
    assert path.read_text(encoding="utf-8").count("theme =") == 1
    with pytest.raises(InputError):
        remember("method", "tsen", path)
    assert load_config(path).method == "pca"  # a bad value never reaches the file


def _digitmap(args, config_text, tmp_path):
    config_dir = tmp_path / "cfg"
    config_dir.mkdir(exist_ok=True)
    (config_dir / "config.toml").write_text(config_text, encoding="utf-8")
    env = dict(os.environ, PYTHONPATH=str(REPO_ROOT), DIGITMAP_CONFIG_DIR=str(config_dir))
    return subprocess.run(
        [sys.executable, "-m", "digitmap_tui", *args],
        capture_output=True, text=True, env=env, timeout=120,
    )  # fmt: skip


def test_the_cli_takes_its_defaults_from_the_file_and_flags_win(tmp_path, cache_dir):
    import json

    done = _digitmap(["render", "--json"], 'method = "pca"\n', tmp_path)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["embedding"].startswith("PCA")
    done = _digitmap(["render", "--json", "--method", "tsne"], 'method = "pca"\n', tmp_path)
    assert json.loads(done.stdout)["embedding"].startswith("t-SNE")


def test_the_cli_reports_a_bad_file_in_one_line(tmp_path):
    done = _digitmap(["render", "--json"], "method = 'tsen'\n", tmp_path)
    assert done.returncode == 2
    path = Path(tmp_path / "cfg" / "config.toml")
    assert done.stderr == (
        f"digitmap: error: {path}: method = 'tsen': choose from auto, pca, tsne, umap, pacmap\n"
    )
    assert _digitmap(["--version"], "method = 'tsen'\n", tmp_path).returncode == 0
