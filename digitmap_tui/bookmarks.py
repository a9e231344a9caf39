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

Every operation takes a lock (``flock`` on ``.bookmarks.json.lock`` beside the file), reads
the file afresh, and writes it atomically, so two explorers saving at once merge their
bookmarks instead of erasing each other's. A damaged file (not JSON, nested absurdly deep,
larger than :data:`MAX_FILE_BYTES`) is never overwritten: it is moved aside to
``bookmarks.json.damaged-<timestamp>``, the store starts empty, and :attr:`problem` says so.

Untrusted text: names are checked on save (:func:`check_name`) and again on load: a name a
hand-edited file gives control characters is shown, and looked up, escaped
(``a\\x1bb``). Names may hold Rich markup characters (``[draft]``); they are never markup,
so a UI must show them escaped (``rich.markup.escape`` or a ``Text``). The directory must be
the user's alone (see :func:`digitmap_tui.fileio.trust_problem`). A saved *state* is checked
by :func:`validate_state`, the same rules as the command line's flags, before it is used.
"""

from __future__ import annotations

import builtins
import contextlib
import copy
import json
import os
import time
import unicodedata
from collections.abc import Callable, Iterator, Mapping
from datetime import datetime
from pathlib import Path
from typing import IO, Any

from digitmap_tui.errors import InputError
from digitmap_tui.export import json_default, write_atomic
from digitmap_tui.fileio import JSONFileError, json_dumps, read_json, trust_problem
from digitmap_tui.text import is_safe, safe

FILE_VERSION = 1
MAX_NAME_LENGTH = 64
#: A bookmarks file larger than this is treated as damaged (and a save may not grow past it).
MAX_FILE_BYTES = 8 * 2**20
#: How long a save waits for another process's lock before giving up.
LOCK_TIMEOUT_SECONDS = 10.0

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
            raise InputError(f"bookmark name '{safe(cleaned)}': contains a control character")
    return cleaned


# --------------------------------------------------------------------------- saved states

#: What a state may hold, and the flag whose rules its value follows.
STATE_KEYS = ("method", "params", "view", "box", "mode", "grid", "list_mode", "sort", "focus")


def validate_state(state: Any, where: str = "bookmark") -> dict[str, Any]:
    """A saved view state checked with the command line's rules, as a new plain dict.

    ``state`` comes from disk (a bookmark, a session), so every value is checked the way the
    matching flag is (``--method``, ``--seed``/``--perplexity``/``--n-neighbors``/
    ``--min-dist``, ``--view``, ``--box``, ``--mode``, ``--grid``, ``--list``, ``--sort``),
    before anything is drawn or printed. Keys that are missing stay missing (the caller keeps
    its own value); unknown keys are dropped, except ``command`` (a string, kept as text).
    ``where`` starts the one-line :class:`InputError` (``bookmark 'x': grid ["a", "b"]: ...``).
    What cannot be checked without the data (perplexity against N) is left to
    ``EmbedParams.validate``.
    """
    from digitmap_tui.methods.params import available_methods, canonical, saved_value_ok
    from digitmap_tui.methods.registry import PARAMS

    def fail(key: str, value: Any, rule: str) -> InputError:
        try:
            shown = json.dumps(value, default=str)
        except (TypeError, ValueError):
            shown = type(value).__name__
        shown = shown if len(shown) <= 60 else shown[:57] + "..."
        return InputError(safe(f"{where}: {key} {shown}: {rule}"))

    if not isinstance(state, Mapping):
        raise InputError(f"{where}: the saved state is not an object")
    out: dict[str, Any] = {}
    if "method" in state:
        method = state["method"]
        if not isinstance(method, str) or method not in available_methods():
            raise fail("method", method, f"expected one of {', '.join(available_methods())}")
        out["method"] = method
    if "params" in state and state["params"] is not None:
        params = state["params"]
        if not isinstance(params, Mapping):
            raise fail("params", params, "expected an object")
        checked: dict[str, Any] = {}
        for name, param in PARAMS.items():
            if name in params:
                value = params[name]
                if not saved_value_ok(param, value):
                    raise fail(name, value, f"expected {param.expectation()}")
                checked[name] = value if value is None else canonical(param, value)
        out["params"] = checked
    # The view state (view, box, grid, modes, list order and page, filter, mark): the
    # session's own rules, which are the flags' (one validator for both).
    from digitmap_tui.session import STATE_FIELDS, State

    fields = {k: state[k] for k in STATE_FIELDS if k in state}
    try:
        checked_state = State.from_dict(fields).to_dict()
    except InputError as exc:
        raise InputError(f"{where}: {exc}") from None
    out.update({k: checked_state[k] for k in fields})
    if isinstance(state.get("command"), str):
        out["command"] = state["command"]
    return out


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
        """Every scope with bookmarks: ``(key, dataset name, embedding, number of bookmarks)``.

        The dataset and embedding texts come from the file: they are returned escaped
        (:func:`digitmap_tui.text.safe`), safe for a terminal, not yet for Rich markup.
        """
        data = self._read()
        return [
            (
                key,
                safe(rec.get("dataset", "")),
                safe(rec.get("embedding", "")),
                len(rec["bookmarks"]),
            )
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
        with self._locked():
            return self._save(scope, name, plain, overwrite, dataset, embedding)

    def _save(
        self,
        scope: str,
        name: str,
        plain: dict[str, Any],
        overwrite: bool,
        dataset: str | None,
        embedding: str | None,
    ) -> str:
        data = self._read()
        rec = data["scopes"].setdefault(scope, {"bookmarks": {}})
        if dataset is not None:
            rec["dataset"] = dataset
        if embedding is not None:
            rec["embedding"] = embedding
        marks = rec["bookmarks"]
        if name in marks and not overwrite:
            raise InputError(
                f"bookmark '{safe(name)}': exists; choose another name or overwrite it"
            )
        # Overwriting keeps the bookmark's place in the list (dict order is insertion order).
        marks[name] = {"saved": self._clock().isoformat(timespec="seconds"), "state": plain}
        # Keep the readable names first in the scope record, the bookmarks last.
        data["scopes"][scope] = _ordered_scope(rec)
        self._write(data)
        return name

    def rename(self, scope: str, old: str, new: str) -> str:
        """Rename bookmark ``old`` to ``new`` (same place in the list); return the new name."""
        new = check_name(new)
        with self._locked():
            data = self._read()
            marks = data["scopes"].get(scope, {}).get("bookmarks", {})
            old = old.strip()
            if old not in marks:
                raise InputError(_missing(old, builtins.list(marks)))
            if new == old:
                return new
            if new in marks:
                raise InputError(f"bookmark '{safe(new)}': exists; choose another name")
            data["scopes"][scope]["bookmarks"] = {
                (new if key == old else key): value for key, value in marks.items()
            }
            self._write(data)
        return new

    def delete(self, scope: str, name: str) -> None:
        """Delete bookmark ``name``; a scope left empty is removed from the file."""
        with self._locked():
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

    @property
    def lock_path(self) -> Path:
        """The lock file beside the bookmarks (``.bookmarks.json.lock``)."""
        return self.path.with_name(f".{self.path.name}.lock")

    @contextlib.contextmanager
    def _locked(self) -> Iterator[None]:
        """Hold the store's lock (read, change, write as one step); waits at most 10 s.

        Without ``fcntl`` (Windows) or where the lock file cannot be made (a read-only
        directory, where saving fails anyway), the operation runs unlocked.
        """
        try:
            import fcntl
        except ImportError:
            yield
            return
        self._check_directory(create=True)
        try:
            fd = os.open(self.lock_path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
        except OSError:
            yield
            return
        try:
            deadline = time.monotonic() + LOCK_TIMEOUT_SECONDS
            while True:
                try:
                    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                    break
                except BlockingIOError:
                    if time.monotonic() > deadline:
                        raise InputError(
                            f"{safe(self.path)}: bookmarks are locked by another process"
                            f" (for over {LOCK_TIMEOUT_SECONDS:g} s); try again"
                        ) from None
                    time.sleep(0.01)
            yield
        finally:
            os.close(fd)  # releases the lock

    def _check_directory(self, create: bool = False) -> None:
        """Refuse a data directory (or file) that someone else could have written."""
        directory = self.path.parent
        if create:
            try:
                directory.mkdir(mode=0o700, parents=True, exist_ok=True)
            except OSError:
                pass  # reported by the write itself
        for target, what in ((directory, "data directory"), (self.path, "bookmarks file")):
            problem = trust_problem(target)
            if problem:
                raise InputError(
                    f"{what} {safe(target)} is not safe to load from: {safe(problem)}; make it"
                    " yours alone (chown, chmod go-w) or set DIGITMAP_DATA_DIR to a directory"
                    " of your own"
                )

    def _read(self) -> dict[str, Any]:
        self._check_directory()
        try:
            data = read_json(self.path, MAX_FILE_BYTES)
        except FileNotFoundError:
            return _empty()
        except JSONFileError as exc:
            return self._set_aside(str(exc))
        except OSError as exc:
            raise InputError(
                f"{safe(self.path)}: cannot read bookmarks ({exc.strerror or exc})"
            ) from None
        version = data.get("version") if isinstance(data, dict) else None
        if isinstance(version, int) and not isinstance(version, bool) and version > FILE_VERSION:
            # A newer digitmap wrote it: not damaged, just not ours to rewrite.
            raise InputError(
                f"{safe(self.path)}: written by a newer digitmap-tui (format {version}); "
                "left untouched, upgrade to use these bookmarks"
            )
        reason = _structure_problem(data)
        if reason:
            return self._set_aside(reason)
        _escape_names(data)
        return data  # type: ignore[no-any-return]

    def _set_aside(self, reason: str) -> dict[str, Any]:
        from digitmap_tui.fileio import set_aside

        stamp = self._clock().strftime("%Y%m%d-%H%M%S")
        aside = set_aside(self.path, "bookmarks file", reason, stamp)
        self.problem = (
            f"{safe(self.path)}: damaged bookmarks file ({safe(reason)}); "
            f"moved aside to {safe(aside.name)}, starting with no bookmarks"
        )
        return _empty()

    def _write(self, data: dict[str, Any]) -> None:
        text = json_dumps(data, indent=2) + "\n"
        encoded = text.encode("utf-8")
        if len(encoded) > MAX_FILE_BYTES:
            raise InputError(
                f"{safe(self.path)}: bookmarks would exceed {MAX_FILE_BYTES // 2**20} MiB;"
                " delete some first"
            )

        def write(fh: IO[bytes]) -> None:
            fh.write(encoded)

        try:
            self.path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
            write_atomic(self.path, write)
        except OSError as exc:
            raise InputError(
                f"{safe(self.path)}: cannot save bookmarks ({exc.strerror or exc})"
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


def _escape_names(data: dict[str, Any]) -> None:
    """Names with control characters (from a hand-edited file) become their escaped form.

    The escaped name is what every list shows and what a lookup matches, so a name can never
    put a raw control character on a terminal; a later save writes it back escaped.
    """
    for rec in data["scopes"].values():
        marks = rec["bookmarks"]
        if all(is_safe(name) for name in marks):
            continue
        renamed: dict[str, Any] = {}
        for name, mark in marks.items():
            shown = safe(name)
            k = 2
            while shown in renamed or (shown != name and shown in marks):
                shown = f"{safe(name)} ({k})"
                k += 1
            renamed[shown] = mark
        rec["bookmarks"] = renamed


def _missing(name: str, available: builtins.list[str]) -> str:
    if not available:
        return f"bookmark '{safe(name)}': none saved for this dataset and embedding"
    shown = ", ".join(safe(n) for n in available[:20])
    more = f" and {len(available) - 20} more" if len(available) > 20 else ""
    return f"bookmark '{safe(name)}': not found; saved: {shown}{more}"
