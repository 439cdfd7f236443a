"""Issue 20's M-Bus "done when", in virtual time against the gen4-mbus simulator in-process:
both sub-meters identified, each logged read published once with the simulator's truth, a
restart sends none again, and the read budget holds while power keeps its period.

The test plays the broker as tests/engine/test_load_profile_history.py does: it confirms each
record's receipt (the publisher does so on the QoS 1 PUBACK).
"""

from __future__ import annotations

import asyncio
import itertools
import json
from pathlib import Path

from mepd.drivers.simulator import mbus as sim
from mepd.drivers.simulator.profiles import MBUS_SUB_METERS
from mepd.engine.mbus_cursor import MBusCursor
from mepd.engine.state import StateFile
from mepd.publish.catalog import SubMeterKey
from mepd.publish.discovery import sub_meter_config
from mepd.publish.topics import Topics, meter_device_id
from mepd.readings import (
    IntervalRecord,
    MediumKind,
    PresentReading,
    SubMeterIdentity,
    SubMeterReading,
)
from mepd.settings import MeterSettings
from tests.engine.inprocess import KEY, START_WALL, Rig, in_virtual_time, running

SERIAL = "SIM-GEN4-MBUS"
SEED = 1  # the rig's
NEW = 6  # reads the meter logged since the cursor the test starts from: 3 hours x 2 devices


class Broker:
    """Confirms every record as it arrives (the load profile's intervals too)."""

    def __init__(self) -> None:
        self.delivered: list[SubMeterReading] = []
        self._seen = 0

    def take(self, rig: Rig) -> None:
        records = [e for e in rig.of(object) if isinstance(e, SubMeterReading | IntervalRecord)]
        for record in records[self._seen :]:
            assert record.receipt is not None
            if isinstance(record, SubMeterReading):
                self.delivered.append(record)
            record.receipt.delivered()
        self._seen = len(records)

    def restart(self) -> None:
        self._seen = 0


async def serve(broker: Broker, state: Path, seconds: float) -> Rig:
    settings = MeterSettings(key=KEY, state_path=state)
    async with running("gen4-mbus", settings=settings, seed=SEED) as rig:
        for _ in range(int(seconds * 10)):
            broker.take(rig)
            await asyncio.sleep(0.1)
        return rig


def truth(wall: float) -> list[tuple[str, float, object]]:
    return [
        (f"{r.device.manufacturer}{r.device.serial:08d}", float(int(r.wall)), r.volume_m3)
        for r in sim.reads_until(MBUS_SUB_METERS, wall, SEED)[-NEW:]
    ]


def test_sub_meters_appear_and_their_new_reads_go_out_once(tmp_path: Path) -> None:
    total = sim.logged_reads(MBUS_SUB_METERS, START_WALL)
    state = tmp_path / f"{SERIAL}.json"
    cursor = MBusCursor(sequence=total - NEW)  # as if mepd had run until three hours ago
    state.write_text(
        json.dumps({"version": 1, "serial": SERIAL, "cursors": {"mbus": cursor.to_text()}})
    )
    broker = Broker()

    async def scenario() -> None:
        rig = await serve(broker, state, 240.0)
        identities = rig.of(SubMeterIdentity)
        assert [(i.slot, i.kind) for i in identities] == [
            (1, MediumKind.GAS),
            (2, MediumKind.WATER),
        ]
        published = [(r.key, r.read_time.timestamp(), r.values[0].value) for r in broker.delivered]
        assert published == truth(START_WALL + 240.0)
        assert rig.port.stats.read_rate_violations == 0
        powers = rig.at(PresentReading)
        assert max(b - a for a, b in itertools.pairwise(powers[1:])) <= 2.0
        # Home Assistant: a device each, via the meter, Energy-dashboard classes and units.
        classes = {}
        for identity in identities:
            config = sub_meter_config(
                identity,
                {v.quantity: v.unit for v in rig.of(SubMeterReading)[0].values},
                topics=Topics("mepd", "gw"),
            )
            assert config["dev"]["via_device"] == meter_device_id(SERIAL)
            volume = config["cmps"][SubMeterKey.VOLUME]
            classes[identity.kind] = (volume["device_class"], volume["unit_of_measurement"])
        assert classes == {MediumKind.GAS: ("gas", "m³"), MediumKind.WATER: ("water", "m³")}

        saved = StateFile(state).load().cursors["mbus"]
        assert MBusCursor.from_text(saved).sequence == total

        broker.restart()
        again = await serve(broker, state, 60.0)  # a restart: identities again, no read
        assert len(again.of(SubMeterIdentity)) == 2
        assert again.of(SubMeterReading) == []

    in_virtual_time(scenario)
