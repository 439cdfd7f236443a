"""Loading a configuration: defaults, one meter, keys, passwords, TLS, warnings."""

from __future__ import annotations

import logging
import os
import pwd
from pathlib import Path

import pytest

from mepd.config.defaults import DEFAULT_CONFIG_PATH
from mepd.config.load import load_config
from mepd.config.resolved import Config, MeterConfig
from mepd.drivers.hat import DEFAULT_PINS
from mepd.errors import ConfigError, MepdError
from mepd.protocol.keys import MepKey
from mepd.settings import (
    DiscoverySettings,
    GpioLines,
    MeterSettings,
    MqttSettings,
    PlausibilityLimits,
    Schedule,
    Secret,
    TlsSettings,
)
from tests.config.helpers import DEMO_KEY, HEX_KEY, credentials, problem, write


def test_the_default_path_is_etc_mepd() -> None:
    assert Path("/etc/mepd/config.toml") == DEFAULT_CONFIG_PATH


def test_no_file_means_the_defaults(environ: dict[str, str]) -> None:
    config = load_config(None, environ=environ)

    assert config.source is None
    (meter,) = config.meters
    assert meter.name == "mep0"
    assert meter.port == "/dev/mep0"
    assert meter.baud == 9600
    assert meter.gpio == GpioLines()
    assert meter.gpio.mep_enable == DEFAULT_PINS.mep_enable
    assert meter.key == MepKey.parse(DEMO_KEY)
    assert meter.key_origin == "credential mbk"
    assert meter.encrypt is False
    assert meter.schedule == Schedule()
    assert meter.limits == PlausibilityLimits()
    assert meter.state_path == Path("/var/lib/mepd/mep0.json")
    assert config.state_directory == Path("/var/lib/mepd")
    assert config.mqtt == MqttSettings()
    assert config.discovery == DiscoverySettings()
    assert config.log_level == logging.INFO
    assert config.warnings == ()


def test_the_defaults_need_only_a_key(no_system_config: Path) -> None:
    etc = no_system_config.parent

    message = problem(None, {})

    assert message == (
        f"no meter key: put it in {etc}/mbk (one line, chmod 600), which the systemd unit loads "
        f"as the credential mbk; or set key_file or key under [meter] in {etc}/config.toml; "
        f"or pass --key-file FILE"
    )


def test_by_hand_the_units_key_file_is_read(no_system_config: Path) -> None:
    """`sudo mepd probe`: no $CREDENTIALS_DIRECTORY, but /etc/mepd/mbk is there."""
    key_file = write(no_system_config.parent / "mbk", f"{HEX_KEY}\n", 0o600)

    meter = load_config(None, environ={}).meters[0]

    assert meter.key == MepKey(bytes.fromhex(HEX_KEY))
    assert meter.key_origin == f"key file {key_file}"


