"""The review log: label decisions on a dataset, appended to a file as they are made.

One file per dataset, named by the dataset's content hash (:meth:`Dataset.fingerprint`), in
``<data dir>/reviews/`` (``$DIGITMAP_DATA_DIR`` or the platform's user data directory). It
holds one JSON object per line::

    {"digitmap_review": 1, "fingerprint": "6a0d…", "n": 1797, "dataset": "digits"}
    {"seq": 1, "op": "relabel", "indices": [1118], "label": 7, "time": "2026-…"}
    {"seq": 2, "op": "confirm", "indices": [5]}
    {"seq": 3, "op": "invalid", "indices": [40, 41, 42]}
    {"seq": 4, "op": "undo", "undo": 3}

Decisions are ``confirm`` (the label is right), ``relabel`` (to ``label``) and ``invalid``
(not a valid sample); one record covers any number of indices (a whole selection is one
decision, and one undo). ``undo`` appends a record naming the decision it takes back; nothing
is ever rewritten. Each record is written with one ``write`` and ``fsync``-ed before
:meth:`ReviewLog.record` returns, so a killed process loses at most the decision it was
writing. The latest decision on a point wins; undoing it brings back the one before.

On open the file is replayed. A damaged *last* line (a write cut short) is ignored with a
warning and cut off before the next record is appended. Damage anywhere else (a line that is
not a record, an index out of range, an undo of nothing, another dataset's header) moves the
whole file aside to ``<name>.damaged-<time>`` (never deleted) and starts an empty log;
:attr:`ReviewLog.problem` says so in one line. The input files are never touched.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

import numpy as np

from digitmap_tui.errors import InputError

if TYPE_CHECKING:
    from digitmap_tui.data import Dataset

FILE_VERSION = 1
#: The decisions a record can carry (``undo`` takes one back).
DECISIONS = ("confirm", "relabel", "invalid")
#: Codes of :meth:`ReviewLog.status`: 0 = no decision.
STATUS_CODES = {"confirm": 1, "relabel": 2, "invalid": 3}
#: The largest label a relabel may give (labels are int64 elsewhere; this keeps them sane).
MAX_LABEL = 2**31 - 1


def default_review_dir(env: Mapping[str, str] | None = None) -> Path:
    """``<data dir>/reviews``: ``$DIGITMAP_DATA_DIR`` or the platform's user data directory."""
    from digitmap_tui.bookmarks import default_data_dir

    return default_data_dir(env) / "reviews"


def review_path(fingerprint: str, directory: Path | None = None) -> Path:
    """The review file of the dataset with this content hash."""
    fp = fingerprint.strip().lower()
    if not fp or any(c not in "0123456789abcdef" for c in fp):
        raise ValueError(f"not a dataset fingerprint: {fingerprint!r}")
    return (default_review_dir() if directory is None else Path(directory)) / f"{fp}.jsonl"


@dataclass(frozen=True)
class Decision:
    """One appended decision: ``op`` on ``indices`` (``label`` for a relabel)."""

    seq: int
    op: str
    indices: tuple[int, ...]
    label: int | None = None


@dataclass(frozen=True)
class Progress:
    """Where a review stands: ``reviewed`` of ``total`` suspects, and counts over all points."""

    reviewed: int  # suspects with a decision
    total: int  # suspects
    relabelled: int  # points whose label is now different (any point, suspect or not)
    invalid: int  # points marked not valid
    decided: int  # points with any decision

    def describe(self) -> str:
        """The status line's text, e.g. ``37 of 112 reviewed, 21 relabelled``."""
        text = f"{self.reviewed} of {self.total} reviewed, {self.relabelled} relabelled"
        if self.invalid:
            text += f", {self.invalid} invalid"
        return text


class _Damaged(Exception):
    """A record before the last line is unusable: the file gets moved aside."""


