"""`mepd run` with `[homeassistant.statistics]`: each poller's intervals reach the backfill.

`serve` runs for real (config from TOML, publisher to a closed port, the backfill's task); only
the poller is a stand-in that emits one load-profile interval and a present reading through the
callback `serve` gave it. The backfill's file of pending hours, saved when the daemon stops,
shows what reached it.
"""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from mepd.config.load import load_config
from mepd.protocol.tables.sources import SOURCES_BY_NAME
from mepd.publish.ha_pending import PENDING_FILE_NAME
from mepd.readings import (
    Event,
    IntervalRecord,
    Measurement,
    Measurements,
    PresentReading,
    Unit,
)
from mepd.service import daemon

START = datetime(2026, 12, 1, 3, 0, tzinfo=UTC)
STATISTICS = """
[homeassistant.statistics]
url = "http://127.0.0.1:9"
token = "not-a-real-token"
"""


def _events() -> list[Event]:
    source = SOURCES_BY_NAME["energy_import"]
    values = Measurements.of([Measurement(source, 250.0, Unit.WATT_HOUR, 250)])
    return [
        PresentReading("SIM-1", values, START, None),
        IntervalRecord("SIM-1", START, START + timedelta(minutes=15), values, ()),
    ]


class _Poller:
    """Emits the events through the callback `serve` wired, then stops the daemon."""

    stop: asyncio.Event

    def __init__(self, _settings: Any, _port: Any, _control: Any, emit: Any) -> None:
        self.emit = emit
        self.transport = SimpleNamespace(description="stand-in")

    async def run(self) -> None:
        for event in _events():
            self.emit(event)
        _Poller.stop.set()
        await asyncio.Event().wait()

    def request_stop(self) -> None:
        return None

    def overdue_s(self, _now: float) -> float:
        return 0.0


async def _serve(tmp_path: Path, extra: str, monkeypatch: pytest.MonkeyPatch) -> Path:
    state = tmp_path / "state"
    path = tmp_path / "config.toml"
    path.write_text(
        f'state_directory = "{state}"\n'
        '[meter]\nkey = "MEPD-DEMO-KEY-000001"\n'
        f'[serial]\nport = "{tmp_path / "no-such-tty"}"\n'
        "[gpio]\nenabled = false\n"
        '[mqtt]\nhost = "127.0.0.1"\nport = 9\n' + extra
    )
    config = load_config(path, environ={})
    monkeypatch.setattr(daemon, "Poller", _Poller)
    _Poller.stop = asyncio.Event()
    await asyncio.wait_for(daemon.serve(config, stop=_Poller.stop), 30)
    return state / PENDING_FILE_NAME


@pytest.mark.asyncio
async def test_intervals_reach_the_backfill_when_configured(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    pending = await _serve(tmp_path, STATISTICS, monkeypatch)
    (entry,) = json.loads(pending.read_text())["statistics"]
    assert (entry["meter"], entry["register"]) == ("SIM-1", "energy_import")
    assert entry["intervals"] == [[START.timestamp(), START.timestamp() + 900, 250.0]]


@pytest.mark.asyncio
async def test_no_backfill_without_the_section(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    pending = await _serve(tmp_path, "", monkeypatch)
    assert not pending.exists()
    assert daemon.statistics_backfill(load_config(tmp_path / "config.toml", environ={})) is None
