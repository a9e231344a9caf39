"""One sanitiser for untrusted text: no control character reaches a terminal, one line stays one."""

from __future__ import annotations

import unicodedata

from hypothesis import given
from hypothesis import strategies as st

from digitmap_tui.text import is_safe, markup, one_line, safe

DANGEROUS = {chr(c) for c in [*range(0x20), *range(0x7F, 0xA0)]} | {
    "\u2028", "\u2029", "\u202a", "\u202b", "\u202c", "\u202d", "\u202e", "\u2066", "\u2067",
    "\u2068", "\u2069", "\ufeff",
}  # fmt: skip


@given(st.text())
def test_safe_leaves_no_control_character(text):
    out = safe(text)
    assert not (set(out) & DANGEROUS)
    assert is_safe(out)
    assert "\n" not in out and len(out.splitlines()) <= 1


@given(st.text(alphabet=st.characters(blacklist_categories=("Cc", "Cs", "Zl", "Zp", "Cf"))))
def test_printable_text_is_unchanged(text):
    assert safe(text) == text


@given(st.binary())
def test_undecodable_file_names_are_shown_as_bytes_and_encode(raw):
    import os

    name = os.fsdecode(raw)
    out = safe(name)
    out.encode("utf-8")  # a lone surrogate would raise here
    assert all(unicodedata.category(ch) != "Cs" for ch in out)


def test_the_osc52_attack_is_shown_not_run():
    attack = "x\x1b]52;c;Y3VybCB4IHwgc2g=\x07 found"
    assert safe(attack) == "x\\x1b]52;c;Y3VybCB4IHwgc2g=\\x07 found"


@given(st.text())
def test_markup_is_shown_as_typed(text):
    """What a notification shows (Textual parses its message as markup) is the text itself."""
    from textual.content import Content

    assert Content.from_markup(markup(text)).plain == safe(text)
    assert Content.from_markup(f"[b]exported[/b] {markup(text)} to x").plain == (
        f"exported {safe(text)} to x"
    )


def test_one_line_strips_and_escapes():
    assert one_line("  a\nb\r\n ") == "a\\x0ab"