class ReviewLog:
    """The decisions on one dataset of ``n`` points, replayed from ``path`` and appended to it.

    Use :meth:`for_dataset` for the default place. Reading happens on construction (nothing is
    written until the first decision, so opening a log has no side effect on disk).
    ``warning`` holds a note about an ignored damaged last line, ``problem`` one about a
    damaged file moved aside; both are one line, or None.
    """

    def __init__(
        self,
        path: Path | str,
        *,
        fingerprint: str,
        n: int,
        name: str = "",
        clock: Callable[[], datetime] = datetime.now,
    ) -> None:
        self.path = Path(path)
        self.fingerprint = fingerprint
        self.n = int(n)
        self.name = name
        self._clock = clock
        self.warning: str | None = None
        self.problem: str | None = None
        self._stack: list[Decision] = []  # active decisions, oldest first
        self._next_seq = 1
        self._good_size = 0  # bytes of whole, valid lines: a damaged tail is cut here
        self._known_size = 0  # the file's size when we last read or wrote it
        self._status = np.zeros(self.n, dtype=np.int8)
        self._label = np.full(self.n, -1, dtype=np.int64)
        self._load()

    @classmethod
    def for_dataset(cls, dataset: Dataset, directory: Path | None = None) -> ReviewLog:
        """The log of ``dataset`` in ``directory`` (default: :func:`default_review_dir`)."""
        fp = dataset.fingerprint()
        return cls(review_path(fp, directory), fingerprint=fp, n=dataset.n, name=dataset.name)

    # ----------------------------------------------------------------- decisions

    def record(
        self, op: str, indices: Iterable[int] | np.ndarray, label: int | None = None
    ) -> Decision:
        """Append one decision on ``indices`` (one point or a whole selection); it is on disk
        (flushed and fsynced) when this returns. ``label`` is required for ``relabel`` only.
        """
        if op not in DECISIONS:
            raise ValueError(f"decision {op!r}: expected one of {', '.join(DECISIONS)}")
        idx = self._check_indices(indices)
        kept_label: int | None = None
        if op == "relabel":
            if label is None or not _is_label(label):
                raise ValueError(f"relabel needs a label 0..{MAX_LABEL}, got {label!r}")
            kept_label = int(label)
        elif label is not None:
            raise ValueError(f"{op} takes no label")

        def build() -> tuple[dict[str, Any], Decision]:
            decision = Decision(self._next_seq, op, idx, kept_label)
            rec: dict[str, Any] = {"seq": decision.seq, "op": op, "indices": list(idx)}
            if kept_label is not None:
                rec["label"] = kept_label
            rec["time"] = self._clock().isoformat(timespec="seconds")
            return rec, decision

        decision = self._commit(build)
        assert decision is not None
        self._apply(decision)
        return decision

    def confirm(self, indices: Iterable[int] | np.ndarray) -> Decision:
        """The labels of ``indices`` are right."""
        return self.record("confirm", indices)

    def relabel(self, indices: Iterable[int] | np.ndarray, label: int) -> Decision:
        """The points ``indices`` are ``label``."""
        return self.record("relabel", indices, label)

    def invalidate(self, indices: Iterable[int] | np.ndarray) -> Decision:
        """The points ``indices`` are not valid samples."""
        return self.record("invalid", indices)

    def undo(self) -> Decision | None:
        """Take back the latest decision still in force (appends an undo record); None if none."""

        def build() -> tuple[dict[str, Any], Decision] | None:
            if not self._stack:
                return None
            target = self._stack[-1]
            rec = {
                "seq": self._next_seq,
                "op": "undo",
                "undo": target.seq,
                "time": self._clock().isoformat(timespec="seconds"),
            }
            return rec, target

        target = self._commit(build)
        if target is None:
            return None
        self._next_seq += 1
        self._stack.pop()
        self._recompute(target.indices)
        return target

    @property
    def decisions(self) -> list[Decision]:
        """The decisions in force, oldest first (undone ones left out)."""
        return list(self._stack)

    # ----------------------------------------------------------------- views

    def status(self) -> np.ndarray:
        """``(N,)`` int8: 0 no decision, 1 confirmed, 2 relabelled, 3 invalid (latest wins)."""
        return self._status.copy()

    def reviewed_mask(self) -> np.ndarray:
        """``(N,)`` bool: points with a decision in force."""
        return self._status > 0

    def invalid_mask(self) -> np.ndarray:
        """``(N,)`` bool: points marked not a valid sample."""
        return self._status == STATUS_CODES["invalid"]

    def changed_mask(self, original: np.ndarray) -> np.ndarray:
        """``(N,)`` bool: points relabelled to a label other than their original one."""
        orig = self._check_original(original)
        return (self._status == STATUS_CODES["relabel"]) & (self._label != orig)

    def labels(self, original: np.ndarray, invalid: int | None = -1) -> np.ndarray:
        """The corrected labels: ``original`` with every relabel applied (a new array).

        Invalid points get ``invalid`` (-1 by default, as exported); ``invalid=None`` keeps
        their last label (e.g. to colour them on the map next to an invalid marker).
        """
        out = self._check_original(original).copy()
        relabelled = self._status == STATUS_CODES["relabel"]
        out[relabelled] = self._label[relabelled]
        if invalid is not None:
            out[self.invalid_mask()] = invalid
        return out

    def decision_of(self, index: int) -> str | None:
        """The decision in force on point ``index`` (``confirm``, ``relabel``, ``invalid``)."""
        code = int(self._status[index])
        return next((op for op, c in STATUS_CODES.items() if c == code), None)

    def label_of(self, index: int) -> int | None:
        """The label a relabel gave point ``index`` (None unless its latest decision is one)."""
        return int(self._label[index]) if self._status[index] == STATUS_CODES["relabel"] else None

    def progress(self, suspects: Sequence[int] | np.ndarray, original: np.ndarray) -> Progress:
        """Counts for the status line; ``suspects`` are the indices under review."""
        sus = np.asarray(suspects, dtype=np.int64)
        reviewed = self.reviewed_mask()
        return Progress(
            reviewed=int(np.count_nonzero(reviewed[sus])) if sus.size else 0,
            total=int(sus.size),
            relabelled=int(np.count_nonzero(self.changed_mask(original))),
            invalid=int(np.count_nonzero(self.invalid_mask())),
            decided=int(np.count_nonzero(reviewed)),
        )

    def changes(self, original: np.ndarray) -> list[tuple[int, int, int | None, str]]:
        """``(index, old, new, decision)`` of every point with a decision, by index.

        ``new`` is the corrected label (the old one when confirmed, None when invalid).
        """
        orig = self._check_original(original)
        rows: list[tuple[int, int, int | None, str]] = []
        names = {code: op for op, code in STATUS_CODES.items()}
        for i in np.flatnonzero(self._status).tolist():
            op = names[int(self._status[i])]
            new = None if op == "invalid" else int(self._label[i] if op == "relabel" else orig[i])
            rows.append((i, int(orig[i]), new, op))
        return rows

    # ----------------------------------------------------------------- state

    def _check_indices(self, indices: Iterable[int] | np.ndarray) -> tuple[int, ...]:
        arr = np.asarray(list(indices) if not isinstance(indices, np.ndarray) else indices)
        if arr.size == 0:
            raise ValueError("a decision needs at least one point")
        if arr.ndim != 1 or not (np.issubdtype(arr.dtype, np.integer) or arr.dtype == bool):
            raise ValueError("indices must be a 1-D list of integers")
        if arr.dtype == bool:
            raise ValueError("indices must be integers, not booleans")
        if arr.min() < 0 or arr.max() >= self.n:
            raise ValueError(f"indices must lie in 0..{self.n - 1}")
        # Sorted and distinct: a selection is a set of points, and the file stays small.
        return tuple(int(i) for i in np.unique(arr))

    def _check_original(self, original: np.ndarray) -> np.ndarray:
        orig = np.asarray(original)
        if orig.shape != (self.n,):
            raise ValueError(f"original labels: expected shape ({self.n},), got {orig.shape}")
        return orig.astype(np.int64, copy=False)

    def _apply(self, decision: Decision) -> None:
        self._stack.append(decision)
        self._next_seq = max(self._next_seq, decision.seq + 1)
        idx = np.asarray(decision.indices, dtype=np.int64)
        self._status[idx] = STATUS_CODES[decision.op]
        self._label[idx] = decision.label if decision.label is not None else -1

    def _recompute(self, indices: Sequence[int]) -> None:
        """After an undo: each point of ``indices`` takes its latest decision still in force."""
        todo = np.zeros(self.n, dtype=bool)
        todo[np.asarray(indices, dtype=np.int64)] = True
        self._status[todo] = 0
        self._label[todo] = -1
        for decision in reversed(self._stack):
            if not todo.any():
                break
            idx = np.asarray(decision.indices, dtype=np.int64)
            hit = idx[todo[idx]]
            self._status[hit] = STATUS_CODES[decision.op]
            self._label[hit] = decision.label if decision.label is not None else -1
            todo[hit] = False

    # ----------------------------------------------------------------- the file

    def _header(self) -> dict[str, Any]:
        return {
            "digitmap_review": FILE_VERSION,
            "fingerprint": self.fingerprint,
            "n": self.n,
            "dataset": self.name,
        }

    def _load(self) -> None:
        try:
            raw = self.path.read_bytes()
        except FileNotFoundError:
            return
        except OSError as exc:
            raise InputError(
                f"{self.path}: cannot read the review ({exc.strerror or exc})"
            ) from None
        try:
            self._replay(raw)
        except _Damaged as exc:
            self._set_aside(str(exc))
            return
        self._known_size = len(raw)

    def _reset(self) -> None:
        self._stack.clear()
        self._next_seq = 1
        self._good_size = 0
        self._known_size = 0
        self._status[:] = 0
        self._label[:] = -1

    def _replay(self, raw: bytes) -> None:
        lines = raw.split(b"\n")
        # The text after the last newline is a line cut short (or b"" for a whole file).
        complete, tail = lines[:-1], lines[-1]
        offset = 0
        for number, line in enumerate(complete, start=1):
            last = number == len(complete) and not tail
            try:
                rec = json.loads(line.decode("utf-8"))
                if number == 1:
                    self._check_header(rec)
                else:
                    self._replay_record(rec)
            except _Damaged as exc:
                if last:
                    return self._cut_tail(offset, f"line {number}: {exc}")
                raise _Damaged(f"line {number}: {exc}") from None
            except (UnicodeDecodeError, json.JSONDecodeError):
                if last:
                    return self._cut_tail(offset, f"line {number} is not JSON")
                raise _Damaged(f"line {number} is not JSON") from None
            offset += len(line) + 1
            self._good_size = offset
        if tail:
            self._cut_tail(offset, f"line {len(complete) + 1} was cut short")
        return None

    def _check_header(self, rec: Any) -> None:
        if not isinstance(rec, dict) or "digitmap_review" not in rec:
            raise _Damaged("no review header")
        version = rec.get("digitmap_review")
        if isinstance(version, int) and not isinstance(version, bool) and version > FILE_VERSION:
            raise InputError(
                f"{self.path}: written by a newer digitmap-tui (format {version}); "
                "left untouched, upgrade to continue this review"
            )
        if version != FILE_VERSION:
            raise _Damaged(f"unknown review format {json.dumps(version)[:20]}")
        if rec.get("fingerprint") != self.fingerprint or rec.get("n") != self.n:
            raise _Damaged("the header names another dataset")

    def _replay_record(self, rec: Any) -> None:
        if not isinstance(rec, dict):
            raise _Damaged("not a record")
        seq = rec.get("seq")
        op = rec.get("op")
        if not isinstance(seq, int) or isinstance(seq, bool) or seq < 1:
            raise _Damaged("no sequence number")
        if op == "undo":
            target = rec.get("undo")
            for pos in range(len(self._stack) - 1, -1, -1):
                if self._stack[pos].seq == target:
                    undone = self._stack.pop(pos)
                    self._recompute(undone.indices)
                    break
            else:
                raise _Damaged(f"undo of decision {target!r}, which is not in force")
            self._next_seq = max(self._next_seq, seq + 1)
            return
        if op not in DECISIONS:
            raise _Damaged(f"unknown decision {json.dumps(op)[:20]}")
        indices = rec.get("indices")
        if (
            not isinstance(indices, list)
            or not indices
            or not all(_is_int(i) and 0 <= i < self.n for i in indices)
        ):
            raise _Damaged(f"indices are not points 0..{self.n - 1}")
        label = rec.get("label")
        if op == "relabel" and not _is_label(label):
            raise _Damaged("relabel without a valid label")
        self._apply(
            Decision(seq, op, tuple(sorted(set(indices))), label if op == "relabel" else None)
        )

    def _cut_tail(self, offset: int, reason: str) -> None:
        # Only the last line: a record whose write was cut short. It is ignored now and cut
        # off before the next append (so no record is ever glued to half a line).
        self._good_size = offset
        self.warning = f"{self.path.name}: ignored an incomplete last decision ({reason})"

    def _set_aside(self, reason: str) -> None:
        from digitmap_tui.fileio import set_aside

        stamp = self._clock().strftime("%Y%m%d-%H%M%S")
        aside = set_aside(self.path, "review file", reason, stamp)
        self.problem = (
            f"{self.path}: damaged review file ({reason}); moved aside to {aside.name}, "
            "starting a new review"
        )
        self._reset()

    def _commit(
        self, build: Callable[[], tuple[dict[str, Any], Decision] | None]
    ) -> Decision | None:
        """Append the record ``build()`` makes, under an exclusive lock, and fsync it.

        If another process appended since we last read the file, its records are replayed
        first (so ``build`` numbers and targets the right decision and nothing is cut off).
        Returns the decision ``build`` paired with its record; None when it built nothing.
        """
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_APPEND, 0o666)
        except OSError as exc:
            raise InputError(
                f"{self.path}: cannot save the review ({exc.strerror or exc})"
            ) from None
        try:
            _lock(fd)
            size = os.fstat(fd).st_size
            if size != self._known_size:
                self._catch_up(fd, size)
            built = build()
            if built is None:
                return None
            rec, decision = built
            if size > self._good_size:
                os.ftruncate(fd, self._good_size)  # drop a cut-short last line first
                size = self._good_size
            out = b""
            if size == 0:
                out = (json.dumps(self._header(), separators=(",", ":")) + "\n").encode()
            out += (json.dumps(rec, separators=(",", ":")) + "\n").encode("utf-8")
            _write_all(fd, out)  # one write: a reader sees whole lines or a cut-short last one
            os.fsync(fd)
            self._good_size = self._known_size = size + len(out)
        except OSError as exc:
            raise InputError(
                f"{self.path}: cannot save the review ({exc.strerror or exc})"
            ) from None
        finally:
            os.close(fd)  # also releases the lock
        self.warning = None
        return decision

    def _catch_up(self, fd: int, size: int) -> None:
        """Replay the file as it is now (another process wrote to it since we read it)."""
        raw = os.pread(fd, size, 0) if size else b""
        self._reset()
        try:
            self._replay(raw)
        except _Damaged as exc:
            raise InputError(
                f"{self.path}: changed by another process and now damaged ({exc}); "
                "decision not saved, reopen to continue"
            ) from None
        self._known_size = size


