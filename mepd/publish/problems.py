"""What is wrong with the broker connection, in one line that names the setting to check.

The daemon logs each problem once when it changes (`ProblemLog`), and `mepd doctor` shows it,
so every text says where (host:port), what the broker or the network said, and which `[mqtt]`
key to look at.
"""

from __future__ import annotations

import logging
import socket
import ssl

from paho.mqtt.reasoncodes import ReasonCode

from mepd.logs import Throttle
from mepd.publish.takeover import KICKS_IN_A_ROW
from mepd.settings import MqttSettings, TlsSettings

# CONNACK reason codes that mean the credentials: MQTT 5's 0x86 "Bad user name or password"
# and 0x87 "Not authorized". paho 2.x hands MQTT 3.1.1's return codes 4 and 5 over as these
# same two (Mosquitto answers a wrong password with 0x87 / 5 in either version).
CREDENTIALS_REFUSED = frozenset({0x86, 0x87})


def broker_address(settings: MqttSettings) -> str:
    return f"{settings.host}:{settings.effective_port}"


def tls_setup_problem(settings: MqttSettings, error: Exception) -> str:
    return (
        f"cannot set up TLS for the MQTT broker at {broker_address(settings)} ({error}); check "
        "[mqtt.tls] ca_file, cert_file and key_file"
    )


def silent_handshake_problem(settings: MqttSettings, timeout_s: float) -> str:
    return (
        f"the MQTT broker at {broker_address(settings)} accepted the connection but did not "
        f"answer the MQTT handshake within {timeout_s:.0f} s; check that "
        f"[mqtt] port is an MQTT port (and whether it expects TLS)"
    )


def closed_handshake_problem(settings: MqttSettings) -> str:
    return (
        f"the MQTT broker at {broker_address(settings)} closed the connection before answering "
        "the MQTT handshake; check [mqtt.tls] (does it require a client "
        "certificate?) and the broker's log"
    )


def lost_problem(settings: MqttSettings, reason: ReasonCode) -> str:
    return (
        f"lost the connection to the MQTT broker at {broker_address(settings)} ({reason}); "
        "reconnecting"
    )


def takeover_problem(settings: MqttSettings, client_id: str, *, exact: bool) -> str:
    """`exact`: the broker said "Session taken over"; else the pattern of `takeover`."""
    advice = (
        "two mepd instances with the same gateway id? set [mqtt] client_id or "
        "[homeassistant] gateway_id"
    )
    if exact:
        return (
            f"another client uses the client id {client_id} at the MQTT broker at "
            f"{broker_address(settings)} (it took the session over): {advice}"
        )
    return (
        f"the MQTT broker at {broker_address(settings)} closed the connection "
        f"{KICKS_IN_A_ROW} times in a row soon after accepting it: another client probably "
        f"uses the client id {client_id} ({advice})"
    )


def mqtt311_warning(settings: MqttSettings, max_packet_bytes: int) -> str:
    return (
        f"the MQTT broker at {broker_address(settings)} does not speak MQTT 5: connected "
        "with MQTT 3.1.1, which cannot tell the broker mepd's packet limit "
        f"({max_packet_bytes // 1024} KiB), so a larger message on a topic mepd subscribes "
        "to is read in full; set max_packet_size in the broker, or upgrade it"
    )


def refusal_problem(settings: MqttSettings, reason: ReasonCode) -> str:
    where = broker_address(settings)
    if reason.value in CREDENTIALS_REFUSED:
        if settings.username is None:
            return (
                f"the MQTT broker at {where} wants a username and password "
                f"(CONNACK: {reason}); set [mqtt] username and password"
            )
        return (
            f"the MQTT broker at {where} refused the username/password "
            f"(CONNACK: {reason}); check [mqtt] username and password"
        )
    return (
        f"the MQTT broker at {where} refused the connection (CONNACK: {reason}); "
        "check [mqtt] client_id and the broker's log"
    )


def connect_problem(settings: MqttSettings, error: BaseException) -> str:
    where = broker_address(settings)
    if isinstance(error, socket.gaierror):
        return (
            f"cannot resolve the MQTT broker's host name {settings.host!r} "
            f"({error.strerror}); check [mqtt] host"
        )
    if isinstance(error, ssl.SSLError):
        return tls_problem(settings, error)
    if isinstance(error, ConnectionRefusedError):
        return (
            f"nothing accepts connections at {where} (connection refused); is the MQTT "
            "broker running, and are [mqtt] host and port right?"
        )
    if isinstance(error, TimeoutError):
        return (
            f"no answer from the MQTT broker at {where} in time; check [mqtt] host and "
            "port and the network"
        )
    if isinstance(error, OSError):
        return f"cannot connect to the MQTT broker at {where}: {error.strerror or error}"
    return f"cannot connect to the MQTT broker at {where}: {error}"


def tls_problem(settings: MqttSettings, error: ssl.SSLError) -> str:
    where = broker_address(settings)
    if isinstance(error, ssl.SSLCertVerificationError):
        store = settings.tls.ca_file if settings.tls else None
        return (
            f"the MQTT broker at {where} presented a certificate that does not "
            f"verify against {store or 'the system CA store'} ({error.verify_message}); "
            "check [mqtt.tls] ca_file and that [mqtt] host is a name in the certificate"
        )
    return (
        f"TLS with the MQTT broker at {where} failed ({error.reason or error}); "
        "check [mqtt.tls] and that the port expects TLS"
    )


def unreadable_tls_file(tls: TlsSettings | None) -> str | None:
    """The first configured TLS file that cannot be read, as a problem; None if all can."""
    if tls is None:
        return None
    for name, path in (
        ("ca_file", tls.ca_file),
        ("cert_file", tls.cert_file),
        ("key_file", tls.key_file),
    ):
        if path is None:
            continue
        try:
            path.open("rb").close()
        except OSError as error:
            return f"cannot read [mqtt.tls] {name} {path} ({error.strerror})"
    return None


class ProblemLog:
    """The connection's current problem, logged when it changes: a broker that stays away is
    one line, not one per attempt; the same problem again goes to debug only."""

    def __init__(self, logger: logging.Logger) -> None:
        self.current: str | None = None
        self.say = Throttle(logger)
        self._log = logger

    def report(self, problem: str, *, level: int = logging.ERROR) -> None:
        if problem != self.current:
            self.say.log(level, problem, "%s", problem)
        else:
            self._log.debug("%s", problem)
        self.current = problem

    def connected(self, where: str, *, takeover_suspected: bool) -> None:
        """A connection is up: the problem ends, unless a takeover is suspected (that one
        stands until a connection holds)."""
        if takeover_suspected:
            self._log.debug("connected to the MQTT broker at %s", where)
            return
        if self.current is None:
            self._log.debug("connected to the MQTT broker at %s", where)
        else:
            # A broker that keeps dropping us: said once in a while, with how many were not.
            self.say.info("connected", "connected to the MQTT broker at %s", where)
        self.current = None
