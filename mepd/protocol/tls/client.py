"""The pure TLS engine's client: a TLS 1.2 PSK client with AES-256-GCM, bytes in, bytes out.

    client = PskClient(identity, psk)
    flight = client.hello()              # send with 0x58
    flight = client.receive(reply)       # ServerHello..Done in; ClientKeyExchange,
                                         # ChangeCipherSpec, Finished out (send with 0x59)
    client.receive(reply)                # ChangeCipherSpec, Finished in; b"" out: established
    records = client.seal(c1218_request) # send with 0x80
    answer = client.open(reply_records)

Built on `cryptography`'s AES-GCM and the standard library's HMAC; the identity bytes go on
the wire exactly as given (p.18-19), which OpenSSL's PSK callback cannot do (it cuts the
identity at its first zero byte, and the MBK's key id is a zero byte).
"""

from __future__ import annotations

import secrets

from mepd.protocol.tls.errors import AlertDescription, TlsError
from mepd.protocol.tls.handshake import (
    RENEGOTIATION_INFO,
    TLS_EMPTY_RENEGOTIATION_INFO_SCSV,
    TLS_PSK_WITH_AES_256_GCM_SHA384,
    ClientHello,
    Endpoint,
    HandshakeType,
    RandomBytes,
    Reader,
    ServerHello,
    State,
    client_key_exchange,
    handshake_message,
)
from mepd.protocol.tls.records import TLS12, ContentType, encode_record
from mepd.protocol.tls.schedule import CLIENT_FINISHED, RANDOM_BYTES, SERVER_FINISHED

EMPTY_RENEGOTIATION_INFO = b"\x00"


class PskClient(Endpoint):
    """One TLS session's client side. A new session takes a new PskClient (no cache, p.18)."""

    is_client = True

    def __init__(
        self, identity: bytes, psk: bytes, *, random_bytes: RandomBytes = secrets.token_bytes
    ) -> None:
        super().__init__(random_bytes)
        if not psk:
            raise TlsError("an empty PSK", AlertDescription.INTERNAL_ERROR)
        self._identity = identity
        self._psk = psk

    def hello(self) -> bytes:
        """The first flight: the ClientHello record (p.14's layout)."""
        if self.state is not State.START:
            raise TlsError("hello() twice; start a new PskClient", AlertDescription.INTERNAL_ERROR)
        self.client_random = self._random_bytes(RANDOM_BYTES)
        hello = ClientHello(
            self.client_random,
            (TLS_PSK_WITH_AES_256_GCM_SHA384, TLS_EMPTY_RENEGOTIATION_INFO_SCSV),
        )
        message = handshake_message(HandshakeType.CLIENT_HELLO, hello.body())
        self._transcript += message
        self.state = State.WAIT_SERVER_HELLO
        return self._record(message)

    @staticmethod
    def _record(message: bytes) -> bytes:
        return encode_record(ContentType.HANDSHAKE, message)

    def _on_handshake(self, kind: HandshakeType, body: bytes, raw: bytes) -> None:
        state = self.state
        if state is State.WAIT_SERVER_HELLO and kind is HandshakeType.SERVER_HELLO:
            self._on_server_hello(ServerHello.parse(body))
            self._transcript += raw
            self.state = State.WAIT_SERVER_HELLO_DONE
        elif state is State.WAIT_SERVER_HELLO_DONE and kind is HandshakeType.SERVER_KEY_EXCHANGE:
            # RFC 4279 §2: an optional psk_identity_hint; the meter sends none (p.14).
            reader = Reader(body, "ServerKeyExchange")
            reader.vector(2)
            reader.end()
            self._transcript += raw
        elif state is State.WAIT_SERVER_HELLO_DONE and kind is HandshakeType.SERVER_HELLO_DONE:
            if body:
                raise TlsError("ServerHelloDone with a body", AlertDescription.DECODE_ERROR)
            self._transcript += raw
            self._second_flight()
        elif state is State.WAIT_FINISHED and kind is HandshakeType.FINISHED:
            self._check_finished(body, raw, SERVER_FINISHED)
            self.state = State.ESTABLISHED
        else:
            raise self._unexpected(kind)

    def _on_server_hello(self, hello: ServerHello) -> None:
        if hello.version != TLS12:
            raise TlsError(
                f"the meter chose TLS version {hello.version:#06x}, not 1.2",
                AlertDescription.PROTOCOL_VERSION,
            )
        if hello.cipher_suite != TLS_PSK_WITH_AES_256_GCM_SHA384:
            raise TlsError(
                f"the meter chose cipher suite {hello.cipher_suite:#06x}, not 0x00A9",
                AlertDescription.ILLEGAL_PARAMETER,
            )
        if hello.compression != 0:
            raise TlsError("the meter chose compression", AlertDescription.ILLEGAL_PARAMETER)
        # We offered no extensions, only the SCSV: renegotiation_info is the one allowed
        # answer (RFC 5746 §3.4), and on a first handshake it must be empty.
        unsolicited = set(hello.extensions) - {RENEGOTIATION_INFO}
        if unsolicited:
            raise TlsError(
                f"the meter sent extensions never offered: {sorted(unsolicited)}",
                AlertDescription.UNSUPPORTED_EXTENSION,
            )
        renegotiation = hello.extensions.get(RENEGOTIATION_INFO)
        if renegotiation is not None and renegotiation != EMPTY_RENEGOTIATION_INFO:
            raise TlsError("non-empty renegotiation_info", AlertDescription.HANDSHAKE_FAILURE)
        self.server_random = hello.random

    def _second_flight(self) -> None:
        """ClientKeyExchange (the identity), ChangeCipherSpec, Finished: one 0x59 (p.14)."""
        message = client_key_exchange(self._identity)
        self._transcript += message
        self._flight += self._record(message)
        self._derive(self._psk)
        self._send_change_cipher_spec_and_finished(CLIENT_FINISHED)
        self.state = State.WAIT_CHANGE_CIPHER_SPEC
