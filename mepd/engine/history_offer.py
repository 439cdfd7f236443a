"""What history a meter offers besides the load profile, for `mepd probe`: one line each.

Billing snapshots (BT21.2 and BT26's header, p.202, p.213), the event logs (BT71, BT74's
header, ET79's and ET54.80 from fw 3.70, p.137, p.181, p.241), the outage log (ET81's header,
p.185) and the disconnect relay (ET46, ET23.94, p.99, p.121). Each is read on its own: a
table the meter refuses is "none", the others are still read. About ten frames.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from mepd.engine.meter_records import event_log_layouts
from mepd.engine.read_script import Reader, refused, run_script
from mepd.protocol import PartialRead
from mepd.protocol.errors import DecodeError
from mepd.protocol.tables.billing import decode_bt26_status
from mepd.protocol.tables.bt21 import BT21_SIZE, decode_bt21
from mepd.protocol.tables.event_log import decode_log_status
from mepd.protocol.tables.ids import BT21, BT26, ET46, ET81
from mepd.protocol.tables.lists import SMALL_LIST
from mepd.protocol.tables.outage_log import decode_et81_status
from mepd.protocol.tables.relay import (
    ET46_SHORT_SIZE,
    decode_disconnect_status,
    decode_et46,
    plan_disconnect_status,
)

NONE = "none offered"


@dataclass(frozen=True)
class HistoryOffer:
    billing: str
    events: str
    outages: str
    relay: str

    def lines(self) -> list[str]:
        return [
            f"billing snapshots: {self.billing}",
            f"event logs: {self.events}",
            f"outage log: {self.outages}",
            f"relay: {self.relay}",
        ]


async def read_history_offer(read: Reader) -> HistoryOffer:
    return HistoryOffer(
        await _said(_billing, read),
        await _said(_events, read),
        await _said(_outages, read),
        await _said(_relay, read),
    )


async def _said(what: Callable[[Reader], Awaitable[str]], read: Reader) -> str:
    """The line, or why there is none: refused (the meter has no such table) or garbled."""
    try:
        return await what(read)
    except DecodeError as error:
        return f"could not be decoded ({error})"
    except Exception as error:
        if refused(error):
            return f"{NONE} ({error})"
        raise


async def _billing(read: Reader) -> str:
    dims = decode_bt21(await read(PartialRead(BT21, 0, BT21_SIZE)))
    if not dims.self_reads:
        return "no self-reads (BT21.2 = 0); the demand reset snapshot in BT25"
    status = decode_bt26_status(await read(PartialRead(BT26, 0, SMALL_LIST.header_size)))
    return (
        f"{status.valid} of {dims.self_reads} self-reads held (BT26), newest number "
        f"{status.last_sequence}; the demand reset snapshot in BT25"
    )


async def _events(read: Reader) -> str:
    held: list[tuple[str, int, int]] = []
    newest = 0
    for log, layout in await run_script(event_log_layouts(), read):
        status = decode_log_status(log, await read(layout.status_read()))
        held.append((layout.name, status.valid, layout.capacity))
        newest = max(newest, status.last_sequence)  # one sequence for both logs (p.242)
    (table, valid, capacity), *alternate = held
    text = f"{table} holds {valid} of {capacity} events"
    text += "".join(f", {table} {valid} of {capacity}" for table, valid, capacity in alternate)
    return f"{text}; newest event number {newest}"


async def _outages(read: Reader) -> str:
    status = decode_et81_status(await read(PartialRead(ET81, 0, SMALL_LIST.header_size)))
    return f"{status.valid} outages held (ET81), newest number {status.last_sequence}"


async def _relay(read: Reader) -> str:
    output = decode_et46(await read(PartialRead(ET46, 0, ET46_SHORT_SIZE)))
    state = decode_disconnect_status(await read(plan_disconnect_status()))
    return (
        f"disconnect relay {state.name.lower()} (ET23.94), "
        f"{output.control_type.name.lower()} controlled (ET46)"
    )
