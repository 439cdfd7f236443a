"""The demo prints each reading once: the publisher's replay after the configs is no news."""

from __future__ import annotations

import io

from mepd.cli.live_demo import _Printer

ENERGY = b'{"ts":"2026-12-06T04:00:00.000Z","energy_import":"1234.567"}'
LATER = b'{"ts":"2026-12-06T04:00:15.000Z","energy_import":"1234.568"}'


def test_a_replayed_reading_is_printed_once() -> None:
    out = io.StringIO()
    printer = _Printer(out, "mepd")
    printer.show("mepd/meter/A1/energy", ENERGY)
    printer.show("mepd/meter/A1/energy", ENERGY)  # the replay, ~1 s later: same read time
    printer.show("mepd/meter/B2/energy", ENERGY)  # another meter's reading
    printer.show("mepd/meter/A1/energy", LATER)  # the next reading
    lines = out.getvalue().splitlines()
    assert [line.split()[1] for line in lines] == ["A1", "B2", "A1"]
    assert "1234.568 kWh" in lines[-1]


def test_status_and_unparsable_payloads_are_still_printed_each_time() -> None:
    out = io.StringIO()
    printer = _Printer(out, "mepd")
    for _ in range(2):
        printer.show("mepd/meter/A1/availability", b"online")
        printer.show("mepd/meter/A1/present", b"{not json")
    assert len(out.getvalue().splitlines()) == 4
