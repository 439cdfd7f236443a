"""Command-line overrides: the six options, the --mqtt URL, and how they replace the file."""

from __future__ import annotations

import argparse
import string
from pathlib import Path
from urllib.parse import quote

import pytest
from hypothesis import given
from hypothesis import strategies as st

from mepd.config.load import config_from_args
from mepd.config.overrides import MqttUrl, add_override_arguments, parse_mqtt_url
from mepd.config.resolved import Config
from mepd.errors import ConfigError
from mepd.protocol.keys import MepKey
from mepd.settings import Secret, TlsSettings
from tests.config.helpers import DEMO_KEY, HEX_KEY, write


def parser() -> argparse.ArgumentParser:
    result = argparse.ArgumentParser(prog="mepd run")
    add_override_arguments(result)
    return result


def load(
    argv: list[str], environ: dict[str, str] | None = None, *, require_key: bool = True
) -> Config:
    return config_from_args(
        parser().parse_args(argv), environ=environ or {}, require_key=require_key
    )


# --- the URL ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("mqtt://broker", MqttUrl("broker", None, tls=False)),
        ("mqtt://broker/", MqttUrl("broker", None, tls=False)),
        ("MQTTS://broker.lan:8884", MqttUrl("broker.lan", 8884, tls=True)),
        ("mqtt://192.168.1.2:1883", MqttUrl("192.168.1.2", 1883, tls=False)),
        ("mqtt://[::1]", MqttUrl("::1", None, tls=False)),
        ("mqtts://[2001:db8::1]:8883", MqttUrl("2001:db8::1", 8883, tls=True)),
        ("mqtt://bob@host", MqttUrl("host", None, tls=False, username="bob")),
        ("mqtt://bob:pw@host:1", MqttUrl("host", 1, False, "bob", Secret("pw"))),
        (
            "mqtt://b%40b:p%3As%2Fs%40%25@host",
            MqttUrl("host", None, False, "b@b", Secret("p:s/s@%")),
        ),
        ("mqtt://b%C3%B8b:%C3%A6@host", MqttUrl("host", None, False, "bøb", Secret("æ"))),
    ],
)
def test_good_urls(url: str, expected: MqttUrl) -> None:
    assert parse_mqtt_url(url) == expected


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("broker", "expected a URL: mqtt://[user:password@]host[:port], or mqtts://... for TLS"),
        ("http://broker", "expected the scheme mqtt:// or mqtts://: mqtt://[user:password@]host"),
        ("mqtt://", "no host: mqtt://[user:password@]host[:port], or mqtts://... for TLS"),
        ("mqtt://:1883", "no host: "),
        ("mqtt://host:0", "port 0 is out of range 1-65535"),
        ("mqtt://host:65536", "port 65536 is out of range 1-65535"),
        ("mqtt://host:", "expected a port number after ':'"),
        ("mqtt://host:88a", "expected a port number after ':'"),
        ("mqtt://host:１８８３", "expected a port number after ':'"),  # noqa: RUF001
        ("mqtt://::1", "write an IPv6 address in brackets: mqtt://[::1]:1883"),
        ("mqtt://[::1", "an IPv6 address without its closing ']'"),
        ("mqtt://[not-v6]", "expected an IPv6 address between '[' and ']'"),
        ("mqtt://[::1]x", "expected ':port' or nothing after ']'"),
        ("mqtt://host/topic", "expected nothing after host[:port]"),
        ("mqtt://host?x=1", "expected nothing after host[:port]"),
        ("mqtt://ho st", "the URL contains a space"),
        ("mqtt://bad_host!", "'bad_host!' is not a host name or address"),
        ("mqtt://@host", "an empty user name before '@'"),
        ("mqtt://:pw@host", "an empty user name before '@'"),
        ("mqtt://bob:@host", "an empty password after ':'"),
        ("mqtt://bob:p%zz@host", "the password has a '%' not followed by two hex digits"),
        ("mqtt://bob:%ff@host", "the password is not UTF-8 once percent-decoded"),
    ],
)
def test_bad_urls(url: str, message: str) -> None:
    with pytest.raises(ConfigError) as caught:
        parse_mqtt_url(url)

    assert str(caught.value).startswith(f"--mqtt: {message}")


@pytest.mark.parametrize(
    "url",
    [
        "mqtt://bob:Tr0ub4dor@host:99999",
        "mqtt://bob:Tr0ub4dor@@host",
        "mqtt://bob:Tr0ub/4dor@host",
        "mqtt://bob:Tr0ub#4dor@host",
        "mqtt://bob:Tr0ub?4dor@host",
        "mqtt://bob:Tr0ub4dor%@host",
        "mqtt://bob:Tr0ub 4dor@host",
        "mqtt://bob:Tr0ub4dor@[::1",
        "mqtt://bob:Tr0ub4dor@",
        "Tr0ub4dor://host",
        "mqtt:/bob:Tr0ub4dor@host",
    ],
)
def test_a_bad_url_never_shows_the_password(url: str) -> None:
    with pytest.raises(ConfigError) as caught:
        parse_mqtt_url(url)

    assert "Tr0ub" not in str(caught.value)
    assert "4dor" not in str(caught.value)


