"""Configuration errors: file, line, key path and what was expected, in one line each."""

from __future__ import annotations

from pathlib import Path

import pytest

from mepd.config.load import load_config
from mepd.config.problems import key_lines
from mepd.errors import ConfigError
from tests.config.helpers import problem, write


def test_the_issues_example(tmp_path: Path) -> None:
    path = write(
        tmp_path / "config.toml",
        "\n" * 10 + '[serial]\nbaud = "fast"\n',
    )

    assert problem(path) == f'{path}, line 12, serial.baud: expected an integer, got "fast"'


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("[serial]\nbaud = 9601\n", "serial.baud: expected one of 1200, 2400, 4800, 9600, "),
        ("[serial]\nport = 5\n", 'serial.port: expected a string in quotes ("..."), got 5'),
        ('[serial]\nport = "ttyUSB0"\n', "serial.port: expected a device path such as "),
        ("[gpio]\nenabled = 1\n", 'gpio.enabled: expected true, false or "auto"'),
        ("[gpio]\nlink_led = 14\n", "gpio.link_led: GPIO 14 is the Pi's UART TXD"),
        ("[gpio]\nlink_led = 40\n", "gpio.link_led: expected a BCM GPIO number 2-27, or false"),
        ("[gpio]\nlink_led = true\n", "gpio.link_led: expected a BCM GPIO number"),
        ("[schedule]\npresent_s = 0.5\n", "schedule.present_s: expected 1 to 3600 seconds: "),
        ('[schedule]\nenergy_s = "15"\n', 'schedule.energy_s: expected a number, got "15"'),
        ("[limits]\nphases = 2.5\n", "limits.phases: expected an integer, got 2.5"),
        ("[limits]\nmain_fuse_a = 0\n", "limits.main_fuse_a: expected 1 to 1000 A"),
        ("[mqtt]\nport = 70000\n", "mqtt.port: expected 1 to 65535 (a TCP port), got 70000"),
        ('[mqtt]\ntopic_prefix = "a/#"\n', "mqtt.topic_prefix: expected an MQTT topic without"),
        ('[homeassistant]\ngateway_id = "my pi"\n', "homeassistant.gateway_id: expected 1-64"),
        ('[logging]\nlevel = "loud"\n', "logging.level: expected one of 'debug', 'info', "),
        ('[meter]\nname = "../etc"\n', "meter.name: expected 1-64 letters, digits"),
        ("serial = 5\n", "serial: expected a table, got an integer"),
        ("meters = 5\n", "meters: expected an array of tables ([[...]]), got an integer"),
        ('state_directory = ""\n', 'state_directory: expected a file path, got ""'),
        (
            '[meter]\ninterface = "optical"\noptical_echo = "yes"\n',
            "meter.optical_echo: expected one of 'auto', 'on' or 'off', got \"yes\"",
        ),
    ],
)
def test_bad_values_name_the_line_key_and_expectation(
    tmp_path: Path, text: str, expected: str
) -> None:
    path = write(tmp_path / "config.toml", text)
    line = text.count("\n")  # every case has its bad value on the last line

    message = problem(path)

    assert message.startswith(f"{path}, line {line}, {expected}")
    assert "\n" not in message


def test_optical_echo_on_a_mep_meter_says_what_to_change(tmp_path: Path) -> None:
    path = write(tmp_path / "config.toml", '[meter]\noptical_echo = "on"\n')

    assert problem(path) == (
        f"{path}, line 1, meter: optical_echo is for an optical IR head: "
        'set interface = "optical" or remove optical_echo'
    )


def test_a_value_inside_an_inline_table_gets_its_line(tmp_path: Path) -> None:
    path = write(tmp_path / "c.toml", '# x\nserial = { port = "/dev/x", baud = "fast" }\n')

    assert problem(path) == f'{path}, line 2, serial.baud: expected an integer, got "fast"'


def test_a_dotted_key_gets_its_line(tmp_path: Path) -> None:
    path = write(tmp_path / "c.toml", '# x\n\nmqtt.tls.enabled = "yes"\n')

    assert problem(path) == f'{path}, line 3, mqtt.tls.enabled: expected true or false, got "yes"'


