"""Several meters: `[[meters]]` entries over top-level defaults, and what must stay unique."""

from __future__ import annotations

from pathlib import Path

from mepd.config.load import load_config
from mepd.protocol.keys import MepKey
from mepd.settings import GpioLines, PlausibilityLimits, Schedule
from tests.config.helpers import DEMO_KEY, HEX_KEY, credentials, problem, write

TWO_METERS = """\
state_directory = "/srv/mepd"

[serial]
baud = 19200

[schedule]
present_s = 2
energy_s = 20

[limits]
main_fuse_a = 35

[[meters]]
name = "house"
key = "{demo}"
[meters.serial]
port = "/dev/mep0"

[[meters]]
key_credential = "heat"
encrypt = true
[meters.serial]
port = "/dev/ttyUSB1"
[meters.gpio]
enabled = false
[meters.schedule]
energy_s = 60
[meters.limits]
phases = 1
"""


def test_entries_override_the_defaults_field_by_field(tmp_path: Path) -> None:
    environ = credentials(tmp_path / "creds", {"heat": HEX_KEY})
    path = write(tmp_path / "c.toml", TWO_METERS.format(demo=DEMO_KEY))

    house, heat = load_config(path, environ=environ).meters

    assert house.name == "house"
    assert house.port == "/dev/mep0"
    assert house.baud == 19200
    assert house.gpio == GpioLines()
    assert house.key == MepKey.parse(DEMO_KEY)
    assert house.encrypt is False
    assert house.schedule == Schedule(present_s=2.0, energy_s=20.0)
    assert house.limits == PlausibilityLimits(main_fuse_a=35.0)
    assert house.state_path == Path("/srv/mepd/house.json")

    assert heat.name == "ttyUSB1"  # from its port
    assert heat.port == "/dev/ttyUSB1"
    assert heat.baud == 19200
    assert heat.gpio is None
    assert heat.key == MepKey(bytes.fromhex(HEX_KEY))
    assert heat.encrypt is True
    assert heat.schedule == Schedule(present_s=2.0, energy_s=60.0)
    assert heat.limits == PlausibilityLimits(main_fuse_a=35.0, phases=1)
    assert heat.state_path == Path("/srv/mepd/ttyUSB1.json")


def test_one_meters_entry_is_one_meter(tmp_path: Path, environ: dict[str, str]) -> None:
    path = write(tmp_path / "c.toml", '[[meters]]\nname = "only"\n')

    (meter,) = load_config(path, environ=environ).meters

    assert meter.name == "only"
    assert meter.key == MepKey.parse(DEMO_KEY)  # one meter: the credential "mbk"


def test_the_single_meter_may_override_too(tmp_path: Path, environ: dict[str, str]) -> None:
    path = write(tmp_path / "c.toml", "[serial]\nbaud = 4800\n[meter.serial]\nbaud = 2400\n")

    assert load_config(path, environ=environ).meters[0].baud == 2400


def test_each_meter_has_its_own_fallback_credential(tmp_path: Path) -> None:
    environ = credentials(tmp_path / "creds", {"mbk-a": DEMO_KEY, "mbk-b": HEX_KEY, "mbk": "x"})
    path = write(
        tmp_path / "c.toml",
        '[[meters]]\nname = "a"\n[meters.gpio]\nenabled = false\n'
        '[[meters]]\nname = "b"\n[meters.serial]\nport = "/dev/ttyUSB0"\n',
    )

    a, b = load_config(path, environ=environ).meters

    assert (a.key, a.key_origin) == (MepKey.parse(DEMO_KEY), "credential mbk-a")
    assert (b.key, b.key_origin) == (MepKey(bytes.fromhex(HEX_KEY)), "credential mbk-b")


def test_by_hand_each_meters_key_file_is_read(tmp_path: Path, no_system_config: Path) -> None:
    write(no_system_config.parent / "mbk-a", DEMO_KEY)
    write(no_system_config.parent / "mbk-b", HEX_KEY)
    path = write(
        tmp_path / "c.toml",
        '[[meters]]\nname = "a"\n[meters.gpio]\nenabled = false\n'
        '[[meters]]\nname = "b"\n[meters.serial]\nport = "/dev/ttyUSB0"\n',
    )

    a, b = load_config(path, environ={}).meters

    assert (a.key, b.key) == (MepKey.parse(DEMO_KEY), MepKey(bytes.fromhex(HEX_KEY)))
    assert a.key_origin == f"key file {no_system_config.parent / 'mbk-a'}"


