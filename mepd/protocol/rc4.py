"""RC4 payload encryption (p.11, Appendix B p.256-257).

The guide discourages RC4 (p.10); it is optional and a read-only client may skip it, but the
meter (and so our simulator) must answer it, and a client may choose it.
"""

from __future__ import annotations

from mepd.protocol.digest import DIGEST_BYTES
from mepd.protocol.keys import KEY_BYTES

# p.257: the constant key that the MEP key encrypts into mep_EncryptKey.
CONST_KEY = bytes.fromhex("388B8FBC36A8558587AFC90FB23A3B99")


def _keystream(key: bytes, length: int) -> bytes:
    # Imported here: RC4 is off by default, and cryptography costs a Pi Zero megabytes.
    from cryptography.hazmat.decrepit.ciphers.algorithms import ARC4  # noqa: PLC0415
    from cryptography.hazmat.primitives.ciphers import Cipher  # noqa: PLC0415

    encryptor = Cipher(ARC4(key), mode=None).encryptor()
    return encryptor.update(bytes(length))


def _xor(data: bytes, stream: bytes) -> bytes:
    return (int.from_bytes(data, "big") ^ int.from_bytes(stream, "big")).to_bytes(len(data), "big")


def encrypt_key(key: bytes) -> bytes:
    """mep_EncryptKey: ConstKey run through RC4 keyed with the MEP key (p.257)."""
    if len(key) != KEY_BYTES:
        raise ValueError(f"RC4 needs the {KEY_BYTES}-byte MEP key")
    return _xor(CONST_KEY, _keystream(key, KEY_BYTES))


class Rc4Exchange:
    """One request and its response under one RC4 state.

    The packet key is mep_EncryptKey with its first 8 bytes XORed with the request digest; the
    response continues the same keystream where the request left off (p.257).
    """

    __slots__ = ("_packet_key", "_request_length")

    def __init__(self, key: bytes, request_digest: bytes, request_length: int) -> None:
        if len(request_digest) != DIGEST_BYTES:
            raise ValueError("the packet key is derived from an 8-byte request digest")
        base = encrypt_key(key)
        self._packet_key = _xor(base[:DIGEST_BYTES], request_digest) + base[DIGEST_BYTES:]
        self._request_length = request_length

    def request(self, message: bytes) -> bytes:
        """Encrypt (or, on the meter's side, decrypt) the request's code..seq span."""
        if len(message) != self._request_length:
            raise ValueError("the request span has another length than announced")
        return _xor(message, _keystream(self._packet_key, len(message)))

    def response(self, message: bytes) -> bytes:
        """Decrypt (or encrypt) the response's code..data span, continuing the keystream."""
        stream = _keystream(self._packet_key, self._request_length + len(message))
        return _xor(message, stream[self._request_length :])
