"""Issue 18 item 8: what came from outside is escaped before it reaches a terminal or a log."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from mepd.text import printable


def test_plain_text_is_unchanged() -> None:
    assert printable("SIM-GEN4-0001 Echelon ä €") == "SIM-GEN4-0001 Echelon ä €"


def test_escape_sequences_and_newlines_are_spelled_out() -> None:
    assert printable("online\x1b]0;pwned\x07\x1b[2J\nforged") == (
        "online\\x1b]0;pwned\\x07\\x1b[2J\\x0aforged"
    )


def test_bidirectional_overrides_and_bad_utf8_are_escaped() -> None:
    assert printable("abc\u202edef") == "abc\\u202edef"
    assert printable(b"ok\xff\xfe\x00") == "ok\\xff\\xfe\\x00"


def test_a_backslash_is_doubled_so_an_escape_cannot_be_forged() -> None:
    assert printable("\\x1b") == "\\\\x1b"


@given(st.one_of(st.text(), st.binary()))
def test_the_output_never_holds_a_control_character(value: str | bytes) -> None:
    assert printable(value).isprintable()
