"""Two clients with one client id: the broker keeps only the newest, so they kick each other off.

Two mepd instances with the same gateway id (a copied SD card, a test install next to the real
one) derive the same client id. Every connect of one closes the other's connection; each
reconnects after its backoff and closes the first's, for ever, and without this the log only
says "lost the connection" again and again.

MQTT 5 says so: the broker sends DISCONNECT with reason 0x8E "Session taken over" to the
client it drops. Not every broker does (Mosquitto 2.0.11 closes the socket without a word,
for MQTT 5 clients too), and MQTT 3.1.1 has no such packet; then the pattern names it: the
broker closed the connection, without a DISCONNECT of its own, soon after accepting it,
several times in a row. Each instance's connection then lasts until the other's next
reconnect: 1, 2, 4 s... with the default backoff, so three such ends take about 7 s.
"""

from __future__ import annotations

from dataclasses import dataclass

from paho.mqtt.reasoncodes import ReasonCode

# MQTT 5 DISCONNECT reason codes (MQTT 5.0 section 3.14.2.1).
SESSION_TAKEN_OVER = 0x8E
UNSPECIFIED_ERROR = 0x80  # what paho reports when the socket closed with no DISCONNECT
# A connection the broker closes within this many seconds of its CONNACK counts as kicked off.
SOON_AFTER_S = 30.0
# This many kicks in a row name the collision; one or two are a broker restart or a network
# blip, and the line would blame another client wrongly.
KICKS_IN_A_ROW = 3


@dataclass
class TakeoverWatch:
    """Counts connections closed by the broker soon after they began.

    Once named, the suspicion lasts until one connection holds `clear_after_s`: while the two
    clients fight, each connection lasts only until the other's next attempt, at most the
    longest backoff (`reconnect_max_s` + 20 % jitter), so the caller passes about twice that.
    """

    clear_after_s: float
    kicks: int = 0
    exact: bool = False  # the broker said "Session taken over"

    @property
    def suspected(self) -> bool:
        return self.exact or self.kicks >= KICKS_IN_A_ROW

    def ended(self, lasted_s: float, reason: ReasonCode, *, from_broker: bool) -> bool:
        """A connection that was up ended, not by us. True: name the collision."""
        if from_broker and reason.value == SESSION_TAKEN_OVER:
            self.exact = True
            self.kicks = max(self.kicks, KICKS_IN_A_ROW)
            return True
        silent = not from_broker and reason.value == UNSPECIFIED_ERROR
        soon = SOON_AFTER_S if not self.suspected else self.clear_after_s
        if silent and lasted_s < soon:
            self.kicks += 1
        else:
            self.clear()
        return self.suspected

    def clear(self) -> None:
        """A connection held (or ended in another way): nobody else is using the id."""
        self.kicks = 0
        self.exact = False
