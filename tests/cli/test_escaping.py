"""Issue 18 item 8: what mepd prints from the network or the meter is escaped.

Anyone who may publish on Home Assistant's status topic chose what `mepd doctor` wrote to an
admin's terminal: an escape sequence retitled the window, cleared the screen or hid a line.
"""

from __future__ import annotations

import asyncio
import io
from datetime import UTC, datetime

import paho.mqtt.publish as paho_publish
import pytest

from mepd.cli.doctor import birth_check, report
from mepd.cli.live_demo import _Printer
from mepd.cli.meter_probe import ProbeResult
from mepd.cli.meter_probe import report as probe_report
from mepd.readings import Measurements, MeterIdentity, PresentReading
from mepd.settings import DiscoverySettings, MqttSettings
from tests.mosquitto import Mosquitto

HOSTILE = "online\x1b]0;pwned\x07\x1b[2J\x1b[1A\rok"
ESCAPED = "online\\x1b]0;pwned\\x07\\x1b[2J\\x1b[1A\\x0dok"


@pytest.mark.asyncio
async def test_doctor_escapes_a_retained_birth_payload(broker: Mosquitto) -> None:
    await asyncio.to_thread(
        paho_publish.single,
        "homeassistant/status",
        HOSTILE,
        retain=True,
        hostname="127.0.0.1",
        port=broker.port,
    )
    check = await birth_check(MqttSettings(host="127.0.0.1", port=broker.port), DiscoverySettings())
    out = io.StringIO()
    report([check], out)
    printed = out.getvalue()
    assert "\x1b" not in printed
    assert "\x07" not in printed
    assert "\r" not in printed
    assert ESCAPED in printed


def test_probe_escapes_the_meters_strings() -> None:
    identity = MeterIdentity(
        serial="123\x1b[2J",
        manufacturer="EL\x00",
        model="M\u202eX",
        firmware="4.1",
        hardware="1.0",
        channel=None,
        summations=2,
        present_values=0,
        idt_version=None,
        port="/dev/ttyAMA0",
    )
    present = PresentReading("123", Measurements(()), datetime(2026, 1, 1, tzinfo=UTC), None)
    lines = probe_report(ProbeResult(identity, present, None))
    assert lines[0].startswith("meter 123\\x1b[2J: EL\\x00 M\\u202eX,")
    assert all(line.isprintable() for line in lines)


def test_the_demo_escapes_what_the_broker_delivers() -> None:
    out = io.StringIO()
    printer = _Printer(out, "mepd")
    printer.show("mepd/meter/evil\x1b]0;x\x07/availability", b"online\x1b[2J")
    printer.show("mepd/meter/evil/present", b"\x1b[31m{not json")
    printed = out.getvalue()
    assert "\x1b" not in printed
    assert "\x07" not in printed
    assert "evil\\x1b]0;x\\x07 online\\x1b[2J" in printed
    assert "present: \\x1b[31m{not json" in printed
