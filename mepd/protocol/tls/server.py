"""The pure TLS engine's server side, for the simulated meter: TLS 1.2 PSK, AES-256-GCM.

It answers as the guide's meter does (p.14): ServerHello with renegotiation_info only, no
ServerKeyExchange (no identity hint), ServerHelloDone; then ChangeCipherSpec and Finished.
The PSK comes from `lookup(identity)`, None for an identity it does not know.
"""

from __future__ import annotations

import secrets

from mepd.protocol.tls.engine import PskLookup
from mepd.protocol.tls.errors import AlertDescription, TlsError
from mepd.protocol.tls.handshake import (
    RENEGOTIATION_INFO,
    SESSION_ID_BYTES,
    TLS_EMPTY_RENEGOTIATION_INFO_SCSV,
    TLS_PSK_WITH_AES_256_GCM_SHA384,
    ClientHello,
    Endpoint,
    HandshakeType,
    RandomBytes,
    Reader,
    ServerHello,
    State,
    handshake_message,
)
from mepd.protocol.tls.records import TLS12, ContentType
from mepd.protocol.tls.schedule import CLIENT_FINISHED, RANDOM_BYTES, SERVER_FINISHED


class PskServer(Endpoint):
    is_client = False

    def __init__(
        self, lookup: PskLookup, *, random_bytes: RandomBytes = secrets.token_bytes
    ) -> None:
        super().__init__(random_bytes)
        self._lookup = lookup
        self.identity: bytes | None = None
        self.state = State.WAIT_CLIENT_HELLO

    def _on_handshake(self, kind: HandshakeType, body: bytes, raw: bytes) -> None:
        state = self.state
        if state is State.WAIT_CLIENT_HELLO and kind is HandshakeType.CLIENT_HELLO:
            self._transcript += raw
            self._on_client_hello(ClientHello.parse(body))
            self.state = State.WAIT_CLIENT_KEY_EXCHANGE
        elif state is State.WAIT_CLIENT_KEY_EXCHANGE and kind is HandshakeType.CLIENT_KEY_EXCHANGE:
            reader = Reader(body, "ClientKeyExchange")
            identity = reader.vector(2)
            reader.end()
            psk = self._lookup(identity)
            if psk is None:
                raise TlsError("unknown PSK identity", AlertDescription.UNKNOWN_PSK_IDENTITY)
            self.identity = identity
            self._transcript += raw
            self._derive(psk)
            self.state = State.WAIT_CHANGE_CIPHER_SPEC
        elif state is State.WAIT_FINISHED and kind is HandshakeType.FINISHED:
            self._check_finished(body, raw, CLIENT_FINISHED)
            self._send_change_cipher_spec_and_finished(SERVER_FINISHED)
            self.state = State.ESTABLISHED
        else:
            raise self._unexpected(kind)

    def _on_client_hello(self, hello: ClientHello) -> None:
        if hello.version < TLS12:
            raise TlsError("the client does not offer TLS 1.2", AlertDescription.PROTOCOL_VERSION)
        if TLS_PSK_WITH_AES_256_GCM_SHA384 not in hello.cipher_suites:
            raise TlsError(
                "the client does not offer TLS_PSK_WITH_AES_256_GCM_SHA384",
                AlertDescription.HANDSHAKE_FAILURE,
            )
        secure_renegotiation = (
            TLS_EMPTY_RENEGOTIATION_INFO_SCSV in hello.cipher_suites
            or RENEGOTIATION_INFO in hello.extensions
        )
        self.client_random = hello.random
        self.server_random = self._random_bytes(RANDOM_BYTES)
        extensions = {RENEGOTIATION_INFO: b"\x00"} if secure_renegotiation else {}
        server_hello = ServerHello(
            self.server_random,
            self._random_bytes(SESSION_ID_BYTES),  # given, never cached (p.18)
            TLS_PSK_WITH_AES_256_GCM_SHA384,
            extensions,
        )
        # Two records, as the guide's meter sends them (p.14).
        for message in (
            handshake_message(HandshakeType.SERVER_HELLO, server_hello.body()),
            handshake_message(HandshakeType.SERVER_HELLO_DONE, b""),
        ):
            self._transcript += message
            self._send_plain(ContentType.HANDSHAKE, message)
