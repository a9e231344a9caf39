"""What ships: metadata, the minimum versions CI proves, a complete sdist, honest errors."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import tarfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10
    import tomli as tomllib


def _pyproject() -> dict:
    return tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))


def _name(requirement: str) -> str:
    return re.split(r"[<>=!~;\[ ]", requirement, maxsplit=1)[0].strip().lower()


def _lower_bound(requirement: str) -> str | None:
    found = re.search(r">=\s*([0-9][0-9a-zA-Z.]*)", requirement)
    return found.group(1) if found else None


def _release(version: str) -> tuple[int, ...]:
    parts = [int(p) for p in version.split(".")]
    while parts and parts[-1] == 0:  # 1.3 == 1.3.0
        parts.pop()
    return tuple(parts)


def _min_pins() -> dict[str, str]:
    pins = {}
    for line in (ROOT / ".ci" / "min-versions.txt").read_text(encoding="utf-8").splitlines():
        line = line.split("#", 1)[0].strip()
        if line:
            name, version = line.split("==")
            pins[name.strip().lower()] = version.strip()
    return pins


def test_min_versions_pin_exactly_the_declared_lower_bounds():
    """CI installs .ci/min-versions.txt; it proves nothing unless it equals pyproject's floors."""
    project = _pyproject()["project"]
    declared = list(project["dependencies"]) + list(project["optional-dependencies"]["plot"])
    pins = _min_pins()
    for requirement in declared:
        name, bound = _name(requirement), _lower_bound(requirement)
        assert bound is not None, f"{requirement}: no lower bound"
        assert name in pins, f"{name} is missing from .ci/min-versions.txt"
        assert _release(pins.pop(name)) == _release(bound), requirement
    assert not pins, f"pinned but not declared: {sorted(pins)}"


def test_textual_has_an_upper_bound_below_its_next_major():
    """Private Textual APIs are touched (widgets/wire.py): a new major must be tried first."""
    from importlib.metadata import version

    (textual,) = [r for r in _pyproject()["project"]["dependencies"] if _name(r) == "textual"]
    upper = re.search(r"<\s*([0-9]+)(\.0)*\s*(,|$)", textual)
    assert upper is not None, f"{textual}: no upper bound at a major version"
    assert int(version("textual").split(".")[0]) < int(upper.group(1))


def test_metadata_is_spdx_with_a_license_file_and_classifiers():
    project = _pyproject()["project"]
    assert project["license"] == "MIT"
    assert project["license-files"] == ["LICENSE"]
    text = (ROOT / "LICENSE").read_text(encoding="utf-8")
    assert text.startswith("MIT License") and "digitmap-tui developers" in text
    versions = {
        c.rsplit(" :: ", 1)[1]
        for c in project["classifiers"]
        if re.fullmatch(r"Programming Language :: Python :: 3\.\d+", c)
    }
    assert versions == {"3.10", "3.11", "3.12", "3.13"}
    assert not any(c.startswith("License ::") for c in project["classifiers"])  # SPDX only
    assert project["requires-python"] == ">=3.10"


