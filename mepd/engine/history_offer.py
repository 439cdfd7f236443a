"""What history a meter offers besides the load profile, for `mepd probe`: one line each.

Billing snapshots (BT21.2 and BT26's header, p.202, p.213), the event logs (BT71, BT74's
header, ET79's and ET54.80 from fw 3.70, p.137, p.181, p.241), the outage log (ET81's header,
p.185) and the disconnect relay (ET46, ET23.94, p.99, p.121). Each is read on its own: a
table the meter refuses is "none", the others are still read. About ten frames.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from mepd.engine.read_script import Reader, refused
from mepd.protocol import PartialRead
from mepd.protocol.errors import DecodeError
from mepd.protocol.tables.billing import decode_bt26_status
from mepd.protocol.tables.bt21 import BT21_SIZE, decode_bt21
from mepd.protocol.tables.event_log import (
    EventLog,
    decode_alternate_entries,
    decode_bt71,
    decode_log_status,
    log_layout,
    plan_alternate_entries,
    plan_bt71,
)
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
    actual = decode_bt71(await read(plan_bt71()))
    primary = log_layout(EventLog.PRIMARY, actual.history_entries, actual.history_data_length)
    status = decode_log_status(EventLog.PRIMARY, await read(primary.status_read()))
    text = f"BT74 holds {status.valid} of {actual.history_entries} events"
    newest = status.last_sequence
    try:
        await read(log_layout(EventLog.ALTERNATE, 0, 0).status_read())
        alternate = decode_alternate_entries(await read(plan_alternate_entries()))
    except Exception as error:
        if not refused(error):
            raise
        alternate = 0
    if alternate:
        layout = log_layout(EventLog.ALTERNATE, alternate, actual.history_data_length)
        other = decode_log_status(EventLog.ALTERNATE, await read(layout.status_read()))
        text += f", ET79 {other.valid} of {alternate}"
        newest = max(newest, other.last_sequence)  # one sequence for both logs (p.242)
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
