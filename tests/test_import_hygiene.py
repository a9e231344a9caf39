"""The layer boundary: the core never imports Textual, nor the heavy libraries at import time."""

from __future__ import annotations

import subprocess
import sys

import pytest

CORE = [
    "digitmap_tui.data",
    "digitmap_tui.embed",
    "digitmap_tui.cache",
    "digitmap_tui.jobs",
    "digitmap_tui.grid",
    "digitmap_tui.selection",
    "digitmap_tui.glyphs",
    "digitmap_tui.maprender",
    "digitmap_tui.analysis",
    "digitmap_tui.render",
    "digitmap_tui.export",
    "digitmap_tui.bookmarks",
    "digitmap_tui.clipboard",
    "digitmap_tui.cli",
]
HEAVY = ["textual", "sklearn", "umap", "numba", "openTSNE", "scipy", "pynndescent"]


@pytest.mark.parametrize("module", CORE)
def test_core_module_imports_no_textual_and_nothing_heavy(module):
    code = (
        f"import sys, {module}\n"
        f"loaded = [m for m in {HEAVY!r} if m in sys.modules]\n"
        "print(','.join(loaded))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "", f"{module} imports {out.stdout.strip()}"
