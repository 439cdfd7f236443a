"""`mepd dump`: table names, hex layout, and real reads from the simulator over a pty."""

from __future__ import annotations

import re
import time

import pytest

from mepd.cli.lp_dump import LoadProfileData
from mepd.cli.table_dump import Dump, describe, dump_table, hex_lines, parse_table, table_name
from mepd.drivers.gpio import NoLinkControl
from mepd.drivers.serial import SerialPort
from mepd.drivers.simulator.driver import PtyMeter
from mepd.drivers.simulator.factory import DEMO_MBK, simulated_meter
from mepd.drivers.simulator.profiles import PROFILES
from mepd.errors import ConfigError
from mepd.protocol import MepKey
from mepd.protocol.errors import ResponseError
from mepd.protocol.tables import BT01, BT28, ET04, ManufacturerInfo, PresentRegisterData
from mepd.protocol.tables.et04 import SystemInformation

KEY = MepKey.parse(DEMO_MBK)


@pytest.mark.parametrize(
    ("text", "table"),
    [("BT28", 28), ("bt0", 0), ("ET03", 0x803), ("et 70", 0x846), ("MT3", 0x803), ("2051", 2051)],
)
def test_table_names(text: str, table: int) -> None:
    assert parse_table(text) == table


@pytest.mark.parametrize("text", ["", "BT", "XT3", "BT-1", "ET65000", "28.5"])
def test_bad_table_names_are_explained(text: str) -> None:
    with pytest.raises(ConfigError, match="table"):
        parse_table(text)


def test_table_name_round_trip() -> None:
    for table in (0, 28, 0x803, 0x846):
        assert parse_table(table_name(table)) == table


def test_hex_lines_show_offsets_and_text() -> None:
    lines = hex_lines(bytes(range(0x41, 0x41 + 20)), offset=0x10)
    assert lines[0].startswith("000010  41 42 43")
    assert lines[0].endswith("ABCDEFGHIJKLMNOP")
    assert lines[1].startswith("000020  51 52 53 54")
    assert lines[1].endswith("QRST")


async def _dump(table: int, *, offset: int = 0, count: int | None = None) -> Dump:
    port = simulated_meter(PROFILES["gen4"], epoch=time.monotonic(), start_wall=time.time())
    async with PtyMeter(port) as pty:
        return await dump_table(
            SerialPort(pty.path), NoLinkControl(), KEY, table, offset=offset, count=count
        )


@pytest.mark.asyncio
async def test_dump_bt01_decodes_the_manufacturer() -> None:
    dump = await _dump(BT01)
    assert isinstance(dump.decoded, ManufacturerInfo)
    assert dump.decoded.manufacturer.strip()
    lines = describe(dump.decoded)
    assert any(line.split()[0] == "firmware" for line in lines)
    assert ["model", dump.decoded.model] in [line.split() for line in lines]


@pytest.mark.asyncio
async def test_dump_bt28_reads_the_size_bt21_gives_and_shows_units() -> None:
    dump = await _dump(BT28)
    assert isinstance(dump.decoded, PresentRegisterData)
    lines = describe(dump.decoded)
    voltage = next(line for line in lines if line.startswith("values.voltage_l1 "))
    assert re.fullmatch(r"values\.voltage_l1 +\d+(\.\d+)? V", voltage)


@pytest.mark.asyncio
async def test_dump_bt28_prints_aligned_name_value_unit_lines() -> None:
    """Issue 15 item 9: the demands were one unreadable line of nested fields."""
    dump = await _dump(BT28)
    lines = describe(dump.decoded)
    assert len({line.rstrip().rfind(" ") for line in lines if line.endswith((" W", " V"))}) == 1
    demand = next(line for line in lines if line.startswith("demands.power_import "))
    assert re.fullmatch(r"demands\.power_import +\d+ W", demand)
    assert not any("source" in line or "description" in line for line in lines)


@pytest.mark.asyncio
async def test_dump_a_slice_of_et04() -> None:
    dump = await _dump(ET04, offset=116, count=1)
    assert len(dump.data) == 1
    assert isinstance(dump.decoded, SystemInformation)
    assert dump.decoded.idt_version == dump.data[0]


@pytest.mark.asyncio
async def test_a_table_the_meter_lacks_is_a_refusal_with_its_code() -> None:
    with pytest.raises(ResponseError) as refused:
        await _dump(parse_table("BT99"), count=4)
    assert refused.value.code


@pytest.mark.asyncio
@pytest.mark.parametrize("name", ["BT61", "BT62", "BT63", "ET21", "BT64"])
async def test_dump_decodes_the_load_profile_tables(name: str) -> None:
    """p.233-241, p.93-98: BT62 with BT61's dimensions, BT64's first block with ET21's layout."""
    dump = await _dump(parse_table(name))
    assert dump.decoded is not None, dump.note
    lines = describe(dump.decoded)
    if name == "BT64":
        assert isinstance(dump.decoded, LoadProfileData)
        (block,) = dump.decoded.blocks
        assert len(dump.data) == 977  # one block of 96 intervals of 2 channels (p.238)
        assert len(block.intervals) == block.processed > 0
        assert any(line.startswith("blocks.0.end ") for line in lines)
        assert any(line.startswith("blocks.0.intervals.0.values ") for line in lines)
    if name == "BT62":
        assert any("source_id" in line for line in lines)
