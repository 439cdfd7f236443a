"""The statistics backfill against a stand-in Home Assistant (tests/publish/ha_standin.py).

The scene: a meter whose true consumption per hour is `TRUTH`; mepd (or the broker) goes away
at 02:30 and comes back at 06:20, so Home Assistant's recorder made rows for 00..02 (02 only
half), none for 03..05, and put everything from 02:30 to 06:59 into 06, the return hour. The
load profile then brings the 15-minute intervals of 00..07.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mepd.backoff import Backoff
from mepd.protocol.tables.sources import SOURCES_BY_NAME
from mepd.publish.ha_backfill import (
    HOUR,
    TOLERANCE_FRACTION,
    TOLERANCE_KWH,
    HourlyEnergy,
    Row,
    plan,
)
from mepd.publish.ha_exchange import (
    Command,
    Exchange,
    HomeAssistantError,
    Phase,
    TokenRefusedError,
)
from mepd.publish.ha_statistics import StatisticsBackfill, statistic_id
from mepd.publish.ha_websocket import ConnectionLostError
from mepd.readings import IntervalRecord, Measurement, Measurements, Unit
from mepd.secret import Secret
from mepd.settings import HaStatisticsSettings
from tests.publish.ha_standin import StandIn

TOKEN = "good-token-8f3a"
SERIAL = "SIM-1"
DAY = datetime(2026, 12, 1, tzinfo=UTC)
TRUTH = [1.0, 1.2, 0.8, 1.5, 2.0, 0.7, 0.9, 1.1]  # kWh in hours 00..07
STAT = statistic_id(SERIAL, "energy_import")
NOW = DAY + timedelta(hours=8, minutes=15)


def hour(n: int) -> datetime:
    return DAY + n * HOUR


def seed_recorder(standin: StandIn) -> None:
    """The rows Home Assistant's recorder made around the outage (sum starts at 100 kWh)."""
    register, total = 5000.0, 100.0
    standin.seed(STAT, hour(-1), total, register)
    for n in (0, 1):
        register += TRUTH[n]
        total += TRUTH[n]
        standin.seed(STAT, hour(n), total, register)
    register += TRUTH[2] / 2  # last reading at 02:30
    total += TRUTH[2] / 2
    standin.seed(STAT, hour(2), total, register)
    back = sum(TRUTH[2:7]) - TRUTH[2] / 2  # 02:30 .. 06:59, all in the return hour
    standin.seed(STAT, hour(6), total + back, register + back)
    standin.seed(STAT, hour(7), total + back + TRUTH[7], register + back + TRUTH[7])


def intervals() -> list[IntervalRecord]:
    source = SOURCES_BY_NAME["energy_import"]
    out = []
    for n, kwh in enumerate(TRUTH):
        for quarter in range(4):
            start = hour(n) + timedelta(minutes=15 * quarter)
            wh = kwh * 1000 / 4
            values = Measurements.of([Measurement(source, wh, Unit.WATT_HOUR, int(wh))])
            out.append(IntervalRecord(SERIAL, start, start + timedelta(minutes=15), values, ()))
    return out


def dashboard(standin: StandIn) -> dict[int, float]:
    return {int((start - DAY) / HOUR): kwh for start, kwh in standin.hourly(STAT)}


def ha_settings(port: int, token: str = TOKEN) -> HaStatisticsSettings:
    return HaStatisticsSettings(
        url=f"ws://127.0.0.1:{port}/api/websocket", token=Secret(token), token_origin="test"
    )


def fed(port: int, token: str = TOKEN, **kwargs: object) -> StatisticsBackfill:
    backfill = StatisticsBackfill(ha_settings(port, token), now=lambda: NOW, **kwargs)  # type: ignore[arg-type]
    consumer = backfill.feed("mep0")
    for interval in intervals():
        consumer(interval)
    return backfill


# --- pure parts ----------------------------------------------------------------------------


