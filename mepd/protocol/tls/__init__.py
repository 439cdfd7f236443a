"""MEP's TLS security mode (p.8-9, p.14-15, p.18-19), sans-I/O like the rest of the protocol.

- `codes`: the 0x57/0x58/0x59/0x80 request frames, the 0x00/0x01/0x03/0x0A answers, the
  3-byte PSK identity.
- `schedule`, `records`, `handshake`, `client`, `server`: the pure engine, TLS 1.2 with
  TLS_PSK_WITH_AES_256_GCM_SHA384 only, on `cryptography`'s AES-GCM.
- `engine`: the interface any TLS backend implements (mbed TLS: `mepd/drivers/tls_mbedtls.py`).
- `channel`: the MEP-level state machine (handshake, request, recovery) the session drives.
"""

from mepd.protocol.tls.channel import TlsChannel, TlsExchange, TlsRetryBudget, split_read
from mepd.protocol.tls.client import PskClient
from mepd.protocol.tls.codes import (
    DEFAULT_CLIENT_ID,
    MAX_TLS_READ_COUNT,
    TLS_REQUEST_CODES,
    PskCredentials,
    TlsReply,
    TlsRequestCode,
    TlsResponseCode,
    parse_psk_identity,
    parse_tls_reply,
    parse_tls_request,
    psk_identity,
    terminate_frame,
    tls_request_frame,
    tls_response_frame,
)
from mepd.protocol.tls.engine import (
    ClientEngineFactory,
    PskLookup,
    ServerEngineFactory,
    TlsClientEngine,
    TlsServerEngine,
    pure_client,
)
from mepd.protocol.tls.errors import TlsError, TlsKeyRejectedError, TlsRefusedError
from mepd.protocol.tls.server import PskServer

__all__ = [
    "DEFAULT_CLIENT_ID",
    "MAX_TLS_READ_COUNT",
    "TLS_REQUEST_CODES",
    "ClientEngineFactory",
    "PskClient",
    "PskCredentials",
    "PskLookup",
    "PskServer",
    "ServerEngineFactory",
    "TlsChannel",
    "TlsClientEngine",
    "TlsError",
    "TlsExchange",
    "TlsKeyRejectedError",
    "TlsRefusedError",
    "TlsReply",
    "TlsRequestCode",
    "TlsResponseCode",
    "TlsRetryBudget",
    "TlsServerEngine",
    "parse_psk_identity",
    "parse_tls_reply",
    "parse_tls_request",
    "psk_identity",
    "pure_client",
    "split_read",
    "terminate_frame",
    "tls_request_frame",
    "tls_response_frame",
]
