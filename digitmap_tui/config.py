"""The user's settings: a small TOML file in the platform's config directory.

``~/.config/digitmap-tui/config.toml`` on Linux (``$DIGITMAP_CONFIG_DIR/config.toml`` when
set); every setting is optional and a flag on the command line wins over it::

    method = "umap"          # auto or a method's name (as --method): the default --method
    glyphs = "shade"         # blocks, shade or ascii: the default --glyphs
    colors = "256"           # auto, always, 16, 256, truecolor or none: the default --colors
    theme = "textual-light"  # the explorer's Textual theme

    [keys]                   # action = key or [keys], in Textual's key names
    split = "ctrl+k"
    quit = ["q", "ctrl+q"]

A file that cannot be used is an :class:`InputError` naming the file and the setting. The
explorer reads ``theme`` and ``keys`` through :func:`load_config`; :func:`parse_keys` is the
pure check of a ``[keys]`` table, given the explorer's action names.
"""

from __future__ import annotations

import os
import re
import sys
from collections.abc import Iterable, Mapping
from pathlib import Path

from digitmap_tui.choices import COLOR_CHOICES, GLYPH_STYLES
from digitmap_tui.errors import InputError
from digitmap_tui.methods import registry
from digitmap_tui.text import safe

TYPE_CHECKING = False  # not `from typing import ...` (see Config)
if TYPE_CHECKING:
    from typing import Any

FILE_NAME = "config.toml"
CHOICES: dict[str, tuple[str, ...]] = {
    "method": registry.choices(),
    "glyphs": GLYPH_STYLES,
    "colors": COLOR_CHOICES,
}
SETTINGS = (*CHOICES, "theme", "keys")

# A key as Textual names it: modifiers joined by "+", then a key name ("left", "question_mark",
# "f5") or one printable character ("?", "/", "J").
_MODIFIERS = ("ctrl", "shift", "alt", "meta", "super", "hyper")
_KEY_NAME = re.compile(r"[a-z][a-z0-9_]*|[0-9]")
_ACTION = re.compile(r"[a-z_][a-z0-9_]*")


class Config:
    """Settings from the config file; None (or empty) where the file says nothing.

    A plain class, not a dataclass or NamedTuple: every command reads the config before it
    parses its flags, and importing ``dataclasses`` or ``typing`` would cost a flag error a
    tenth of Python's own start-up each."""

    __slots__ = ("colors", "glyphs", "keys", "method", "path", "theme")

    def __init__(
        self,
        *,
        method: str | None = None,
        glyphs: str | None = None,
        colors: str | None = None,
        theme: str | None = None,
        keys: dict[str, list[str]] | None = None,
        path: Path | None = None,
    ) -> None:
        self.method, self.glyphs, self.colors, self.theme = method, glyphs, colors, theme
        self.keys: dict[str, list[str]] = dict(keys or {})
        self.path = path

    def _fields(self) -> tuple[object, ...]:
        return tuple(getattr(self, name) for name in self.__slots__)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Config) and self._fields() == other._fields()

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        inner = ", ".join(f"{name}={getattr(self, name)!r}" for name in self.__slots__)
        return f"Config({inner})"

    def defaults(self) -> dict[str, str]:
        """The command-line defaults this file changes (``{"method": "umap", ...}``)."""
        return {k: v for k in CHOICES if (v := getattr(self, k)) is not None}


def config_dir() -> Path:
    """``$DIGITMAP_CONFIG_DIR``, else the platform's user config directory for digitmap-tui."""
    override = os.environ.get("DIGITMAP_CONFIG_DIR")
    if override:
        return Path(override).expanduser()
    if sys.platform == "linux":
        # platformdirs' rule for Linux (the XDG spec: an absolute $XDG_CONFIG_HOME, else
        # ~/.config), without importing it: every command reads the config before parsing
        # its flags, and platformdirs costs ~8 ms (tempfile…). Tested against platformdirs.
        home = os.environ.get("XDG_CONFIG_HOME", "")
        base = Path(home) if os.path.isabs(home) else Path(os.path.expanduser("~/.config"))
        return base / "digitmap-tui"
    from platformdirs import user_config_dir

    return Path(user_config_dir("digitmap-tui", appauthor=False))


def config_path() -> Path:
    return config_dir() / FILE_NAME


def _toml() -> Any:
    if sys.version_info >= (3, 11):
        import tomllib
    else:  # pragma: no cover - Python 3.10
        import tomli as tomllib
    return tomllib


def load_config(path: Path | None = None, actions: Iterable[str] | None = None) -> Config:
    """Read and check the config file; a missing file is an empty Config.

    ``actions`` (the explorer's action names) makes an unknown action in ``[keys]`` an error;
    without it only the form of the table is checked.
    """
    path = config_path() if path is None else path
    where = safe(str(path))
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        return Config(path=path)
    except IsADirectoryError:
        raise InputError(f"{where}: is a directory, not a config file") from None
    except OSError as exc:
        raise InputError(f"{where}: cannot read ({exc.strerror or exc})") from None
    toml = _toml()
    try:
        table = toml.loads(raw.decode("utf-8"))
    except UnicodeDecodeError:
        raise InputError(f"{where}: not UTF-8 text") from None
    except toml.TOMLDecodeError as exc:
        raise InputError(f"{where}: not valid TOML ({safe(str(exc))})") from None
    return parse_config(table, where, actions, path)


