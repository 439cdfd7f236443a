"""Which MQTT version the next connection attempt speaks: 5, unless the broker shows it cannot.

MQTT 5 carries mepd's packet limit to the broker (`paho_client.MAX_PACKET_BYTES`); 3.1.1 is
the fallback for a broker that does not speak 5, taken once and kept:

- a CONNACK "Unsupported protocol version" (0x84; a 3.1.1 broker's return code 1, which paho
  reports as the same) says so plainly;
- a broker that closes the connection without any CONNACK may be saying the same less
  politely (mepd's own demo broker, before it learnt to answer, read an MQTT 5 CONNECT as a
  malformed packet). That is tried once with 3.1.1 before it is called a problem; if 3.1.1
  meets the same silence, the version was not the cause and the next attempts speak 5 again.

Once the broker has answered a CONNECT, the version is settled for the life of the process.
"""

from __future__ import annotations

from enum import Enum, auto

from paho.mqtt.enums import MQTTProtocolVersion
from paho.mqtt.reasoncodes import ReasonCode

from mepd.publish.paho_client import MQTT5, MQTT311

UNSUPPORTED_PROTOCOL_VERSION = 0x84  # MQTT 5 CONNACK reason code


class Next(Enum):
    """What the connection does after an answer or a silence."""

    AS_BEFORE = auto()  # nothing to do with the version
    RETRY_WITH_311 = auto()  # try again at once with MQTT 3.1.1; not a problem (yet)
    FELL_BACK = auto()  # connected with 3.1.1 for the first time: the broker cannot bound us


class VersionChoice:
    def __init__(self) -> None:
        self.protocol: MQTTProtocolVersion = MQTT5
        self._settled = False  # the broker has answered a CONNECT: no more switching
        self._tried_311 = False  # the one try with 3.1.1 after an unanswered CONNECT
        self._warned = False

    def answered(self, reason: ReasonCode) -> Next:
        """The broker answered CONNECT with `reason`."""
        if (
            self.protocol == MQTT5
            and not self._settled
            and reason.value == UNSUPPORTED_PROTOCOL_VERSION
        ):
            self.protocol = MQTT311
            self._settled = True  # said plainly: no silence later sends us back to 5
            return Next.RETRY_WITH_311
        self._settled = True
        if self.protocol == MQTT311 and not reason.is_failure and not self._warned:
            self._warned = True
            return Next.FELL_BACK
        return Next.AS_BEFORE

    def unanswered(self) -> Next:
        """The broker closed the connection before answering CONNECT."""
        if self._settled:
            return Next.AS_BEFORE
        if self.protocol == MQTT5 and not self._tried_311:
            self._tried_311 = True
            self.protocol = MQTT311
            return Next.RETRY_WITH_311
        self.protocol = MQTT5  # 3.1.1 met the same silence: not the version
        return Next.AS_BEFORE
