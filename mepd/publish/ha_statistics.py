"""Backfills Home Assistant's energy statistics from load-profile intervals (opt-in).

Intervals come in through `feed` (non-blocking, never raises, like the publisher's); they are
summed into UTC hours per statistic (`ha_backfill.HourlyEnergy`), and a task now and then opens
a websocket to Home Assistant, reads each statistic's hourly rows
(`recorder/statistics_during_period`), and imports the gap hours `ha_backfill.plan` finds
(`recorder/import_statistics`). Why only those hours, and why that keeps every other hour right,
is in `ha_backfill`'s docstring.

Failure policy. Home Assistant away, a refused token or a broken connection is one throttled
warning (never the token), then a capped backoff; the poller and MQTT never wait for any of it
(this runs in its own task, and `feed` only adds to memory). An hour leaves memory only once
Home Assistant's rows show it right (an import is confirmed by the next look, so one lost to a
restart is simply made again), or when it can never be written (no row before it). At most
`MAX_PENDING_HOURS` hours are kept per statistic: past that the oldest is dropped with a
warning, and its energy stays where Home Assistant put it (the hour mepd came back).

The websocket transport is the `websockets` package, imported only when a connection is made,
so `mepd --help` and a daemon without `[homeassistant.statistics]` never load it.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import Awaitable, Callable, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

from mepd.backoff import Backoff
from mepd.logs import Throttle
from mepd.publish.catalog import ENERGY, EntitySpec
from mepd.publish.discovery import default_entity_id, meter_entity_prefix, unique_id
from mepd.publish.ha_backfill import HOUR, HourlyEnergy, Row, plan
from mepd.publish.ha_exchange import (
    Command,
    CommandFailedError,
    Exchange,
    HomeAssistantError,
    Result,
)
from mepd.publish.topics import meter_device_id
from mepd.readings import Measurements
from mepd.settings import HaStatisticsSettings
from mepd.text import printable

log = logging.getLogger(__name__)

# Home Assistant compiles an hour's statistics in the first 5-minute run after it ends: an hour
# is looked at only after that, so its row is there to compare.
SETTLE = timedelta(minutes=10)
# How far before the first pending hour to look for the row a gap continues from.
LOOKBACK = timedelta(days=3)
CHECK_EVERY_S = 300.0  # a look for hours that became complete, when nothing else wakes it
CONFIRM_AFTER_S = 30.0  # after an import: the look that confirms it
RETRY = Backoff(first_s=10.0, cap_s=900.0)
MAX_PENDING_HOURS = 24 * 31
OPEN_TIMEOUT_S = 15.0
ANSWER_TIMEOUT_S = 60.0
MAX_MESSAGE_BYTES = 8 * 1024 * 1024
SOURCE = "recorder"  # the recorder's own statistic for the sensor, not an external one
MQTT_PLATFORM = "mqtt"  # the integration mepd's entities belong to in the entity registry

_SPECS: Mapping[str, EntitySpec] = {spec.key: spec for spec in ENERGY}


class ConnectionLostError(HomeAssistantError):
    """The websocket could not be opened, or closed under us."""


class Connection(Protocol):
    async def send(self, message: str) -> None: ...

    async def recv(self) -> str | bytes: ...

    async def close(self) -> None: ...


Connector = Callable[[str], Awaitable[Connection]]


def statistic_id(serial: str, key: str) -> str:
    """The statistic id of a meter's energy sensor: the entity id discovery asks for."""
    return default_entity_id(_SPECS[key], meter_entity_prefix(serial))


def registry_ids(entries: object) -> dict[str, str]:
    """unique id -> entity id of the MQTT entities in an entity registry listing."""
    found: dict[str, str] = {}
    for entry in entries if isinstance(entries, list) else []:
        if isinstance(entry, dict) and entry.get("platform") == MQTT_PLATFORM:
            unique, entity = entry.get("unique_id"), entry.get("entity_id")
            if isinstance(unique, str) and isinstance(entity, str):
                found[unique] = entity
    return found


class _Websocket:
    """The `websockets` client behind `Connection`, its errors turned into `ConnectionLostError`."""

    def __init__(self, connection: Any) -> None:
        self._connection = connection

    async def send(self, message: str) -> None:
        from websockets.exceptions import WebSocketException  # noqa: PLC0415 - lazy

        try:
            await self._connection.send(message)
        except WebSocketException as error:
            raise ConnectionLostError(f"the websocket closed: {error}") from None

    async def recv(self) -> str | bytes:
        from websockets.exceptions import WebSocketException  # noqa: PLC0415 - lazy

        try:
            message: str | bytes = await self._connection.recv()
        except WebSocketException as error:
            raise ConnectionLostError(f"the websocket closed: {error}") from None
        return message

    async def close(self) -> None:
        await self._connection.close()


