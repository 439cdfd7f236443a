"""M-Bus sub-meters followed through the electricity meter: occupancy, identity, logged reads.

The client's part of p.25-27, in small steps (each at most two frames), so a history
scheduler can fit them in the gaps of the read budget while live power keeps its period:

1. ET14 about once a minute (p.25): which slots hold a device, with its handle (p.84-85);
2. ET16 for a slot that appeared or changed (its handle or device): who the device is
   (p.92-93), read only as far as ET14's billing read length (p.26 step 4);
3. ET36's fifth record once: ET45's entry size and entries (p.27, p.108);
4. ET45's header once a minute (p.27 step 5); each entry newer than the cursor, oldest first,
   in its first 128 bytes and the rest its length asks for (p.27 step 6); the header again
   after a batch (p.107), so an entry overwritten while it was read is not taken for the one
   wanted.

Each entry names its device by handle and carries the device's telegram, whose header is
the device's identity: an entry is published under that identity (announced first if new),
so a read is never put on another device's entities. Its cumulative registers go through
`SubMeterRegisterGuard` (never falls, never outruns the device); the read's time is the
meter's stamp (local time, p.91) made UTC with BT53's zone and DST adjustment and BT55's DST
flag (`local_clock.LocalClock`, read before each run of new entries; BT53 once).

The cursor (`MBusCursor`: the last published sequence, p.120, and each register's last
published value) is what the state file keeps; `committed` moves it only for readings the
caller says are out, so a restart publishes no read twice and skips none the meter holds.
"""

from __future__ import annotations

import logging
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from mepd.engine.mbus_cursor import MBusCursor, register_id
from mepd.engine.submeter_guard import SubMeterRegisterGuard, guarded
from mepd.errors import MepdError
from mepd.logs import Throttle
from mepd.protocol import PartialRead
from mepd.protocol.errors import DecodeError
from mepd.protocol.mbus.records import Telegram
from mepd.protocol.mbus.units import MBusUnit, Quantity
from mepd.protocol.tables.et14 import DeviceSlot, decode_et14, plan_et14
from mepd.protocol.tables.et16 import decode_billing_read, plan_et16
from mepd.protocol.tables.et36 import LogDimensions, decode_et45_dimensions, plan_et45_dimensions
from mepd.protocol.tables.et45 import (
    RecurringRead,
    decode_entry,
    decode_log_header,
    pending_entries,
    plan_entry,
    plan_log_header,
    rest_of_entry,
    still_held,
)
from mepd.protocol.tables.local_clock import (
    LocalClock,
    decode_bt53,
    decode_dst_now,
    plan_bt53,
    plan_bt55,
    plausible_offset,
)
from mepd.protocol.tables.meter_time import TimeBasis
from mepd.protocol.tables.planning import assemble
from mepd.readings import SubMeterIdentity, SubMeterReading, SubMeterValue, sub_meter_key
from mepd.text import printable

log = logging.getLogger(__name__)

Read = Callable[[PartialRead], Awaitable[bytes]]

OCCUPANCY_EVERY_S = 60.0  # p.25: "approximately once a minute"
LOG_EVERY_S = 60.0  # p.27 step 5: the header once a minute or less often
BATCH_ENTRIES = 4  # entries read between two reads of ET45's header (p.107)


@dataclass(frozen=True)
class Out:
    """An event a step completed, and the cursor to resume from once it is delivered (with
    every one before it): identities carry the cursor as it stood, readings move it."""

    event: SubMeterIdentity | SubMeterReading
    cursor: MBusCursor


@dataclass
class _Job:
    """One table read in partial reads (one frame a step), and what to do with the bytes."""

    plan: tuple[PartialRead, ...]
    done: Callable[[bytes], list[Out]]
    answers: list[bytes] = field(default_factory=list)


