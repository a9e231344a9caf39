"""Isolation for every test: own cache and data dirs, no colour or Textual settings leaking in."""

from __future__ import annotations

import pytest


@pytest.fixture(autouse=True)
def isolated_env(tmp_path, monkeypatch):
    monkeypatch.setenv("DIGITMAP_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setenv("DIGITMAP_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("DIGITMAP_CONFIG_DIR", str(tmp_path / "config"))  # no user settings
    for name in ("NO_COLOR", "DIGITMAP_DEBUG", "TEXTUAL_THEME", "TEXTUAL_ANIMATIONS", "COLORTERM"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("TERM", "xterm-256color")
    # One thread per embedding: `pytest -n 2` already fills both cores, and oversubscribed
    # BLAS/openTSNE threads ran tests several times slower. Tests of threads name a count.
    monkeypatch.setenv("DIGITMAP_THREADS", "1")
    yield


@pytest.fixture
def cache_dir(tmp_path):
    d = tmp_path / "cache"
    d.mkdir(exist_ok=True)
    return d
