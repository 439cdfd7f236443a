"""Which history sources a meter's poller reads (`history.py`): the one place to plug one in.

A further kind of history (billing snapshots, event logs, M-Bus read logs) is one more entry
here; the poller and `History` stay as they are.
"""

from __future__ import annotations

from mepd.engine.history import HistorySource
from mepd.engine.load_profile import LoadProfileSource
from mepd.logs import Throttle
from mepd.settings import MeterSettings


def history_sources(settings: MeterSettings, say: Throttle) -> tuple[HistorySource, ...]:
    """Fresh sources for one meter, read in this order (round robin when several have work)."""
    del settings  # for sources a setting enables or shapes
    return (LoadProfileSource(say),)