def test_by_hand_an_unreadable_units_key_file_asks_for_sudo(
    no_system_config: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    key_file = write(no_system_config.parent / "mbk", DEMO_KEY, 0o600)
    monkeypatch.setattr(os, "access", lambda path, mode: Path(path) != key_file)
    user = pwd.getpwuid(os.geteuid()).pw_name

    assert problem(None, {}) == (
        f"no meter key: {key_file} holds it but user {user} cannot read it (as it should be); "
        f"run this command with sudo, or pass --key-file FILE"
    )


def test_by_hand_the_units_key_file_must_be_private(no_system_config: Path) -> None:
    key_file = write(no_system_config.parent / "mbk", DEMO_KEY, 0o644)

    assert problem(None, {}).endswith(f"chmod 600 {key_file}")


def test_under_systemd_only_the_credential_counts(no_system_config: Path, tmp_path: Path) -> None:
    write(no_system_config.parent / "mbk", DEMO_KEY, 0o600)  # the service cannot read it
    environ = credentials(tmp_path / "creds", {"mbk": "\n"})

    assert problem(None, environ).startswith("no meter key (credential 'mbk' is missing or blank)")


def test_the_default_file_is_read_when_it_exists(
    no_system_config: Path, environ: dict[str, str]
) -> None:
    write(no_system_config, '[serial]\nport = "/dev/ttyUSB3"\n', 0o644)

    config = load_config(None, environ=environ)

    assert config.source == no_system_config
    assert config.meters[0].port == "/dev/ttyUSB3"


def test_one_meter_fully_configured(tmp_path: Path) -> None:
    path = write(
        tmp_path / "config.toml",
        f"""
        state_directory = "{tmp_path}/state"

        [meter]
        name = "house"
        key = "{HEX_KEY}"
        encrypt = true

        [serial]
        port = "/dev/ttyUSB0"
        baud = 19200

        [gpio]
        transceiver_power = 5
        mep_enable = 6
        mep_enable_active_high = true
        meter_sense = false
        link_led = false
        power_led = false

        [schedule]
        present_s = 2
        energy_s = 30.5
        clock_s = 600

        [limits]
        main_fuse_a = 25
        phases = 1
        nominal_voltage_v = 240

        [mqtt]
        host = "broker.lan"
        port = 1884
        client_id = "mepd-house"
        username = "mepd"
        keepalive_s = 30
        topic_prefix = "home/mepd"

        [homeassistant]
        discovery = false
        discovery_prefix = "ha"
        status_topic = "ha/status"
        gateway_id = "garage-pi"

        [logging]
        level = "DEBUG"
        """,
    )

    config = load_config(path, environ={})

    (meter,) = config.meters
    assert meter == MeterConfig(
        name="house",
        port="/dev/ttyUSB0",
        baud=19200,
        gpio=GpioLines(
            transceiver_power=5,
            mep_enable=6,
            mep_enable_active_high=True,
            meter_sense=None,
            link_led=None,
            power_led=None,
        ),
        gpio_auto=True,  # no `enabled` in [gpio]: the lines where the HAT is found
        key=MepKey(bytes.fromhex(HEX_KEY)),
        key_origin=f"key in {path}",
        encrypt=True,
        schedule=Schedule(present_s=2.0, energy_s=30.5, clock_s=600.0),
        limits=PlausibilityLimits(main_fuse_a=25.0, phases=1, nominal_voltage_v=240.0),
        state_path=tmp_path / "state" / "house.json",
    )
    assert config.mqtt == MqttSettings(
        host="broker.lan",
        port=1884,
        client_id="mepd-house",
        username="mepd",
        keepalive_s=30,
        topic_prefix="home/mepd",
    )
    assert config.discovery == DiscoverySettings(
        enabled=False, prefix="ha", status_topic="ha/status", gateway_id="garage-pi"
    )
    assert config.log_level == logging.DEBUG
    assert config.log_level_name == "debug"


def test_settings_are_what_the_poller_takes(tmp_path: Path, environ: dict[str, str]) -> None:
    path = write(tmp_path / "config.toml", "[meter]\nencrypt = true\n[schedule]\npresent_s = 2\n")
    meter = load_config(path, environ=environ).meters[0]

    settings = meter.settings()

    assert settings == MeterSettings(
        key=MepKey.parse(DEMO_KEY),
        encrypt=True,
        schedule=Schedule(present_s=2.0),
        limits=PlausibilityLimits(),
        state_path=Path("/var/lib/mepd/mep0.json"),
    )


@pytest.mark.parametrize(("line", "echo"), [("", "auto"), ('optical_echo = "off"\n', "off")])
def test_an_optical_meter_says_what_its_ir_head_echoes(
    tmp_path: Path, environ: dict[str, str], line: str, echo: str
) -> None:
    text = f'[meter]\ninterface = "optical"\n{line}'
    meter = load_config(write(tmp_path / "c.toml", text), environ=environ).meters[0]

    assert meter.settings().optical_echo == echo


def test_a_usb_adapter_has_no_gpio(tmp_path: Path, environ: dict[str, str]) -> None:
    path = write(tmp_path / "c.toml", '[serial]\nport = "/dev/ttyUSB0"\n[gpio]\nenabled = false\n')

    meter = load_config(path, environ=environ).meters[0]

    assert meter.gpio is None
    assert meter.name == "ttyUSB0"


def test_a_pyserial_url_is_a_port(tmp_path: Path, environ: dict[str, str]) -> None:
    path = write(tmp_path / "c.toml", '[serial]\nport = "socket://192.168.1.20:4001"\n')

    meter = load_config(path, environ=environ).meters[0]

    assert meter.port == "socket://192.168.1.20:4001"
    assert meter.name == "192-168-1-20-4001"


def test_relative_paths_are_relative_to_the_file(tmp_path: Path) -> None:
    write(tmp_path / "etc" / "mbk", DEMO_KEY)
    path = write(
        tmp_path / "etc" / "config.toml", 'state_directory = "state"\n[meter]\nkey_file = "mbk"\n'
    )

    config = load_config(path, environ={})

    assert config.state_directory == tmp_path / "etc" / "state"
    assert config.meters[0].key_origin == f"key file {tmp_path / 'etc' / 'mbk'}"


def test_without_require_key_no_key_is_read(tmp_path: Path) -> None:
    path = write(tmp_path / "c.toml", '[meter]\nkey_file = "/nonexistent/mbk"\n')

    meter = load_config(path, environ={}, require_key=False).meters[0]

    assert meter.key is None
    with pytest.raises(ConfigError, match="no key was read"):
        meter.settings()
    assert meter.settings(key=MepKey.parse(DEMO_KEY)).key == MepKey.parse(DEMO_KEY)


def test_config_errors_are_mepd_errors() -> None:
    assert issubclass(ConfigError, MepdError)
    assert Config.__dataclass_params__.frozen  # type: ignore[attr-defined]
    assert MeterConfig.__dataclass_params__.frozen  # type: ignore[attr-defined]


# --- the key ------------------------------------------------------------------------------------


@pytest.mark.parametrize("text", [DEMO_KEY, f"{DEMO_KEY}\n", f"  {HEX_KEY}\r\n\n"])
def test_a_private_key_file_is_read_and_stripped(tmp_path: Path, text: str) -> None:
    key_file = write(tmp_path / "mbk", "")
    key_file.write_text(text)
    path = write(tmp_path / "c.toml", f'[meter]\nkey_file = "{key_file}"\n')

    meter = load_config(path, environ={}).meters[0]

    assert meter.key == MepKey.parse(text.strip())
    assert meter.key_origin == f"key file {key_file}"


@pytest.mark.parametrize("mode", [0o600, 0o400, 0o700])
def test_an_owner_only_key_file_is_accepted(tmp_path: Path, mode: int) -> None:
    key_file = write(tmp_path / "mbk", DEMO_KEY, mode)
    path = write(tmp_path / "c.toml", f'[meter]\nkey_file = "{key_file}"\n')

    assert load_config(path, environ={}).meters[0].key == MepKey.parse(DEMO_KEY)


@pytest.mark.parametrize("mode", [0o644, 0o640, 0o604, 0o620, 0o666])
def test_a_key_file_others_can_access_is_refused(tmp_path: Path, mode: int) -> None:
    key_file = write(tmp_path / "mbk", DEMO_KEY, mode)
    path = write(tmp_path / "c.toml", f'# mepd\n[meter]\nkey_file = "{key_file}"\n')

    message = problem(path)

    assert message == (
        f"{path}, line 3, meter.key_file: {key_file} has mode {mode:04o}, so other users can "
        f"read or replace the key; mepd refuses it, as ssh refuses such a private key: "
        f"chmod 600 {key_file}"
    )


def test_a_missing_key_file_says_how_to_create_it(tmp_path: Path) -> None:
    path = write(tmp_path / "c.toml", '[meter]\nkey_file = "/etc/mepd/nope"\n')

    assert problem(path) == (
        f"{path}, line 2, meter.key_file: /etc/mepd/nope does not exist; create it with the key "
        f"on one line, then chmod 600 /etc/mepd/nope"
    )


def test_a_key_file_that_is_a_directory_is_refused(tmp_path: Path) -> None:
    path = write(tmp_path / "c.toml", f'[meter]\nkey_file = "{tmp_path}"\n')

    assert "is not a regular file" in problem(path)


def test_an_unreadable_key_file_names_the_user(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    key_file = write(tmp_path / "mbk", DEMO_KEY)
    path = write(tmp_path / "c.toml", f'[meter]\nkey_file = "{key_file}"\n')
    real_open = os.open

    def denied(name: object, *args: object) -> int:
        if Path(str(name)) == key_file:
            raise PermissionError(13, "Permission denied")
        return real_open(name, *args)  # type: ignore[arg-type]

    monkeypatch.setattr(os, "open", denied)  # works as root too, unlike chmod 000
    user = pwd.getpwuid(os.geteuid()).pw_name

    assert problem(path) == (
        f"{path}, line 2, meter.key_file: cannot read {key_file}: permission denied for user "
        f"{user}; the user mepd runs as must own it (chown {user} {key_file}; "
        f"chmod 600 {key_file})"
    )


def test_a_malformed_key_gets_the_shape_message(tmp_path: Path) -> None:
    key_file = write(tmp_path / "mbk", "ABCDEFGHIJKLMNOPQRS")  # 19 characters
    path = write(tmp_path / "c.toml", f'[meter]\nkey_file = "{key_file}"\n')

    message = problem(path)

    assert message.startswith(
        f"{path}, line 2, meter.key_file: {key_file}: the key has 19 characters; expected 20 "
    )
    assert "ABCDEFGHIJKLMNOPQRS" not in message


def test_an_inline_malformed_key_points_at_its_line(tmp_path: Path) -> None:
    path = write(tmp_path / "c.toml", '# mepd\n\n[meter]\nname = "x"\nkey = "0x1234"\n')

    assert problem(path).startswith(f"{path}, line 5, meter.key: the key has 6 characters")


def test_only_one_way_to_give_the_key(tmp_path: Path) -> None:
    path = write(tmp_path / "c.toml", f'[meter]\nkey = "{DEMO_KEY}"\nkey_file = "/etc/mepd/mbk"\n')

    message = problem(path)

    assert message == (
        f"{path}, line 1, meter: expected only one of key, key_file, key_credential; "
        f"found key and key_file"
    )
    assert DEMO_KEY not in message


def test_a_named_credential(tmp_path: Path) -> None:
    environ = credentials(tmp_path / "creds", {"house-key": HEX_KEY})
    path = write(tmp_path / "c.toml", '[meter]\nkey_credential = "house-key"\n')

    meter = load_config(path, environ=environ).meters[0]

    assert meter.key == MepKey(bytes.fromhex(HEX_KEY))
    assert meter.key_origin == "credential house-key"


def test_a_credential_outside_systemd(tmp_path: Path) -> None:
    path = write(tmp_path / "c.toml", '[meter]\nkey_credential = "mbk"\n')

    assert problem(path, {}) == (
        f"{path}, line 2, meter.key_credential: credential mbk needs $CREDENTIALS_DIRECTORY, "
        f"which is not set: mepd is not running under a systemd unit with "
        f"LoadCredential=mbk:FILE; outside systemd, give a file instead"
    )


def test_a_missing_credential(tmp_path: Path) -> None:
    environ = credentials(tmp_path / "creds", {})
    path = write(tmp_path / "c.toml", '[meter]\nkey_credential = "other"\n')

    assert problem(path, environ) == (
        f"{path}, line 2, meter.key_credential: credential other is not in "
        f"$CREDENTIALS_DIRECTORY ({tmp_path / 'creds'}); add LoadCredential=other:FILE "
        f"(or SetCredentialEncrypted=) to the service"
    )


def test_the_units_blank_fallback_credential_means_no_key(tmp_path: Path) -> None:
    # mepd.service: SetCredential=mbk:\n when /etc/mepd/mbk is missing.
    environ = credentials(tmp_path / "creds", {"mbk": "\n"})

    message = problem(None, environ)

    assert message.startswith("no meter key (credential 'mbk' is missing or blank): ")


def test_a_key_in_the_file_wins_over_the_fallback_credential(
    tmp_path: Path, environ: dict[str, str]
) -> None:
    path = write(tmp_path / "c.toml", f'[meter]\nkey = "{HEX_KEY}"\n')

    meter = load_config(path, environ=environ).meters[0]

    assert meter.key == MepKey(bytes.fromhex(HEX_KEY))


# --- MQTT -----------------------------------------------------------------------------------


def test_a_password_file(tmp_path: Path) -> None:
    secret = write(tmp_path / "mqtt-password", "s3cret word\n")
    path = write(tmp_path / "c.toml", f'[mqtt]\nusername = "mepd"\npassword_file = "{secret}"\n')

    mqtt = load_config(path, environ={}, require_key=False).mqtt

    assert mqtt.username == "mepd"
    assert mqtt.password == Secret("s3cret word")
    assert "s3cret" not in repr(mqtt)


def test_a_password_file_others_can_read_is_refused(tmp_path: Path) -> None:
    secret = write(tmp_path / "mqtt-password", "s3cret\n", 0o644)
    path = write(tmp_path / "c.toml", f'[mqtt]\nusername = "mepd"\npassword_file = "{secret}"\n')

    message = problem(path, require_key=False)

    assert message.startswith(f"{path}, line 3, mqtt.password_file: {secret} has mode 0644")
    assert message.endswith(f"chmod 600 {secret}")
    assert "s3cret" not in message


def test_a_password_credential(tmp_path: Path) -> None:
    environ = credentials(tmp_path / "creds", {"mqtt": "pw\n"})
    path = write(tmp_path / "c.toml", '[mqtt]\nusername = "u"\npassword_credential = "mqtt"\n')

    assert load_config(path, environ=environ, require_key=False).mqtt.password == Secret("pw")


def test_a_password_needs_a_username(tmp_path: Path) -> None:
    path = write(tmp_path / "c.toml", '[mqtt]\npassword = "pw"\n')

    assert problem(path, require_key=False) == (
        f'{path}, line 1, mqtt: a password needs a username; expected username = "..."'
    )


def test_tls_with_a_ca_file(tmp_path: Path) -> None:
    ca = write(tmp_path / "ca.crt", "-----BEGIN CERTIFICATE-----\n", 0o644)
    path = write(
        tmp_path / "c.toml",
        f'[mqtt]\nhost = "broker.example"\n[mqtt.tls]\nenabled = true\nca_file = "{ca}"\n',
    )

    mqtt = load_config(path, environ={}, require_key=False).mqtt

    assert mqtt.tls == TlsSettings(ca_file=ca)
    assert mqtt.effective_port == 8883


def test_tls_with_the_system_cas(tmp_path: Path) -> None:
    path = write(tmp_path / "c.toml", "[mqtt.tls]\nenabled = true\n")

    assert load_config(path, environ={}, require_key=False).mqtt.tls == TlsSettings()


def test_a_missing_ca_file(tmp_path: Path) -> None:
    path = write(tmp_path / "c.toml", '[mqtt.tls]\nenabled = true\nca_file = "/nope/ca.crt"\n')

    assert problem(path, require_key=False) == (
        f"{path}, line 3, mqtt.tls.ca_file: /nope/ca.crt does not exist"
    )


def test_tls_files_without_tls_are_an_error(tmp_path: Path) -> None:
    path = write(tmp_path / "c.toml", '[mqtt.tls]\nca_file = "/etc/ssl/ca.crt"\n')

    assert problem(path, require_key=False) == (
        f"{path}, line 1, mqtt.tls: ca_file is set but enabled = false; expected enabled = true"
    )


def test_a_client_certificate_needs_its_key(tmp_path: Path) -> None:
    path = write(tmp_path / "c.toml", '[mqtt.tls]\nenabled = true\ncert_file = "/c.crt"\n')

    assert "expected cert_file and key_file together" in problem(path, require_key=False)


@pytest.mark.parametrize(
    ("host", "expected"),
    [
        ("mqtt://broker", "expected a host name or address, not a URL"),
        ("broker:1883", "without a port (set mqtt.port)"),
        ("bad host", "expected a host name or IP address"),
        ("", "expected a host name or IP address"),
    ],
)
def test_bad_hosts(tmp_path: Path, host: str, expected: str) -> None:
    path = write(tmp_path / "c.toml", f'[mqtt]\nhost = "{host}"\n')

    assert expected in problem(path, require_key=False)


@pytest.mark.parametrize(("host", "stored"), [("::1", "::1"), ("[fe80::1]", "fe80::1")])
def test_ipv6_hosts(tmp_path: Path, host: str, stored: str) -> None:
    path = write(tmp_path / "c.toml", f'[mqtt]\nhost = "{host}"\n')

    assert load_config(path, environ={}, require_key=False).mqtt.host == stored


# --- warnings -------------------------------------------------------------------------------


def test_an_inline_key_in_a_world_readable_file_is_a_warning(tmp_path: Path) -> None:
    path = write(tmp_path / "c.toml", f'[meter]\nkey = "{DEMO_KEY}"\n', 0o644)

    config = load_config(path, environ={})

    assert config.warnings == (
        f"{path}: the meter key is in this file and other users can read it (mode 0644); "
        f"chmod 600 {path}, or move it to key_file",
    )


def test_an_inline_key_in_a_private_file_is_fine(tmp_path: Path) -> None:
    path = write(tmp_path / "c.toml", f'[meter]\nkey = "{DEMO_KEY}"\n', 0o600)

    assert load_config(path, environ={}).warnings == ()


def test_a_password_in_clear_over_the_internet_is_a_warning(tmp_path: Path) -> None:
    path = write(
        tmp_path / "c.toml", '[mqtt]\nhost = "mqtt.example.com"\nusername = "u"\npassword = "p"\n'
    )

    (warning,) = load_config(path, environ={}, require_key=False).warnings

    assert warning == (
        f"{path}, line 1, mqtt: the MQTT password goes to mqtt.example.com unencrypted; "
        f"set [mqtt.tls] enabled = true if the broker offers TLS"
    )


@pytest.mark.parametrize(
    "host",
    [
        "localhost",
        "127.0.0.1",
        "::1",
        "192.168.1.10",
        "10.0.0.2",
        "homeassistant",
        "homeassistant.local",
        "broker.lan",
        "fd00::5",
    ],
)
def test_a_password_in_clear_at_home_is_not_a_warning(tmp_path: Path, host: str) -> None:
    path = write(tmp_path / "c.toml", f'[mqtt]\nhost = "{host}"\nusername = "u"\npassword = "p"\n')

    assert load_config(path, environ={}, require_key=False).warnings == ()


@pytest.mark.parametrize("host", ["8.8.8.8", "2001:4860::8888", "broker.example.org"])
def test_a_password_in_clear_elsewhere_is_a_warning(tmp_path: Path, host: str) -> None:
    path = write(tmp_path / "c.toml", f'[mqtt]\nhost = "{host}"\nusername = "u"\npassword = "p"\n')

    assert len(load_config(path, environ={}, require_key=False).warnings) == 1


def test_an_unchecked_certificate_is_a_warning(tmp_path: Path) -> None:
    path = write(tmp_path / "c.toml", "[mqtt.tls]\nenabled = true\nverify_hostname = false\n")

    (warning,) = load_config(path, environ={}, require_key=False).warnings

    assert warning.startswith(f"{path}, line 3, mqtt.tls.verify_hostname: ")


def test_security_mode_reaches_the_poller(tmp_path: Path) -> None:
    path = write(
        tmp_path / "c.toml",
        f'[meter]\nkey = "{DEMO_KEY}"\nsecurity = "tls"\ntls_client_id = 513\n',
    )
    settings = load_config(path).meters[0].settings()
    assert (settings.security, settings.tls_client_id, settings.tls_engine) == ("tls", 513, "pure")
    assert (
        load_config(write(tmp_path / "d.toml", f'[meter]\nkey = "{DEMO_KEY}"\n'))
        .meters[0]
        .settings()
        .security
        == "auto"
    )


def test_rc4_encryption_with_tls_is_explained(tmp_path: Path) -> None:
    path = write(
        tmp_path / "c.toml", f'[meter]\nkey = "{DEMO_KEY}"\nsecurity = "tls"\nencrypt = true\n'
    )
    message = problem(path)
    assert "line 1" in message or "meter" in message
    assert "remove encrypt" in message
    assert DEMO_KEY not in message


@pytest.mark.parametrize("bad", ['"ssl"', "70000"])
def test_bad_security_values_are_refused(tmp_path: Path, bad: str) -> None:
    field = "security" if bad.startswith('"') else "tls_client_id"
    path = write(tmp_path / "c.toml", f'[meter]\nkey = "{DEMO_KEY}"\n{field} = {bad}\n')
    assert f"meter.{field}" in problem(path)
