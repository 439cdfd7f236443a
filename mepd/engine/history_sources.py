"""Which history sources a meter's poller reads (`history.py`): the one place to plug one in.

A further kind of history is one more entry
here; the poller and `History` stay as they are.
"""

from __future__ import annotations

from collections.abc import Callable

from mepd.engine.history import HistorySource
from mepd.engine.load_profile import LoadProfileSource
from mepd.engine.mbus_source import MBusSource
from mepd.engine.meter_billing import Billing
from mepd.engine.meter_now import PhaseLoss, Relay
from mepd.engine.meter_records import EventLogs, OutageLog
from mepd.engine.scripted_source import Pace, ScriptedSource
from mepd.engine.startup import Layout
from mepd.logs import Throttle
from mepd.settings import MeterSettings


def history_sources(
    settings: MeterSettings, say: Throttle, layout: Callable[[], Layout | None]
) -> tuple[HistorySource, ...]:
    """Fresh sources for one meter, read in this order (round robin when several have work).
    `layout`: the poller's current BT21/BT22/ET55 layout (billing snapshots are BT23-shaped)."""
    del settings  # for sources a setting enables or shapes
    sources: list[HistorySource] = [LoadProfileSource(say)]
    pace = Pace()  # shared: together, one frame per `PACE`
    # Issue 20: events (BT74+ET79), phase (ET09), relay (ET46), outages (ET81), billing (BT26,
    # BT25), at a shared pace, each only when the ones before it have no work
    # (`ScriptedSource.yields_to`): the load profile first, then the events, ... so each
    # finishes a look before the next starts; the daily snapshots can wait longest.
    for policy in (EventLogs(), PhaseLoss(), Relay(), OutageLog(), Billing(layout)):
        sources.append(ScriptedSource(policy, say, yields_to=tuple(sources), pace=pace))
    # The M-Bus read log (ET14, ET16, ET45) last: its reads are hourly, they can wait.
    sources.append(MBusSource(say, yields_to=tuple(sources)))
    return tuple(sources)
