"""Isolation for snapshot tests: own cache and data dirs, no colour or Textual settings leaking in.

Textual reads its ``TEXTUAL_*`` settings once, when it is imported (pytest-textual-snapshot
imports it before any conftest runs), so clearing the environment is not enough: the settings
that change a picture are pinned on ``textual.constants`` as well.
"""

from __future__ import annotations

import os

import pytest

# Variables pytest-textual-snapshot itself sets (its report's temporary directory) must stay.
_KEEP = ("TEXTUAL_SNAPSHOT_",)
_UNSET = ("NO_COLOR", "FORCE_COLOR", "DIGITMAP_DEBUG", "COLORTERM", "COLUMNS", "LINES")
_TEXTUAL_DEFAULTS = {
    "TEXTUAL_ANIMATIONS": "full",
    "COLOR_SYSTEM": "auto",
    "FILTERS": "",
    "DRIVER": None,
    "PRESS": "",
    "SCREENSHOT_DELAY": -1,
}


@pytest.fixture(autouse=True)
def isolated_env(tmp_path, monkeypatch):
    import textual.constants

    monkeypatch.setenv("DIGITMAP_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setenv("DIGITMAP_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("DIGITMAP_CONFIG_DIR", str(tmp_path / "config"))  # no user settings
    for name in list(os.environ):
        if name in _UNSET or (name.startswith("TEXTUAL_") and not name.startswith(_KEEP)):
            monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("TERM", "xterm-256color")
    for name, value in _TEXTUAL_DEFAULTS.items():
        monkeypatch.setattr(textual.constants, name, value)
    # A default argument of textual.filter: cannot be patched, only refused.
    if textual.constants.DIM_FACTOR != 0.66:
        pytest.fail("TEXTUAL_DIM_FACTOR was set when Textual was imported; unset it and rerun")
    yield


@pytest.fixture
def cache_dir(tmp_path):
    d = tmp_path / "cache"
    d.mkdir(exist_ok=True)
    return d