@given(
    password=st.text(alphabet=st.characters(codec="utf-8", exclude_categories=["Cs"]), min_size=1),
    port=st.integers(1, 65535),
)
def test_any_password_survives_percent_encoding(password: str, port: int) -> None:
    url = f"mqtts://user:{quote(password, safe='')}@broker:{port}"

    assert parse_mqtt_url(url) == MqttUrl("broker", port, True, "user", Secret(password))


@given(
    secret=st.text(alphabet=string.ascii_letters + string.digits, min_size=6).map("Zq".__add__),
    garbage=st.sampled_from(["host:0", "host:x", "ho st", "[::1", "", "h/p", "h#", "@h"]),
)
def test_no_malformed_url_shows_its_password(secret: str, garbage: str) -> None:
    with pytest.raises(ConfigError) as caught:
        parse_mqtt_url(f"mqtt://user:{secret}@{garbage}")

    assert secret not in str(caught.value)
    assert secret not in repr(caught.value)


def test_the_url_repr_hides_the_password() -> None:
    assert "pw" not in repr(parse_mqtt_url("mqtt://bob:pw@host"))


# --- the options --------------------------------------------------------------------------------


def test_exactly_the_six_options() -> None:
    options = {
        option
        for action in parser()._actions  # argparse has no public list of its actions
        for option in action.option_strings
    }

    assert options == {
        "-h",
        "--help",
        "--config",
        "--serial",
        "--mqtt",
        "--key-file",
        "--discovery-prefix",
        "--no-gpio",
    }


def test_the_options_are_documented() -> None:
    text = parser().format_help()

    for option in ("--config FILE", "--serial PATH", "--mqtt URL", "--key-file FILE"):
        assert option in text
    assert "/etc/mepd/config.toml" in text
    assert "mqtt://[user:password@]host[:port]" in text
    assert "chmod 600" in text


def test_a_bad_url_is_a_usage_error_without_the_password(
    capsys: pytest.CaptureFixture[str],
) -> None:
    with pytest.raises(SystemExit) as caught:
        parser().parse_args(["--mqtt", "mqtt://bob:Tr0ub4dor@host:0"])

    assert caught.value.code == 2
    error = capsys.readouterr().err
    assert "argument --mqtt: port 0 is out of range 1-65535" in error
    assert "Tr0ub4dor" not in error


def test_no_options_is_the_default_file(environ: dict[str, str]) -> None:
    config = load([], environ)

    assert config.source is None
    assert config.meters[0].port == "/dev/mep0"


def test_a_namespace_without_the_options(environ: dict[str, str]) -> None:
    config = config_from_args(argparse.Namespace(), environ=environ)

    assert config.meters[0].name == "mep0"


def test_config(tmp_path: Path, environ: dict[str, str]) -> None:
    path = write(tmp_path / "c.toml", '[mqtt]\nhost = "broker.lan"\n')

    assert load(["--config", str(path)], environ).mqtt.host == "broker.lan"


def test_a_missing_config(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="no such configuration file"):
        load(["--config", str(tmp_path / "nope.toml")])


def test_serial(environ: dict[str, str]) -> None:
    (meter,) = load(["--serial", "/dev/ttyUSB0"], environ).meters

    assert meter.port == "/dev/ttyUSB0"
    assert meter.name == "ttyUSB0"
    assert meter.state_path == Path("/var/lib/mepd/ttyUSB0.json")


def test_serial_keeps_the_files_other_serial_settings(
    tmp_path: Path, environ: dict[str, str]
) -> None:
    path = write(tmp_path / "c.toml", '[meter]\nname = "house"\n[serial]\nbaud = 4800\n')

    (meter,) = load(["--config", str(path), "--serial", "/dev/ttyUSB0"], environ).meters

    assert (meter.name, meter.port, meter.baud) == ("house", "/dev/ttyUSB0", 4800)


def test_a_bad_serial(environ: dict[str, str]) -> None:
    with pytest.raises(ConfigError) as caught:
        load(["--serial", "ttyUSB0"], environ)

    assert str(caught.value) == (
        "--serial: expected a device path such as /dev/ttyUSB0 or /dev/serial/by-id/..., or a "
        'pyserial URL such as socket://host:port, got "ttyUSB0"'
    )


