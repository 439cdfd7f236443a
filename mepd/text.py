"""Text from outside (the network, the meter, a file) made safe to print or log.

Anyone who can publish to a topic mepd reads, or put bytes on the meter's line, chooses what
mepd would otherwise write to an admin's terminal or to the journal: an escape sequence can
rewrite the screen, move the cursor, hide a line or retitle the window, and a newline can
forge a log line. Everything mepd prints or logs that it did not write itself goes through
`printable`: printable characters stay as they are, everything else (control characters,
bidirectional overrides, undecodable bytes) is spelled `\\xNN` / `\\uNNNN`, and a backslash
is doubled so that an escape in the output always means one was made.
"""

from __future__ import annotations

__all__ = ["printable"]

_SURROGATE_ESCAPES = range(0xDC80, 0xDD00)  # bytes that were not UTF-8 (surrogateescape)


def printable(value: str | bytes | bytearray) -> str:
    """`value` with every non-printable character escaped; bytes are read as UTF-8 and any
    byte that is not valid UTF-8 is escaped as `\\xNN`."""
    if isinstance(value, bytes | bytearray):
        value = bytes(value).decode("utf-8", "surrogateescape")
    if value.isprintable() and "\\" not in value:
        return value  # the common case, without building a new string
    return "".join(map(_escape, value))


def _escape(char: str) -> str:
    code = ord(char)
    if code in _SURROGATE_ESCAPES:
        return f"\\x{code - 0xDC00:02x}"
    if char == "\\":
        return "\\\\"
    if char.isprintable():
        return char
    if code < 0x100:
        return f"\\x{code:02x}"
    if code < 0x10000:
        return f"\\u{code:04x}"
    return f"\\U{code:08x}"