def test_hours_collect_only_whole_hours_and_refuse_overlaps() -> None:
    hours = HourlyEnergy()
    assert hours.add(hour(0), hour(0) + timedelta(minutes=30), 400)
    assert not hours.add(hour(0) + timedelta(minutes=15), hour(0) + timedelta(minutes=45), 9)
    assert not hours.add(hour(0) + timedelta(minutes=50), hour(1) + timedelta(minutes=10), 9)
    assert hours.complete() == {}
    assert hours.add(hour(0) + timedelta(minutes=30), hour(1), 600)
    assert hours.complete() == {hour(0): 1.0}


def test_plan_rewrites_the_gap_and_leaves_the_return_hour() -> None:
    rows = [Row(hour(-1), 10.0), Row(hour(0), 11.0), Row(hour(3), 15.0)]
    decision = plan({hour(0): 1.0, hour(1): 1.5, hour(2): 2.0}, rows)
    assert decision.rows == (Row(hour(1), 12.5), Row(hour(2), 14.5))
    assert decision.settled == {hour(0)}
    # Imported, the same hours are no longer short: nothing more to do.
    again = plan({hour(1): 1.5, hour(2): 2.0}, [*rows, *decision.rows])
    assert again.rows == ()
    assert again.settled == {hour(1), hour(2)}


def test_plan_waits_until_home_assistant_compiled_past_the_gap() -> None:
    decision = plan({hour(1): 1.0}, [Row(hour(0), 5.0)])
    assert decision.rows == ()
    assert decision.waiting == {hour(1)}


def test_plan_never_writes_a_gap_with_no_row_before_it() -> None:
    decision = plan({hour(0): 1.0}, [Row(hour(1), 5.0)])
    assert decision.rows == ()
    assert decision.orphaned == {hour(0)}


# --- the message exchange ------------------------------------------------------------------


def test_exchange_authenticates_then_numbers_commands() -> None:
    exchange = Exchange(Secret(TOKEN))
    replies, _ = exchange.receive({"type": "auth_required", "ha_version": "2025.4.4"})
    assert [reply.text() for reply in replies] == ['{"type":"auth","access_token":"' + TOKEN + '"}']
    assert TOKEN not in repr(replies)
    with pytest.raises(HomeAssistantError):
        exchange.command(Command.IMPORT_STATISTICS)
    exchange.receive({"type": "auth_ok"})
    assert exchange.phase is Phase.READY
    first, _ = exchange.command(Command.STATISTICS_DURING_PERIOD)
    second, _ = exchange.command(Command.IMPORT_STATISTICS)
    assert (first, second) == (1, 2)
    _, results = exchange.receive({"id": 2, "type": "result", "success": True, "result": None})
    assert [r.id for r in results] == [2]
    with pytest.raises(HomeAssistantError, match="never sent"):
        exchange.receive({"id": 2, "type": "result", "success": True})


def test_exchange_refused_token_and_garbage() -> None:
    exchange = Exchange(Secret(TOKEN))
    exchange.receive({"type": "auth_required"})
    with pytest.raises(TokenRefusedError):
        exchange.receive({"type": "auth_invalid", "message": "Invalid access token"})
    with pytest.raises(HomeAssistantError):
        Exchange(Secret(TOKEN)).receive(["not", "a", "message"])
    with pytest.raises(HomeAssistantError):
        Exchange(Secret(TOKEN)).receive({"type": "auth_ok"})


# --- against the stand-in --------------------------------------------------------------------


@pytest.mark.asyncio
async def test_three_hour_outage_is_backfilled_hour_by_hour() -> None:
    standin = StandIn(TOKEN)
    seed_recorder(standin)
    before = dashboard(standin)
    assert before[6] == pytest.approx(sum(TRUTH[2:7]) - TRUTH[2] / 2)  # all in the return hour
    port = await standin.start()
    try:
        backfill = fed(port)
        assert await backfill.sync_once() == 4  # 02 (half missing), 03, 04, 05
        after = dashboard(standin)
        for n in range(8):
            assert after[n] == pytest.approx(TRUTH[n]), n  # the return hour too: once
        assert standin.metadata[STAT]["source"] == "recorder"
        assert standin.metadata[STAT]["unit_of_measurement"] == "kWh"
        # The next look confirms the import and forgets the hours; nothing is sent again.
        assert await backfill.sync_once() == 0
        assert backfill.pending_hours() == 0
        assert [m["type"] for m in standin.received if "id" in m] == [
            Command.ENTITY_REGISTRY_LIST,
            Command.STATISTICS_DURING_PERIOD,
            Command.IMPORT_STATISTICS,
            Command.ENTITY_REGISTRY_LIST,
            Command.STATISTICS_DURING_PERIOD,
        ]
    finally:
        await standin.stop()


