"""Files in and out, safely: atomic writes, capped JSON reads, and directories we may trust.

* :func:`write_atomic` writes through a temporary file and a rename, so a crash, a full disk
  or a kill leaves the old file (or nothing), never half a file; a full disk is a one-line
  :class:`InputError` that names the path.
* :func:`read_json` reads a JSON file no larger than a limit and never dies of a
  ``RecursionError`` on a hand-made 200,000-deep nesting.
* :func:`trust_problem` and :func:`private_dir` decide whether a cache or data directory may
  be read at all: it must be ours and not writable by anybody else, the way ssh and pip judge
  their files. The numba cache (pickles, which numba loads and so runs) is judged file by file
  with :func:`tree_trust_problem`.
"""

from __future__ import annotations

import errno
import functools
import json
import os
import re
import stat
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import IO, Any

from digitmap_tui.errors import InputError
from digitmap_tui.text import safe

__all__ = [
    "JSONFileError",
    "check_writable_dir",
    "json_dumps",
    "private_dir",
    "read_json",
    "tree_trust_problem",
    "trust_problem",
    "write_atomic",
    "write_atomic_array",
]

# --------------------------------------------------------------------------- atomic writes

# Errors that mean "the disk (or the quota) is full"; numpy reports a short write without an
# errno, as "<n> requested and <m> written".
_DISK_FULL = {errno.ENOSPC, getattr(errno, "EDQUOT", errno.ENOSPC), errno.EFBIG}
_SHORT_WRITE = re.compile(r"\d+ requested and \d+ written")


def _disk_full(exc: OSError) -> str | None:
    """A one-line reason when ``exc`` says the disk is full, else None."""
    if exc.errno in _DISK_FULL:
        return exc.strerror or os.strerror(exc.errno or errno.ENOSPC)
    if exc.errno is None and _SHORT_WRITE.search(str(exc)):
        return f"short write: {exc}"
    return None


def write_atomic(
    path: Path, write: Callable[[IO[bytes]], object], *, overwrite: bool = True
) -> None:
    """Write ``path`` through a temporary file in the same directory, then move it in place.

    A crash mid-write leaves the old file (or nothing) in place, never half a file, and no
    temporary file. With ``overwrite=False`` an existing ``path`` is never replaced, even one
    that appears while we write: :class:`InputError` ``"<path>: exists; choose another name"``.
    A full disk or quota (also when numpy reports a short write) is the :class:`InputError`
    ``"<path>: disk full (<reason>)"``; other errors of ``write`` propagate unchanged.
    """
    path = Path(path)
    directory = path.parent if str(path.parent) else Path(".")
    if not overwrite and path.exists():
        raise InputError(f"{safe(path)}: exists; choose another name")
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=directory)
    except OSError as exc:
        reason = _disk_full(exc)
        if reason:
            raise InputError(f"{safe(path)}: disk full ({reason})") from None
        raise InputError(f"{safe(path)}: cannot write here ({exc.strerror or exc})") from None
    moved = False
    try:
        _set_mode(fd, path)
        try:
            with os.fdopen(fd, "wb") as fh:
                write(fh)
                fh.flush()
                os.fsync(fh.fileno())
        except OSError as exc:
            reason = _disk_full(exc)
            if reason is None:
                raise
            raise InputError(f"{safe(path)}: disk full ({safe(reason)})") from None
        if overwrite:
            os.replace(tmp, path)
            moved = True
        else:
            moved = _link_no_clobber(tmp, path)
    finally:
        # After a failure, or after a hard link, the temporary name is still there: remove it.
        if not moved:
            try:
                os.unlink(tmp)
            except OSError:
                pass


def _set_mode(fd: int, path: Path) -> None:
    # mkstemp creates files readable by their owner only; a replaced file keeps its mode and a
    # new one gets the usual umask mode, as if opened with open(path, "w").
    try:
        mode = stat.S_IMODE(path.stat().st_mode)
    except OSError:
        mode = 0o666 & ~_umask()
    try:
        os.fchmod(fd, mode)
    except (OSError, AttributeError):  # no fchmod on Windows; the file still gets written
        pass


@functools.cache
def _umask() -> int:
    # /proc tells the umask without changing it; os.umask() must set it to read it, which
    # would briefly affect files other threads create.
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("Umask:"):
                return int(line.split()[1], 8)
    except (OSError, ValueError, IndexError):
        pass
    old = os.umask(0o022)
    os.umask(old)
    return old


def _link_no_clobber(tmp: str, path: Path) -> bool:
    """Move ``tmp`` to ``path`` unless ``path`` exists; True when ``tmp`` was renamed away."""
    # A hard link is the portable atomic "create only if absent": the check and the move are
    # one system call, so a file that appeared since our first check is not clobbered.
    try:
        os.link(tmp, path)
        return False
    except FileExistsError:
        raise InputError(f"{safe(path)}: exists; choose another name") from None
    except OSError as exc:
        if exc.errno not in (
            errno.EPERM,
            errno.ENOTSUP,
            errno.EOPNOTSUPP,
            errno.EXDEV,
            errno.ENOSYS,
        ):
            raise
        # File systems without hard links (FAT, some network mounts): check, then replace.
        if path.exists():
            raise InputError(f"{safe(path)}: exists; choose another name") from None
        os.replace(tmp, path)
        return True


