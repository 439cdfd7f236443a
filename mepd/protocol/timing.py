"""The guide's timing rules, as numbers (p.20-21, p.51, p.17). Enforced by the session."""

from __future__ import annotations

DEFAULT_BAUD = 9600  # p.20
# p.21: 500 ms from the last request byte to the first 2 bytes (a non-zero LEN) of the response.
RESPONSE_TIMEOUT_S = 0.5
# p.21: the meter handles at most one request per 100 ms.
MIN_REQUEST_SPACING_S = 0.1
# p.51, p.259: the OSGP Alliance asks for at most one table read per second on average.
MAX_AVERAGE_READS_PER_S = 1.0
# p.21: within a packet the client must send at least one byte every 50 ms.
MAX_INTER_BYTE_GAP_S = 0.05
# p.21: responses longer than this arrive in segments with a 25 ms pause after each.
RESPONSE_SEGMENT_BYTES = 117
RESPONSE_SEGMENT_GAP_S = 0.025
# p.17, p.21: alerts repeat once per second, held off 1 s after any received frame.
ALERT_INTERVAL_S = 1.0
ALERT_HOLDOFF_S = 1.0


def wire_seconds(byte_count: int, baud: int = DEFAULT_BAUD, bits_per_byte: int = 10) -> float:
    """Time `byte_count` bytes take on the line (8N1: 10 bits a byte)."""
    return byte_count * bits_per_byte / baud


def response_wire_seconds(frame_bytes: int, baud: int = DEFAULT_BAUD) -> float:
    """A response frame's time on the line including the meter's segment gaps (p.21)."""
    gaps = max(0, (frame_bytes - 1) // RESPONSE_SEGMENT_BYTES)
    return wire_seconds(frame_bytes, baud) + gaps * RESPONSE_SEGMENT_GAP_S