async def open_websocket(url: str) -> Connection:
    from websockets.asyncio.client import connect  # noqa: PLC0415 - only when connecting
    from websockets.exceptions import WebSocketException  # noqa: PLC0415

    try:
        connection = await connect(
            url, open_timeout=OPEN_TIMEOUT_S, max_size=MAX_MESSAGE_BYTES, compression=None
        )
    except (OSError, WebSocketException) as error:
        raise ConnectionLostError(f"cannot connect to {url}: {printable(str(error))}") from None
    return _Websocket(connection)


class _Session:
    """One authenticated connection: `call` sends a command and awaits its result."""

    def __init__(self, connection: Connection, exchange: Exchange) -> None:
        self.connection = connection
        self.exchange = exchange

    async def _next(self) -> tuple[list[Any], list[Result]]:
        async with asyncio.timeout(ANSWER_TIMEOUT_S):
            text = await self.connection.recv()
        try:
            message = json.loads(text)
        except ValueError:
            raise HomeAssistantError("Home Assistant sent a message that is not JSON") from None
        return self.exchange.receive(message)

    async def authenticate(self) -> None:
        while not self.exchange.ready:
            replies, _ = await self._next()
            for reply in replies:
                await self.connection.send(reply.text())

    async def call(self, command: Command, **fields: Any) -> Any:
        ident, outgoing = self.exchange.command(command, **fields)
        await self.connection.send(outgoing.text())
        while True:
            _, results = await self._next()
            for result in results:
                if result.id == ident:
                    return result.value


def _parse_rows(entries: object) -> list[Row]:
    rows: list[Row] = []
    for entry in entries if isinstance(entries, list) else []:
        if not isinstance(entry, dict):
            continue
        start = _moment(entry.get("start"))
        if start is None:
            continue
        rows.append(Row(start, _number(entry.get("sum")), _number(entry.get("state"))))
    return rows