class MBusFollower:
    """The sub-meters of one electricity meter, one frame a `step`."""

    def __init__(
        self,
        serial: str,
        cursor: MBusCursor | None = None,
        *,
        say: Throttle | None = None,
    ) -> None:
        self._say = say or Throttle(log)
        self.adopt(serial, cursor or MBusCursor())

    def adopt(self, serial: str, cursor: MBusCursor) -> None:
        """Start (again) for meter `serial` after `cursor` (what was delivered)."""
        self.serial = serial
        self.position = MBusCursor(cursor.sequence, dict(cursor.baselines))  # handed out
        self._slots: dict[int, DeviceSlot] = {}  # occupied M-Bus slots by slot
        self._identity_due: set[int] = set()
        self._announced: dict[str, SubMeterIdentity] = {}
        self._guards: dict[str, SubMeterRegisterGuard] = {}
        self._held: set[str] = set()  # registers the guard holds back now
        self._next_occupancy = float("-inf")
        self.forget_layout()

    def forget_layout(self) -> None:
        """ET45's dimensions may have changed (an IDT change, p.55): read them again."""
        self._dims: LogDimensions | None = None
        self._zone: tuple[int, int] | None = None  # BT53: zone offset, DST adjustment (min)
        self._local: LocalClock | None = None  # with BT55's DST flag, before each run of entries
        self._job: _Job | None = None
        self._next_log = float("-inf")
        self._pending: deque[tuple[int, int]] = deque()
        self._batch: list[tuple[int, RecurringRead | None]] = []  # None: did not decode

    # --- the scheduler's view ----------------------------------------------------------------

    def has_work(self, now: float) -> bool:
        """Whether a step would read something at `now` (seconds)."""
        if self._job is not None or self._identity_due or self._pending or self._batch:
            return True
        if now >= self._next_occupancy:
            return True
        return bool(self._slots) and (self._dims is None or now >= self._next_log)

    async def step(self, read: Read, now: float) -> list[Out]:
        """One frame; the events the table it completed gave, in order."""
        if self._job is None:
            self._job = self._next_job(now)
            if self._job is None:
                return []
        job = self._job
        job.answers.append(await read(job.plan[len(job.answers)]))
        if len(job.answers) < len(job.plan):
            return []
        self._job = None  # `done` may plan the next part (the rest of an entry)
        return job.done(assemble(job.plan, job.answers))

    def _next_job(self, now: float) -> _Job | None:
        if now >= self._next_occupancy:
            self._next_occupancy = now + OCCUPANCY_EVERY_S
            return _Job(plan_et14(), self._on_occupancy)
        if self._identity_due:
            number = min(self._identity_due)
            self._identity_due.discard(number)
            plan = plan_et16(number, used=self._slots[number].billing_read_length)
            return _Job(plan, lambda data: self._on_identity(number, data))
        return self._log_job(now)

    def _log_job(self, now: float) -> _Job | None:
        if not self._slots and not self._batch:
            return None  # no sub-meter: no log to follow
        first = self._clock_job()
        if first is not None:
            return first
        if self._pending and len(self._batch) < BATCH_ENTRIES:
            element, sequence = self._pending.popleft()
            plan = plan_entry(element, self._require_dims())
            return _Job(plan, lambda data: self._on_entry(element, sequence, data))
        if self._batch:
            return _Job(plan_log_header(), self._on_header_after)
        if now >= self._next_log:
            self._next_log = now + LOG_EVERY_S
            return _Job(plan_log_header(), self._on_header)
        return None

    def _clock_job(self) -> _Job | None:
        """What the log's navigation and its times need first: ET36's record, BT53, BT55."""
        if self._dims is None:
            return _Job(plan_et45_dimensions(), self._on_dimensions)
        if self._zone is None:
            return _Job((plan_bt53(),), self._on_zone)
        if self._pending and self._local is None:
            return _Job((plan_bt55(),), self._on_dst)
        return None

    # --- occupancy and identity (p.25-26, p.84-93) ---------------------------------------

    def _on_occupancy(self, data: bytes) -> list[Out]:
        slots = {slot.slot: slot for slot in decode_et14(data).devices}
        for number, slot in slots.items():
            known = self._slots.get(number)
            if known is None or known.handle != slot.handle:
                self._identity_due.add(number)
        for number in set(self._slots) - set(slots):
            self._identity_due.discard(number)
            self._say.info(f"mbus-gone-{number}", "M-Bus slot %d is empty now", number)
        self._slots = slots
        return []

    def _on_identity(self, number: int, data: bytes) -> list[Out]:
        telegram = decode_billing_read(data).telegram
        if telegram is None:
            return []  # not read yet (p.26): the next occupancy poll that sees a change
        return self._identify(telegram, number)

    def _identify(self, telegram: Telegram, slot: int) -> list[Out]:
        """The event for the device that sent `telegram`, in `slot`, when it is new or changed:
        with the registers it reports (and reported before), so Home Assistant gets their
        entities before the first logged read, and keeps them across restarts."""
        device = telegram.identity
        key = sub_meter_key(device.manufacturer, device.serial)
        known = self._announced.get(key)
        registers = dict(known.registers if known else ())
        for quantity in (Quantity.VOLUME, Quantity.ENERGY):
            item = telegram.first(quantity)
            if item is not None and guarded(quantity, item.unit):
                registers.setdefault(quantity, item.unit)
        identity = SubMeterIdentity(
            self.serial,
            slot if slot or known is None else known.slot,
            device.serial,
            device.manufacturer,
            device.version,
            device.medium,
            tuple(registers.items()),
        )
        if known == identity:
            return []
        if known is None:
            log.info(
                "M-Bus slot %d: %s meter %s from %s",
                slot,
                identity.kind.value,
                printable(identity.mbus_id),
                printable(identity.manufacturer),
            )
        self._announced[identity.key] = identity
        return [Out(identity, self._snapshot())]

    # --- the recurring read log (p.27, p.107, p.119-120) ---------------------------------

    def _on_dimensions(self, data: bytes) -> list[Out]:
        self._dims = decode_et45_dimensions(data)
        return []

    def _on_zone(self, data: bytes) -> list[Out]:
        """BT53 (p.225): without a plausible zone, no local time is made UTC (none published)."""
        zone, dst = decode_bt53(data)
        if not plausible_offset(zone):
            raise DecodeError(f"BT53: time zone offset {zone} min is outside -12..+14 h (p.225)")
        self._zone = (zone, dst)
        return []

    def _on_dst(self, data: bytes) -> list[Out]:
        """BT55's DST flag now (p.229): the rule for the entries about to be read."""
        assert self._zone is not None  # read first (`_log_job`)
        self._local = LocalClock(*self._zone, decode_dst_now(data))
        return []

    def _on_header(self, data: bytes) -> list[Out]:
        dims = self._require_dims()
        header = decode_log_header(data)
        pending = pending_entries(header, dims.current_entries, self.position.sequence)
        if pending.restarted:
            self._say.warning(
                "mbus-restarted",
                "the meter's M-Bus read log started its numbering again: reading all it holds",
            )
        if pending.lost:
            self._say.warning(
                "mbus-lost",
                "%d M-Bus reads were overwritten in the meter before mepd could read them",
                pending.lost,
            )
        if pending.entries:
            self._local = None  # BT55 again first: DST may have changed since the last run
        self._pending.extend(pending.entries)
        return []

    def _on_entry(self, element: int, sequence: int, prefix: bytes) -> list[Out]:
        """An entry's first bytes, then (a job of its own) the rest its length asks for. One
        that does not decode is skipped, said once: read again, it would stop the log."""
        entry = None
        try:
            rest = rest_of_entry(element, self._require_dims(), prefix)
            if rest:
                self._job = _Job(
                    rest, lambda data: self._on_entry(element, sequence, prefix + data)
                )
                return []
            entry = decode_entry(prefix, element)
        except DecodeError as error:
            self._say.warning("mbus-entry", "M-Bus read log entry %d skipped: %s", sequence, error)
        self._batch.append((sequence, entry))
        return []

    def _on_header_after(self, data: bytes) -> list[Out]:
        """p.107: an entry read is the one wanted only if the log still holds its sequence."""
        dims = self._require_dims()
        after = decode_log_header(data)
        batch, self._batch = self._batch, []
        out: list[Out] = []
        for sequence, entry in batch:
            if still_held(after, sequence, dims.current_entries):
                out += self._take(sequence, entry)
            else:
                self._say.warning(
                    "mbus-overwritten",
                    "an M-Bus read was overwritten in the meter while mepd read it",
                )
                self.position.sequence = sequence
        return out

    def _take(self, sequence: int, entry: RecurringRead | None) -> list[Out]:
        if entry is None or not entry.succeeded:
            self.position.sequence = sequence
            return []
        telegram, stamp = entry.telegram, entry.timestamp
        if telegram is None or stamp is None:
            self.position.sequence = sequence
            return []  # p.119: a failed read; nothing to publish
        device = telegram.identity
        slot = next((n for n, s in self._slots.items() if s.handle == entry.handle), 0)
        out = self._identify(telegram, slot)  # 0: no slot has it now; before this read's cursor
        self.position.sequence = sequence
        identity = self._announced[sub_meter_key(device.manufacturer, device.serial)]
        if self._local is None:  # cannot happen: BT55 is read before the entries
            raise DecodeError("M-Bus: an entry read before the meter's local clock")
        read_time = self._local.to_utc(stamp, TimeBasis.LOCAL)
        values = self._guarded_values(identity, telegram, read_time.timestamp())
        if values:
            reading = SubMeterReading(self.serial, identity.key, read_time, values)
            out.append(Out(reading, self._snapshot()))
        return out

    def _guarded_values(
        self, identity: SubMeterIdentity, telegram: Telegram, at_s: float
    ) -> tuple[SubMeterValue, ...]:
        """The device's main registers that pass the guard (p.93: the first of each)."""
        values: list[SubMeterValue] = []
        for quantity in (Quantity.VOLUME, Quantity.ENERGY):
            item = telegram.first(quantity)
            if item is None or not guarded(item.quantity, item.unit):
                continue
            name = register_id(identity.key, quantity, item.unit)
            finding = self._guard(name, identity, quantity, item.unit).check(item.value, at_s)
            if finding.accepted:
                values.append(SubMeterValue(quantity, item.value, item.unit))
                self.position.baselines[name] = (item.value, at_s)
                if name in self._held:
                    self._held.discard(name)
                    log.warning("%s is published again: %s", name, item.value)
            elif name not in self._held:  # said once per run of held values
                self._held.add(name)
                log.warning("held back, not published: %s", finding.reason)
        return tuple(values)

    def _snapshot(self) -> MBusCursor:
        return MBusCursor(self.position.sequence, dict(self.position.baselines))

    def _guard(
        self, name: str, identity: SubMeterIdentity, quantity: Quantity, unit: MBusUnit
    ) -> SubMeterRegisterGuard:
        guard = self._guards.get(name)
        if guard is None:
            label = f"{identity.kind.value} meter {identity.key} {quantity.value}"
            guard = SubMeterRegisterGuard(label, identity.kind, quantity, unit)
            baseline = self.position.baselines.get(name)
            if baseline is not None:
                guard.seed(*baseline)
            self._guards[name] = guard
        return guard

    def _require_dims(self) -> LogDimensions:
        if self._dims is None:
            raise MepdError("ET45's dimensions (ET36) are not read yet")
        return self._dims
