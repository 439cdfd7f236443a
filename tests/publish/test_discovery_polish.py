"""Issue 15 item 13: what a real Home Assistant showed, polished.

Energy with all three decimals the meter counts (Wh); counters with icons of their own and no
long-term statistics (they have no unit); "Meters online" among the diagnostics; a gateway
named after its board, never after a hostname or an address.
"""

from __future__ import annotations

import socket
from pathlib import Path

from mepd.publish.catalog import COUNTERS
from mepd.publish.discovery import gateway_config
from mepd.publish.gateway import detect_gateway
from mepd.publish.topics import Topics
from tests.publish.ha_rules import config_problems
from tests.publish.test_discovery import GATEWAY, TOPICS, full_meter


def test_energy_shows_the_meters_three_decimals() -> None:
    components = full_meter()["cmps"]
    for key in ("energy_import", "energy_export"):
        assert components[key]["suggested_display_precision"] == 3


def test_counters_have_their_own_icons_and_no_statistics_without_a_unit() -> None:
    components = full_meter()["cmps"]
    icons = set()
    for counter in COUNTERS:
        component = components[counter]
        assert component["icon"].startswith("mdi:")
        icons.add(component["icon"])
        assert "state_class" not in component or "unit_of_measurement" in component
        assert component["entity_category"] == "diagnostic"
    assert len(icons) == len(COUNTERS)


def test_meters_online_is_a_diagnostic() -> None:
    meters_online = gateway_config(GATEWAY, TOPICS)["cmps"]["meters_online"]
    assert meters_online["entity_category"] == "diagnostic"
    assert "state_class" not in meters_online or "unit_of_measurement" in meters_online


def _pi(root: Path, model: str) -> Path:
    (root / "proc/device-tree").mkdir(parents=True)
    (root / "proc/device-tree/model").write_bytes(model.encode() + b"\0")
    (root / "etc").mkdir()
    (root / "etc/machine-id").write_text("0123456789abcdef0123456789abcdef\n")
    return root


def test_the_gateway_is_named_after_its_board(tmp_path: Path) -> None:
    gateway = detect_gateway(root=_pi(tmp_path, "Raspberry Pi Zero 2 W Rev 1.0"))
    document = gateway_config(gateway, Topics("mepd", gateway.gateway_id))
    name = document["dev"]["name"]
    assert name == "mepd on Raspberry Pi Zero 2 W Rev 1.0"
    assert socket.gethostname() not in name
    assert gateway.gateway_id not in name
    assert config_problems(document) == []
