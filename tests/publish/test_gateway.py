"""The gateway id: the Pi's serial number, else a keyed hash of machine-id, else configured."""

from __future__ import annotations

from pathlib import Path

import pytest

from mepd import __version__
from mepd.errors import ConfigError
from mepd.publish.gateway import detect_gateway


def host(tmp_path: Path, files: dict[str, str | bytes]) -> Path:
    for name, content in files.items():
        path = tmp_path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(content.encode() if isinstance(content, str) else content)
    return tmp_path


def test_the_device_tree_serial_number_wins(tmp_path: Path) -> None:
    root = host(
        tmp_path,
        {
            "sys/firmware/devicetree/base/serial-number": b"10000000ABCDEF12\x00",
            "proc/cpuinfo": "Serial\t\t: 00000000deadbeef\n",
            "proc/device-tree/model": b"Raspberry Pi Zero 2 W Rev 1.0\x00",
            "etc/machine-id": "0123456789abcdef0123456789abcdef\n",
        },
    )
    gateway = detect_gateway(root=root)
    assert gateway.gateway_id == "10000000abcdef12"
    assert gateway.model == "Raspberry Pi Zero 2 W Rev 1.0"
    assert gateway.version == __version__


def test_cpuinfo_serial_when_the_device_tree_has_none(tmp_path: Path) -> None:
    root = host(
        tmp_path,
        {"proc/cpuinfo": "processor\t: 0\nHardware\t: BCM2835\nSerial\t\t: 00000000deadbeef\n"},
    )
    assert detect_gateway(root=root, machine=lambda: "armv6l").gateway_id == "00000000deadbeef"


def test_machine_id_is_hashed_never_exposed(tmp_path: Path) -> None:
    machine_id = "0123456789abcdef0123456789abcdef"
    root = host(
        tmp_path,
        {"etc/machine-id": machine_id + "\n", "proc/cpuinfo": "Serial\t\t: 0000000000000000\n"},
    )
    gateway = detect_gateway(root=root, machine=lambda: "x86_64")
    assert gateway.gateway_id.startswith("m")
    assert len(gateway.gateway_id) == 13
    assert machine_id[:8] not in gateway.gateway_id
    assert detect_gateway(root=root).gateway_id == gateway.gateway_id  # stable
    assert gateway.model == "x86_64"  # no device-tree model: platform.machine()
    other = host(tmp_path / "other", {"etc/machine-id": "f" * 32})
    assert detect_gateway(root=other).gateway_id != gateway.gateway_id


def test_a_configured_id_overrides_the_host(tmp_path: Path) -> None:
    root = host(tmp_path, {"sys/firmware/devicetree/base/serial-number": b"10000000abcdef12\x00"})
    assert detect_gateway("garage-pi", root=root).gateway_id == "garage-pi"
    with pytest.raises(ConfigError, match="letters, digits"):
        detect_gateway("garage pi/1", root=root)


def test_no_stable_id_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"set \[homeassistant\] gateway_id"):
        detect_gateway(root=tmp_path)