@pytest.mark.asyncio
async def test_wrong_token_is_one_line_without_the_token(caplog: pytest.LogCaptureFixture) -> None:
    standin = StandIn(TOKEN)
    seed_recorder(standin)
    port = await standin.start()
    try:
        backfill = fed(port, token="wrong-token-77", retry=Backoff(0.01, 0.02))
        with pytest.raises(TokenRefusedError):
            await backfill.sync_once()
        caplog.set_level(logging.WARNING)
        task = asyncio.create_task(backfill.run())
        await asyncio.sleep(0.3)
        task.cancel()
        lines = [r.getMessage() for r in caplog.records if "statistics" in r.getMessage()]
        assert len(lines) == 1
        assert "refused the access token" in lines[0]
        assert "wrong-token-77" not in caplog.text
        assert standin.connections > 2  # it kept trying, quietly
        assert backfill.pending_hours() == 8  # nothing lost
    finally:
        await standin.stop()


@pytest.mark.asyncio
async def test_home_assistant_restarting_mid_import_is_imported_again() -> None:
    standin = StandIn(TOKEN, drop_on_import=1)
    seed_recorder(standin)
    port = await standin.start()
    try:
        backfill = fed(port)
        with pytest.raises(ConnectionLostError):
            await backfill.sync_once()
        assert 3 not in dashboard(standin)  # nothing was applied
        assert await backfill.sync_once() == 4
        assert dashboard(standin) == pytest.approx(dict(enumerate(TRUTH)))
    finally:
        await standin.stop()


@pytest.mark.asyncio
async def test_retry_after_home_assistant_was_away() -> None:
    standin = StandIn(TOKEN)
    seed_recorder(standin)
    port = await standin.start()
    await standin.stop()  # Home Assistant is away: the port refuses
    backfill = fed(port, retry=Backoff(0.02, 0.05))
    task = asyncio.create_task(backfill.run())
    try:
        await asyncio.sleep(0.1)
        assert backfill.imported_rows == 0
        await standin.start(port)
        async with asyncio.timeout(5):
            while backfill.imported_rows < 4:  # noqa: ASYNC110 - a counter the task bumps
                await asyncio.sleep(0.02)
        assert dashboard(standin) == pytest.approx(dict(enumerate(TRUTH)))
    finally:
        task.cancel()
        await standin.stop()


def test_statistic_id_is_the_discovery_entity_id() -> None:
    from mepd.publish.discovery import ReadPeriods, meter_config
    from mepd.publish.gateway import GatewayInfo
    from mepd.publish.topics import Topics
    from mepd.readings import MeterIdentity

    identity = MeterIdentity(SERIAL, "ELON", "m", "1", "1", None, 2, 2, 1, "/dev/x")
    config = meter_config(
        identity,
        {"energy_import"},
        topics=Topics("mepd", "gw"),
        gateway=GatewayInfo("gw", "Pi", "1"),
        periods=ReadPeriods(1.5, 15),
    )
    assert (
        config["cmps"]["energy_import"]["default_entity_id"]
        == STAT
        == "sensor.mepd_sim_1_energy_import"
    )


@pytest.mark.asyncio
async def test_a_renamed_entity_is_followed_through_the_registry() -> None:
    renamed = "sensor.house_grid_import"
    standin = StandIn(TOKEN)
    standin.entities = [
        {"entity_id": "sensor.other", "unique_id": "mepd_SIM-1_energy_import", "platform": "zha"},
        {"entity_id": renamed, "unique_id": "mepd_SIM-1_energy_import", "platform": "mqtt"},
    ]
    seed_recorder(standin)
    standin.rows[renamed] = standin.rows.pop(STAT)
    port = await standin.start()
    try:
        assert await fed(port).sync_once() == 4
        assert STAT not in standin.rows
        assert standin.metadata[renamed]["statistic_id"] == renamed
    finally:
        await standin.stop()