def _lock(fd: int) -> None:
    # Two explorers on one dataset append in turn; where there is no flock, appends of whole
    # lines with O_APPEND still never interleave within a line.
    try:
        import fcntl
    except ImportError:  # pragma: no cover - not on POSIX
        return
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
    except OSError:
        pass


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        written = os.write(fd, view)
        view = view[written:]


def _is_int(value: Any) -> bool:
    return isinstance(value, (int, np.integer)) and not isinstance(value, bool)


def _is_label(value: Any) -> bool:
    return _is_int(value) and 0 <= int(value) <= MAX_LABEL


# --------------------------------------------------------------------------- export


def write_labels(path: Path | str, labels: np.ndarray) -> Path:
    """Write corrected labels to ``.npy`` (int64, -1 = invalid) or ``.csv`` (``index,label``,
    the label empty when invalid); atomic, and never over an existing file.
    """
    from digitmap_tui.export import write_atomic

    path = _check_out(path, (".npy", ".csv"))
    lab = np.ascontiguousarray(labels, dtype=np.int64)

    def write(fh: IO[bytes]) -> None:
        if path.suffix.lower() == ".npy":
            np.save(fh, lab, allow_pickle=False)
            return
        rows = ["index,label"]
        rows.extend(f"{i},{v if v >= 0 else ''}" for i, v in enumerate(lab.tolist()))
        fh.write(("\n".join(rows) + "\n").encode("utf-8"))

    _write_new(path, write, write_atomic)
    return path


