"""Start-up's ET55 energy unit read: which reads it costs, and what a refusal or odd unit gives."""

from __future__ import annotations

import dataclasses
import logging

import pytest

from mepd.drivers.simulator.profiles import PROFILES
from mepd.drivers.simulator.tables import BT20, ET55
from mepd.engine.startup import Layout, read_energy_unit, with_energy_unit
from mepd.protocol import PartialRead
from mepd.protocol.codes import ResponseCode
from mepd.protocol.errors import ResponseError
from mepd.protocol.tables import EnergyRegisterUnit, encode_bt21, encode_et55
from mepd.protocol.tables.bt01 import FirmwareVersion

GEN3 = PROFILES["gen3"]


class FakeMeter:
    """Answers BT20 and ET55 from a profile, or refuses ET55; records what was asked."""

    def __init__(self, unit: int | None, tiers: int = 4, gen4: bool = False) -> None:
        self.asked: list[PartialRead] = []
        self.bt20 = encode_bt21(dataclasses.replace(GEN3.dims, tiers=tiers))
        self.et55 = (
            None
            if unit is None
            else encode_et55(EnergyRegisterUnit(unit), max_tiers=tiers, gen4=gen4)
        )

    async def read(self, request: PartialRead) -> bytes:
        self.asked.append(request)
        table = {BT20: self.bt20, ET55: self.et55}[request.table]
        if table is None:
            raise ResponseError(ResponseCode.TABLE_OPERATION_NOT_POSSIBLE)
        return table[request.offset : request.offset + request.count]


FW_372 = FirmwareVersion(3, 72, 5)


@pytest.mark.asyncio
@pytest.mark.parametrize("unit", [1, 10, 100])
async def test_a_fw_370_meter_costs_two_reads(unit: int) -> None:
    meter = FakeMeter(unit)
    assert await read_energy_unit(meter.read, FW_372, GEN3.dims) == unit
    assert [(r.table, r.offset, r.count) for r in meter.asked] == [(BT20, 0, 10), (ET55, 197, 1)]


@pytest.mark.asyncio
async def test_more_than_four_tiers_in_use_means_eight_and_one_read() -> None:
    meter = FakeMeter(10, tiers=8, gen4=True)
    dims = PROFILES["gen4"].dims
    assert await read_energy_unit(meter.read, FirmwareVersion(4, 32, 2), dims) == 10
    assert [(r.table, r.offset) for r in meter.asked] == [(ET55, 214)]


@pytest.mark.asyncio
async def test_below_fw_370_nothing_is_read() -> None:
    meter = FakeMeter(100)
    assert await read_energy_unit(meter.read, FirmwareVersion(3, 50, 2), GEN3.dims) == 1
    assert meter.asked == []


@pytest.mark.asyncio
async def test_a_refused_et55_keeps_1_wh_with_one_info_line(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO, logger="mepd.engine.startup")
    assert await read_energy_unit(FakeMeter(None).read, FW_372, GEN3.dims) == 1
    lines = [r for r in caplog.records if "ET55" in r.getMessage()]
    assert [r.levelno for r in lines] == [logging.INFO]


@pytest.mark.asyncio
async def test_a_unit_the_guide_does_not_list_is_taken_as_1_with_a_warning(
    caplog: pytest.LogCaptureFixture,
) -> None:
    assert await read_energy_unit(FakeMeter(7).read, FW_372, GEN3.dims) == 1
    assert any(r.levelno == logging.WARNING and "7" in r.getMessage() for r in caplog.records)


@pytest.mark.asyncio
async def test_the_layout_gets_the_unit_and_says_so(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="mepd.engine.startup")
    layout = Layout(GEN3.dims, None, None, 4, 1, firmware=FW_372)
    assert (await with_energy_unit(FakeMeter(100).read, layout)).energy_unit == 100
    assert any("units of 100 Wh" in r.getMessage() for r in caplog.records)