def test_a_meter_without_a_key(tmp_path: Path, no_system_config: Path) -> None:
    etc = no_system_config.parent
    environ = credentials(tmp_path / "creds", {"mbk-a": DEMO_KEY})
    path = write(
        tmp_path / "c.toml",
        '[[meters]]\nname = "a"\n[meters.gpio]\nenabled = false\n\n'
        '[[meters]]\nname = "b"\n[meters.serial]\nport = "/dev/ttyUSB0"\n',
    )

    assert problem(path, environ) == (
        f"{path}, line 6, meters[1]: no key for meter 'b' (credential 'mbk-b' is missing or "
        f"blank): put it in {etc}/mbk-b (chmod 600) and add LoadCredential=mbk-b:{etc}/mbk-b "
        f"to the unit, or set key_file, key or key_credential in its [[meters]] entry"
    )


def test_names_must_be_unique(tmp_path: Path) -> None:
    path = write(
        tmp_path / "c.toml",
        '[[meters]]\nname = "a"\n\n[[meters]]\nname = "a"\n[meters.serial]\nport = "/dev/x"\n',
    )

    assert problem(path, require_key=False) == (
        f"{path}, line 5, meters[1].name: meter name 'a' is already used by meters[0]; "
        f'expected a unique name = "..." for each meter'
    )


def test_names_from_ports_must_be_unique(tmp_path: Path) -> None:
    path = write(
        tmp_path / "c.toml",
        '[gpio]\nenabled = false\n[[meters]]\n[meters.serial]\nport = "/dev/a/tty"\n'
        '[[meters]]\n[meters.serial]\nport = "/dev/b/tty"\n',
    )

    assert problem(path, require_key=False) == (
        f"{path}, line 6, meters[1]: meter name 'tty' (from its port /dev/b/tty) is already "
        f'used by meters[0]; expected a unique name = "..." for each meter'
    )


def test_ports_must_be_unique(tmp_path: Path) -> None:
    path = write(
        tmp_path / "c.toml",
        '[gpio]\nenabled = false\n[[meters]]\nname = "a"\n[[meters]]\nname = "b"\n',
    )

    assert problem(path, require_key=False) == (
        f"{path}, line 5, meters[1]: port /dev/mep0 is already used by meter 'a' (meters[0]); "
        f"expected one port per meter"
    )


def test_the_same_port_under_two_names_is_one_port(tmp_path: Path) -> None:
    device = write(tmp_path / "ttyAMA0", "")
    (tmp_path / "serial0").symlink_to(device)
    path = write(
        tmp_path / "c.toml",
        f'[gpio]\nenabled = false\n[[meters]]\n[meters.serial]\nport = "{device}"\n'
        f'[[meters]]\n[meters.serial]\nport = "{tmp_path}/serial0"\n',
    )

    assert f"port {tmp_path}/serial0 is already used by meter 'ttyAMA0'" in problem(
        path, require_key=False
    )


def test_only_one_meter_may_use_the_hats_lines(tmp_path: Path) -> None:
    path = write(
        tmp_path / "c.toml",
        '[[meters]]\nname = "a"\n\n[[meters]]\nname = "b"\n[meters.serial]\nport = "/dev/x"\n',
    )

    assert problem(path, require_key=False) == (
        f"{path}, line 4, meters[1]: meter 'b' would use GPIO 22 (transceiver_power), which "
        f"meter 'a' already uses (transceiver_power); only one meter can use the HAT's lines. "
        f"Give this meter its own [meters.gpio] pins, or enabled = false for a plain USB adapter"
    )


def test_two_meters_on_separate_lines(tmp_path: Path) -> None:
    path = write(
        tmp_path / "c.toml",
        '[[meters]]\nname = "a"\n'
        '[[meters]]\nname = "b"\n[meters.serial]\nport = "/dev/ttyAMA1"\n[meters.gpio]\n'
        "transceiver_power = 5\nmep_enable = 6\nmeter_sense = 12\nlink_led = 13\n"
        "power_led = false\n",
    )

    a, b = load_config(path, environ={}, require_key=False).meters

    assert a.gpio == GpioLines()
    assert b.gpio == GpioLines(
        transceiver_power=5, mep_enable=6, meter_sense=12, link_led=13, power_led=None
    )


def test_a_merged_gpio_table_is_checked_as_a_whole(tmp_path: Path) -> None:
    path = write(
        tmp_path / "c.toml",
        "[gpio]\ntransceiver_power = 5\n[[meters]]\n[meters.gpio]\nlink_led = 5\n",
    )

    assert problem(path, require_key=False) == (
        f"{path}, line 5, meters[0].gpio.link_led: GPIO 5 is also transceiver_power; "
        f"expected a separate GPIO for each line"
    )


def test_a_meters_schedule_over_budget_points_at_its_table(tmp_path: Path) -> None:
    path = write(
        tmp_path / "c.toml",
        "[schedule]\nenergy_s = 5\n[[meters]]\n[meters.schedule]\npresent_s = 1\n",
    )

    assert problem(path, require_key=False).startswith(
        f"{path}, line 4, meters[0].schedule: the schedule reads 1.20 tables per second"
    )
