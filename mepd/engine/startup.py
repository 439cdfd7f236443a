"""Start-up reads: who the meter is, how its tables are laid out, which MEP port this is.

Also the two checks a cycle may need after them: the IDT version, and what an alert is about.

Every read goes through the poller's `read` (one verified request, counted as an answer), so
these functions hold no state: the poller runs them again when the IDT version changes (p.55).
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, replace

from mepd.logs import Throttle
from mepd.protocol import PartialRead
from mepd.protocol.errors import DecodeError, ResponseError
from mepd.protocol.tables import (
    BT00,
    BT01,
    BT20,
    BT21,
    BT22,
    BT27,
    ET03,
    ET04,
    ET13,
    ET54,
    ET55,
    ET70,
    SOURCES_BY_NAME,
    ActualRegister,
    DataSelection,
    PresentRegisterSelection,
    alert_flags_offset,
    assemble,
    bt22_size,
    bt27_size,
    decode_bt00,
    decode_bt01,
    decode_bt20,
    decode_bt21,
    decode_bt22,
    decode_bt27,
    decode_et03,
    decode_et04,
    decode_et13_alert_flags,
    decode_et54,
    decode_et55_energy_unit,
    decode_et70,
    energy_unit_offset,
    may_have_energy_unit,
    plan_bt23,
    plan_bt28,
    plan_reads,
)
from mepd.protocol.tables.bt00 import BT00_SIZE
from mepd.protocol.tables.bt01 import BT01_SIZE, FirmwareVersion
from mepd.protocol.tables.bt21 import BT21_SIZE
from mepd.protocol.tables.et03 import SERIAL_BYTES as ET03_SERIAL_BYTES
from mepd.protocol.tables.et04 import IDT_VERSION
from mepd.protocol.tables.et54 import INTERFACE_COMPATIBILITY
from mepd.protocol.tables.et70 import CURRENT_CHANNEL
from mepd.protocol.tables.names import ENERGY_REGISTERS
from mepd.readings import MeterIdentity
from mepd.settings import Schedule
from mepd.text import printable

log = logging.getLogger(__name__)

Read = Callable[[PartialRead], Awaitable[bytes]]

# Default BT23 order (p.208): the ENERGY_REGISTERS are summations 0-3.
_DEFAULT_ENERGY_SUMMATIONS = len(ENERGY_REGISTERS)
# p.154: fw 3.70+ supports 4 tiers, optionally 8.
_BASIC_TIERS, _MOST_TIERS = 4, 8


@dataclass(frozen=True)
class Layout:
    """What the dimension tables say; re-read when the IDT version changes (p.55)."""

    dims: ActualRegister
    selection: PresentRegisterSelection | None
    data_selection: DataSelection | None
    energy_summations: int
    idt_version: int | None
    energy_unit: int = 1  # Wh per BT23 count: ET55 Energy Register Unit (p.158, p.207)
    firmware: FirmwareVersion | None = None  # BT01, which says whether ET55 has the unit
    most_tiers: int | None = None  # BT20.7 once read: it places ET55's unit (p.155)

    @property
    def reads_per_poll(self) -> tuple[int, int]:
        """Partial reads (p.8) one BT28 and one BT23 poll take with these dimensions."""
        return len(plan_bt28(self.dims)), len(plan_bt23(self.dims, self.energy_summations))


async def read_plan(read: Read, plan: tuple[PartialRead, ...]) -> bytes:
    """A table in partial reads (p.8), joined by `assemble`, which checks every length."""
    return assemble(plan, [await read(request) for request in plan])


async def read_meter(
    read: Read, *, port: str, security: str, interface: str = "mep"
) -> tuple[MeterIdentity, Layout]:
    """Identity (BT00, BT01, ET03), dimensions, and on Gen 4 the channel."""
    general = decode_bt00(await read(PartialRead(BT00, 0, BT00_SIZE)))
    for problem in general.problems():
        log.warning("unexpected meter format, readings may be wrong: %s", problem)
    info = decode_bt01(await read(PartialRead(BT01, 0, BT01_SIZE)))
    utility = decode_et03(await read(PartialRead(ET03, 0, ET03_SERIAL_BYTES)))
    serial = utility.serial_number.strip() or (info.serial_number or "").strip()
    if not serial:
        raise DecodeError("the meter reports no serial number in ET03 or BT01")
    layout = replace(await read_layout(read), firmware=info.firmware)
    channel = None
    if info.firmware.major >= 4:
        channel = await read_channel(read)
    identity = MeterIdentity(
        serial=serial,
        manufacturer=info.manufacturer.strip(),
        model=info.model.strip(),
        firmware=str(info.firmware),
        hardware=f"{info.hardware_version}.{info.hardware_revision}",
        channel=channel,
        summations=layout.dims.summations,
        present_values=layout.dims.present_values,
        idt_version=layout.idt_version,
        port=port,
        # The optical port speaks C12.18 itself: no MEP security mode (p.8) applies there.
        security="c12.18" if interface == "optical" else security,
        interface=interface,
    )
    log.info(
        "meter %s (%s %s, firmware %s%s) on %s: %d present values, %d summations",
        printable(serial),  # the meter's own strings: escaped (issue 18, item 8)
        printable(identity.manufacturer),
        printable(identity.model),
        identity.firmware,
        f", MEP{channel}" if channel else "",
        port,
        layout.dims.present_values,
        layout.dims.summations,
    )
    return identity, layout


async def read_layout(read: Read) -> Layout:
    """BT21, BT27, BT22 and the IDT version."""
    layout = await read_dimensions(read, None)
    return dataclasses.replace(layout, idt_version=await read_idt_version(read))


async def read_dimensions(read: Read, idt_version: int | None, *, energy: bool = True) -> Layout:
    """BT21, BT27 and BT22 alone: what an IDT-version change can alter for the tables mepd
    reads (p.55: BT23 and BT28 are dimensioned by BT21 or ET42; BT00, ET03 and the channel
    are not), with the version the caller has just read. `energy=False` leaves BT22 (BT23's
    selection) for `with_data_selection`, so power can be read first."""
    dims = decode_bt21(await read(PartialRead(BT21, 0, BT21_SIZE)))
    selection = None
    if bt27_size(dims):
        selection = decode_bt27(await read_plan(read, plan_reads(BT27, bt27_size(dims))), dims)
    layout = Layout(dims, selection, None, 0, idt_version)
    return await with_data_selection(read, layout) if energy else layout


async def after_idt_change(read: Read, old: Layout, idt_version: int | None) -> Layout:
    """The dimensions again after an IDT-version change (p.55), BT22 and ET55 left for
    `energy_tables`: power can be read first. The firmware carries over (who the meter is does
    not change), and so does the energy unit until ET55 is read again."""
    log.info(
        "IDT version changed from %s to %s: reading the dimension tables again",
        old.idt_version,
        idt_version,
    )
    layout = await read_dimensions(read, idt_version, energy=False)
    return dataclasses.replace(
        layout, firmware=old.firmware, energy_unit=old.energy_unit, most_tiers=old.most_tiers
    )


async def energy_tables(read: Read, layout: Layout) -> Layout:
    """`layout` with BT22 (which summations BT23 holds) and ET55's energy unit read again."""
    return await with_energy_unit(read, await with_data_selection(read, layout))


