"""The engine's own intervals into the statistics backfill, with the broker away (virtual time).

The engine emits a load-profile interval whether or not the broker is there (the publisher
drops it while disconnected) and emits it again when the broker has not confirmed it within
`RESEND_S`; the backfill gets every emission and must count each interval once.
"""

from __future__ import annotations

import asyncio
from collections import Counter, defaultdict
from datetime import datetime
from pathlib import Path

import pytest

from mepd.drivers.simulator.faults import FaultSettings
from mepd.engine.history import RESEND_S
from mepd.publish.ha_backfill import hour_of
from mepd.publish.ha_statistics import StatisticsBackfill
from mepd.readings import IntervalRecord
from tests.engine.inprocess import in_virtual_time, served
from tests.engine.test_load_profile_history import Broker
from tests.publish.test_ha_statistics import ha_settings

# Three hour-long blocks of 1-minute intervals: the hour before the current one is held whole.
THREE_HOURS = FaultSettings(lp_interval_min=1, lp_blocks=3, lp_block_intervals=60)


def test_intervals_sent_again_while_the_broker_was_away_count_once(tmp_path: Path) -> None:
    broker = Broker()
    broker.up = False  # away while the stored intervals are read
    backfill = StatisticsBackfill(ha_settings(9))

    async def scenario() -> None:
        async with served(broker, tmp_path / "meter.json", THREE_HOURS) as rig:
            fed = 0

            async def feed(seconds: float) -> None:
                nonlocal fed
                for _ in range(int(seconds)):
                    emitted = rig.of(IntervalRecord)
                    for record in emitted[fed:]:
                        backfill.receive(record)
                    fed = len(emitted)
                    await asyncio.sleep(1)

            await feed(90)
            broker.up = True
            await feed(RESEND_S + 30)
            emitted = rig.of(IntervalRecord)
            times = Counter((r.start, r.end) for r in emitted)
            assert max(times.values()) >= 2  # the engine did send some again
            lp = rig.port.meter.tables.load_profile
            truth: defaultdict[datetime, float] = defaultdict(float)
            for start, end in times:
                expected = lp.expected(lp.interval_at(end))
                truth[hour_of(start)] += expected.energy_wh["energy_import"] / 1000
            serial = emitted[0].meter
            complete = backfill.complete_hours(serial, "energy_import")
            assert complete  # the hour before the current one
            for hour, kwh in complete.items():
                assert kwh == pytest.approx(truth[hour], abs=1e-9)  # once each

    in_virtual_time(scenario)
