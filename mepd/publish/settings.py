"""What the publisher needs from the configuration, as plain frozen values.

The pydantic config (`mepd.config`) builds these; the publisher never sees TOML. Secrets are
kept out of `repr` so a logged settings object never shows a password.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path


@dataclass(frozen=True)
class TlsSettings:
    """TLS to the broker. No `ca_file`: the system's CA store."""

    ca_file: Path | None = None
    cert_file: Path | None = None  # client certificate, optional
    key_file: Path | None = None  # its private key
    verify_hostname: bool = True


@dataclass(frozen=True)
class MqttSettings:
    host: str = "localhost"
    port: int | None = None  # None: 1883, or 8883 with TLS
    client_id: str | None = None  # None: "mepd-<gateway id>", stable across restarts
    username: str | None = None
    password: str | None = field(default=None, repr=False)
    tls: TlsSettings | None = None
    keepalive_s: int = 60
    topic_prefix: str = "mepd"
    reconnect_min_s: float = 1.0
    reconnect_max_s: float = 120.0

    @property
    def effective_port(self) -> int:
        if self.port is not None:
            return self.port
        return 8883 if self.tls is not None else 1883


@dataclass(frozen=True)
class DiscoverySettings:
    enabled: bool = True
    prefix: str = "homeassistant"
    # Home Assistant's birth/last-will topic; "online" there means: send the configs again.
    status_topic: str = "homeassistant/status"
    # Names this gateway in unique ids and topics; None: the publisher derives a stable one.
    gateway_id: str | None = None
