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
meter's stamp (local time, p.91) turned into UTC by `to_utc`.

The cursor (`MBusCursor`: the last published sequence, p.120, and each register's last
published value) is what the state file keeps; `committed` moves it only for readings the
caller says are out, so a restart publishes no read twice and skips none the meter holds.
"""

from __future__ import annotations

import logging
from collections import deque
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation

from mepd.engine.submeter_guard import SubMeterRegisterGuard, guarded
from mepd.errors import MepdError
from mepd.logs import Throttle
from mepd.protocol import PartialRead
from mepd.protocol.mbus.records import DeviceIdentity
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
from mepd.protocol.tables.planning import assemble
from mepd.readings import Event, SubMeterIdentity, SubMeterReading, SubMeterValue

log = logging.getLogger(__name__)

Read = Callable[[PartialRead], Awaitable[bytes]]

OCCUPANCY_EVERY_S = 60.0  # p.25: "approximately once a minute"
LOG_EVERY_S = 60.0  # p.27 step 5: the header once a minute or less often
BATCH_ENTRIES = 4  # entries read between two reads of ET45's header (p.107)


def meter_local_is_utc(moment: datetime) -> datetime:
    """The meter's local time taken as UTC: right for a meter kept on UTC (the simulator's)."""
    return moment.replace(tzinfo=UTC)


@dataclass
class MBusCursor:
    """What the state file keeps: the last published ET45 sequence (never reset, p.120) and
    each register's last published value with its read time (UTC seconds), by register id."""

    sequence: int | None = None
    baselines: dict[str, tuple[Decimal, float]] = field(default_factory=dict)

    def to_json(self) -> dict[str, object]:
        return {
            "sequence": self.sequence,
            "baselines": {k: [str(v), at] for k, (v, at) in self.baselines.items()},
        }

    @classmethod
    def from_json(cls, raw: object) -> MBusCursor:
        """A cursor from the state file; anything malformed starts that part afresh."""
        if not isinstance(raw, Mapping):
            return cls()
        sequence = raw.get("sequence")
        cursor = cls(sequence if isinstance(sequence, int) and 0 <= sequence < 1 << 16 else None)
        baselines = raw.get("baselines")
        for key, pair in baselines.items() if isinstance(baselines, Mapping) else ():
            try:
                value, at = pair
                cursor.baselines[str(key)] = (Decimal(str(value)), float(at))
            except (TypeError, ValueError, InvalidOperation):
                continue
        return cursor


def register_id(key: str, quantity: Quantity, unit: MBusUnit) -> str:
    """A register's name in the cursor: the device, what it counts and in which unit (a
    baseline in GJ says nothing of a value in kWh)."""
    return f"{key}/{quantity.value}/{unit.name}"


@dataclass(frozen=True)
class Taken:
    """A logged read ready to publish, and the sequence the cursor moves to once it is out."""

    sequence: int
    reading: SubMeterReading | None  # None: nothing to publish (failed read, all held)
    baselines: dict[str, tuple[Decimal, float]]


