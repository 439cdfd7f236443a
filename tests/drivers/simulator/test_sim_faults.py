"""Every fault knob, off by default, and what it does to a client."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from gpiozero import Device, DigitalOutputDevice
from gpiozero.pins.mock import MockFactory

from mepd.drivers.simulator.faults import FaultSettings, parse_fault, parse_faults
from mepd.drivers.simulator.port import Transmission
from mepd.drivers.simulator.power import GpioPinPower
from mepd.errors import ConfigError
from mepd.protocol import (
    FullRead,
    PartialRead,
    Request,
    ResponseCode,
    SignedRequest,
    sign_request,
    verify_response,
)
from mepd.protocol.errors import (
    AuthenticationError,
    DigestError,
    FrameError,
    ResponseError,
    SequenceError,
)
from mepd.protocol.stream import Alert, FrameDecoder
from mepd.protocol.tables.ids import BT23, BT52, ET04
from tests.drivers.simulator.conftest import FakeClockClient, MakeClient


def alerts(transmissions: list[Transmission]) -> int:
    decoder = FrameDecoder()
    return sum(isinstance(e, Alert) for t in transmissions for e in decoder.feed(t.data))


def synced(make_client: MakeClient, profile: str = "gen4", **options: object) -> FakeClockClient:
    client = make_client(profile, **options)
    assert client.request(PartialRead(BT52, 0, 7)).code is ResponseCode.OK
    return client


def ask(
    client: FakeClockClient, request: Request | None = None
) -> tuple[SignedRequest, list[bytes]]:
    signed = sign_request(request or PartialRead(BT52, 0, 7), client.counter.take(), client.key)
    return signed, client.send(signed.frame)


def test_all_faults_off_by_default() -> None:
    for name, value in vars(FaultSettings()).items():
        assert value in (0.0, False) or name in ("delay_seconds", "optical_seconds")


def test_fault_parsing_rejects_unknown_and_malformed() -> None:
    assert parse_fault("tx_drop_rate=0.5") == ("tx_drop_rate", 0.5)
    assert parse_faults(["key_mismatch=true"]).key_mismatch is True
    for bad in ("nope=1", "tx_drop_rate=2", "tx_drop_rate=x", "key_mismatch=maybe", "novalue"):
        with pytest.raises(ConfigError):
            parse_fault(bad)


def test_tx_corruption_breaks_response_digests(make_client: MakeClient) -> None:
    client = synced(make_client)
    client.port.set_faults(tx_corrupt_rate=0.02)
    spoiled = 0
    for _ in range(10):
        signed, replies = ask(client, PartialRead(BT23, 0, 60))
        for body in replies or [b""]:
            try:
                verify_response(signed, body)
            except (DigestError, FrameError, SequenceError):
                spoiled += 1
    assert spoiled > 0
    assert client.port.stats.bytes_corrupted > 0


def test_tx_drop_loses_bytes(make_client: MakeClient) -> None:
    client = synced(make_client)
    client.port.set_faults(tx_drop_rate=1.0)
    _, replies = ask(client)
    assert replies == []
    assert client.port.stats.bytes_dropped > 0


@pytest.mark.parametrize("knob", ["rx_corrupt_rate", "rx_drop_rate"])
def test_receive_side_faults_spoil_requests(make_client: MakeClient, knob: str) -> None:
    client = synced(make_client)
    client.port.set_faults(None, **{knob: 1.0})  # None: the current faults, changed
    _, replies = ask(client)
    assert replies in ([], [bytes([ResponseCode.AUTHENTICATION_FAILURE])])
    client.port.set_faults(None, **{knob: 0.0})
    assert client.request(PartialRead(BT52, 0, 7)).code is ResponseCode.OK


def test_lost_response_still_consumes_the_sequence_number(make_client: MakeClient) -> None:
    client = synced(make_client)
    client.port.set_faults(lose_response_rate=1.0)
    before = client.port.meter.sequence
    signed, replies = ask(client)
    assert replies == []
    assert client.port.meter.sequence == before + 1
    client.port.set_faults(lose_response_rate=0.0)
    (body,) = client.send(signed.frame, after=0.5)  # p.21: resend the identical packet
    with pytest.raises(SequenceError):
        verify_response(signed, body)


def test_delayed_response_arrives_late(make_client: MakeClient) -> None:
    client = synced(make_client)
    client.port.set_faults(delay_response_rate=1.0, delay_seconds=0.8)
    signed = sign_request(PartialRead(BT52, 0, 7), client.counter.take(), client.key)
    client.now += 0.2
    (transmission,) = client.port.receive(signed.frame, client.now)
    assert transmission.at - client.now >= 0.8
    assert client.port.stats.responses_delayed == 1


@pytest.fixture
def mock_pins() -> Iterator[MockFactory]:
    previous = Device.pin_factory
    Device.pin_factory = MockFactory()
    yield Device.pin_factory
    Device.pin_factory.close()
    Device.pin_factory = previous


def test_latch_up_until_transceiver_power_is_cycled(
    make_client: MakeClient, mock_pins: MockFactory
) -> None:
    supply = DigitalOutputDevice(
        22, initial_value=True
    )  # what the daemon drives (mepd.drivers.hat)
    client = synced(make_client, power=GpioPinPower())
    client.port.latch_up()
    assert ask(client)[1] == []
    supply.off()
    client.port.poll(client.now + 0.1)
    supply.on()
    client.now += 0.5  # off for only 0.5 s: still latched
    assert ask(client)[1] == []
    supply.off()
    client.port.poll(client.now + 0.01)
    client.now += 1.2
    client.port.poll(client.now)
    supply.on()
    assert client.request(PartialRead(BT52, 0, 7)).code is ResponseCode.OK
    assert client.port.stats.latchup_recoveries == 1


def test_latch_up_by_rate(make_client: MakeClient) -> None:
    client = synced(make_client)
    client.port.set_faults(latchup_rate=1.0)
    client.port.poll(client.now + 0.5)
    assert client.port.latched


def test_gen3_optical_takeover_silences_mep_then_sequence_jumps(make_client: MakeClient) -> None:
    client = synced(make_client, "gen3")
    client.port.set_faults(optical_seconds=2.0)
    client.port.start_optical_session(client.now)
    before = client.port.meter.sequence
    assert ask(client)[1] == []
    client.now += 2.0
    client.port.poll(client.now)
    assert client.port.meter.sequence > before + 8  # beyond the window: the next one is 0x0C
    result = client.request(PartialRead(BT52, 0, 7))
    assert result.code is ResponseCode.OK
    assert client.port.stats.optical_takeovers == 1


def test_gen4_has_no_optical_takeover(make_client: MakeClient) -> None:
    client = synced(make_client, "gen4")
    client.port.start_optical_session(client.now, 5.0)
    assert client.request(PartialRead(BT52, 0, 7)).code is ResponseCode.OK


def test_optical_takeover_by_rate(make_client: MakeClient) -> None:
    client = synced(make_client, "gen3")
    client.port.set_faults(optical_takeover_rate=1.0)
    client.port.poll(client.now + 0.5)
    assert client.port.optical_until is not None


def test_idt_bump_jumps_25_and_increments_et04_116(make_client: MakeClient) -> None:
    client = synced(make_client)
    idt = client.request(PartialRead(ET04, 116, 1)).data[0]
    before = client.port.meter.sequence
    client.port.bump_idt_version()
    assert client.port.meter.sequence == before + 25
    signed, (body,) = ask(client)
    with pytest.raises(SequenceError):
        verify_response(signed, body)
    assert client.request(PartialRead(ET04, 116, 1)).data[0] == idt + 1
    client.port.set_faults(idt_bump_rate=1.0)
    client.port.poll(client.now + 0.5)
    assert client.port.stats.idt_bumps == 2


def test_key_mismatch_answers_0x0b(make_client: MakeClient) -> None:
    client = synced(make_client)
    client.port.set_faults(key_mismatch=True)
    assert isinstance(client.request(PartialRead(BT52, 0, 7)), AuthenticationError)
    client.port.set_faults(key_mismatch=False)
    assert client.request(PartialRead(BT52, 0, 7)).code is ResponseCode.OK


def test_meter_that_rejects_bt23_full_reads(make_client: MakeClient) -> None:
    client = synced(make_client, "gen3")
    assert len(client.request(FullRead(BT23)).data) == 220
    client.port.set_faults(reject_bt23_full_read=True)
    refused = client.request(FullRead(BT23))
    assert isinstance(refused, ResponseError)
    assert refused.code is ResponseCode.OPERATION_NOT_POSSIBLE


def test_alerts_once_a_second_held_off_after_a_frame(make_client: MakeClient) -> None:
    client = synced(make_client, alerts=True)
    port = client.port
    assert alerts(port.poll(client.now + 0.5)) == 0  # held off: a frame 0.5 s ago
    assert alerts(port.poll(client.now + 1.1)) == 1
    assert alerts(port.poll(client.now + 1.6)) == 0  # once per second
    assert alerts(port.poll(client.now + 2.2)) == 1
    quiet = synced(make_client)
    assert alerts(quiet.port.poll(quiet.now + 5)) == 0


def test_energy_offset_glitches_the_import_register_only(make_client: MakeClient) -> None:
    client = synced(make_client, "gen3")

    def registers() -> tuple[int, int]:
        data = client.request(PartialRead(BT23, 0, 8)).data  # import, export (p.208)
        return int.from_bytes(data[:4], "little"), int.from_bytes(data[4:], "little")

    clean_import, clean_export = registers()
    client.port.set_faults(energy_offset_wh=117_000_000)
    glitched_import, glitched_export = registers()
    assert glitched_import - clean_import >= 117_000_000
    assert glitched_import - clean_import < 117_000_000 + 1000
    assert glitched_export - clean_export < 1000
    assert parse_fault("energy_offset_wh=-1000000") == ("energy_offset_wh", -1_000_000.0)
    for bad in ("energy_offset_wh=nan", "energy_offset_wh=inf", "delay_seconds=-1"):
        with pytest.raises(ConfigError):
            parse_fault(bad)