def parse_config(
    table: Mapping[str, Any],
    where: str = "config",
    actions: Iterable[str] | None = None,
    path: Path | None = None,
) -> Config:
    """Check a parsed config table (pure); ``where`` names the file in messages."""
    for key in table:
        if key not in SETTINGS:
            raise InputError(
                f"{where}: unknown setting {safe(str(key))!r} (known: {', '.join(SETTINGS)})"
            )
    values: dict[str, str | None] = {}
    for key, choices in CHOICES.items():
        value = table.get(key)
        if value is not None and (not isinstance(value, str) or value.lower() not in choices):
            raise InputError(
                f"{where}: {key} = {safe(repr(value))}: choose from {', '.join(choices)}"
            )
        values[key] = value.lower() if isinstance(value, str) else None
    theme = table.get("theme")
    if theme is not None and (not isinstance(theme, str) or not theme.strip()):
        raise InputError(f"{where}: theme = {safe(repr(theme))}: expected a theme name")
    keys = parse_keys(table.get("keys", {}), actions, where)
    return Config(
        method=values["method"],
        glyphs=values["glyphs"],
        colors=values["colors"],
        theme=theme.strip() if isinstance(theme, str) else None,
        keys=keys,
        path=path,
    )


def parse_keys(
    table: Any, actions: Iterable[str] | None = None, where: str = "config"
) -> dict[str, list[str]]:
    """A ``[keys]`` table as ``{action: [keys]}``, checked; InputError names the bad entry.

    Each value is a key, a comma-separated string of keys (Textual's binding form) or a list
    of keys. Key names are normalised (lower-case modifiers, ``"ctrl+K"`` keeps its ``K``);
    one key bound to two actions is an error, as is an action not in ``actions`` when given.
    """
    if not isinstance(table, Mapping):
        raise InputError(f"{where}: keys must be a table ([keys]), got {type(table).__name__}")
    known = None if actions is None else set(actions)
    out: dict[str, list[str]] = {}
    owner: dict[str, str] = {}
    for action, value in table.items():
        name = f"keys.{safe(str(action))}"
        if not isinstance(action, str) or not _ACTION.fullmatch(action):
            raise InputError(f"{where}: {name}: not an action name (lower case, a-z 0-9 _)")
        if known is not None and action not in known:
            raise InputError(
                f"{where}: {name}: unknown action (actions: {', '.join(sorted(known))})"
            )
        if isinstance(value, str):
            items = [part for part in value.split(",")] if "," in value.strip(",") else [value]
        elif isinstance(value, list) and all(isinstance(v, str) for v in value):
            items = list(value)
        else:
            raise InputError(f"{where}: {name}: expected a key or a list of keys")
        if not items:
            raise InputError(f"{where}: {name}: no keys given")
        keys: list[str] = []
        for item in items:
            key = normalise_key(item, f"{where}: {name}")
            if key in owner and owner[key] != action:
                raise InputError(f"{where}: {name}: {key!r} is already bound to {owner[key]!r}")
            owner[key] = action
            if key not in keys:
                keys.append(key)
        out[action] = keys
    return out


def normalise_key(text: str, context: str = "key") -> str:
    """``"Ctrl+Shift+Left"`` -> ``"ctrl+shift+left"``; one character stays as typed."""
    raw = text.strip()
    if not raw:
        raise InputError(f"{context}: empty key")
    if len(raw) == 1:
        if not raw.isprintable():
            raise InputError(f"{context}: {safe(repr(raw))} is not a printable key")
        return raw
    *mods, last = raw.split("+") if not raw.endswith("++") else [*raw[:-2].split("+"), "+"]
    modifiers = [m.strip().lower() for m in mods]
    for modifier in modifiers:
        if modifier not in _MODIFIERS:
            raise InputError(
                f"{context}: {safe(repr(raw))}: unknown modifier {modifier!r}"
                f" (use {', '.join(_MODIFIERS)})"
            )
    if len(set(modifiers)) != len(modifiers):
        raise InputError(f"{context}: {safe(repr(raw))}: a modifier twice")
    last = last.strip()
    if len(last) == 1 and last.isprintable():
        key = last
    elif _KEY_NAME.fullmatch(last.lower()):
        key = last.lower()
    else:
        raise InputError(f"{context}: {safe(repr(raw))}: not a key name")
    return "+".join([*modifiers, key])


def remember(setting: str, value: str, path: Path | None = None) -> None:
    """Set a top-level string ``setting`` (e.g. the theme) in the config file, atomically.

    The rest of the file (comments, order, the ``[keys]`` table) is kept as it was; the
    new value is checked by reading the result back before anything is replaced.
    """
    from digitmap_tui.export import write_atomic

    path = config_path() if path is None else path
    if setting not in CHOICES and setting != "theme":
        raise InputError(f"{setting}: not a setting that can be remembered")
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        text = ""
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"{safe(str(path))}: cannot read ({exc})") from None
    line = f"{setting} = {_toml_string(value)}"
    lines = text.splitlines()
    pattern = re.compile(rf"\s*{re.escape(setting)}\s*=")
    first_table = next((i for i, ln in enumerate(lines) if ln.lstrip().startswith("[")), len(lines))
    found = next((i for i in range(first_table) if pattern.match(lines[i])), None)
    if found is not None:
        lines[found] = line
    else:
        lines.insert(first_table, line)
    new_text = "\n".join(lines) + "\n"
    parse_config(_toml().loads(new_text), safe(str(path)))  # never write a file we cannot read
    path.parent.mkdir(parents=True, exist_ok=True)
    write_atomic(path, lambda fh: fh.write(new_text.encode("utf-8")))


def _toml_string(value: str) -> str:
    escaped = value.replace("\\", "\\\\").replace('"', '\\"')
    if any(ord(c) < 32 or ord(c) == 127 for c in escaped):
        raise InputError(f"{safe(value)!r}: control characters cannot be stored")
    return f'"{escaped}"'
