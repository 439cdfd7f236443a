"""The MEP authentication digest (Appendix A, p.250-253).

The digest doubles as the frame's integrity check (p.11): a request or response whose digest
fails is either corrupted or signed with another key, and is never data.
"""

from __future__ import annotations

DIGEST_BYTES = 8


def _iterations(key_length: int) -> int:
    # p.251 DIGEBT_KEY_ITERATIONS: the key is walked 1.5 times (24 bytes for a 16-byte key).
    return key_length if key_length == 6 else key_length + key_length // 2


class Digest:
    """The reference digest with its resumable state, for feeding a message in pieces.

    p.251 method 1: `update()` parts, then `final()`. Most callers want `digest()`, which is
    method 2 (one final call over the whole input) and gives the same response digests.
    """

    __slots__ = ("_i", "_iterations", "_j", "_key", "_value")

    def __init__(self, key: bytes) -> None:
        if not key:
            raise ValueError("the digest needs a non-empty key")
        self._key = key
        self._iterations = _iterations(len(key))
        self._value = bytearray(DIGEST_BYTES)
        self._i = 0
        self._j = 0

    def copy(self) -> Digest:
        """The state as it stands, for p.251 method 1 (request state kept for the response)."""
        twin = Digest(self._key)
        twin._value[:] = self._value
        twin._i, twin._j = self._i, self._j
        return twin

    def update(self, data: bytes) -> None:
        """Feed bytes without finishing the pass (bEnd = FALSE)."""
        self._run(data, final=False)

    def final(self, data: bytes = b"") -> bytes:
        """Feed the last bytes, zero-pad the current pass (bEnd = TRUE) and return the digest."""
        self._run(data, final=True)
        return bytes(self._value)

    def _run(self, data: bytes, *, final: bool) -> None:
        key, key_length, iterations = self._key, len(self._key), self._iterations
        value = self._value
        position, remaining = 0, len(data)
        i, j = self._i, self._j
        while True:
            while i < iterations:
                key_byte = key[i % key_length] >> j
                last = value[(8 - j) & 7]
                for v in range(7 - j, -1, -1):
                    if remaining:
                        message_byte = data[position]
                        position += 1
                        remaining -= 1
                    elif final:
                        message_byte = 0  # zero-pad to use up the key bits left in the pass
                    else:
                        self._i, self._j = i, 7 - v
                        return
                    n = ~(value[v] + v) & 0xFF
                    # key bit 1: rotate left; key bit 0: negated rotate right.
                    mixed = (
                        ((n << 1) | (n >> 7)) & 0xFF
                        if key_byte & 1
                        else -((n >> 1) | (n << 7)) & 0xFF
                    )
                    last = (last + message_byte + mixed) & 0xFF
                    value[v] = last
                    key_byte >>= 1
                j = 0
                i += 1
            i = 0
            if not remaining:
                break
        self._i, self._j = i, j


def digest(key: bytes, data: bytes) -> bytes:
    """The 8-byte digest of `data` under `key`, from one final call (p.251 method 2).

    Requests digest code..seq; responses digest the request's code..seq followed by the
    response's code..data (p.250-251).
    """
    return Digest(key).final(data)