def write_atomic_array(path: Path, array: Any) -> None:
    """Write an array as ``.npy`` or ``.csv`` (chosen by the suffix), atomically."""
    import numpy as np

    path = Path(path)
    if path.suffix.lower() == ".csv":
        header = "x,y" if array.ndim == 2 and array.shape[1] == 2 else ""
        write_atomic(
            path,
            lambda fh: np.savetxt(
                fh, array, delimiter=",", header=header, comments="", fmt="%.17g"
            ),
        )
    else:
        write_atomic(path, lambda fh: np.save(fh, np.asarray(array), allow_pickle=False))


def check_writable_dir(directory: Path, what: str) -> None:
    """Fail now, with one line naming ``what``, unless a file can be created in ``directory``.

    Used before long work whose result goes there (``embed --out``): permission bits do not
    tell the whole story (read-only mounts, ACLs, root), so a real temporary file is made and
    removed.
    """
    directory = Path(directory) if str(directory) else Path(".")
    try:
        if not directory.exists():
            raise InputError(f"{what}: directory {safe(directory)} does not exist")
        if not directory.is_dir():
            raise InputError(f"{what}: {safe(directory)} is not a directory")
        fd, tmp = tempfile.mkstemp(prefix=".digitmap-probe-", dir=directory)
    except OSError as exc:
        reason = _disk_full(exc)
        if reason:
            raise InputError(f"{what}: disk full ({reason})") from None
        raise InputError(
            f"{what}: cannot write in {safe(directory)} ({exc.strerror or exc})"
        ) from None
    os.close(fd)
    try:
        os.unlink(tmp)
    except OSError:
        pass


# --------------------------------------------------------------------------- capped JSON


# What json.dumps(ensure_ascii=False) leaves raw although a terminal acts on it (`cat`-ing the
# file): DEL, C1 controls, line/paragraph separators, bidi overrides, the BOM, and lone
# surrogates (a file name that is not UTF-8, which could not even be encoded). They only occur
# inside JSON strings, where a \\uXXXX escape means the same character.
_JSON_UNSAFE = re.compile("[\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069\ufeff\ud800-\udfff]")


def json_dumps(value: Any, **kwargs: Any) -> str:
    """``json.dumps`` keeping readable non-ASCII text, but escaping what a terminal acts on."""
    text = json.dumps(value, ensure_ascii=False, **kwargs)
    return _JSON_UNSAFE.sub(lambda m: f"\\u{ord(m.group()):04x}", text)


class JSONFileError(ValueError):
    """A JSON file that is too large, not UTF-8, not JSON or nested too deeply (one line)."""


#: Deepest nesting :func:`read_json` accepts; our files are at most six levels deep.
MAX_JSON_DEPTH = 64


def read_json(path: Path, limit_bytes: int) -> Any:
    """The parsed content of the JSON file ``path``, read only if it is at most ``limit_bytes``.

    :class:`JSONFileError` (one line) for a file that is too large, not UTF-8, not JSON, or
    nested more than :data:`MAX_JSON_DEPTH` levels (checked before parsing, so a 200,000-deep
    nesting costs one linear scan, never a ``RecursionError``). ``OSError`` (a missing file
    included) propagates.
    """
    with open(path, "rb") as fh:
        raw = fh.read(limit_bytes + 1)
    if len(raw) > limit_bytes:
        raise JSONFileError(f"larger than {limit_bytes:,} bytes")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise JSONFileError(f"not valid JSON: {exc}") from None
    depth = _json_depth(text)
    if depth > MAX_JSON_DEPTH:
        raise JSONFileError(f"nested more than {MAX_JSON_DEPTH} levels deep")
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise JSONFileError(f"not valid JSON: {safe(str(exc).splitlines()[0])}") from None
    except RecursionError:  # cannot happen after the depth check; kept as a last guard
        raise JSONFileError("nested too deeply") from None


_JSON_TOKENS = re.compile(r'"(?:[^"\\]|\\.)*"|[\[\]{}]')


def _json_depth(text: str) -> int:
    """The deepest bracket nesting of ``text``, brackets inside strings ignored (linear time)."""
    depth = deepest = 0
    for match in _JSON_TOKENS.finditer(text):
        token = match.group()
        if token in "[{":
            depth += 1
            deepest = max(deepest, depth)
        elif token in "]}":
            depth -= 1
    return deepest


# --------------------------------------------------------------------------- trusted directories


def _uid() -> int | None:
    return os.geteuid() if hasattr(os, "geteuid") else None


def _writable_by_others(mode: int) -> str | None:
    who = [name for bit, name in ((stat.S_IWGRP, "group"), (stat.S_IWOTH, "others")) if mode & bit]
    return " and ".join(who) if who else None