def write_changes(path: Path | str, rows: Sequence[tuple[int, int, int | None, str]]) -> Path:
    """Write ``index,old,new,decision`` rows (see :meth:`ReviewLog.changes`) to a new ``.csv``."""
    from digitmap_tui.export import write_atomic

    path = _check_out(path, (".csv",))
    lines = ["index,old,new,decision"]
    lines.extend(f"{i},{old},{'' if new is None else new},{op}" for i, old, new, op in rows)
    text = "\n".join(lines) + "\n"

    def write(fh: IO[bytes]) -> None:
        fh.write(text.encode("utf-8"))

    _write_new(path, write, write_atomic)
    return path


def check_out_path(path: Path | str, suffixes: tuple[str, ...]) -> Path:
    """``path`` if a new file can be written there with one of ``suffixes``; InputError if not."""
    return _check_out(path, suffixes)


def _check_out(path: Path | str, suffixes: tuple[str, ...]) -> Path:
    from digitmap_tui.text import safe

    p = Path(path)
    shown = safe(str(path))
    if p.is_dir():
        raise InputError(f"{shown}: is a directory, not a file")
    if p.suffix.lower() not in suffixes:
        raise InputError(f"{shown}: use a {' or '.join(suffixes)} file name")
    if p.exists():
        raise InputError(f"{shown}: exists; choose another name")
    parent = p.parent if str(p.parent) else Path(".")
    if not parent.is_dir():
        raise InputError(f"{shown}: directory {safe(str(parent))} does not exist")
    return p


def _write_new(path: Path, write: Callable[[IO[bytes]], None], write_atomic: Any) -> None:
    try:
        write_atomic(path, write, overwrite=False)
    except OSError as exc:
        raise InputError(f"{path}: cannot write ({exc.strerror or exc})") from None


__all__ = [
    "DECISIONS",
    "Decision",
    "Progress",
    "ReviewLog",
    "check_out_path",
    "default_review_dir",
    "review_path",
    "write_changes",
    "write_labels",
]
