"""Backfills Home Assistant's energy statistics from load-profile intervals (opt-in).

`IntervalRecord`s come in through `feed` (non-blocking, never raises, like the publisher's;
every other event is ignored by its type); they are summed into UTC hours per statistic
(`ha_backfill.HourlyEnergy`), and a task now and then opens a websocket to Home Assistant
(`ha_websocket`), reads each statistic's hourly rows (`recorder/statistics_during_period`),
and imports the gap hours `ha_backfill.plan` finds (`recorder/import_statistics`). Why only
those hours, and why that keeps every other hour right, is in `ha_backfill`'s docstring.

Every interval the engine emits comes here, whether or not the broker is there: the publisher
drops an event while disconnected, this does not. The engine emits an unconfirmed interval
again every 30 s, and from its cursor after a restart; `HourlyEnergy` takes each interval
once (by its start and end, per meter serial and register), so a re-sent one never counts
twice, nor reopens an hour already done with.

Failure policy. Home Assistant away, a refused token or a broken connection is one throttled
warning (never the token), then a capped backoff; the poller and MQTT never wait for any of it
(this runs in its own task, and `feed` only adds to memory). An hour is kept only until Home
Assistant's rows show it right (an import is confirmed by the next look, so one lost to a
restart is simply made again), or until it can never be written (no row before it). Kept
hours are saved in the state directory (`ha_pending`), so a restart of mepd keeps them too.
At most `MAX_PENDING_HOURS` hours are kept per statistic: past that the oldest is dropped with
a warning, and its energy stays where Home Assistant put it (the hour mepd came back).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

from mepd.backoff import Backoff
from mepd.logs import Throttle
from mepd.publish.catalog import ENERGY, EntitySpec
from mepd.publish.discovery import default_entity_id, meter_entity_prefix, unique_id
from mepd.publish.ha_backfill import HOUR, HourlyEnergy, Row, plan
from mepd.publish.ha_exchange import Command, CommandFailedError, Exchange, HomeAssistantError
from mepd.publish.ha_pending import SAVE_EVERY_S, PendingFile, Statistic
from mepd.publish.ha_websocket import Connector, Session, open_websocket, parse_rows
from mepd.publish.topics import meter_device_id
from mepd.readings import Event, IntervalRecord
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
SOURCE = "recorder"  # the recorder's own statistic for the sensor, not an external one
MQTT_PLATFORM = "mqtt"  # the integration mepd's entities belong to in the entity registry

_SPECS: Mapping[str, EntitySpec] = {spec.key: spec for spec in ENERGY}


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


class StatisticsBackfill:
    """Collects intervals and imports the gap hours into Home Assistant; `run` is its task."""

    def __init__(
        self,
        settings: HaStatisticsSettings,
        *,
        pending: PendingFile | None = None,
        connect: Connector = open_websocket,
        now: Callable[[], datetime] = lambda: datetime.now(UTC),
        clock: Callable[[], float] = time.monotonic,
        retry: Backoff = RETRY,
    ) -> None:
        self.settings = settings
        self._file = pending
        self._connect = connect
        self._now = now
        self._clock = clock
        self._retry = retry
        # By (serial, register key): the statistic id is looked up when Home Assistant is.
        self._pending: dict[Statistic, HourlyEnergy] = (
            pending.load(registers=settings.registers, limit=MAX_PENDING_HOURS) if pending else {}
        )
        self._changed = False  # since the last save
        self._saved_at = float("-inf")
        self._save_failures = 0
        self._wake = asyncio.Event()
        self._throttle = Throttle(log)
        self.imported_rows = 0

    # --- intake (from the pollers' emit callbacks) ----------------------------------------

    def feed(self, name: str) -> Callable[[Event], None]:
        """The consumer for one configured meter's events; ignores all but intervals."""
        wanted = not self.settings.meters or name in self.settings.meters
        return self.receive if wanted else _ignore

    def receive(self, event: Event) -> None:
        """Takes one load-profile interval; any other event is not one and is ignored. Never
        raises."""
        match event:
            case IntervalRecord(meter=serial, start=start, end=end, values=values):
                pass
            case _:
                return
        if start.tzinfo is None or end.tzinfo is None:
            self._throttle.warning("naive", "an interval without a time zone was ignored")
            return
        for key in self.settings.registers:
            measurement = values.get(key)
            if measurement is None or key not in _SPECS:
                continue
            hours = self._pending.setdefault((serial, key), HourlyEnergy())
            if hours.add(start, end, measurement.value):
                self._changed = True
                self._bound((serial, key))
        self._wake.set()

    def _bound(self, ident: Statistic) -> None:
        hours = self._pending[ident]
        if len(hours) > MAX_PENDING_HOURS:
            oldest = hours.hours()[0]
            hours.finish([oldest])
            self._throttle.warning(
                f"overflow {ident}",
                "Home Assistant statistics: more than %d hours wait for %s; the hour of %s "
                "is dropped, its energy stays where Home Assistant put it",
                MAX_PENDING_HOURS,
                statistic_id(*ident),
                oldest.isoformat(),
            )

    def pending_hours(self) -> int:
        return sum(len(hours) for hours in self._pending.values())

    def complete_hours(self, serial: str, key: str) -> dict[datetime, float]:
        """kWh of each whole hour held for a meter's register (what a look would compare)."""
        hours = self._pending.get((serial, key))
        return hours.complete() if hours else {}

    # --- the pending hours' file -----------------------------------------------------------

    def save(self, *, force: bool = False) -> float | None:
        """Writes the pending hours if they changed and the last write is `SAVE_EVERY_S` old
        (or `force`); the seconds until a write is due, None if none is. Never raises."""
        if self._file is None or not self._changed:
            return None
        wait = self._saved_at + SAVE_EVERY_S - self._clock()
        if wait > 0 and not force:
            return wait
        self._saved_at = self._clock()
        try:
            self._file.save(self._pending)
        except OSError as error:
            self._save_failures += 1
            if self._save_failures == 1:
                log.error(
                    "cannot write %s: %s; the hours waiting for Home Assistant are kept in "
                    "memory only (fix the state directory's permissions)",
                    self._file.path,
                    error,
                )
            return SAVE_EVERY_S
        self._changed = False
        self._save_failures = 0
        return None

    # --- the task --------------------------------------------------------------------------

    async def run(self) -> None:
        """Looks at Home Assistant when there is work, until cancelled (then the pending hours
        are saved); never raises on its own failures (each is one throttled line and a later
        retry)."""
        try:
            await self._loop()
        finally:
            self.save(force=True)

    async def _loop(self) -> None:
        failures = 0
        # After a failure no look before this, however many intervals wake the task meanwhile
        # (a load profile read after an outage brings one every few seconds).
        hold_until = float("-inf")
        while True:
            delay = CHECK_EVERY_S
            if (held := hold_until - self._clock()) > 0:
                delay = held
            elif self._work(self._now()):
                try:
                    imported = await self.sync_once()
                except (HomeAssistantError, OSError, TimeoutError) as error:
                    delay = self._retry.delay(failures)
                    failures += 1
                    hold_until = self._clock() + delay
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
                    hold_until = self._clock() + delay
                    self._throttle.exception("bug", "Home Assistant statistics: unexpected error")
                else:
                    failures = 0
                    delay = CONFIRM_AFTER_S if imported else CHECK_EVERY_S
            self._wake.clear()
            save_in = self.save()
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(delay if save_in is None else min(delay, save_in)):
                    await self._wake.wait()

    def _work(self, now: datetime) -> dict[Statistic, dict[datetime, float]]:
        """Each register's complete hours that Home Assistant has had time to compile."""
        work: dict[Statistic, dict[datetime, float]] = {}
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
            session = Session(connection, Exchange(self.settings.token))
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

    async def _entities(self, session: Session) -> dict[str, str]:
        """mepd's entities as Home Assistant's registry has them (renamed ones included); empty
        when the registry cannot be listed, and discovery's entity ids are used."""
        try:
            return registry_ids(await session.call(Command.ENTITY_REGISTRY_LIST))
        except CommandFailedError as error:
            self._throttle.info("registry", "Home Assistant statistics: %s", printable(str(error)))
            return {}

    async def _sync_statistic(
        self,
        session: Session,
        register: Statistic,
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
        rows = parse_rows(result.get(ident) if isinstance(result, dict) else None)
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
        self._pending[register].finish(decision.settled | decision.orphaned)
        self._changed = True
        return len(decision.rows)


def _stat(row: Row) -> dict[str, Any]:
    stat: dict[str, Any] = {"start": row.start.isoformat(), "sum": row.sum}
    if row.state is not None:
        stat["state"] = row.state
    return stat


def _ignore(_event: Event) -> None:
    return None
