"""Copy text to the user's clipboard with OSC 52, which also works over SSH and inside tmux.

The terminal emulator on the user's own machine does the copying, so nothing here needs a
display server or a clipboard tool. This module only builds the escape sequence; the app
writes it to the terminal.
"""

from __future__ import annotations

import base64
import os
from collections.abc import Mapping

from digitmap_tui.errors import InputError

#: Largest base64 payload sent. xterm, tmux and others drop (or truncate) larger ones
#: silently, which is worse than saying so.
MAX_OSC52_BYTES = 100_000


class ClipboardError(InputError):
    """The text cannot go to the clipboard (too large); the message is one line."""


def osc52(text: str, env: Mapping[str, str] | None = None, *, target: str = "c") -> str:
    """The OSC 52 sequence that puts ``text`` on the clipboard, ``ESC ] 52 ; c ; <base64> BEL``.

    Inside tmux (``$TMUX`` set in ``env``, default ``os.environ``) the sequence is wrapped in
    tmux's passthrough (``ESC P tmux; ... ESC \\``, inner ESCs doubled) so it reaches the outer
    terminal; tmux 3.3+ needs ``set -g allow-passthrough on`` for that. Text whose base64
    form exceeds :data:`MAX_OSC52_BYTES` raises :class:`ClipboardError`.
    """
    env = os.environ if env is None else env
    payload = base64.b64encode(text.encode("utf-8")).decode("ascii")
    if len(payload) > MAX_OSC52_BYTES:
        raise ClipboardError(
            f"clipboard: {-(-len(payload) // 1000)} KB is more than terminals accept "
            f"({MAX_OSC52_BYTES // 1000} KB); export the selection to a file instead"
        )
    sequence = f"\x1b]52;{target};{payload}\x07"
    if env.get("TMUX"):
        inner = sequence.replace("\x1b", "\x1b\x1b")
        return f"\x1bPtmux;{inner}\x1b\\"
    return sequence