def test_every_problem_is_listed_in_file_order(tmp_path: Path) -> None:
    path = write(tmp_path / "c.toml", '[mqtt]\nport = "x"\n[serial]\nbaud = "y"\n[gpio]\nfoo = 1\n')

    assert problem(path).splitlines() == [
        f'{path}, line 2, mqtt.port: expected an integer, got "x"',
        f'{path}, line 4, serial.baud: expected an integer, got "y"',
        f"{path}, line 6, gpio.foo: unknown key; expected one of: enabled, transceiver_power, "
        f"transceiver_power_active_high, mep_enable, mep_enable_active_high, meter_sense, "
        f"meter_sense_active_high, link_led, power_led",
    ]


# --- unknown keys -------------------------------------------------------------------------------


def test_an_unknown_key_suggests_the_close_one(tmp_path: Path) -> None:
    path = write(tmp_path / "c.toml", '[serial]\nport = "/dev/x"\nbuad = 9600\n')

    assert problem(path) == (
        f"{path}, line 3, serial.buad: unknown key (did you mean baud?); expected one of: "
        f"port, baud"
    )


def test_an_unknown_table(tmp_path: Path) -> None:
    path = write(tmp_path / "c.toml", "[serail]\nport = 1\n")

    assert problem(path).startswith(
        f"{path}, line 1, serail: unknown key (did you mean serial?); expected one of: "
        f"state_directory, meter, meters, serial, "
    )


def test_a_top_level_key_after_a_table(tmp_path: Path) -> None:
    path = write(tmp_path / "c.toml", '[logging]\nlevel = "info"\nstate_directory = "/x"\n')

    assert problem(path) == (
        f"{path}, line 3, logging.state_directory: unknown key here: top-level keys must come "
        f"before the first [table] of the file; expected one of: level"
    )


def test_a_meter_key_at_the_top_level(tmp_path: Path) -> None:
    path = write(tmp_path / "c.toml", 'key_file = "/etc/mepd/mbk"\n')

    assert problem(path).startswith(
        f"{path}, line 1, key_file: unknown key at the top level: it belongs under [meter]; "
    )


def test_an_unknown_key_in_a_meters_entry(tmp_path: Path) -> None:
    path = write(
        tmp_path / "c.toml",
        '[[meters]]\nname = "a"\n\n[[meters]]\nname = "b"\n[meters.serial]\nspeed = 9600\n',
    )

    assert problem(path) == (
        f"{path}, line 7, meters[1].serial.speed: unknown key; expected one of: port, baud"
    )


# --- the file itself ----------------------------------------------------------------------------


def test_a_missing_file(tmp_path: Path) -> None:
    path = tmp_path / "nope.toml"

    assert problem(path) == (
        f"{path}: no such configuration file (config.example.toml shows every option)"
    )


def test_a_directory(tmp_path: Path) -> None:
    assert problem(tmp_path) == f"{tmp_path}: is a directory, expected a configuration file"


def test_an_unreadable_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = write(tmp_path / "c.toml", "")

    def denied(self: Path) -> bytes:
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(Path, "read_bytes", denied)  # works as root too, unlike chmod 000

    assert problem(path) == (
        f"{path}: cannot read the configuration file: permission denied (check its owner and "
        f"mode, or run as a user who can read it)"
    )


def test_not_utf8(tmp_path: Path) -> None:
    path = tmp_path / "c.toml"
    path.write_bytes(b'# ok\n[mqtt]\nhost = "caf\xe9"\n')

    assert problem(path) == (
        f"{path}, line 3: not UTF-8 text; save the file as UTF-8 (TOML requires it)"
    )


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "[serial]\nport = /dev/ttyUSB0\n",
            "line 2, column 8: TOML syntax error: invalid value (text needs quotes "
            '(port = "/dev/ttyUSB0"); true and false are lower case)',
        ),
        ("[gpio]\nenabled = True\n", "line 2, column 11: TOML syntax error: invalid value"),
        ("[serial\n", "line 1, column 8: TOML syntax error: expected ']' at the end of a table"),
        ('[meter]\nkey = "abc\n', "line 2, column 11: TOML syntax error: illegal character"),
        ("[meter]\n[meter]\n", "line 2, column 7: TOML syntax error: cannot declare meter twice"),
        ("[a.b]\n[a.b]\n", "line 2, column 5: TOML syntax error: cannot declare a.b twice"),
        ("a = 1\na = 2\n", "line 2, column 6: TOML syntax error: cannot overwrite a value (a key"),
    ],
)
def test_syntax_errors_are_one_line(tmp_path: Path, text: str, expected: str) -> None:
    path = write(tmp_path / "c.toml", text)

    message = problem(path)

    assert message.startswith(f"{path}, {expected}")
    assert "\n" not in message


