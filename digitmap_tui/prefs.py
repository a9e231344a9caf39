"""What the explorer remembers between runs: the image panel's width.

One small JSON object, ``layout.json``, in the data directory beside the bookmarks
(``$DIGITMAP_DATA_DIR``, else the platform's user data directory), e.g.
``{"panel_width": 64}``. It holds what a user sets with a key or the mouse rather than on
the command line. Remembering is best effort: a missing, damaged or foreign file reads as
"nothing remembered", a file in a directory others could write to is not read, and a save
that fails (a read-only home) changes nothing and says nothing.
"""

from __future__ import annotations

import json
from pathlib import Path

from digitmap_tui.bookmarks import default_data_dir
from digitmap_tui.errors import InputError
from digitmap_tui.fileio import JSONFileError, read_json, trust_problem, write_atomic

FILE_NAME = "layout.json"
#: Far more than the file ever holds; anything larger is not ours.
MAX_BYTES = 4096
#: Panel widths (columns) worth remembering; others are ignored when read.
WIDTH_RANGE = (10, 2000)


def layout_path() -> Path:
    """``<data dir>/layout.json``."""
    return default_data_dir() / FILE_NAME


def _read(path: Path) -> dict[str, object]:
    if trust_problem(path):
        return {}
    try:
        data = read_json(path, MAX_BYTES)
    except (OSError, JSONFileError):
        return {}
    return data if isinstance(data, dict) else {}


def remembered_panel_width(path: Path | None = None) -> int | None:
    """The panel width saved by :func:`remember_panel_width`, or None."""
    value = _read(layout_path() if path is None else path).get("panel_width")
    if isinstance(value, bool) or not isinstance(value, int):
        return None
    return value if WIDTH_RANGE[0] <= value <= WIDTH_RANGE[1] else None


def remember_panel_width(width: int, path: Path | None = None) -> bool:
    """Save ``width`` for the next start (other keys in the file are kept); False when it
    could not be saved."""
    path = layout_path() if path is None else path
    if not WIDTH_RANGE[0] <= int(width) <= WIDTH_RANGE[1]:
        return False
    data = _read(path)
    data["panel_width"] = int(width)
    text = json.dumps(data, sort_keys=True) + "\n"
    try:
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        write_atomic(path, lambda fh: fh.write(text.encode("utf-8")))
    except (OSError, InputError):
        return False
    return True
