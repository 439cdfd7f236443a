"""Every value name mepd's logic refers to is a source the guide's table defines."""

from __future__ import annotations

import pytest

from mepd.protocol.tables import SOURCES_BY_NAME
from mepd.protocol.tables.names import ENERGY_REGISTERS, VOLTAGES, ValueName, per_phase


@pytest.mark.parametrize("name", list(ValueName), ids=str)
def test_every_value_name_is_a_known_source(name: ValueName) -> None:
    assert name.value in SOURCES_BY_NAME


def test_energy_registers_are_energy_sources() -> None:
    assert {SOURCES_BY_NAME[name].kind for name in ENERGY_REGISTERS} == {"energy"}


def test_per_phase_members_carry_their_phase() -> None:
    assert [SOURCES_BY_NAME[name].phase for name in VOLTAGES] == [1, 2, 3]
    with pytest.raises(ValueError, match="not_a_value_l1"):
        per_phase("not_a_value")


def test_a_member_is_its_name_string() -> None:
    name: str = ValueName.POWER_IMPORT  # a member is a str (and typed so)...
    assert name == "power_import"  # ...equal to its name
    assert f"{ValueName.ENERGY_EXPORT}" == "energy_export"
