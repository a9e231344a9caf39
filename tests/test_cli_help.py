"""The command line's surface: top-level help, one colour flag, shell completion."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys

import pytest

from digitmap_tui.cli import build_parser, main
from tests.pty_program import REPO_ROOT, seed_cache


def test_top_level_help_shows_the_explorers_options(capsys):
    with pytest.raises(SystemExit) as info:
        main(["--help"])
    assert info.value.code == 0
    out = capsys.readouterr().out
    assert "explorer options (plain `digitmap` is `digitmap explore`)" in out
    for flag in ("--data", "--method", "--box", "--grid", "--colors", "--print-selection"):
        assert flag in out
    for command in ("render", "embed", "plot", "serve", "completion"):
        assert command in out
    assert out.count("-h, --help") == 1


def _render(cache_dir, *args):
    env = dict(os.environ, PYTHONPATH=str(REPO_ROOT))
    return subprocess.run(
        [sys.executable, "-m", "digitmap_tui", "render", "--box", "-55,-20,-30,-5", *args],
        capture_output=True, env=env, timeout=120,
    )  # fmt: skip


def test_colors_is_the_one_colour_flag_and_color_is_a_deprecated_alias(cache_dir):
    seed_cache(cache_dir)
    plain = _render(cache_dir)
    assert b"\x1b[" not in plain.stdout  # a pipe: no colour by default
    always = _render(cache_dir, "--colors", "always")
    assert b"\x1b[" in always.stdout and always.stderr == b""
    old = _render(cache_dir, "--color", "always")
    assert old.stdout == always.stdout
    assert old.stderr == (
        b"digitmap: warning: --color is deprecated; use --colors (auto, always, none,"
        b" 16, 256 or truecolor)\n"
    )
    never = _render(cache_dir, "--color", "never")
    assert never.stdout == _render(cache_dir, "--colors", "none").stdout
    assert "--color " not in build_parser().format_help()


@pytest.mark.parametrize("shell", ["bash", "zsh"])
def test_completion_scripts_name_every_subcommand_and_flag(shell, capsys):
    assert main(["completion", shell]) == 0
    script = capsys.readouterr().out
    for word in ("explore", "render", "plot", "serve", "--data", "--box", "--twin", "--public"):
        assert word in script


def test_the_bash_script_completes_in_bash(capsys, tmp_path):
    if shutil.which("bash") is None:
        pytest.skip("no bash")
    main(["completion", "bash"])
    script = tmp_path / "digitmap.bash"
    script.write_text(capsys.readouterr().out)
    probe = (
        f"source {script}\n"
        "COMP_WORDS=(digitmap pl); COMP_CWORD=1; COMP_LINE='digitmap pl'; COMP_POINT=11\n"
        "_shtab_digitmap digitmap pl digitmap\n"
        'echo "${COMPREPLY[@]}"\n'
        "COMP_WORDS=(digitmap plot --tw); COMP_CWORD=2; COMP_LINE='digitmap plot --tw'\n"
        "COMP_POINT=18; _shtab_digitmap digitmap --tw plot\n"
        'echo "${COMPREPLY[@]}"\n'
    )
    done = subprocess.run(["bash", "-c", probe], capture_output=True, text=True, timeout=30)
    lines = done.stdout.split("\n")
    assert lines[0].split() == ["plot"], done.stdout + done.stderr
    assert "--twin" in lines[1].split()
