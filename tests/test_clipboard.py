"""OSC 52: the escape sequence, its base64 payload, tmux passthrough and the size cap."""

from __future__ import annotations

import base64

import pytest

from digitmap_tui.clipboard import MAX_OSC52_BYTES, ClipboardError, osc52
from digitmap_tui.errors import InputError


def payload_of(sequence: str) -> str:
    """Decode the text an OSC 52 sequence (not wrapped) carries."""
    assert sequence.startswith("\x1b]52;c;") and sequence.endswith("\x07")
    return base64.b64decode(sequence[len("\x1b]52;c;") : -1], validate=True).decode("utf-8")


def test_osc52_exact_sequence():
    assert osc52("12\n7\n", env={}) == "\x1b]52;c;MTIKNwo=\x07"


@pytest.mark.parametrize("text", ["", "0\n1\n2\n", "[3, 1, 4]", "ünïcødé ✓ 数字", "a" * 5000])
def test_osc52_base64_decodes_back(text):
    assert payload_of(osc52(text, env={})) == text


def test_osc52_wraps_for_tmux_passthrough():
    plain = osc52("hello", env={})
    wrapped = osc52("hello", env={"TMUX": "/tmp/tmux-1000/default,1234,0"})
    assert wrapped == "\x1bPtmux;\x1b\x1b]52;c;aGVsbG8=\x07\x1b\\"
    # Unwrapping (strip the DCS frame, undouble ESC) gives back the plain sequence.
    inner = wrapped[len("\x1bPtmux;") : -len("\x1b\\")]
    assert inner.replace("\x1b\x1b", "\x1b") == plain
    assert payload_of(inner.replace("\x1b\x1b", "\x1b")) == "hello"


def test_osc52_empty_tmux_variable_is_not_tmux():
    assert osc52("x", env={"TMUX": ""}) == osc52("x", env={})


def test_osc52_reads_os_environ_by_default(monkeypatch):
    monkeypatch.setenv("TMUX", "/tmp/tmux-1000/default,1,0")
    assert osc52("x").startswith("\x1bPtmux;")
    monkeypatch.delenv("TMUX")
    assert osc52("x") == "\x1b]52;c;eA==\x07"


def test_osc52_primary_selection_target():
    assert osc52("x", env={}, target="p") == "\x1b]52;p;eA==\x07"


def test_osc52_size_cap():
    # 75 000 bytes of text is exactly 100 000 bytes of base64: the largest accepted.
    largest = "a" * (MAX_OSC52_BYTES // 4 * 3)
    assert len(osc52(largest, env={})) == MAX_OSC52_BYTES + len("\x1b]52;c;\x07")
    with pytest.raises(ClipboardError) as err:
        osc52(largest + "a", env={})
    message = str(err.value)
    assert message == (
        "clipboard: 101 KB is more than terminals accept (100 KB); "
        "export the selection to a file instead"
    )
    assert isinstance(err.value, InputError)  # the app shows it like any one-line problem