def _moment(value: object) -> datetime | None:
    """A row's start: milliseconds since the epoch (HA 2023.3+) or an ISO 8601 string."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        return datetime.fromtimestamp(value / 1000, UTC)
    if isinstance(value, str):
        with contextlib.suppress(ValueError):
            moment = datetime.fromisoformat(value)
            return moment.astimezone(UTC) if moment.tzinfo else None
    return None


def _number(value: object) -> float | None:
    if isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    return None


class StatisticsBackfill:
    """Collects intervals and imports the gap hours into Home Assistant; `run` is its task."""

    def __init__(
        self,
        settings: HaStatisticsSettings,
        *,
        connect: Connector = open_websocket,
        now: Callable[[], datetime] = lambda: datetime.now(UTC),
        retry: Backoff = RETRY,
    ) -> None:
        self.settings = settings
        self._connect = connect
        self._now = now
        self._retry = retry
        # By (serial, register key): the statistic id is looked up when Home Assistant is.
        self._pending: dict[tuple[str, str], HourlyEnergy] = {}
        self._wake = asyncio.Event()
        self._throttle = Throttle(log)
        self.imported_rows = 0

    # --- intake (from the pollers' emit callbacks) ----------------------------------------

    def feed(self, name: str) -> Callable[[object], None]:
        """The consumer for one configured meter's events; ignores all but intervals."""
        wanted = not self.settings.meters or name in self.settings.meters
        return self.receive if wanted else _ignore

    def receive(self, event: object) -> None:
        """Takes one interval (any object with meter, start, end, values); never raises."""
        values = getattr(event, "values", None)
        start, end = getattr(event, "start", None), getattr(event, "end", None)
        serial = getattr(event, "meter", None)
        if not (
            isinstance(values, Measurements)
            and isinstance(start, datetime)
            and isinstance(end, datetime)
            and isinstance(serial, str)
        ):
            return
        if start.tzinfo is None or end.tzinfo is None:
            self._throttle.warning("naive", "an interval without a time zone was ignored")
            return
        for key in self.settings.registers:
            measurement = values.get(key)
            if measurement is None or key not in _SPECS:
                continue
            ident = (serial, key)
            hours = self._pending.setdefault(ident, HourlyEnergy())
            hours.add(start, end, measurement.value)
            if len(hours) > MAX_PENDING_HOURS:
                oldest = hours.hours()[0]
                hours.drop([oldest])
                self._throttle.warning(
                    f"overflow {ident}",
                    "Home Assistant statistics: more than %d hours wait for %s; the hour of %s "
                    "is dropped, its energy stays where Home Assistant put it",
                    MAX_PENDING_HOURS,
                    statistic_id(serial, key),
                    oldest.isoformat(),
                )
        self._wake.set()

    def pending_hours(self) -> int:
        return sum(len(hours) for hours in self._pending.values())

    # --- the task --------------------------------------------------------------------------

    async def run(self) -> None:
        """Looks at Home Assistant when there is work, until cancelled; never raises on its own
        failures (each is one throttled line and a later retry)."""
        failures = 0
        while True:
            delay = CHECK_EVERY_S
            if self._work(self._now()):
                try:
                    imported = await self.sync_once()
                except (HomeAssistantError, OSError, TimeoutError) as error:
                    delay = self._retry.delay(failures)
                    failures += 1
                    self._throttle.warning(
                        "failure",
                        "Home Assistant statistics: %s (%s); trying again in %.0f s",
                        printable(str(error)) or type(error).__name__,
                        self.settings.url,
                        delay,
                    )
                except Exception:
                    # A bug here must not end the backfill silently, nor the daemon.
                    delay = self._retry.delay(failures)
                    failures += 1
                    self._throttle.exception("bug", "Home Assistant statistics: unexpected error")
                else:
                    failures = 0
                    delay = CONFIRM_AFTER_S if imported else CHECK_EVERY_S
            self._wake.clear()
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(delay):
                    await self._wake.wait()

    def _work(self, now: datetime) -> dict[tuple[str, str], dict[datetime, float]]:
        """Each register's complete hours that Home Assistant has had time to compile."""
        work: dict[tuple[str, str], dict[datetime, float]] = {}
        for ident, hours in self._pending.items():
            ready = {h: kwh for h, kwh in hours.complete().items() if h + HOUR + SETTLE <= now}
            if ready:
                work[ident] = ready
        return work

    async def sync_once(self) -> int:
        """One look at Home Assistant: reads the rows, imports the gap hours; rows imported."""
        now = self._now()
        work = self._work(now)
        if not work:
            return 0
        connection = await self._connect(self.settings.url)
        imported = 0
        try:
            session = _Session(connection, Exchange(self.settings.token))
            await session.authenticate()
            entities = await self._entities(session)
            for (serial, key), hours in work.items():
                unique = unique_id(meter_device_id(serial), _SPECS[key])
                ident = entities.get(unique) or statistic_id(serial, key)
                imported += await self._sync_statistic(session, (serial, key), ident, hours, now)
        finally:
            with contextlib.suppress(Exception):
                await connection.close()
        self.imported_rows += imported
        return imported

    async def _entities(self, session: _Session) -> dict[str, str]:
        """mepd's entities as Home Assistant's registry has them (renamed ones included); empty
        when the registry cannot be listed, and discovery's entity ids are used."""
        try:
            return registry_ids(await session.call(Command.ENTITY_REGISTRY_LIST))
        except CommandFailedError as error:
            self._throttle.info("registry", "Home Assistant statistics: %s", printable(str(error)))
            return {}

    async def _sync_statistic(
        self,
        session: _Session,
        register: tuple[str, str],
        ident: str,
        hours: dict[datetime, float],
        now: datetime,
    ) -> int:
        result = await session.call(
            Command.STATISTICS_DURING_PERIOD,
            start_time=(min(hours) - LOOKBACK).isoformat(),
            end_time=now.isoformat(),
            statistic_ids=[ident],
            period="hour",
            types=["sum", "state"],
        )
        rows = _parse_rows(result.get(ident) if isinstance(result, dict) else None)
        decision = plan(hours, rows)
        if decision.rows:
            spec = _SPECS[register[1]]
            await session.call(
                Command.IMPORT_STATISTICS,
                metadata={
                    "has_mean": False,
                    "has_sum": True,
                    "name": None,
                    "source": SOURCE,
                    "statistic_id": ident,
                    "unit_of_measurement": spec.unit,
                },
                stats=[_stat(row) for row in decision.rows],
            )
            log.info(
                "Home Assistant statistics: %d hour(s) of %s backfilled from %s to %s",
                len(decision.rows),
                ident,
                decision.rows[0].start.isoformat(),
                decision.rows[-1].start.isoformat(),
            )
        if decision.orphaned:
            log.info(
                "Home Assistant statistics: %d hour(s) of %s have no earlier row to continue "
                "from; left as they are",
                len(decision.orphaned),
                ident,
            )
        self._pending[register].drop(decision.settled | decision.orphaned)
        return len(decision.rows)


def _stat(row: Row) -> dict[str, Any]:
    stat: dict[str, Any] = {"start": row.start.isoformat(), "sum": row.sum}
    if row.state is not None:
        stat["state"] = row.state
    return stat


def _ignore(_event: object) -> None:
    return None
