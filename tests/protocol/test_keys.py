"""Keys as utilities write them; errors that never echo the key (p.13)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from mepd.errors import MepdError
from mepd.protocol import KeyId, MepKey, parse_key
from mepd.protocol.errors import KeyFormatError

ASCII_KEY = "ABCDEFGHIJKLMNOPQRST"
TRUNCATED = b"ABCDEFGHIJKLMNOP"


def test_twenty_ascii_characters_keep_the_first_sixteen() -> None:
    assert parse_key(ASCII_KEY) == TRUNCATED


def test_forty_hex_digits_are_the_same_twenty_bytes() -> None:
    assert parse_key(ASCII_KEY.encode().hex()) == TRUNCATED
    assert parse_key(ASCII_KEY.encode().hex().upper()) == TRUNCATED


def test_thirty_two_hex_digits_are_sixteen_bytes() -> None:
    assert parse_key("01" * 16) == b"\x01" * 16


@pytest.mark.parametrize(
    "written",
    [
        "  " + "01" * 16 + "\n",
        " ".join(["01"] * 16),
        ":".join(["01"] * 16),
        "0x" + "01" * 16,
    ],
)
def test_hex_with_whitespace_separators_or_prefix(written: str) -> None:
    assert parse_key(written) == b"\x01" * 16


def test_a_twenty_character_key_of_hex_digits_is_ascii() -> None:
    # 20 characters can only be the ASCII form, even when every character is a hex digit.
    assert parse_key("0123456789abcdef0123") == b"0123456789abcdef"


@pytest.mark.parametrize(
    ("written", "expected_words"),
    [
        ("", "empty"),
        ("SECRETKEY", "9 characters"),
        ("S" * 21, "21 characters"),
        ("zz" * 16, "not hex digits"),
        ("SECRETKEY\x01SECRETKEY", "non-printable"),
        ("SECRÉTKEYSECRETKEYSE", "non-printable or non-ASCII"),
    ],
)
def test_malformed_keys_say_what_was_expected_and_never_echo(
    written: str, expected_words: str
) -> None:
    with pytest.raises(KeyFormatError) as caught:
        parse_key(written)
    message = str(caught.value)
    assert expected_words in message
    assert "20 printable ASCII characters" in message
    if written.strip():
        assert written.strip() not in message
        assert "SECRET" not in message


def test_key_errors_belong_to_the_mepd_tree() -> None:
    assert issubclass(KeyFormatError, MepdError)
    assert issubclass(KeyFormatError, ValueError)


@given(st.text(max_size=60))
def test_any_text_either_parses_to_sixteen_bytes_or_fails_cleanly(text: str) -> None:
    try:
        key = parse_key(text)
    except KeyFormatError as error:
        message = str(error)
    else:
        assert len(key) == 16
        return
    core = text.strip()
    if len(core) >= 4:
        assert core not in message


def test_key_holder_redacts_repr_and_str() -> None:
    key = MepKey.parse(ASCII_KEY, KeyId.MAK)
    for shown in (repr(key), str(key), f"{key}", repr([key])):
        assert "ABCD" not in shown
        assert TRUNCATED.hex() not in shown
        assert "redacted" in shown
    assert key.secret == TRUNCATED


def test_key_holder_rejects_wrong_sizes() -> None:
    with pytest.raises(KeyFormatError):
        MepKey(b"\x01" * 20)