@settings(max_examples=200, deadline=None)
@given(
    truth=st.lists(st.integers(0, 5000), min_size=6, max_size=30),
    data=st.data(),
)
def test_any_outage_is_put_back_hour_by_hour(truth: list[int], data: st.DataObject) -> None:
    """Any outage (start hour partly recorded, return hour holding the rest): after the plan,
    every hour shows the load profile's energy, except that a start hour within tolerance keeps
    its small shortfall in the return hour."""
    kwh = [wh / 1000 for wh in truth]
    a = data.draw(st.integers(0, len(kwh) - 3), label="outage starts")
    b = data.draw(st.integers(a + 1, len(kwh) - 1), label="return hour")
    recorded = data.draw(st.integers(0, 1000), label="per mille of hour a recorded") / 1000
    total = 50.0
    rows = [Row(hour(-1), total)]
    for n in range(len(kwh)):
        if n < a or n > b:
            total += kwh[n]
        elif n == a:
            total += round(kwh[n] * recorded, 3)
        elif n < b:
            continue  # no row: the sensor was unavailable
        else:
            total = rows[0].sum + sum(kwh[: b + 1])  # type: ignore[operator]
        rows.append(Row(hour(n), round(total, 3)))
    decision = plan({hour(n): value for n, value in enumerate(kwh)}, rows)
    merged = {row.start: row.sum for row in rows} | {row.start: row.sum for row in decision.rows}
    ordered = sorted(merged.items())
    shown = {
        int((start - DAY) / HOUR): value - previous  # type: ignore[operator]
        for (_, previous), (start, value) in itertools.pairwise(ordered)
    }
    slack = max(TOLERANCE_KWH, TOLERANCE_FRACTION * kwh[a]) + 1e-6
    for n, value in enumerate(kwh):
        assert shown[n] == pytest.approx(value, abs=slack if n in (a, b) else 1e-6), n
    assert shown[a] + shown[b] == pytest.approx(kwh[a] + kwh[b], abs=1e-6)


@pytest.mark.asyncio
async def test_the_standin_refuses_what_home_assistant_refuses() -> None:
    """The stand-in's own contract, so the tests above cannot pass against a lenient peer."""
    import json

    from websockets.asyncio.client import connect

    standin = StandIn(TOKEN)
    port = await standin.start()
    meta = {
        "has_mean": False,
        "has_sum": True,
        "name": None,
        "source": "recorder",
        "statistic_id": STAT,
        "unit_of_measurement": "kWh",
    }
    odd_start = [{"start": (hour(0) + timedelta(minutes=5)).isoformat(), "sum": 1.0}]
    try:
        async with connect(f"ws://127.0.0.1:{port}/api/websocket") as ws:
            assert json.loads(await ws.recv())["type"] == "auth_required"
            await ws.send(json.dumps({"type": "auth", "access_token": TOKEN}))
            assert json.loads(await ws.recv())["type"] == "auth_ok"
            answers = []
            for message in (
                {"id": 1, "type": "no/such_command"},
                {"id": 1, "type": Command.STATISTICS_DURING_PERIOD},
                {"id": 2, "type": Command.IMPORT_STATISTICS, "metadata": meta, "stats": odd_start},
                {
                    "id": 3,
                    "type": Command.IMPORT_STATISTICS,
                    "metadata": {**meta, "source": "mepd"},
                    "stats": [],
                },
            ):
                await ws.send(json.dumps(message))
                answers.append(json.loads(await ws.recv()))
        assert [a["success"] for a in answers] == [False] * 4
        assert [a["error"]["code"] for a in answers] == [
            "unknown_command",
            "id_reuse",
            "invalid_format",
            "invalid_format",
        ]
        assert standin.rows == {}
    finally:
        await standin.stop()
