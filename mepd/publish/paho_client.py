"""The paho client each connection attempt is made with, set up from `MqttSettings`.

A fresh one per attempt, so nothing queued for a lost connection (a QoS 1 publish awaiting its
PUBACK) is replayed, stale, on the next one. A clean session either way: the broker keeps
nothing for us between connections; what must survive a reconnect is the retained status,
which the publisher sends again itself.

MQTT 5 first, for its Maximum Packet Size in CONNECT: the broker then drops, for us alone, any
message larger than `MAX_PACKET_BYTES` instead of sending it. MQTT 3.1.1 has no way to say
so, and paho reads whatever arrives into memory in full: one 250 MB message on Home
Assistant's status topic took mepd from 40 MB to 762 MB (bench/mqtt_flood.py).
"""

from __future__ import annotations

import ssl
from dataclasses import dataclass

import paho.mqtt.client as paho
from paho.mqtt.enums import CallbackAPIVersion, MQTTProtocolVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from mepd.settings import MqttSettings, TlsSettings

# The largest packet mepd accepts from the broker. What it subscribes to is Home Assistant's
# birth message ("online": a few dozen bytes with its topic) and, for `remove-discovery`,
# mepd's own retained device configs (23 KB for a meter with every entity). 256 KiB leaves
# ten times that, and a message that size costs paho's buffers about 1 MB against the
# daemon's ~40 MB. Larger ones are dropped by the broker, for mepd only.
MAX_PACKET_BYTES = 256 * 1024

MQTT5 = MQTTProtocolVersion.MQTTv5
MQTT311 = MQTTProtocolVersion.MQTTv311


@dataclass(frozen=True)
class Will:
    """The Last Will: retained, QoS 1, sent by the broker if we vanish without DISCONNECT."""

    topic: str
    payload: str


def new_client(
    settings: MqttSettings, client_id: str, will: Will | None, protocol: MQTTProtocolVersion
) -> paho.Client:
    """A client with credentials, TLS and the Last Will set; its callbacks are the caller's.
    OSError (ssl.SSLError among them) or ValueError: a TLS file paho cannot load."""
    client = paho.Client(
        CallbackAPIVersion.VERSION2,
        client_id=client_id,
        protocol=protocol,
        # MQTT 5 says it in CONNECT instead (`connect`): clean start, no session expiry.
        clean_session=None if protocol == MQTT5 else True,
        # Reconnecting is ours (client.py); paho's own would block the loop (a refused
        # MQTT 3.1.1 CONNECT makes it reconnect at once with 3.1, inside loop_read).
        reconnect_on_failure=False,
    )
    if settings.username is not None:
        password = None if settings.password is None else settings.password.reveal()
        client.username_pw_set(settings.username, password)
    if settings.tls is not None:
        _set_tls(client, settings.tls)
    if will is not None:
        client.will_set(will.topic, will.payload, qos=1, retain=True)
    return client


def connect(client: paho.Client, settings: MqttSettings, max_packet_bytes: int) -> None:
    """Open the connection and send CONNECT (blocking: DNS, TCP, TLS handshake). With MQTT 5,
    a clean start and no Session Expiry Interval (0: the session ends with the connection),
    as MQTT 3.1.1's clean session, plus the Maximum Packet Size."""
    if client.protocol == MQTT5:
        properties = Properties(PacketTypes.CONNECT)  # type: ignore[no-untyped-call]
        properties.MaximumPacketSize = max_packet_bytes
        client.connect(
            settings.host,
            settings.effective_port,
            settings.keepalive_s,
            clean_start=True,
            properties=properties,
        )
    else:
        client.connect(settings.host, settings.effective_port, settings.keepalive_s)


def _set_tls(client: paho.Client, tls: TlsSettings) -> None:
    """The broker's certificate is always verified (no `ca_file`: the system store); only
    the host name check can be switched off (`[mqtt.tls] verify_hostname`)."""
    client.tls_set(
        ca_certs=str(tls.ca_file) if tls.ca_file else None,
        certfile=str(tls.cert_file) if tls.cert_file else None,
        keyfile=str(tls.key_file) if tls.key_file else None,
        cert_reqs=ssl.CERT_REQUIRED,
    )
    if not tls.verify_hostname:
        client.tls_insecure_set(True)
