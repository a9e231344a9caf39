"""The layer boundary: the core never imports Textual, nor the heavy libraries at import time."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "digitmap_tui"
# Every module but the Textual front end (app.py, widgets/) and `python -m digitmap_tui`.
CORE = sorted(
    "digitmap_tui."
    + ".".join(path.relative_to(PACKAGE).with_suffix("").parts).removesuffix(".__init__")
    for path in PACKAGE.rglob("*.py")
    if path.name != "__main__.py"
    and path.relative_to(PACKAGE).parts[0] not in ("app.py", "widgets")
)
HEAVY = ["textual", "sklearn", "umap", "numba", "openTSNE", "scipy", "pynndescent", "matplotlib"]


@pytest.mark.parametrize("module", CORE)
def test_core_module_imports_no_textual_and_nothing_heavy(module):
    code = (
        f"import sys, {module}\n"
        f"loaded = [m for m in {HEAVY!r} if m in sys.modules]\n"
        "print(','.join(loaded))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "", f"{module} imports {out.stdout.strip()}"


def test_cli_imports_neither_numpy_nor_textual():
    """`digitmap --help`, `--version` and flag errors must not pay for numpy or Textual."""
    code = (
        "import sys, digitmap_tui.cli\n"
        "print(','.join(m for m in ('numpy', 'textual', 'rich') if m in sys.modules))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""


def test_app_does_not_import_the_cli():
    """The explorer gets its inputs from digitmap_tui.inputs, never from the command line module."""
    import ast
    from pathlib import Path

    package = Path(__file__).resolve().parents[1] / "digitmap_tui"
    for path in [package / "app.py", *sorted((package / "widgets").glob("*.py"))]:
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom):
                assert node.module != "digitmap_tui.cli", f"{path.name} imports digitmap_tui.cli"


@pytest.mark.parametrize(
    "args, status", [(["--help"], 0), (["--version"], 0), (["--no-such-flag"], 2)]
)
def test_small_commands_import_no_numpy_textual_or_rich(args, status):
    """`digitmap --help`, `--version` and a flag error, as a user runs them, per -X importtime."""
    import re

    done = subprocess.run(
        [sys.executable, "-X", "importtime", "-m", "digitmap_tui", *args],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == status
    names = re.findall(r"import time:\s+\d+ \|\s+\d+ \| *(\S+)", done.stderr)
    assert "digitmap_tui.cli" in names  # the report is there: the check below is real
    loaded = {n.split(".")[0] for n in names}
    assert loaded.isdisjoint({"numpy", "textual", "rich", *HEAVY}), sorted(loaded)
    # Nor the standard library's slow imports (each costs a tenth of Python's start-up).
    assert loaded.isdisjoint({"typing", "dataclasses", "inspect", "platformdirs"}), sorted(loaded)


def test_reading_the_explorers_keys_and_theme_imports_no_numpy_textual_or_rich(tmp_path):
    """cmd_explore checks the config's [keys] against the key table before anything heavy:
    that step alone (a bad config's exit 2 path) costs neither numpy, Textual nor Rich."""
    config = tmp_path / "config.toml"
    config.write_text('theme = "nord"\n[keys]\nsplit = "ctrl+k"\n', encoding="utf-8")
    code = (
        "import sys\n"
        "from digitmap_tui.cli import explorer_settings\n"
        "keys, theme = explorer_settings()\n"
        "assert keys == {'split': ['ctrl+k']} and theme == 'nord', (keys, theme)\n"
        "print(','.join(m for m in ('numpy', 'textual', 'rich') if m in sys.modules))\n"
    )
    env = {**os.environ, "DIGITMAP_CONFIG_DIR": str(tmp_path)}
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, env=env
    )
    assert out.stdout.strip() == ""