def test_an_unterminated_key_string_is_not_echoed(tmp_path: Path) -> None:
    path = write(tmp_path / "c.toml", '[meter]\nkey = "MEPD-DEMO-KEY-000001\n')

    assert "MEPD-DEMO" not in problem(path)


def test_errors_chain_nothing(tmp_path: Path) -> None:
    """No pydantic error (with its inputs) rides along in __cause__ or __context__."""
    path = write(tmp_path / "c.toml", '[meter]\nkey = 12345678901234567890\n[serial]\nbaud = "x"\n')

    with pytest.raises(ConfigError) as caught:
        load_config(path, environ={})

    assert caught.value.__cause__ is None
    assert caught.value.__context__ is None
    assert "12345678901234567890" not in str(caught.value)
    assert "meter.key: expected a string in quotes" in str(caught.value)


# --- [meter] and [[meters]] -----------------------------------------------------------------


def test_meter_and_meters_together(tmp_path: Path) -> None:
    path = write(tmp_path / "c.toml", '[meter]\nname = "a"\n\n[[meters]]\nname = "b"\n')

    assert problem(path) == (
        f"{path}, line 4, meters: expected either one [meter] or several [[meters]], not both; "
        f"move [meter] into a [[meters]] entry"
    )


def test_an_empty_meters_array(tmp_path: Path) -> None:
    path = write(tmp_path / "c.toml", "meters = []\n")

    assert problem(path) == f"{path}, line 1, meters: expected at least one [[meters]] entry"


def test_a_schedule_over_the_read_budget(tmp_path: Path) -> None:
    path = write(tmp_path / "c.toml", "[schedule]\npresent_s = 1\nenergy_s = 5\n")

    message = problem(path)

    assert message.startswith(
        f"{path}, line 1, schedule: the schedule reads 1.20 tables per second on average"
    )
    assert "Raise schedule.present_s or schedule.energy_s" in message


def test_two_lines_on_one_gpio(tmp_path: Path) -> None:
    path = write(tmp_path / "c.toml", "[gpio]\nlink_led = 22\n")

    assert problem(path) == (
        f"{path}, line 2, gpio.link_led: GPIO 22 is also transceiver_power; "
        f"expected a separate GPIO for each line"
    )


# --- finding lines ------------------------------------------------------------------------------


def test_key_lines() -> None:
    text = "\n".join(
        [
            'state_directory = "/x"',  # 1
            "[meter]  # one",  # 2
            'key = """',  # 3
            "name = not a key",  # 4: inside a multi-line string
            '"""',  # 5
            "name = 'm'",  # 6
            "[[meters]]",  # 7
            "[meters.serial]",  # 8
            "port = 1",  # 9
            " [[ meters ]] ",  # 10
            '"quoted key".inner = 2',  # 11
            "serial = { port = 1, baud = 2 }",  # 12
            "[mqtt.tls]",  # 13
            "enabled = true",  # 14
        ]
    )

    lines = key_lines(text)

    assert lines[("state_directory",)] == 1
    assert lines[("meter",)] == 2
    assert lines[("meter", "key")] == 3
    assert lines[("meter", "name")] == 6
    assert lines[("meters",)] == 7
    assert lines[("meters", 0)] == 7
    assert lines[("meters", 0, "serial")] == 8
    assert lines[("meters", 0, "serial", "port")] == 9
    assert lines[("meters", 1)] == 10
    assert lines[("meters", 1, "quoted key", "inner")] == 11
    assert lines[("meters", 1, "serial", "baud")] == 12
    assert lines[("mqtt", "tls")] == 13
    assert lines[("mqtt", "tls", "enabled")] == 14
