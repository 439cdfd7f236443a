"""When to answer Home Assistant's birth: the rediscovery and replay timers of the publisher.

The publisher decides *what* goes out (the retained configs, the latest slow values); this
module decides *when*, and keeps the two timers that involves out of the publisher's
bookkeeping of meters and topics.

When Home Assistant says it is back (`online` on its status topic), the configs go out again
after a random 1-5 s, so a fleet of gateways does not answer in the same instant. That is
idempotent: an `online` while one is pending changes nothing, and they go out at most once a
minute, however many `online`s arrive (anyone who may publish on the status topic could send a
hundred thousand).

Home Assistant keeps no state across its restarts and subscribes to a state topic only once
it has the config: so on its birth message, on every (re)connect and after a config changed,
the latest value of each slow entity goes out again once, `STATE_AFTER_CONFIG_S` after the
configs.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Awaitable, Callable

from mepd.logs import Throttle
from mepd.publish.topics import ONLINE

# After HA's birth: spread the gateways, yet every entity has a value within 10 s.
REDISCOVERY_JITTER_S = (1.0, 5.0)
# After the configs, before the replayed values: time for HA to subscribe to the state topics.
STATE_AFTER_CONFIG_S = 1.0
# Home Assistant says `online` once per start; more often is a loop or a flood. The configs
# are retained on the broker anyway, so answering once a minute loses nothing.
REDISCOVERY_MIN_INTERVAL_S = 60.0

Sleep = Callable[[float], Awaitable[object]]


class BirthTimers:
    """Schedules `rediscover` after HA's birth and `replay` after configs went out.

    `rediscover` sends the discovery configs again; `replay` sends the latest slow values.
    Both are the publisher's, called on the running loop, never concurrently.
    """

    def __init__(
        self,
        status_topic: str,
        *,
        rediscover: Callable[[], None],
        replay: Callable[[], None],
        rng: random.Random,
        sleep: Sleep,
        say: Throttle,
    ) -> None:
        self._status_topic = status_topic  # where Home Assistant says `online`
        self._rediscover_now = rediscover
        self._replay_now = replay
        self._rng = rng
        self._sleep = sleep
        self._say = say
        self._rediscovery: asyncio.Task[None] | None = None
        self._rediscovered_at = -REDISCOVERY_MIN_INTERVAL_S  # loop time of the last one
        self._replay: asyncio.TimerHandle | None = None

    def heard(self, topic: str, payload: bytes, retained: bool) -> None:
        """A message on a subscribed topic: HA's `online` brings the configs again, after the
        jitter and at most once a minute."""
        # A retained "online" is old news: the configs went out with this connection.
        if retained or topic != self._status_topic:
            return
        if payload.strip() != ONLINE.encode():
            return
        if self._rediscovery is not None and not self._rediscovery.done():
            return  # one is on its way: it sends the same configs
        loop = asyncio.get_running_loop()
        wait = self._rediscovered_at + REDISCOVERY_MIN_INTERVAL_S - loop.time()
        delay = max(0.0, wait) + self._rng.uniform(*REDISCOVERY_JITTER_S)
        self._say.info(
            "rediscovery",
            "Home Assistant is back online: sending discovery again in %.1f s",
            delay,
        )
        self._rediscovery = loop.create_task(self._rediscover(delay))

    def replay_soon(self) -> None:
        """The latest slow values again, once, after HA had time to subscribe."""
        if self._replay is not None:
            self._replay.cancel()
        loop = asyncio.get_running_loop()
        self._replay = loop.call_later(STATE_AFTER_CONFIG_S, self._replay_due)

    async def stop(self) -> None:
        """Cancel whatever is pending; nothing goes out after this."""
        if self._replay is not None:
            self._replay.cancel()
        if self._rediscovery is not None:
            self._rediscovery.cancel()
            await asyncio.gather(self._rediscovery, return_exceptions=True)

    def _replay_due(self) -> None:
        self._replay = None
        self._replay_now()

    async def _rediscover(self, delay: float) -> None:
        await self._sleep(delay)
        self._rediscovered_at = asyncio.get_running_loop().time()
        self._rediscover_now()
        self.replay_soon()
