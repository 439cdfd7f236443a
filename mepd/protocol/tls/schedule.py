"""The TLS 1.2 key schedule of TLS_PSK_WITH_AES_256_GCM_SHA384, as pure functions.

- PRF: RFC 5246 §5, P_SHA384 (the suite's PRF hash, RFC 5288 §3 / RFC 5487).
- Premaster secret of plain PSK: RFC 4279 §2: uint16 N, N zero bytes, uint16 N, the PSK.
- Master secret: PRF(premaster, "master secret", client_random + server_random)[:48] (§8.1).
- Key block: PRF(master, "key expansion", server_random + client_random) (§6.3): for AES-256-
  GCM no MAC keys, a 32-byte write key and a 4-byte implicit nonce ("salt") per side
  (RFC 5288 §3).
- Finished: PRF(master, label, SHA-384(handshake messages))[:12] (§7.4.9).

The guide's TLS example (p.14-15, vectors.json `tls_ex1_ex2_session`) reproduces with these.
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass, field

HASH = "sha384"
MASTER_SECRET_BYTES = 48
RANDOM_BYTES = 32
KEY_BYTES = 32  # AES-256
SALT_BYTES = 4  # GCM implicit nonce part
VERIFY_DATA_BYTES = 12

CLIENT_FINISHED = b"client finished"
SERVER_FINISHED = b"server finished"


def p_hash(secret: bytes, seed: bytes, length: int) -> bytes:
    """RFC 5246 §5: A(0) = seed, A(i) = HMAC(secret, A(i-1)); out = HMAC(secret, A(i) + seed)..."""
    out = bytearray()
    a = seed
    while len(out) < length:
        a = hmac.digest(secret, a, HASH)
        out += hmac.digest(secret, a + seed, HASH)
    return bytes(out[:length])


def prf(secret: bytes, label: bytes, seed: bytes, length: int) -> bytes:
    return p_hash(secret, label + seed, length)


def psk_premaster(psk: bytes) -> bytes:
    """RFC 4279 §2: other_secret is N zero bytes for plain PSK."""
    n = len(psk).to_bytes(2, "big")
    return n + bytes(len(psk)) + n + psk


def master_secret(premaster: bytes, client_random: bytes, server_random: bytes) -> bytes:
    return prf(premaster, b"master secret", client_random + server_random, MASTER_SECRET_BYTES)


@dataclass(frozen=True)
class KeyBlock:
    """Both directions' AES-256-GCM keys and implicit nonces. Repr never shows them."""

    client_write_key: bytes = field(repr=False)
    server_write_key: bytes = field(repr=False)
    client_write_iv: bytes = field(repr=False)
    server_write_iv: bytes = field(repr=False)


def key_block(master: bytes, client_random: bytes, server_random: bytes) -> KeyBlock:
    size = 2 * KEY_BYTES + 2 * SALT_BYTES
    block = prf(master, b"key expansion", server_random + client_random, size)
    keys_end = 2 * KEY_BYTES
    return KeyBlock(
        block[:KEY_BYTES],
        block[KEY_BYTES:keys_end],
        block[keys_end : keys_end + SALT_BYTES],
        block[keys_end + SALT_BYTES :],
    )


def transcript_hash(handshake_messages: bytes) -> bytes:
    return hashlib.sha384(handshake_messages).digest()


def verify_data(master: bytes, label: bytes, handshake_messages: bytes) -> bytes:
    return prf(master, label, transcript_hash(handshake_messages), VERIFY_DATA_BYTES)


@dataclass(frozen=True)
class SessionSecrets:
    """What one handshake derives from the PSK and the two randoms."""

    master: bytes = field(repr=False)
    keys: KeyBlock

    @classmethod
    def derive(cls, psk: bytes, client_random: bytes, server_random: bytes) -> SessionSecrets:
        master = master_secret(psk_premaster(psk), client_random, server_random)
        return cls(master, key_block(master, client_random, server_random))
