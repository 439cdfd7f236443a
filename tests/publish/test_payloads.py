"""State payloads: only what the event carried, exact decimals, kWh at Wh resolution."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime

from mepd.protocol.tables import SOURCES_BY_NAME, Measurement, Measurements
from mepd.protocol.tables.sources import Source
from mepd.protocol.tables.units import Unit
from mepd.publish.catalog import ENERGY, PRESENT
from mepd.publish.payloads import (
    diagnostics_fields,
    encode,
    energy_fields,
    exact,
    kilo,
    link_payload,
    present_fields,
    stamped,
)
from mepd.readings import Diagnostics, EnergyReading, PresentReading

AT = datetime(2025, 6, 1, 12, 0, 0, 250000, tzinfo=UTC)


def measurements(**raw: int) -> Measurements:
    return Measurements.of(
        Measurement.of(SOURCES_BY_NAME[name], value) for name, value in raw.items()
    )


def present(**raw: int) -> PresentReading:
    return PresentReading("SIM-1", measurements(**raw), AT, None)


def energy(**raw: int) -> EnergyReading:
    return EnergyReading("SIM-1", measurements(**raw), AT, None)


def test_catalog_keys_are_real_source_names_with_matching_units() -> None:
    for spec in (*PRESENT, *ENERGY):
        source = SOURCES_BY_NAME[spec.key]
        assert source.unit == spec.source_unit, spec.key
    assert {spec.unit for spec in PRESENT} == {"W", "VA", "var", "V", "A", "Hz", None}
    assert {spec.unit for spec in ENERGY} == {"kWh"}


def test_present_values_at_the_meters_resolution() -> None:
    fields = present(
        power_import=1234, voltage_l1=231456, current_l1=5321, frequency=49987, power_factor_l1=987
    )
    text = stamped(present_fields(fields), AT).decode()
    assert text == (
        '{"power_import":1234,"frequency":49.987,"voltage_l1":231.456,"current_l1":5.321,'
        '"power_factor_l1":0.987,"ts":"2025-06-01T12:00:00.250+00:00"}'
    )
    assert json.loads(text)["power_factor_l1"] == 0.987  # a ratio 0..1, as announced


def test_energy_in_kwh_with_exactly_three_decimals() -> None:
    text = stamped(energy_fields(energy(energy_import=12345600, energy_export=7)), AT).decode()
    assert '"energy_import":12345.600' in text  # not 12345.6, not 12345.600000000002
    assert '"energy_export":0.007' in text
    for number in re.findall(r'"energy_\w+":([0-9.]+)', text):
        assert re.fullmatch(r"\d+\.\d{3}", number)


def test_a_quarantined_register_is_absent_not_zero_and_not_carried_over() -> None:
    first = energy_fields(energy(energy_import=1000, energy_export=2000))
    second = energy_fields(energy(energy_import=1001))  # export failed the guard
    assert set(first) == {"energy_import", "energy_export"}
    assert set(second) == {"energy_import"}


def test_values_mepd_does_not_announce_stay_out_of_the_payload() -> None:
    fields = present_fields(present(power_import=5, sin_phase_angle_l1=500, power_import_ct_vt=9))
    assert set(fields) == {"power_import"}


def test_a_value_with_the_wrong_unit_is_not_published() -> None:
    odd = Source(8, "power_import", Unit.COUNT)
    reading = PresentReading("SIM-1", Measurements.of([Measurement.of(odd, 5)]), AT, None)
    assert present_fields(reading) == {}


def test_no_float_noise_and_no_non_finite_numbers() -> None:
    assert str(exact(0.1 + 0.2, 3)) == "0.300"
    assert str(exact(231.45600000000002, 3)) == "231.456"
    assert exact(float("nan"), 3) is None
    assert kilo(float("inf")) is None
    assert str(kilo(999.0)) == "0.999"


def test_diagnostics_carry_the_counters_the_issue_names() -> None:
    report = Diagnostics(
        "SIM-1",
        {
            "corrupt_responses": 2,
            "timeouts": 5,
            "sequence_resyncs": 1,
            "transceiver_resets": 0,
            "quarantined": 3,
            "frames_sent": 99,
        },
        clock_offset_s=-1.5,
        last_success=AT,
        authentication_problem=False,
    )
    fields = json.loads(encode(diagnostics_fields(report)))
    assert fields == {
        "last_success": "2025-06-01T12:00:00.250+00:00",
        "clock_offset_s": -1.5,
        "corrupt_responses": 2,
        "timeouts": 5,
        "sequence_resyncs": 1,
        "transceiver_resets": 0,
        "quarantined": 3,
    }
    bare = Diagnostics("SIM-1", {}, None, None, False)
    assert diagnostics_fields(bare) == {}  # unknown offset: absent, not 0


def test_link_payload() -> None:
    assert json.loads(link_payload(False, "meter does not answer", True, AT)) == {
        "up": False,
        "auth_problem": True,
        "reason": "meter does not answer",
        "ts": "2025-06-01T12:00:00.250+00:00",
    }
