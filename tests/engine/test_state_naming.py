"""Issue 15 item 4: state files are named by the meter's serial, not by the tty.

`<meter>.json` (the configured name, e.g. `6.json` for /dev/pts/6) becomes a symlink to
`<serial>.json`; a regular `<meter>.json` from before is read once and renamed.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from mepd.engine.state import FORMAT_VERSION, StateStore, state_file_name


def _state(serial: str | None, energy: float, security: str | None = "tls") -> str:
    return json.dumps(
        {
            "version": FORMAT_VERSION,
            "serial": serial,
            "energy": {"energy_import": [energy, 1e9]},
            "security": security,
        }
    )


def test_a_new_meter_gets_a_file_named_by_its_serial(tmp_path: Path) -> None:
    store = StateStore(tmp_path / "6.json")
    store.adopt("SIM-GEN4-0001")
    store.state.security = "tls"
    store.save(1.0, force=True)
    assert (tmp_path / "SIM-GEN4-0001.json").is_file()
    assert os.readlink(tmp_path / "6.json") == "SIM-GEN4-0001.json"
    # the next start knows the security mode before the meter has said who it is
    assert StateStore(tmp_path / "6.json").state.security == "tls"


def test_a_file_from_before_is_read_once_and_renamed(tmp_path: Path) -> None:
    (tmp_path / "mep0.json").write_text(_state("ABC-1", 1234.0))
    store = StateStore(tmp_path / "mep0.json")
    assert store.state.energy["energy_import"] == (1234.0, 1e9)
    store.adopt("ABC-1")
    assert store.state.energy["energy_import"] == (1234.0, 1e9)
    assert json.loads((tmp_path / "ABC-1.json").read_text())["serial"] == "ABC-1"
    store.save(2.0, force=True)
    assert os.readlink(tmp_path / "mep0.json") == "ABC-1.json"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ABC-1.json", "mep0.json"]


def test_a_meter_moved_to_another_port_keeps_its_baseline(tmp_path: Path) -> None:
    (tmp_path / "ABC-1.json").write_text(_state("ABC-1", 500.0))
    store = StateStore(tmp_path / "ttyUSB0.json")  # nothing under the new port's name
    store.adopt("ABC-1")
    assert store.state.energy["energy_import"] == (500.0, 1e9)
    store.save(3.0, force=True)
    assert os.readlink(tmp_path / "ttyUSB0.json") == "ABC-1.json"


def test_another_meter_on_the_port_leaves_the_first_ones_file_alone(tmp_path: Path) -> None:
    first = StateStore(tmp_path / "mep0.json")
    first.adopt("ABC-1")
    first.state.energy["energy_import"] = (700.0, 1e9)
    first.save(1.0, force=True)
    second = StateStore(tmp_path / "mep0.json")
    second.adopt("XYZ-2")
    assert second.state.energy == {}
    second.save(2.0, force=True)
    assert json.loads((tmp_path / "ABC-1.json").read_text())["energy"]["energy_import"][0] == 700
    assert os.readlink(tmp_path / "mep0.json") == "XYZ-2.json"


def test_a_serial_is_made_safe_for_a_file_name() -> None:
    assert state_file_name("../x y/z") == "___x_y_z.json"
    assert state_file_name("") == "_.json"
