"""Named bookmarks of views, per dataset and embedding, kept in one readable JSON file.

The file (``bookmarks.json`` in the user data directory) looks like::

    {
      "version": 1,
      "scopes": {
        "<scope key>": {
          "dataset": "digits",
          "embedding": "t-SNE perplexity 30 seed 0",
          "bookmarks": {
            "left cluster": {"saved": "2024-05-01T12:00:00", "state": {...}}
          }
        }
      }
    }

Every operation reads the file afresh and writes it atomically, so two explorers open at once
do not erase each other's bookmarks. A damaged file is never overwritten: it is moved aside
to ``bookmarks.json.damaged-<timestamp>``, the store starts empty, and :attr:`problem` says so.
"""

from __future__ import annotations

import builtins
import copy
import json
import os
import unicodedata
from collections.abc import Callable, Mapping
from datetime import datetime
from pathlib import Path
from typing import IO, Any

from digitmap_tui.errors import InputError
from digitmap_tui.export import json_default, write_atomic

FILE_VERSION = 1
MAX_NAME_LENGTH = 64

# Bidirectional overrides and isolates: harmless to store, but they reorder what the terminal
# shows after them, so a name could display as something else.
_BIDI_CONTROLS = frozenset("\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")


def default_data_dir(env: Mapping[str, str] | None = None) -> Path:
    """``$DIGITMAP_DATA_DIR`` if set, else ``platformdirs.user_data_dir("digitmap-tui")``."""
    env = os.environ if env is None else env
    override = env.get("DIGITMAP_DATA_DIR")
    if override:
        return Path(override).expanduser()
    import platformdirs  # only here: the store is built once, and tests pass a path

    return Path(platformdirs.user_data_dir("digitmap-tui"))


def default_bookmarks_path(env: Mapping[str, str] | None = None) -> Path:
    """Where bookmarks live unless a path is given: ``<data dir>/bookmarks.json``."""
    return default_data_dir(env) / "bookmarks.json"


def scope_key(dataset_fingerprint: str, embedding_desc: str) -> str:
    """The key bookmarks are filed under: ``"<16 hex of the fingerprint>:<embedding>"``.

    ``embedding_desc`` should name the method and its parameters (e.g. ``EmbedParams.describe()``)
    or the embedding file; runs of whitespace are folded so cosmetic changes don't split scopes.
    """
    fingerprint = dataset_fingerprint.strip().lower()
    desc = " ".join(embedding_desc.split())
    if not fingerprint:
        raise ValueError("scope_key needs the dataset fingerprint")
    if not desc:
        raise ValueError("scope_key needs an embedding description")
    return f"{fingerprint[:16]}:{desc}"


def check_name(name: str) -> str:
    """The bookmark name with outer spaces removed; :class:`InputError` if it is unusable.

    Names are 1 to 64 characters with no control characters (they are shown in a one-line
    list in the terminal).
    """
    cleaned = name.strip()
    if not cleaned:
        raise InputError("bookmark name: must not be empty")
    if len(cleaned) > MAX_NAME_LENGTH:
        raise InputError(
            f"bookmark name {cleaned[:20]!r}…: {len(cleaned)} characters; at most {MAX_NAME_LENGTH}"
        )
    for ch in cleaned:
        if ch in _BIDI_CONTROLS or unicodedata.category(ch) in ("Cc", "Cs", "Zl", "Zp"):
            raise InputError(f"bookmark name {cleaned!r}: contains a control character")
    return cleaned


