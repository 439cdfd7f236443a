"""MEP's TLS security mode (p.8-9, p.14-15, p.18-19), sans-I/O like the rest of the protocol.

- `codes`: the 0x57/0x58/0x59/0x80 request frames, the 0x00/0x01/0x03/0x0A answers, the
  3-byte PSK identity.
- `schedule`, `records`, `handshake`, `client`, `server`: the pure engine, TLS 1.2 with
  TLS_PSK_WITH_AES_256_GCM_SHA384 only, on `cryptography`'s AES-GCM.
- `engine`: the interface any TLS backend implements (mbed TLS: `mepd/drivers/tls_mbedtls.py`).
- `channel`: the MEP-level state machine (handshake, request, recovery) the session drives.
- `errors`: what goes wrong, under `MepdError`.

Import from the modules: this package imports none of them. The poller and the configuration
need only `codes`, and the engine pulls in `cryptography`'s AES-GCM (about 8 MB), which an
RC4-mode daemon should not pay for.
"""
