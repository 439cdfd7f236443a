"""The paho client each connection attempt is made with, set up from `MqttSettings`.

A fresh one per attempt, so nothing queued for a lost connection (a QoS 1 publish awaiting its
PUBACK) is replayed, stale, on the next one. MQTT 3.1.1 with a clean session: the broker keeps
nothing for us between connections either; what must survive a reconnect is the retained
status, which the publisher sends again itself.
"""

from __future__ import annotations

import ssl
from dataclasses import dataclass

import paho.mqtt.client as paho
from paho.mqtt.enums import CallbackAPIVersion, MQTTProtocolVersion

from mepd.settings import MqttSettings, TlsSettings


@dataclass(frozen=True)
class Will:
    """The Last Will: retained, QoS 1, sent by the broker if we vanish without DISCONNECT."""

    topic: str
    payload: str


def new_client(settings: MqttSettings, client_id: str, will: Will | None) -> paho.Client:
    """A client with credentials, TLS and the Last Will set; its callbacks are the caller's.
    OSError (ssl.SSLError among them) or ValueError: a TLS file paho cannot load."""
    client = paho.Client(
        CallbackAPIVersion.VERSION2,
        client_id=client_id,
        protocol=MQTTProtocolVersion.MQTTv311,
        clean_session=True,
    )
    if settings.username is not None:
        client.username_pw_set(settings.username, settings.password)
    if settings.tls is not None:
        _set_tls(client, settings.tls)
    if will is not None:
        client.will_set(will.topic, will.payload, qos=1, retain=True)
    return client


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