class BookmarkStore:
    """Save, list, get, rename and delete named view states per scope (see :func:`scope_key`).

    ``path`` defaults to :func:`default_bookmarks_path`. A state is any JSON-ready dict; the
    explorer stores ``method``, ``params``, ``view``, ``box``, ``mode``, ``grid``, ``list_mode``
    and ``sort``. Bad names and missing bookmarks raise a one-line :class:`InputError`.
    """

    def __init__(
        self,
        path: Path | str | None = None,
        *,
        env: Mapping[str, str] | None = None,
        clock: Callable[[], datetime] = datetime.now,
    ) -> None:
        self.path = Path(path) if path is not None else default_bookmarks_path(env)
        self._clock = clock
        #: One line about a damaged file that was moved aside, until :meth:`take_problem`.
        self.problem: str | None = None

    # ----------------------------------------------------------------- reading

    def load(self) -> str | None:
        """Read the file now; return the one-line report of a damaged file moved aside, or None.

        The explorer calls this at start-up to tell the user early; every other method reads
        the file too and leaves such a report in :attr:`problem`.
        """
        self._read()
        return self.take_problem()

    def take_problem(self) -> str | None:
        """The pending damage report (once), or None."""
        problem, self.problem = self.problem, None
        return problem

    def scopes(self) -> builtins.list[tuple[str, str, str, int]]:
        """Every scope with bookmarks: ``(key, dataset name, embedding, number of bookmarks)``."""
        data = self._read()
        return [
            (key, str(rec.get("dataset", "")), str(rec.get("embedding", "")), len(rec["bookmarks"]))
            for key, rec in data["scopes"].items()
        ]

    def list(self, scope: str) -> builtins.list[tuple[str, dict[str, Any]]]:
        """``(name, state)`` of each bookmark in ``scope``, in the order they were first saved."""
        marks = self._read()["scopes"].get(scope, {}).get("bookmarks", {})
        return [(name, copy.deepcopy(rec["state"])) for name, rec in marks.items()]

    def names(self, scope: str) -> builtins.list[str]:
        """The bookmark names in ``scope``, in the order they were first saved."""
        return [name for name, _ in self.list(scope)]

    def get(self, scope: str, name: str) -> dict[str, Any]:
        """The state saved as ``name``; :class:`InputError` listing the saved names otherwise."""
        marks = self._read()["scopes"].get(scope, {}).get("bookmarks", {})
        key = name.strip()
        if key not in marks:
            raise InputError(_missing(key, builtins.list(marks)))
        return copy.deepcopy(marks[key]["state"])

    # ----------------------------------------------------------------- writing

    def save(
        self,
        scope: str,
        name: str,
        state: Mapping[str, Any],
        overwrite: bool = False,
        *,
        dataset: str | None = None,
        embedding: str | None = None,
    ) -> str:
        """Save ``state`` as ``name`` in ``scope``; return the name as stored (stripped).

        ``dataset`` and ``embedding`` are the human-readable names kept next to the scope so
        the file says what each scope is. An existing name is kept unless ``overwrite``.
        """
        name = check_name(name)
        plain = _plain_state(state)
        data = self._read()
        rec = data["scopes"].setdefault(scope, {"bookmarks": {}})
        if dataset is not None:
            rec["dataset"] = dataset
        if embedding is not None:
            rec["embedding"] = embedding
        marks = rec["bookmarks"]
        if name in marks and not overwrite:
            raise InputError(f"bookmark {name!r}: exists; choose another name or overwrite it")
        # Overwriting keeps the bookmark's place in the list (dict order is insertion order).
        marks[name] = {"saved": self._clock().isoformat(timespec="seconds"), "state": plain}
        # Keep the readable names first in the scope record, the bookmarks last.
        data["scopes"][scope] = _ordered_scope(rec)
        self._write(data)
        return name

    def rename(self, scope: str, old: str, new: str) -> str:
        """Rename bookmark ``old`` to ``new`` (same place in the list); return the new name."""
        new = check_name(new)
        data = self._read()
        marks = data["scopes"].get(scope, {}).get("bookmarks", {})
        old = old.strip()
        if old not in marks:
            raise InputError(_missing(old, builtins.list(marks)))
        if new == old:
            return new
        if new in marks:
            raise InputError(f"bookmark {new!r}: exists; choose another name")
        data["scopes"][scope]["bookmarks"] = {
            (new if key == old else key): value for key, value in marks.items()
        }
        self._write(data)
        return new

    def delete(self, scope: str, name: str) -> None:
        """Delete bookmark ``name``; a scope left empty is removed from the file."""
        data = self._read()
        marks = data["scopes"].get(scope, {}).get("bookmarks", {})
        name = name.strip()
        if name not in marks:
            raise InputError(_missing(name, builtins.list(marks)))
        del marks[name]
        if not marks:
            del data["scopes"][scope]
        self._write(data)

    # ----------------------------------------------------------------- the file

    def _read(self) -> dict[str, Any]:
        try:
            raw = self.path.read_bytes()
        except FileNotFoundError:
            return _empty()
        except OSError as exc:
            raise InputError(
                f"{self.path}: cannot read bookmarks ({exc.strerror or exc})"
            ) from None
        try:
            data = json.loads(raw.decode("utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            return self._set_aside(f"not valid JSON: {_first_line(exc)}")
        version = data.get("version") if isinstance(data, dict) else None
        if isinstance(version, int) and not isinstance(version, bool) and version > FILE_VERSION:
            # A newer digitmap wrote it: not damaged, just not ours to rewrite.
            raise InputError(
                f"{self.path}: written by a newer digitmap-tui (format {version}); "
                "left untouched, upgrade to use these bookmarks"
            )
        reason = _structure_problem(data)
        if reason:
            return self._set_aside(reason)
        return data  # type: ignore[no-any-return]

    def _set_aside(self, reason: str) -> dict[str, Any]:
        stamp = self._clock().strftime("%Y%m%d-%H%M%S")
        aside = self.path.with_name(f"{self.path.name}.damaged-{stamp}")
        k = 2
        while aside.exists():
            aside = self.path.with_name(f"{self.path.name}.damaged-{stamp}-{k}")
            k += 1
        try:
            os.replace(self.path, aside)
        except OSError as exc:
            # Starting empty would overwrite the damaged file on the next save: refuse instead.
            raise InputError(
                f"{self.path}: damaged bookmarks file ({reason}) and cannot move it aside "
                f"({exc.strerror or exc}); fix or remove it"
            ) from None
        self.problem = (
            f"{self.path}: damaged bookmarks file ({reason}); "
            f"moved aside to {aside.name}, starting with no bookmarks"
        )
        return _empty()

    def _write(self, data: dict[str, Any]) -> None:
        text = json.dumps(data, indent=2, ensure_ascii=False) + "\n"

        def write(fh: IO[bytes]) -> None:
            fh.write(text.encode("utf-8"))

        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            write_atomic(self.path, write)
        except OSError as exc:
            raise InputError(
                f"{self.path}: cannot save bookmarks ({exc.strerror or exc})"
            ) from None


def _empty() -> dict[str, Any]:
    return {"version": FILE_VERSION, "scopes": {}}


def _ordered_scope(rec: dict[str, Any]) -> dict[str, Any]:
    head: dict[str, Any] = {k: rec[k] for k in ("dataset", "embedding") if k in rec}
    rest = {k: v for k, v in rec.items() if k not in head and k != "bookmarks"}
    return {**head, **rest, "bookmarks": rec["bookmarks"]}


def _structure_problem(data: Any) -> str | None:
    """Why ``data`` is not a bookmarks file we can use, or None if it is."""
    if not isinstance(data, dict):
        return f"expected an object at the top, got {type(data).__name__}"
    version = data.get("version")
    if version != FILE_VERSION or isinstance(version, bool):
        return f'expected "version": {FILE_VERSION}, got {json.dumps(version)[:40]}'
    scopes = data.get("scopes")
    if not isinstance(scopes, dict):
        return '"scopes" must be an object'
    for key, rec in scopes.items():
        if not isinstance(rec, dict) or not isinstance(rec.get("bookmarks"), dict):
            return f'scope {key!r} has no "bookmarks" object'
        for name, mark in rec["bookmarks"].items():
            if not isinstance(mark, dict) or not isinstance(mark.get("state"), dict):
                return f'bookmark {name!r} has no "state" object'
    return None


def _plain_state(state: Mapping[str, Any]) -> dict[str, Any]:
    # A JSON round trip turns tuples into lists and numpy scalars into numbers, so what get()
    # returns later equals what save() stored now; anything unserialisable fails here, before
    # the file is touched.
    if not isinstance(state, Mapping):
        raise TypeError(f"bookmark state must be a mapping, got {type(state).__name__}")
    try:
        text = json.dumps(dict(state), default=json_default, allow_nan=False)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"bookmark state is not JSON-ready: {exc}") from None
    return json.loads(text)  # type: ignore[no-any-return]


def _missing(name: str, available: builtins.list[str]) -> str:
    if not available:
        return f"bookmark {name!r}: none saved for this dataset and embedding"
    return f"bookmark {name!r}: not found; saved: {', '.join(available)}"


def _first_line(exc: Exception) -> str:
    return str(exc).splitlines()[0] if str(exc) else type(exc).__name__
