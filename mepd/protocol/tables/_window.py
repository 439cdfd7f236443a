"""Fields of big tables read through a partial read window.

ET04, ET11 and ET70 are read in pieces (a client needs ET04.116, not ET04's first 116 bytes).
A `Window` is the data of one read at its table offset; a field is decoded only if it lies
wholly inside, otherwise it is None. `Layout` builds the table back for the simulator.
"""

from __future__ import annotations

from mepd.protocol.errors import DecodeError
from mepd.protocol.tables._wire import pack_uint


class Window:
    def __init__(self, table: str, data: bytes, offset: int, fields: dict[int, int]) -> None:
        if offset < 0:
            raise ValueError(f"{table}: offset {offset} is negative")
        self.table = table
        self.data = bytes(data)
        self.offset = offset
        end = offset + len(self.data)
        if not any(offset <= at and at + size <= end for at, size in fields.items()):
            raise DecodeError(
                f"{table}: bytes {offset}..{end - 1 if end > offset else offset} (got "
                f"{len(self.data)}) hold none of the decoded fields {sorted(fields)}"
            )

    def raw(self, at: int, size: int) -> bytes | None:
        start = at - self.offset
        if start < 0 or start + size > len(self.data):
            return None
        return self.data[start : start + size]

    def uint(self, at: int, size: int) -> int | None:
        """UINT8/16/32, LSB first (p.40)."""
        raw = self.raw(at, size)
        return None if raw is None else int.from_bytes(raw, "little")


class Layout:
    """A zero-filled table of `size` bytes that fields are written into."""

    def __init__(self, table: str, size: int) -> None:
        self.table = table
        self.data = bytearray(size)

    def put(self, at: int, raw: bytes) -> None:
        if at + len(raw) > len(self.data):
            raise ValueError(f"{self.table}: field at {at} does not fit {len(self.data)} bytes")
        self.data[at : at + len(raw)] = raw

    def put_uint(self, at: int, size: int, value: int | None, what: str) -> None:
        if value is not None:
            self.put(at, pack_uint(value, size, f"{self.table} {what}"))

    def bytes(self) -> bytes:
        return bytes(self.data)