async def with_data_selection(read: Read, layout: Layout) -> Layout:
    """`layout` with BT22 read: which summations BT23 holds, so energy can be read."""
    dims, data_selection = layout.dims, None
    if bt22_size(dims):
        data_selection = decode_bt22(await read_plan(read, plan_reads(BT22, bt22_size(dims))), dims)
    summations = energy_summations(dims, data_selection)
    return dataclasses.replace(layout, data_selection=data_selection, energy_summations=summations)


async def with_energy_unit(read: Read, layout: Layout) -> Layout:
    """`layout` with ET55's energy unit; the poller calls it once the identity is out.

    Until it returns, the poller has no layout and polls nothing, so no BT23 is ever decoded
    with a unit not read from this meter (p.158). After an IDT change it runs again (p.55).
    """
    if layout.firmware is None:
        return layout
    unit, most_tiers = await read_energy_unit_where(
        read, layout.firmware, layout.dims, layout.most_tiers
    )
    if unit not in (1, layout.energy_unit):
        log.info("the meter counts energy in units of %d Wh (ET55, p.158)", unit)
    return replace(layout, energy_unit=unit, most_tiers=most_tiers)


async def read_energy_unit(read: Read, firmware: FirmwareVersion, dims: ActualRegister) -> int:
    """Wh per BT23 count, from ET55's Energy Register Unit (p.158, p.207): 1, 10 or 100."""
    unit, _ = await read_energy_unit_where(read, firmware, dims)
    return unit