class MBusFollower:
    def __init__(
        self,
        serial: str,
        emit: Callable[[Event], None],
        cursor: MBusCursor,
        *,
        to_utc: Callable[[datetime], datetime] = meter_local_is_utc,
        say: Throttle | None = None,
    ) -> None:
        self.serial = serial
        self.cursor = cursor
        self._emit = emit
        self._to_utc = to_utc
        self._say = say or Throttle(log)
        self._slots: dict[int, DeviceSlot] = {}  # occupied M-Bus slots by slot
        self._identity_due: set[int] = set()
        self._by_handle: dict[int, SubMeterIdentity] = {}
        self._announced: dict[str, SubMeterIdentity] = {}
        self._guards: dict[str, SubMeterRegisterGuard] = {}
        self._dims: LogDimensions | None = None
        self._next_occupancy = float("-inf")
        self._next_log = float("-inf")
        self._pending: deque[tuple[int, int]] = deque()
        self._batch: list[tuple[int, RecurringRead]] = []
        self._handed: int | None = None  # the last sequence handed out, committed or not

    # --- the scheduler's view ----------------------------------------------------------------

    def due(self, now: float) -> bool:
        """Whether a step has work now (else the next is due at `next_due`)."""
        return now >= self.next_due()

    def next_due(self) -> float:
        """Loop time of the next step's work: now while a read is under way."""
        if self._identity_due or self._pending or self._batch:
            return float("-inf")
        if self._slots and self._dims is None:
            return float("-inf")
        return min(self._next_occupancy, self._next_log if self._slots else float("inf"))

    async def step(self, read: Read, now: float) -> list[Taken]:
        """One unit of work (at most two frames); the logged reads it completed, in order.

        The caller publishes each `Taken.reading` and then calls `committed` with it.
        """
        if now >= self._next_occupancy:
            await self._read_occupancy(read, now)
        elif self._identity_due:
            await self._read_identity(read, min(self._identity_due))
        elif not self._slots and not self._batch:
            return []  # no sub-meter: nothing logged to follow (the log waits for one)
        elif self._dims is None:
            self._dims = decode_et45_dimensions(await _table(read, plan_et45_dimensions()))
        elif self._pending and len(self._batch) < BATCH_ENTRIES:
            await self._read_entry(read, *self._pending.popleft())
        elif self._batch:
            return await self._close_batch(read)
        elif now >= self._next_log:
            await self._read_header(read, now)
        return []

    def committed(self, taken: Taken) -> None:
        """`taken` is out (the broker has it): the cursor moves past it."""
        self.cursor.sequence = taken.sequence
        self.cursor.baselines.update(taken.baselines)

    def forget_progress(self) -> None:
        """The link broke mid-way: the entries not yet committed are read again later."""
        self._pending.clear()
        self._batch.clear()
        self._handed = None
        self._next_log = float("-inf")

    # --- occupancy and identity (p.25-26, p.84-93) ---------------------------------------

    async def _read_occupancy(self, read: Read, now: float) -> None:
        self._next_occupancy = now + OCCUPANCY_EVERY_S
        table = decode_et14(await _table(read, plan_et14()))
        slots = {slot.slot: slot for slot in table.devices}
        for number, slot in slots.items():
            known = self._slots.get(number)
            if known is None or known.handle != slot.handle:
                self._identity_due.add(number)
        for number in set(self._slots) - set(slots):
            gone = self._slots[number]
            self._by_handle.pop(gone.handle, None)
            self._identity_due.discard(number)
            self._say.info(f"mbus-gone-{number}", "M-Bus slot %d is empty now", number)
        self._slots = slots

    async def _read_identity(self, read: Read, number: int) -> None:
        self._identity_due.discard(number)
        slot = self._slots[number]
        billing = decode_billing_read(
            await _table(read, plan_et16(number, used=slot.billing_read_length))
        )
        if billing.identity is None:
            return  # not read yet (p.26): the next occupancy poll tries again
        self._by_handle[slot.handle] = self._identify(billing.identity, number)

    def _identify(self, device: DeviceIdentity, slot: int) -> SubMeterIdentity:
        """The event for `device` in `slot`, emitted when it is new or changed."""
        identity = SubMeterIdentity(
            self.serial, slot, device.serial, device.manufacturer, device.version, device.medium
        )
        if self._announced.get(identity.key) != identity:
            if identity.key not in self._announced:
                log.info(
                    "M-Bus slot %d: %s meter %s from %s",
                    slot,
                    identity.kind.value,
                    identity.mbus_id,
                    identity.manufacturer,
                )
            self._announced[identity.key] = identity
            self._emit(identity)
        return identity

    # --- the recurring read log (p.27, p.107, p.119-120) ---------------------------------

    async def _read_header(self, read: Read, now: float) -> None:
        self._next_log = now + LOG_EVERY_S
        dims = self._require_dims()
        header = decode_log_header(await _table(read, plan_log_header()))
        after = self._handed if self._handed is not None else self.cursor.sequence
        pending = pending_entries(header, dims.current_entries, after)
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
        self._pending.extend(pending.entries)

    async def _read_entry(self, read: Read, element: int, sequence: int) -> None:
        dims = self._require_dims()
        prefix = await _table(read, plan_entry(element, dims))
        rest = rest_of_entry(element, dims, prefix)
        data = prefix + (await _table(read, rest) if rest else b"")
        self._batch.append((sequence, decode_entry(data, element)))

    async def _close_batch(self, read: Read) -> list[Taken]:
        dims = self._require_dims()
        after = decode_log_header(await _table(read, plan_log_header()))
        batch, self._batch = self._batch, []
        taken: list[Taken] = []
        for sequence, entry in batch:
            self._handed = sequence
            if still_held(after, sequence, dims.current_entries):
                taken.append(self._take(sequence, entry))
            else:
                self._say.warning(
                    "mbus-overwritten",
                    "an M-Bus read was overwritten in the meter while mepd read it",
                )
                taken.append(Taken(sequence, None, {}))
        return taken

    def _take(self, sequence: int, entry: RecurringRead) -> Taken:
        telegram, stamp = entry.telegram, entry.timestamp
        if not entry.succeeded or telegram is None or stamp is None:
            return Taken(sequence, None, {})  # p.119: a failed read; nothing to publish
        slot = next((n for n, s in self._slots.items() if s.handle == entry.handle), 0)
        identity = self._identify(telegram.identity, slot)  # 0: no slot has it now
        read_time = self._to_utc(stamp)
        at_s = read_time.timestamp()
        values: list[SubMeterValue] = []
        baselines: dict[str, tuple[Decimal, float]] = {}
        for quantity in (Quantity.VOLUME, Quantity.ENERGY):
            item = telegram.first(quantity)
            if item is None or not guarded(item.quantity, item.unit):
                continue
            name = register_id(identity.key, quantity, item.unit)
            finding = self._guard(name, identity, quantity, item.unit).check(item.value, at_s)
            if finding.accepted:
                values.append(SubMeterValue(quantity, item.value, item.unit))
                baselines[name] = (item.value, at_s)
            else:
                self._say.warning(
                    f"mbus-held-{name}", "held back, not published: %s", finding.reason
                )
        reading = SubMeterReading(self.serial, identity.key, read_time, tuple(values))
        return Taken(sequence, reading if values else None, baselines)

    def _guard(
        self, name: str, identity: SubMeterIdentity, quantity: Quantity, unit: MBusUnit
    ) -> SubMeterRegisterGuard:
        guard = self._guards.get(name)
        if guard is None:
            label = f"{identity.kind.value} meter {identity.key} {quantity.value}"
            guard = SubMeterRegisterGuard(label, identity.kind, quantity, unit)
            baseline = self.cursor.baselines.get(name)
            if baseline is not None:
                guard.seed(*baseline)
            self._guards[name] = guard
        return guard

    def _require_dims(self) -> LogDimensions:
        if self._dims is None:
            raise MepdError("ET45's dimensions (ET36) are not read yet")
        return self._dims


async def _table(read: Read, plan: tuple[PartialRead, ...]) -> bytes:
    return assemble(plan, [await read(request) for request in plan])
