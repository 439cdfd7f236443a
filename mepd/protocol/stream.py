"""Incremental frame decoder: bytes in any chunking in, frames and alerts out.

MEP has no start-of-frame marker, only the 2-byte LEN (p.10). The decoder trusts a LEN only if
it is one a frame can have (1..476, p.8); anything else is line garbage, skipped a byte at a
time until a plausible header appears. `00 00` is the meter's alert sequence (p.17), never a
frame. Timing (segment gaps, timeouts) is the caller's business: a 25 ms gap inside a frame is
normal (p.21), so the decoder never uses silence as a delimiter.
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

    __slots__ = ("_buffer", "_max_body")

    def __init__(self, max_body: int = MAX_MESSAGE_BYTES) -> None:
        self._max_body = max_body
        self._buffer = bytearray()

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

    def reset(self) -> bytes:
        """Drop a partial frame (after a timeout, say) and return what was dropped."""
        dropped = bytes(self._buffer)
        self._buffer.clear()
        return dropped

    def feed(self, data: bytes) -> list[Event]:
        events: list[Event] = []
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