async def read_energy_unit_where(
    read: Read, firmware: FirmwareVersion, dims: ActualRegister, most_tiers: int | None = None
) -> tuple[int, int | None]:
    """The energy unit and BT20.7 (the most tiers the meter supports), which places it.

    Only fw 3.70+ has the field (p.118, p.158: all other devices count in 1 Wh), so older
    meters cost no read. Its offset depends on BT20.7 (p.155): 4 or 8 on fw 3.70+ (p.154). A
    meter using more than 4 (BT21.7) supports 8, so one read of the unit's byte; otherwise
    BT20 first, two reads, unless `most_tiers` is already known: BT20 holds the firmware's
    limits, which no reprogramming changes, so after an IDT change (p.55) only the unit's byte
    is read again. A meter that refuses either read, or reports a unit the guide does not
    list, is taken to count in 1 Wh and says so once.
    """
    if not may_have_energy_unit(firmware.major, firmware.minor):
        return 1, most_tiers
    gen4 = firmware.major >= 4
    try:
        if most_tiers is None:
            most_tiers = _MOST_TIERS
            if dims.tiers <= _BASIC_TIERS:
                bt20 = decode_bt20(await read(PartialRead(BT20, 0, BT21_SIZE)))
                most_tiers = max(bt20.tiers, 1)
        at = energy_unit_offset(most_tiers, gen4=gen4)
        unit = decode_et55_energy_unit(
            await read(PartialRead(ET55, at, 1)), offset=at, max_tiers=most_tiers, gen4=gen4
        )
    except ResponseError as refused:
        log.info("meter has no ET55 energy register unit (%s): energy counts in 1 Wh", refused)
        return 1, most_tiers
    if unit.multiplier is None:
        log.warning(
            "ET55 energy register unit is %d, not 1, 10 or 100 (p.158): taking 1 Wh", unit.raw
        )
        return 1, most_tiers
    return unit.multiplier, most_tiers


async def read_idt_version(read: Read) -> int | None:
    """ET04's IDT version alone (p.65): one byte, so a check after a resync costs one read."""
    return decode_et04(
        await read(PartialRead(ET04, IDT_VERSION, 1)), offset=IDT_VERSION
    ).idt_version


async def read_channel(read: Read) -> int | None:
    """Gen 4: which MEP port this is (ET70.142, p.23); ET54 says if two are in use."""
    try:
        channel = decode_et70(
            await read(PartialRead(ET70, CURRENT_CHANNEL, 1)), offset=CURRENT_CHANNEL
        )
        status = decode_et54(await read(PartialRead(ET54, INTERFACE_COMPATIBILITY, 2)))
    except ResponseError as refused:
        log.info("meter has no ET70 channel index (%s): assuming MEP1", refused)
        return None
    if not status.multiple_mep_clients:
        log.info("meter runs in single-MEP compatibility mode")
    return channel.current_comm_channel_index


async def explain_alerts(read: Read, channel: int) -> None:
    """Log what the meter's alerts are about (ET13, p.78); never EP39, never ET50 (p.17)."""
    flags = decode_et13_alert_flags(
        await read(PartialRead(ET13, alert_flags_offset(channel), 1)), channel=channel
    )
    log.warning(
        "the meter sends alerts (ET13 alert flags 0x%02X), which it does only for a "
        "registered MEP device: another device may still be registered on this port. "
        "mepd ignores them (it is read-only and never answers alerts)",
        flags.raw,
    )


def energy_summations(dims: ActualRegister, selection: DataSelection | None) -> int:
    """How many leading summations to read so every wanted energy register is included."""
    if selection is None:
        return min(_DEFAULT_ENERGY_SUMMATIONS, dims.summations)
    wanted = {SOURCES_BY_NAME[name].id for name in ENERGY_REGISTERS if name in SOURCES_BY_NAME}
    positions = [i for i, source in enumerate(selection.summation_sources) if source in wanted]
    return (max(positions) + 1) if positions else 0


def fit_schedule(configured: Schedule, layout: Layout, say: Throttle) -> Schedule:
    """The configured schedule, slowed if this layout needs several reads per table (p.51)."""
    fitted = configured.fitted(*layout.reads_per_poll)
    if fitted != configured:
        present_reads, energy_reads = layout.reads_per_poll
        say.warning(
            "schedule-fitted",
            "this meter needs %d reads per BT28 and %d per BT23 poll: the configured schedule "
            "(present_s = %g, energy_s = %g) would exceed the meter's read budget (p.51), so "
            "mepd reads every %.1f s and %.1f s instead; raise schedule.present_s and "
            "schedule.energy_s to at least those to silence this",
            present_reads,
            energy_reads,
            configured.present_s,
            configured.energy_s,
            fitted.present_s,
            fitted.energy_s,
        )
    return fitted