def trust_problem(path: Path) -> str | None:
    """Why ``path`` may hold something another user put there, or None if only we can.

    ``path`` (a directory or a file, following symbolic links) must be owned by us and not
    writable by group or others; every directory above it (as given and after resolving links)
    must be owned by us or root and not writable by others unless sticky (``/tmp``), else
    someone could swap ours for theirs; links on the way must be ours or root's. A path that
    does not exist holds nothing yet: None. Always None where there are no user ids (Windows).
    """
    uid = _uid()
    if uid is None:
        return None
    path = Path(os.path.abspath(path))
    try:
        st = os.stat(path)
    except FileNotFoundError:
        return None
    except OSError as exc:
        return f"cannot be checked ({exc.strerror or exc})"
    if st.st_uid != uid:
        return f"owned by user id {st.st_uid}, not by you ({uid})"
    others = _writable_by_others(st.st_mode)
    if others:
        return f"writable by {others} (mode {stat.S_IMODE(st.st_mode):04o})"
    real = Path(os.path.realpath(path))
    for chain in (path.parents, real.parents):
        for parent in chain:
            problem = _ancestor_problem(parent, uid)
            if problem:
                return problem
    return None


def _ancestor_problem(directory: Path, uid: int) -> str | None:
    try:
        link = os.lstat(directory)
        st = os.stat(directory)
    except OSError as exc:
        return f"{directory} cannot be checked ({exc.strerror or exc})"
    if stat.S_ISLNK(link.st_mode) and link.st_uid not in (uid, 0):
        return f"{directory} is a link owned by user id {link.st_uid}"
    if st.st_uid not in (uid, 0):
        return f"{directory} is owned by user id {st.st_uid}"
    others = _writable_by_others(st.st_mode)
    if others and not st.st_mode & stat.S_ISVTX:
        return f"{directory} is writable by {others} (mode {stat.S_IMODE(st.st_mode):04o})"
    return None


def tree_trust_problem(root: Path, *, limit: int = 100_000) -> str | None:
    """:func:`trust_problem` of ``root``, then of every file and directory below it.

    For caches that are *executed* (numba's index files are pickles): every entry must be a
    plain file or directory (no links), ours, and not writable by group or others. More than
    ``limit`` entries is itself a problem (nobody should make us scan forever).
    """
    problem = trust_problem(root)
    if problem:
        return problem
    uid = _uid()
    if uid is None or not os.path.isdir(root):
        return None
    seen = 0
    pending = [Path(root)]
    while pending:
        directory = pending.pop()
        try:
            entries = list(os.scandir(directory))
        except OSError as exc:
            return f"{directory} cannot be listed ({exc.strerror or exc})"
        for entry in entries:
            seen += 1
            if seen > limit:
                return f"more than {limit:,} entries"
            try:
                st = entry.stat(follow_symlinks=False)
            except OSError as exc:
                return f"{entry.path} cannot be checked ({exc.strerror or exc})"
            where = safe(entry.path)
            if stat.S_ISLNK(st.st_mode):
                return f"{where} is a symbolic link"
            if st.st_uid != uid:
                return f"{where} is owned by user id {st.st_uid}, not by you ({uid})"
            others = _writable_by_others(st.st_mode)
            if others:
                return f"{where} is writable by {others}"
            if stat.S_ISDIR(st.st_mode):
                pending.append(Path(entry.path))
            elif not stat.S_ISREG(st.st_mode):
                return f"{where} is not a regular file"
    return None


def private_dir(path: Path, what: str, fix: str) -> Path:
    """Create ``path`` (mode 0700) if missing; :class:`InputError` if it is not ours alone.

    ``what`` names the directory in the message ("cache directory"), ``fix`` says what to do
    instead ("or use --no-cache"). Returns ``path``.
    """
    path = Path(path)
    try:
        path.mkdir(mode=0o700, parents=True, exist_ok=True)
    except FileExistsError:
        raise InputError(f"{what} {safe(path)}: not a directory") from None
    except OSError as exc:
        raise InputError(f"{what} {safe(path)}: cannot create ({exc.strerror or exc})") from None
    if not path.is_dir():
        raise InputError(f"{what} {safe(path)}: not a directory")
    problem = trust_problem(path)
    if problem:
        raise InputError(
            f"{what} {safe(path)} is not safe to load from: {safe(problem)}; "
            f"make it yours alone (chown, chmod go-w) {fix}"
        )
    return path


def set_aside(path: Path, what: str, reason: str, stamp: str) -> Path:
    """Move a damaged file out of the way, never losing it: ``<name>.damaged-<stamp>`` (with
    ``-2``, ``-3`` … if taken). A file that cannot be moved is a one-line
    :class:`InputError` (starting afresh would overwrite it on the next save)."""
    aside = path.with_name(f"{path.name}.damaged-{stamp}")
    k = 2
    while aside.exists():
        aside = path.with_name(f"{path.name}.damaged-{stamp}-{k}")
        k += 1
    try:
        os.replace(path, aside)
    except OSError as exc:
        raise InputError(
            f"{safe(path)}: damaged {what} ({safe(reason)}) and cannot move it aside"
            f" ({exc.strerror or exc}); fix or remove it"
        ) from None
    return aside
