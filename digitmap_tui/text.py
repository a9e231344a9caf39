"""Untrusted text made safe for terminals and for Rich markup.

Every string that comes from input (file and member names, CSV headers and labels, bookmark
names, text inside a library's error) goes through :func:`safe` before it reaches a
terminal, stdout, stderr, a notification or a screen. A terminal executes control bytes it
is sent (``ESC ] 52`` writes the clipboard, ``ESC ] 0`` retitles the window, a lone ``CR``
or ``VT`` overwrites what was printed), and a line separator splits what is promised to be
one line; so those characters are shown as escapes (``\\x1b``, ``\\u2028``) instead.

:func:`markup` additionally escapes markup, for the one place that takes a markup string
(the explorer's notifications, parsed by Textual); everywhere else untrusted text goes into a
Rich ``Text`` or Textual ``Content`` (never parsed as markup).
"""

from __future__ import annotations

import re

TYPE_CHECKING = False  # not `from typing import ...`: the CLI imports this module on --help
if TYPE_CHECKING:
    from collections.abc import Sequence

__all__ = ["ascii_int", "either", "is_safe", "markup", "one_line", "safe"]

# C0 controls (tab and newline included: one line is one line), DEL, the C1 controls,
# Unicode line/paragraph separators, bidirectional overrides and isolates (they reorder what
# follows on screen), the BOM/zero-width no-break space, and lone surrogates (the bytes of a
# file name that is not UTF-8, which would also fail to encode on output).
_UNSAFE = re.compile(
    "[\x00-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069\ufeff\ud800-\udfff]"
)


def _escape(match: re.Match[str]) -> str:
    code = ord(match.group())
    if 0xDC80 <= code <= 0xDCFF:  # a byte that was not UTF-8 (os.fsdecode's surrogateescape)
        return f"\\x{code - 0xDC00:02x}"
    if code < 0x100:
        return f"\\x{code:02x}"
    return f"\\u{code:04x}"


def safe(text: object) -> str:
    """``text`` as one line with every control character shown as an escape (``\\x1b``).

    Printable text, non-ASCII letters included, is unchanged; the result never holds a
    character that moves the cursor, starts an escape sequence or breaks the line.
    """
    return _UNSAFE.sub(_escape, str(text))


def is_safe(text: str) -> bool:
    """Whether :func:`safe` would leave ``text`` unchanged."""
    return _UNSAFE.search(text) is None


def one_line(text: object) -> str:
    """:func:`safe`, with surrounding whitespace stripped first (errors, status lines)."""
    return safe(str(text).strip())


def markup(text: object) -> str:
    """:func:`safe` and escaped for Textual's markup: ``[b]`` is shown, never interpreted.

    Textual reads ``[`` after a backslash as a plain bracket and drops that backslash, so
    every bracket gets one: ``\\[`` in the text comes back as ``\\[``, ``[`` as ``[``.
    """
    return safe(text).replace("[", "\\[")


def ascii_int(text: str) -> int | None:
    """``text`` (outer spaces allowed) as a whole number if it is only ASCII digits, else None.

    ``str.isdigit`` and ``int`` accept superscripts and other scripts' digits (``int("٣")`` is
    3, ``"²".isdigit()`` is true but ``int("²")`` raises), so numbers typed in flags and read
    from files are checked with this instead.
    """
    stripped = text.strip()
    if not stripped or not stripped.isascii() or not stripped.isdigit():
        return None
    return int(stripped)


def either(words: Sequence[str]) -> str:
    """``["pca", "tsne", "umap"]`` -> ``"pca, tsne or umap"``."""
    if len(words) <= 1:
        return "".join(words)
    return f"{', '.join(words[:-1])} or {words[-1]}"
