"""MEP's TLS security mode (p.8-9, p.14-15, p.18-19), sans-I/O like the rest of the protocol.

- `codes`: the 0x57/0x58/0x59/0x80 request frames, the 0x00/0x01/0x03/0x0A answers, the
  3-byte PSK identity.
- `schedule`, `records`, `handshake`, `client`, `server`: the pure engine, TLS 1.2 with
  TLS_PSK_WITH_AES_256_GCM_SHA384 only, on `cryptography`'s AES-GCM.
- `engine`: the interface any TLS backend implements (mbed TLS: `mepd/drivers/tls_mbedtls.py`).
- `channel`: the MEP-level state machine (handshake, request, recovery) the session drives.

Names load on first use (PEP 562): the poller and the config need only `codes`, and the
engine pulls in `cryptography`'s AES-GCM, which an RC4-mode daemon should not pay for.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
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

_LAZY = {
    "ClientEngineFactory": "mepd.protocol.tls.engine",
    "DEFAULT_CLIENT_ID": "mepd.protocol.tls.codes",
    "MAX_TLS_READ_COUNT": "mepd.protocol.tls.codes",
    "PskClient": "mepd.protocol.tls.client",
    "PskCredentials": "mepd.protocol.tls.codes",
    "PskLookup": "mepd.protocol.tls.engine",
    "PskServer": "mepd.protocol.tls.server",
    "ServerEngineFactory": "mepd.protocol.tls.engine",
    "TLS_REQUEST_CODES": "mepd.protocol.tls.codes",
    "TlsChannel": "mepd.protocol.tls.channel",
    "TlsClientEngine": "mepd.protocol.tls.engine",
    "TlsError": "mepd.protocol.tls.errors",
    "TlsExchange": "mepd.protocol.tls.channel",
    "TlsKeyRejectedError": "mepd.protocol.tls.errors",
    "TlsRefusedError": "mepd.protocol.tls.errors",
    "TlsReply": "mepd.protocol.tls.codes",
    "TlsRequestCode": "mepd.protocol.tls.codes",
    "TlsResponseCode": "mepd.protocol.tls.codes",
    "TlsRetryBudget": "mepd.protocol.tls.channel",
    "TlsServerEngine": "mepd.protocol.tls.engine",
    "parse_psk_identity": "mepd.protocol.tls.codes",
    "parse_tls_reply": "mepd.protocol.tls.codes",
    "parse_tls_request": "mepd.protocol.tls.codes",
    "psk_identity": "mepd.protocol.tls.codes",
    "pure_client": "mepd.protocol.tls.engine",
    "split_read": "mepd.protocol.tls.channel",
    "terminate_frame": "mepd.protocol.tls.codes",
    "tls_request_frame": "mepd.protocol.tls.codes",
    "tls_response_frame": "mepd.protocol.tls.codes",
}

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


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)