def test_key_file_replaces_the_configured_key(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    write(tmp_path / "mbk", HEX_KEY)
    path = write(tmp_path / "c.toml", '[meter]\nkey_credential = "absent"\n')
    monkeypatch.chdir(tmp_path)  # --key-file is relative to the working directory

    (meter,) = load(["--config", str(path), "--key-file", "mbk"]).meters

    assert meter.key == MepKey(bytes.fromhex(HEX_KEY))
    assert meter.key_origin == f"key file {tmp_path / 'mbk'}"


def test_key_file_problems_name_the_option(tmp_path: Path) -> None:
    key_file = write(tmp_path / "mbk", DEMO_KEY, 0o644)

    with pytest.raises(ConfigError) as caught:
        load(["--key-file", str(key_file)])

    assert str(caught.value).startswith(f"--key-file: {key_file} has mode 0644")
    assert str(caught.value).endswith(f"chmod 600 {key_file}")


@pytest.mark.parametrize("option", [["--serial", "/dev/ttyUSB9"], ["--key-file", "/etc/mbk"]])
def test_serial_and_key_file_need_one_meter(tmp_path: Path, option: list[str]) -> None:
    path = write(
        tmp_path / "c.toml",
        '[[meters]]\nname = "a"\n[[meters]]\n[meters.serial]\nport = "/dev/ttyUSB0"\n',
    )

    with pytest.raises(ConfigError) as caught:
        load(["--config", str(path), *option])

    assert str(caught.value) == (
        f"{option[0]}: {path} has 2 meters (a, ttyUSB0); --serial and --key-file need a "
        f"configuration with exactly one meter"
    )


def test_mqtt_replaces_host_port_and_tls(tmp_path: Path, environ: dict[str, str]) -> None:
    ca = write(tmp_path / "ca.crt", "x", 0o644)
    path = write(
        tmp_path / "c.toml",
        f'[mqtt]\nhost = "old"\nport = 1\n[mqtt.tls]\nenabled = true\nca_file = "{ca}"\n',
    )

    plain = load(["--config", str(path), "--mqtt", "mqtt://new"], environ).mqtt
    secure = load(["--config", str(path), "--mqtt", "mqtts://[::1]:8884"], environ).mqtt

    assert (plain.host, plain.port, plain.tls, plain.effective_port) == ("new", None, None, 1883)
    assert (secure.host, secure.port) == ("::1", 8884)
    assert secure.tls == TlsSettings(ca_file=ca)  # the file's TLS settings stay


def test_mqtts_without_tls_in_the_file_uses_the_system_cas(environ: dict[str, str]) -> None:
    mqtt = load(["--mqtt", "mqtts://broker.example"], environ).mqtt

    assert mqtt.tls == TlsSettings()
    assert mqtt.effective_port == 8883


def test_mqtt_without_credentials_keeps_the_files(tmp_path: Path, environ: dict[str, str]) -> None:
    path = write(tmp_path / "c.toml", '[mqtt]\nusername = "u"\npassword = "p"\n')

    mqtt = load(["--config", str(path), "--mqtt", "mqtt://localhost"], environ).mqtt

    assert mqtt.password is not None
    assert (mqtt.username, mqtt.password.reveal()) == ("u", "p")


def test_mqtt_credentials_replace_the_files(tmp_path: Path, environ: dict[str, str]) -> None:
    path = write(tmp_path / "c.toml", '[mqtt]\nusername = "u"\npassword_file = "/nonexistent"\n')

    with_password = load(["--config", str(path), "--mqtt", "mqtt://v:w@h"], environ).mqtt
    without = load(["--config", str(path), "--mqtt", "mqtt://v@h"], environ).mqtt

    assert with_password.password is not None
    assert (with_password.username, with_password.password.reveal()) == ("v", "w")
    assert (without.username, without.password) == ("v", None)


def test_mqtt_as_a_string_in_a_namespace(environ: dict[str, str]) -> None:
    args = argparse.Namespace(mqtt="mqtt://h:1")

    assert config_from_args(args, environ=environ).mqtt.port == 1
    with pytest.raises(ConfigError, match=r"^--mqtt: port 0 is out of range"):
        config_from_args(argparse.Namespace(mqtt="mqtt://h:0"), environ=environ)


def test_discovery_prefix(tmp_path: Path, environ: dict[str, str]) -> None:
    path = write(tmp_path / "c.toml", "[homeassistant]\ndiscovery = false\n")

    discovery = load(["--config", str(path), "--discovery-prefix", "ha"], environ).discovery

    assert (discovery.prefix, discovery.enabled) == ("ha", True)


def test_a_bad_discovery_prefix(environ: dict[str, str]) -> None:
    with pytest.raises(ConfigError) as caught:
        load(["--discovery-prefix", "ha/#"], environ)

    assert str(caught.value) == (
        '--discovery-prefix: expected an MQTT topic without the wildcards + and #, got "ha/#"'
    )


def test_overrides_without_a_key(tmp_path: Path) -> None:
    config = load(["--serial", "/dev/ttyS0"], require_key=False)

    assert config.meters[0].key is None
