"""MEP keys (MBK/MAK) as utilities write them, reduced to the 16 bytes the meter uses (p.13)."""

from __future__ import annotations

import string
from enum import IntEnum

from mepd.protocol.errors import KeyFormatError

KEY_BYTES = 16  # p.13: keys are 16 bytes; up to 20 may be supplied, only the first 16 count.
_SUPPLIED_BYTES = 20
_PRINTABLE = frozenset(string.printable) - frozenset("\t\n\r\x0b\x0c")
_HEX = frozenset(string.hexdigits)
_HEX_SEPARATORS = str.maketrans("", "", " :-")
_FORMS = (
    "20 printable ASCII characters (as printed by the utility), "
    "40 hex digits (the same 20 bytes), or 32 hex digits (16 bytes)"
)


class KeyId(IntEnum):
    """Which key a request is signed with; also the TLS identity's key id (p.18-19)."""

    MBK = 0
    MAK = 1


def parse_key(text: str) -> bytes:
    """Return the 16 key bytes of an MBK or MAK written in any of the utilities' forms.

    Errors describe the input's shape (its length, which characters are wrong) and never echo it.
    """
    candidate = text.strip()
    if len(candidate) == _SUPPLIED_BYTES and all(ch in _PRINTABLE for ch in candidate):
        return candidate.encode("ascii")[:KEY_BYTES]
    hex_digits = candidate.translate(_HEX_SEPARATORS)
    if hex_digits[:2].lower() == "0x":
        hex_digits = hex_digits[2:]
    if len(hex_digits) in (2 * _SUPPLIED_BYTES, 2 * KEY_BYTES) and all(
        ch in _HEX for ch in hex_digits
    ):
        return bytes.fromhex(hex_digits)[:KEY_BYTES]
    raise KeyFormatError(_describe_problem(candidate, hex_digits))


def supplied_key_bytes(text: str) -> bytes:
    """All the bytes of a key as supplied (20, or 16 from 32 hex digits), nothing dropped.

    The optical port's Security service compares all 20 bytes (OPG p.13, c1218 notes §5.5),
    unlike MEP, which uses the first 16 (p.13).
    """
    candidate = text.strip()
    if len(candidate) == _SUPPLIED_BYTES and all(ch in _PRINTABLE for ch in candidate):
        return candidate.encode("ascii")
    parse_key(text)  # raises with the shape's description if the text is no key at all
    hex_digits = candidate.translate(_HEX_SEPARATORS)
    return bytes.fromhex(hex_digits[2:] if hex_digits[:2].lower() == "0x" else hex_digits)


def _describe_problem(candidate: str, hex_digits: str) -> str:
    if not candidate:
        return f"the key is empty; expected {_FORMS}"
    if any(ch not in _PRINTABLE for ch in candidate):
        return (
            f"the key contains a non-printable or non-ASCII character "
            f"(possibly a stray quote or an invisible character from copy-paste); expected {_FORMS}"
        )
    bad_hex = sum(ch not in _HEX for ch in hex_digits)
    if len(hex_digits) in (32, 40) and bad_hex:
        return (
            f"the key has {len(hex_digits)} characters like a hex key, but {bad_hex} of them "
            f"are not hex digits; expected {_FORMS}"
        )
    return f"the key has {len(candidate)} characters; expected {_FORMS}"


class MepKey:
    """A 16-byte MEP key and which one it is. Its repr and str never show the key.

    Immutable, but not a dataclass: `dataclasses.asdict` of the settings holding it copies it
    whole instead of expanding it into its bytes (issue 18, item 9).
    """

    __slots__ = ("key_id", "secret", "supplied")
    secret: bytes
    key_id: KeyId
    # The key as supplied (usually 20 bytes): the optical port's password (OPG p.13).
    supplied: bytes

    def __init__(self, secret: bytes, key_id: KeyId = KeyId.MBK, supplied: bytes = b"") -> None:
        if len(secret) != KEY_BYTES:
            raise KeyFormatError(f"a MEP key is {KEY_BYTES} bytes, got {len(secret)}")
        object.__setattr__(self, "secret", bytes(secret))
        object.__setattr__(self, "key_id", key_id)
        object.__setattr__(self, "supplied", bytes(supplied))

    def __setattr__(self, name: str, value: object) -> None:
        raise AttributeError("a MepKey is immutable")

    @classmethod
    def parse(cls, text: str, key_id: KeyId = KeyId.MBK) -> MepKey:
        return cls(parse_key(text), key_id, supplied_key_bytes(text))

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, MepKey):
            return NotImplemented
        return (self.secret, self.key_id) == (other.secret, other.key_id)

    def __hash__(self) -> int:
        return hash((MepKey, self.secret, self.key_id))

    def __copy__(self) -> MepKey:
        return self

    def __deepcopy__(self, _memo: object) -> MepKey:
        return self

    def __reduce__(self) -> tuple[type[MepKey], tuple[bytes, KeyId, bytes]]:
        return MepKey, (self.secret, self.key_id, self.supplied)

    def __repr__(self) -> str:
        return f"MepKey({self.key_id.name}, <redacted>)"

    __str__ = __repr__
