"""fileio: a full disk named in one line, capped JSON that never recurses, trusted directories."""

from __future__ import annotations

import contextlib
import errno
import json
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from digitmap_tui import fileio
from digitmap_tui.errors import InputError
from digitmap_tui.fileio import (
    JSONFileError,
    check_writable_dir,
    json_dumps,
    private_dir,
    read_json,
    tree_trust_problem,
    trust_problem,
    write_atomic,
    write_atomic_array,
)
from digitmap_tui.text import is_safe

IS_ROOT = hasattr(os, "geteuid") and os.geteuid() == 0
OTHER_UID = 54321  # a user id nobody on the test machine has


def leftovers(directory: Path) -> list[str]:
    return sorted(p.name for p in directory.iterdir() if p.name.endswith(".tmp"))


@contextlib.contextmanager
def tiny_tmpfs(where: Path, size: str = "64k", read_only: bool = False) -> Iterator[Path]:
    """A real, small file system (root and mount(8) needed, else the test is skipped)."""
    where.mkdir()
    options = f"size={size}" + (",ro" if read_only else "")
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", options, "tmpfs", str(where)],
        capture_output=True,
        check=False,
    )
    if mounted.returncode != 0:
        pytest.skip("cannot mount a tmpfs here (needs root and a mount namespace that allows it)")
    try:
        yield where
    finally:
        subprocess.run(["umount", "-l", str(where)], capture_output=True, check=False)


# --------------------------------------------------------------------------- full disks


@pytest.mark.parametrize(
    ("error", "reason"),
    [
        (OSError(errno.ENOSPC, "No space left on device"), "No space left on device"),
        (OSError(errno.EDQUOT, "Disk quota exceeded"), "Disk quota exceeded"),
        (OSError("10000 requested and 1008 written"), "short write: 10000 requested and 1008"),
    ],
    ids=["ENOSPC", "EDQUOT", "numpy-short-write"],
)
def test_a_full_disk_names_the_path_keeps_the_old_file_and_no_temp(
    tmp_path: Path, error: OSError, reason: str
) -> None:
    target = tmp_path / "coords.npy"
    target.write_bytes(b"precious")

    def full(fh: object) -> None:
        fh.write(b"half a fi")  # type: ignore[attr-defined]
        raise error

    with pytest.raises(InputError) as err:
        write_atomic(target, full)
    assert str(err.value).startswith(f"{target}: disk full (")
    assert reason in str(err.value)
    assert target.read_bytes() == b"precious"
    assert leftovers(tmp_path) == []


def test_other_write_errors_propagate_unchanged(tmp_path: Path) -> None:
    def broken(fh: object) -> None:
        raise OSError(errno.EIO, "Input/output error")

    with pytest.raises(OSError, match="Input/output error"):
        write_atomic(tmp_path / "x.bin", broken)
    assert leftovers(tmp_path) == []


def test_a_real_full_file_system_is_one_line_naming_the_path(tmp_path: Path) -> None:
    with tiny_tmpfs(tmp_path / "small") as small:
        target = small / "coords.npy"
        with pytest.raises(InputError) as err:
            write_atomic_array(target, np.zeros((100_000, 2)))
        assert str(err.value).startswith(f"{target}: disk full (")
        assert "\n" not in str(err.value)
        assert list(small.iterdir()) == []  # neither the file nor a temporary one


# --------------------------------------------------------------------------- writable directories


def test_check_writable_dir_accepts_a_writable_directory_and_leaves_nothing(tmp_path: Path):
    check_writable_dir(tmp_path, "--out x.npy")
    assert list(tmp_path.iterdir()) == []


def test_check_writable_dir_refuses_missing_and_non_directories(tmp_path: Path) -> None:
    with pytest.raises(InputError, match=r"^--out x: directory .*nowhere does not exist$"):
        check_writable_dir(tmp_path / "nowhere", "--out x")
    (tmp_path / "file").write_text("")
    with pytest.raises(InputError, match="is not a directory"):
        check_writable_dir(tmp_path / "file", "--out x")


