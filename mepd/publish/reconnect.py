"""When the MQTT connection tries again: the reconnect policy, apart from the connection itself.

Reconnection is mepd's, not paho's (`client`), so the delays are ours to choose: doubling
from `reconnect_min_s` up to `reconnect_max_s` with +-20 % jitter, so gateways that lost the
same broker do not return in step; capped lower for the first minutes of an outage, so a
restarted broker is found within seconds; straight to the slowest for refused credentials,
which do not heal by themselves.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

from paho.mqtt.reasoncodes import ReasonCode

from mepd.backoff import Backoff
from mepd.publish.problems import CREDENTIALS_REFUSED
from mepd.settings import MqttSettings

# A connection that lasted this long was a success: the backoff starts again from the bottom.
STABLE_AFTER_S = 30.0
# The first minutes of an outage (a broker restart, a reboot of its host): retry at least
# this often, so the first value goes out within 3 s of the broker accepting connections
# again; a connection attempt costs a broker that is down nothing. Then the usual doubling.
FAST_RETRY_CAP_S = 2.0
FAST_RETRY_FOR_S = 120.0
# Enough doublings to reach any cap (2 ** 30 s is decades); beyond it, floats overflow.
_CAPPED = 30


class ReconnectPolicy:
    """The delay before an attempt, given how many failed before it."""

    def __init__(self, settings: MqttSettings, rng: random.Random) -> None:
        self._rng = rng
        self._backoff = Backoff(
            first_s=settings.reconnect_min_s, cap_s=settings.reconnect_max_s, jitter=0.2
        )
        self._fast_backoff = Backoff(
            first_s=settings.reconnect_min_s,
            cap_s=min(FAST_RETRY_CAP_S, settings.reconnect_max_s),
            jitter=0.2,
        )

    def delay(
        self, failures: int, *, credentials_refused: bool = False, fast: bool = False
    ) -> float:
        """Seconds before the next attempt: doubling from reconnect_min_s up to
        reconnect_max_s, +-20 % jitter so gateways that lost the same broker do not return
        in step. `fast` (the first FAST_RETRY_FOR_S of an outage): capped at
        FAST_RETRY_CAP_S, so a restarted broker is found within seconds. Refused credentials
        do not heal by themselves: straight to the slowest."""
        attempt = _CAPPED if credentials_refused else min(failures, _CAPPED)
        if fast and not credentials_refused:
            return self._fast_backoff.delay(attempt, self._rng)
        return self._backoff.delay(attempt, self._rng)


@dataclass
class Outage:
    """The failed attempts of one connection loop: which backoff applies, and which step."""

    policy: ReconnectPolicy
    stable_after_s: float
    failures: int = 0
    fast_failures: int = 0
    since: float | None = None  # when the last connection ended (or the first attempt began)

    def next_delay(self, lasted: float | None, now: float, refused: ReasonCode | None) -> float:
        """An attempt ended: it was up `lasted` seconds (None: never connected), and the broker
        refused it with `refused` (None: it did not). Seconds until the next attempt."""
        if lasted is not None and lasted >= self.stable_after_s:
            self.failures = 0
        if lasted is not None or self.since is None:
            self.since = now  # a connection just ended, or the first attempt
            self.fast_failures = 0
        credentials_refused = refused is not None and refused.value in CREDENTIALS_REFUSED
        if not credentials_refused and now - self.since < FAST_RETRY_FOR_S:
            delay = self.policy.delay(self.fast_failures, fast=True)
            self.fast_failures += 1
        else:
            delay = self.policy.delay(self.failures, credentials_refused=credentials_refused)
            self.failures += 1
        return delay
