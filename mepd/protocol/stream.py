"""Incremental frame decoder: bytes in any chunking in, frames and alerts out.

MEP has no start-of-frame marker, only the 2-byte LEN (p.10). The decoder trusts a LEN only if
it is one a frame can have (1..476, p.8); anything else is line garbage, skipped a byte at a
time until a plausible header appears. `00 00` is the meter's alert sequence (p.17), never a
frame. Timing (segment gaps, timeouts) is the caller's business: a 25 ms gap inside a frame is
normal (p.21), so the decoder never uses silence as a delimiter.

Bytes inside a frame whose LEN is known are never alerts, even when the caller gave up on the
frame (`abandon`): the rest of it, when it comes, is discarded as such, so the zeros of a late
answer's table data cannot decode as `00 00` alerts.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from mepd.protocol.frames import LENGTH_BYTES, MAX_MESSAGE_BYTES


@dataclass(frozen=True)
class Frame:
    """One complete frame's body: everything after LEN (message, [seq], digest)."""

    body: bytes = field(repr=False)

    def __repr__(self) -> str:
        return f"Frame({len(self.body)} bytes, code 0x{self.body[0]:02X})"


@dataclass(frozen=True)
class Alert:
    """The alert sequence `00 00` (p.17): the meter has something for a registered client."""


@dataclass(frozen=True)
class Discarded:
    """Bytes skipped because no frame could start with them."""

    data: bytes


Event = Frame | Alert | Discarded

ALERT_SEQUENCE = b"\x00\x00"


class FrameDecoder:
    """Feeds bytes, returns events. Holds at most one partial frame (2 + 476 bytes)."""

    __slots__ = ("_buffer", "_max_body", "_tail")

    def __init__(self, max_body: int = MAX_MESSAGE_BYTES) -> None:
        self._max_body = max_body
        self._buffer = bytearray()
        self._tail = 0  # bytes still to come of an abandoned frame whose LEN was known

    @property
    def pending(self) -> int:
        """Bytes held back while waiting for the rest of a frame."""
        return len(self._buffer)

    @property
    def header_seen(self) -> bool:
        """A plausible non-zero LEN has arrived (p.21: the response timeout stops here)."""
        return len(self._buffer) >= LENGTH_BYTES and self._plausible(self._buffer)

    @property
    def missing(self) -> int:
        """Bytes still to come of the frame whose LEN has arrived (0 if none has)."""
        buffer = self._buffer
        if len(buffer) < LENGTH_BYTES or not self._plausible(buffer):
            return 0
        return LENGTH_BYTES + int.from_bytes(buffer[:LENGTH_BYTES], "big") - len(buffer)

    @property
    def tail(self) -> int:
        """Bytes of an abandoned frame that may still arrive (and will be discarded)."""
        return self._tail

    def reset(self) -> bytes:
        """Drop a partial frame and forget any abandoned one (the line was idle or reopened);
        return what was dropped."""
        dropped = bytes(self._buffer)
        self._buffer.clear()
        self._tail = 0
        return dropped

    def abandon(self) -> bytes:
        """Give up the partial frame (after a timeout): return what was dropped. If its LEN
        was known, the bytes still missing are its tail, not frames or alerts: they are
        discarded when they come, until `reset()` says the line went idle."""
        self._tail += self.missing
        dropped = bytes(self._buffer)
        self._buffer.clear()
        return dropped

    def skip(self, count: int) -> None:
        """`count` bytes were read past the decoder (drained): they used up the tail first."""
        self._tail = max(0, self._tail - count)

    def feed(self, data: bytes) -> list[Event]:
        events: list[Event] = []
        if self._tail:
            rest, data = data[: self._tail], data[self._tail :]
            self._tail -= len(rest)
            if rest:
                events.append(Discarded(rest))
        step = LENGTH_BYTES + self._max_body
        # Take the input in slices so the buffer stays bounded whatever the caller passes.
        for start in range(0, len(data), step):
            self._buffer += data[start : start + step]
            self._drain(events)
        return events

    def _plausible(self, header: bytes | bytearray) -> bool:
        length = int.from_bytes(header[:LENGTH_BYTES], "big")
        return 0 < length <= self._max_body

    def _drain(self, events: list[Event]) -> None:
        buffer = self._buffer
        skipped = bytearray()
        while len(buffer) >= LENGTH_BYTES:
            if buffer[:LENGTH_BYTES] == ALERT_SEQUENCE:
                self._flush(skipped, events)
                del buffer[:LENGTH_BYTES]
                events.append(Alert())
                continue
            if not self._plausible(buffer):
                skipped.append(buffer[0])
                del buffer[0]
                continue
            self._flush(skipped, events)
            end = LENGTH_BYTES + int.from_bytes(buffer[:LENGTH_BYTES], "big")
            if len(buffer) < end:
                break
            events.append(Frame(bytes(buffer[LENGTH_BYTES:end])))
            del buffer[:end]
        self._flush(skipped, events)

    @staticmethod
    def _flush(skipped: bytearray, events: list[Event]) -> None:
        if skipped:
            events.append(Discarded(bytes(skipped)))
            skipped.clear()