def test_check_writable_dir_refuses_a_read_only_file_system(tmp_path: Path) -> None:
    with tiny_tmpfs(tmp_path / "ro", read_only=True) as ro:
        with pytest.raises(InputError) as err:
            check_writable_dir(ro, "--out c.npy")
        assert str(err.value).startswith(f"--out c.npy: cannot write in {ro} (")


def test_check_writable_dir_refuses_what_mkstemp_refuses(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Root writes anywhere whatever the mode bits: refuse the way a non-root user is refused.
    def denied(*args: object, **kwargs: object) -> None:
        raise PermissionError(errno.EACCES, "Permission denied")

    monkeypatch.setattr(fileio.tempfile, "mkstemp", denied)
    with pytest.raises(InputError, match=r"cannot write in .* \(Permission denied\)$"):
        check_writable_dir(tmp_path, "--out c.npy")


# --------------------------------------------------------------------------- capped JSON


def test_read_json_reads_a_normal_file(tmp_path: Path) -> None:
    path = tmp_path / "a.json"
    path.write_text('{"a": [1, {"b": "[[[[ not nesting ]]]] \\" {{"}]}')
    assert read_json(path, 1000) == {"a": [1, {"b": '[[[[ not nesting ]]]] " {{'}]}


def test_read_json_refuses_a_file_over_the_cap(tmp_path: Path) -> None:
    path = tmp_path / "big.json"
    path.write_text(json.dumps(["x" * 100] * 100))
    with pytest.raises(JSONFileError, match="larger than 1,000 bytes"):
        read_json(path, 1000)


def test_read_json_refuses_200000_deep_nesting_without_recursion(tmp_path: Path) -> None:
    path = tmp_path / "deep.json"
    path.write_text("[" * 200_000 + "]" * 200_000)
    with pytest.raises(JSONFileError, match="nested more than 64 levels deep"):
        read_json(path, 10**7)


@pytest.mark.parametrize(
    ("content", "fragment"),
    [(b"{oops", "not valid JSON: Expecting property name"), (b"\xff\xfe", "not valid JSON")],
)
def test_read_json_bad_content_is_one_line(tmp_path: Path, content: bytes, fragment: str):
    path = tmp_path / "bad.json"
    path.write_bytes(content)
    with pytest.raises(JSONFileError) as err:
        read_json(path, 1000)
    assert fragment in str(err.value) and "\n" not in str(err.value)


def test_read_json_missing_file_is_file_not_found(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError):
        read_json(tmp_path / "none.json", 1000)


@settings(max_examples=200, deadline=None)
@given(
    st.recursive(
        st.none() | st.booleans() | st.integers() | st.text(),
        lambda c: st.lists(c) | st.dictionaries(st.text(), c),
        max_leaves=30,
    )
)
def test_json_dumps_round_trips_and_is_terminal_safe(value: object) -> None:
    text = json_dumps(value)
    assert json.loads(text) == value
    assert is_safe(text.replace("\n", ""))


# --------------------------------------------------------------------------- trusted directories


def test_a_private_directory_is_trusted_and_created_0700(tmp_path: Path) -> None:
    made = private_dir(tmp_path / "a" / "cache", "cache directory", "or use --no-cache")
    assert made.is_dir()
    assert made.stat().st_mode & 0o777 == 0o700
    assert trust_problem(made) is None
    assert trust_problem(tmp_path / "missing") is None  # nothing there to load


def test_a_world_writable_directory_is_refused_with_the_fix(tmp_path: Path) -> None:
    open_dir = tmp_path / "shared"
    open_dir.mkdir()
    open_dir.chmod(0o777)
    assert trust_problem(open_dir) == "writable by group and others (mode 0777)"
    with pytest.raises(InputError) as err:
        private_dir(open_dir, "cache directory", "or use --no-cache")
    assert str(err.value) == (
        f"cache directory {open_dir} is not safe to load from: writable by group and others"
        " (mode 0777); make it yours alone (chown, chmod go-w) or use --no-cache"
    )


def test_a_group_writable_parent_without_sticky_bit_is_refused(tmp_path: Path) -> None:
    parent = tmp_path / "team"
    (parent / "cache").mkdir(parents=True, mode=0o700)
    parent.chmod(0o770)
    assert trust_problem(parent / "cache") == f"{parent} is writable by group (mode 0770)"
    parent.chmod(0o1777)  # like /tmp: others cannot rename our entries
    assert trust_problem(parent / "cache") is None


@pytest.mark.skipif(not IS_ROOT, reason="giving a file to another user needs root")
def test_a_directory_or_link_owned_by_someone_else_is_refused(tmp_path: Path) -> None:
    theirs = tmp_path / "theirs"
    theirs.mkdir(mode=0o700)
    os.chown(theirs, OTHER_UID, OTHER_UID)
    assert trust_problem(theirs) == f"owned by user id {OTHER_UID}, not by you (0)"
    ours = tmp_path / "ours"
    ours.mkdir(mode=0o700)
    link = tmp_path / "link"
    link.symlink_to(ours)
    os.lchown(link, OTHER_UID, OTHER_UID)
    inner = ours / "cache"
    inner.mkdir(mode=0o700)
    assert trust_problem(link / "cache") == f"{link} is a link owned by user id {OTHER_UID}"
    assert trust_problem(inner) is None


def numba_like_tree(root: Path) -> Path:
    """What numba leaves in its cache: index (.nbi) and code (.nbc) files, both pickles."""
    sub = root / "umap_layouts"
    sub.mkdir(parents=True, mode=0o700)
    root.chmod(0o700)
    for name in ("optimize-1.py311.nbi", "optimize-1.py311.1.nbc"):
        (sub / name).write_bytes(b"\x80\x04pickle")
        (sub / name).chmod(0o600)
    return sub


def test_a_numba_tree_of_ours_is_trusted(tmp_path: Path) -> None:
    numba_like_tree(tmp_path / "numba")
    assert tree_trust_problem(tmp_path / "numba") is None


def test_a_writable_file_a_link_or_a_fifo_in_a_numba_tree_is_refused(tmp_path: Path) -> None:
    sub = numba_like_tree(tmp_path / "numba")
    index = sub / "optimize-1.py311.nbi"
    index.chmod(0o666)
    assert tree_trust_problem(tmp_path / "numba") == f"{index} is writable by group and others"
    index.chmod(0o600)
    (sub / "evil.nbi").symlink_to(index)
    assert tree_trust_problem(tmp_path / "numba") == f"{sub / 'evil.nbi'} is a symbolic link"
    (sub / "evil.nbi").unlink()
    os.mkfifo(sub / "pipe.nbi", 0o600)
    assert tree_trust_problem(tmp_path / "numba") == f"{sub / 'pipe.nbi'} is not a regular file"


@pytest.mark.skipif(not IS_ROOT, reason="giving a file to another user needs root")
def test_a_file_planted_by_another_user_in_a_numba_tree_is_refused(tmp_path: Path) -> None:
    sub = numba_like_tree(tmp_path / "numba")
    planted = sub / "optimize-1.py311.nbi"
    os.chown(planted, OTHER_UID, OTHER_UID)
    assert tree_trust_problem(tmp_path / "numba") == (
        f"{planted} is owned by user id {OTHER_UID}, not by you (0)"
    )


def test_tree_trust_stops_after_a_limit(tmp_path: Path) -> None:
    root = tmp_path / "numba"
    root.mkdir(mode=0o700)
    for i in range(12):
        (root / f"{i}.nbi").write_bytes(b"")
        (root / f"{i}.nbi").chmod(0o600)
    assert tree_trust_problem(root, limit=10) == "more than 10 entries"
    assert tree_trust_problem(root) is None