def _build_sdist(tmp_path: Path) -> Path:
    """Build the sdist from a copy of the source tree (the build writes egg-info beside it)."""
    src = tmp_path / "src"
    ignore = shutil.ignore_patterns(
        ".venv*", ".git", "__pycache__", "*.egg-info", ".pytest_cache", ".mypy_cache",
        ".ruff_cache", ".hypothesis", "build", "dist", "snapshot_report.html",
    )  # fmt: skip
    shutil.copytree(ROOT, src, ignore=ignore)
    out = tmp_path / "dist"
    code = (
        "import sys\n"
        "from setuptools import build_meta\n"
        "print(build_meta.build_sdist(sys.argv[1]))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code, str(out)],
        cwd=src,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    return out / done.stdout.strip().splitlines()[-1]


def test_the_sdist_ships_a_test_suite_that_collects(tmp_path):
    """Every test module ships with what it imports (conftest, factory, fixtures, pty helper)."""
    sdist = _build_sdist(tmp_path)
    with tarfile.open(sdist) as tar:
        names = tar.getnames()
        top = names[0].split("/")[0]
        if hasattr(tarfile, "data_filter"):  # Python >= 3.10.12: refuse links out and the like
            tar.extractall(tmp_path / "unpacked", filter="data")
        else:  # pragma: no cover - our own archive, just built
            tar.extractall(tmp_path / "unpacked")
    shipped = {n.split("/", 1)[1] for n in names if "/" in n}
    for needed in (
        "LICENSE",
        "README.md",
        "pyproject.toml",
        "tests/conftest.py",
        "tests/factory.py",
        "tests/pty_program.py",
        "tests/fixtures/digits_tsne_seed0.npy",
        "snapshots/conftest.py",
        "digitmap_tui/app.tcss" if (ROOT / "digitmap_tui/app.tcss").exists() else "LICENSE",
        "digitmap_tui/py.typed",
    ):
        assert needed in shipped, f"{needed} is not in the sdist"
    # Every file the tests need from tests/ and snapshots/ is there: all of them, in fact.
    for folder in ("tests", "snapshots"):
        for path in (ROOT / folder).rglob("*"):
            rel = path.relative_to(ROOT).as_posix()
            if path.is_file() and "__pycache__" not in rel and not rel.endswith(".pyc"):
                assert rel in shipped, f"{rel} is not in the sdist"
    assert not any("__pycache__" in n or n.endswith(".pyc") for n in shipped)
    assert not any(n.startswith((".venv", ".git/", ".ci/")) for n in shipped)
    # The unpacked sdist's tests collect (imports resolve inside it, not in this checkout).
    unpacked = tmp_path / "unpacked" / top
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    collected = subprocess.run(
        [sys.executable, "-m", "pytest", "--collect-only", "-q", "-p", "no:xdist", "tests"],
        cwd=unpacked,
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
    )
    assert collected.returncode == 0, collected.stdout[-3000:] + collected.stderr[-2000:]
    assert "error" not in collected.stdout.lower().splitlines()[-1]
    ours = subprocess.run(
        [sys.executable, "-m", "pytest", "--collect-only", "-q", "-p", "no:xdist", "tests"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert _count(collected.stdout) == _count(ours.stdout) > 0


def _count(output: str) -> int:
    found = re.search(r"(\d+) tests? collected", output)
    return int(found.group(1)) if found else -1


def test_umap_without_numba_is_one_line_and_exit_2(tmp_path):
    """numba missing (a broken install): the intended message, not ModuleNotFoundError."""
    blocker = tmp_path / "blocker"
    blocker.mkdir()
    (blocker / "sitecustomize.py").write_text(
        "import importlib.abc, sys\n"
        "class Block(importlib.abc.MetaPathFinder):\n"
        "    def find_spec(self, name, path=None, target=None):\n"
        "        if name == 'numba' or name.startswith('numba.'):\n"
        "            raise ModuleNotFoundError(f\"No module named '{name}'\", name=name)\n"
        "sys.meta_path.insert(0, Block())\n",
        encoding="utf-8",
    )
    env = dict(os.environ, PYTHONPATH=f"{blocker}{os.pathsep}{ROOT}")
    done = subprocess.run(
        [sys.executable, "-m", "digitmap_tui", "embed", "--method", "umap", "--no-cache"],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    assert done.returncode == 2, done.stderr
    assert done.stderr == (
        "digitmap: error: UMAP needs umap-learn (numba is missing): pip install umap-learn\n"
    )
    assert done.stdout == ""


@pytest.mark.parametrize("module", ["numpy", "textual", "sklearn", "matplotlib"])
def test_importing_the_package_stays_cheap(module):
    """``import digitmap_tui`` (for the API) loads no numpy, Textual, scikit-learn or matplotlib."""
    code = f"import sys, digitmap_tui\nprint({module!r} in sys.modules)\n"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
