"""Command-line overrides shared by `run`, `probe`, `dump` and `demo`.

Standard library only: `mepd --help` builds every subcommand's parser from this module, and
pydantic loads only when a command reads its configuration (`mepd.config.load`).
"""

from __future__ import annotations

import argparse
import ipaddress
import re
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import unquote

from mepd.config.defaults import DEFAULT_CONFIG_PATH
from mepd.errors import ConfigError
from mepd.secret import Secret

_SCHEMES = {"mqtt": False, "mqtts": True}  # scheme -> TLS
# Host names as resolvers take them (underscores too: some home networks use them).
HOSTNAME = re.compile(
    r"[A-Za-z0-9_]([A-Za-z0-9_-]*[A-Za-z0-9_])?(\.[A-Za-z0-9_]([A-Za-z0-9_-]*[A-Za-z0-9_])?)*\.?"
)
_BAD_PERCENT = re.compile(r"%(?![0-9A-Fa-f]{2})")
_ENCODE_HINT = "percent-encode it in the user name or password (/ %2F, ? %3F, # %23, @ %40, : %3A)"
_URL_FORM = "mqtt://[user:password@]host[:port], or mqtts://... for TLS"


@dataclass(frozen=True)
class MqttUrl:
    """A broker given as `--mqtt mqtt[s]://[user:pass@]host[:port]`."""

    host: str  # an IPv6 address without its brackets
    port: int | None  # None: the scheme's default (1883, or 8883 with TLS)
    tls: bool
    username: str | None = None
    password: Secret | None = field(default=None, repr=False)


@dataclass(frozen=True)
class Overrides:
    """What the command line replaces in the configuration file."""

    serial: str | None = None
    mqtt: MqttUrl | None = None
    key_file: Path | None = None
    discovery_prefix: str | None = None
    no_gpio: bool = False  # --no-gpio: no meter uses the HAT's lines, whatever the file says
    interface: str | None = None  # "mep" or "optical", for the one meter


class _UrlError(ValueError):
    """Why a --mqtt URL is refused; never contains the password."""


def parse_mqtt_url(text: str) -> MqttUrl:
    """Parse strictly; a `ConfigError` says what is wrong without repeating the password."""
    try:
        return _parse_url(text)
    except _UrlError as problem:
        raise ConfigError(f"--mqtt: {problem}") from None


def _mqtt_argument(text: str) -> MqttUrl:
    # ArgumentTypeError, not ValueError: argparse would print a ValueError with the whole URL.
    try:
        return _parse_url(text)
    except _UrlError as problem:
        raise argparse.ArgumentTypeError(str(problem)) from None


def _parse_url(text: str) -> MqttUrl:
    if any(character.isspace() for character in text):
        raise _UrlError("the URL contains a space; in a user name or password write it as %20")
    scheme, separator, rest = text.partition("://")
    if not separator:
        raise _UrlError(f"expected a URL: {_URL_FORM}")
    if scheme.lower() not in _SCHEMES:
        # The scheme is not shown: a password pasted in the wrong place could be there.
        raise _UrlError(f"expected the scheme mqtt:// or mqtts://: {_URL_FORM}")
    end = min((index for index in map(rest.find, "/?#") if index >= 0), default=len(rest))
    authority, tail = rest[:end], rest[end:]
    if tail not in ("", "/"):
        if "@" in tail:
            raise _UrlError(f"a '/', '?' or '#' comes before the host; {_ENCODE_HINT}")
        raise _UrlError(f"expected nothing after host[:port]: {_URL_FORM}")
    if authority.count("@") > 1:
        raise _UrlError(f"more than one '@'; {_ENCODE_HINT}")
    userinfo, at, host_port = authority.rpartition("@")
    username = password = None
    if at:
        user_text, colon, password_text = userinfo.partition(":")
        username = _decoded(user_text, "user name")
        if not username:
            raise _UrlError(f"an empty user name before '@': {_URL_FORM}")
        if colon:
            password = _decoded(password_text, "password")
            if not password:
                raise _UrlError("an empty password after ':'; leave out the ':' for none")
    host, port = _host_and_port(host_port)
    secret = None if password is None else Secret(password)
    return MqttUrl(host, port, _SCHEMES[scheme.lower()], username, secret)


def _decoded(text: str, what: str) -> str:
    if _BAD_PERCENT.search(text):
        raise _UrlError(f"the {what} has a '%' not followed by two hex digits; write % as %25")
    try:
        return unquote(text, errors="strict")
    except UnicodeDecodeError:
        raise _UrlError(f"the {what} is not UTF-8 once percent-decoded") from None


def _host_and_port(text: str) -> tuple[str, int | None]:
    if text.startswith("["):
        end = text.find("]")
        if end < 0:
            raise _UrlError("an IPv6 address without its closing ']'")
        try:
            host = str(ipaddress.IPv6Address(unquote(text[1:end])))
        except ValueError:
            raise _UrlError("expected an IPv6 address between '[' and ']'") from None
        after = text[end + 1 :]
        if after and not after.startswith(":"):
            raise _UrlError("expected ':port' or nothing after ']'")
        port_text = after[1:] if after else None
    else:
        if text.count(":") > 1:
            raise _UrlError("write an IPv6 address in brackets: mqtt://[::1]:1883")
        host, colon, port_text_found = text.partition(":")
        port_text = port_text_found if colon else None
        if not host:
            raise _UrlError(f"no host: {_URL_FORM}")
        if not HOSTNAME.fullmatch(host) or len(host) > 253:
            raise _UrlError(f"{host!r} is not a host name or address")
    if port_text is None:
        return host, None
    if not port_text.isdigit() or not port_text.isascii():
        raise _UrlError("expected a port number after ':'")
    port = int(port_text)
    if not 1 <= port <= 65535:
        raise _UrlError(f"port {port} is out of range 1-65535")
    return host, port


# Every override; a command takes only those that mean something to it (`probe` has no broker).
OVERRIDE_OPTIONS = (
    "--config",
    "--serial",
    "--mqtt",
    "--key-file",
    "--discovery-prefix",
    "--no-gpio",
)
METER_OPTIONS = ("--config", "--serial", "--key-file", "--no-gpio")  # a meter, no broker
BROKER_OPTIONS = ("--config", "--mqtt", "--discovery-prefix")  # a broker, no meter


def add_override_arguments(
    parser: argparse.ArgumentParser, only: tuple[str, ...] = OVERRIDE_OPTIONS
) -> None:
    """--config, --serial, --mqtt, --key-file, --discovery-prefix and --no-gpio (or `only`)."""
    group = _Only(parser.add_argument_group("configuration"), only)
    group.add_argument(
        "--config",
        metavar="FILE",
        type=Path,
        help=f"configuration file (default: {DEFAULT_CONFIG_PATH} if it exists, "
        "else the built-in defaults)",
    )
    group.add_argument(
        "--serial",
        metavar="PATH",
        help="the meter's serial port, e.g. /dev/ttyUSB0 (replaces [serial] port; "
        "only with a single meter)",
    )
    group.add_argument(
        "--mqtt",
        metavar="URL",
        type=_mqtt_argument,
        help="the broker as mqtt://[user:password@]host[:port], or mqtts://... for TLS "
        "(replaces [mqtt] host, port and TLS; a password given here is visible to other "
        "users in ps, so prefer [mqtt] password_file)",
    )
    group.add_argument(
        "--key-file",
        metavar="FILE",
        type=Path,
        help="file holding the meter key, readable by its owner only (chmod 600); replaces "
        "the configured key (only with a single meter)",
    )
    group.add_argument(
        "--discovery-prefix",
        metavar="PREFIX",
        help="publish Home Assistant discovery under this topic prefix (default "
        "homeassistant; replaces [homeassistant] discovery_prefix and turns discovery on)",
    )
    group.add_argument(
        "--no-gpio",
        action="store_true",
        help="use no GPIO lines, as with [gpio] enabled = false for every meter (a USB "
        "adapter, or `mepd simulate`, on a Pi with the HAT)",
    )


class _Only:
    """An argument group that keeps only the options named in `only`."""

    def __init__(self, group: argparse._ArgumentGroup, only: tuple[str, ...]) -> None:
        self._group = group
        self._only = only

    def add_argument(self, option: str, **settings: object) -> None:
        if option in self._only:
            self._group.add_argument(option, **settings)  # type: ignore[arg-type]


INTERFACES = ("mep", "optical")


def add_interface_argument(parser: argparse.ArgumentParser) -> None:
    """--interface mep|optical: which port of the one meter (run, probe, dump, doctor)."""
    parser.add_argument(
        "--interface",
        choices=INTERFACES,
        default=None,
        help="read the meter through its MEP port or its optical port (a USB IR head, ANSI "
        "C12.18; the key is then the optical password); replaces the meter's interface "
        "(only with a single meter)",
    )


def overrides_from_args(args: argparse.Namespace) -> Overrides:
    """What --serial, --mqtt, --key-file and --discovery-prefix replace (None: not given)."""
    mqtt = getattr(args, "mqtt", None)
    if isinstance(mqtt, str):  # a Namespace built by hand, not by our parser
        mqtt = parse_mqtt_url(mqtt)
    key_file = getattr(args, "key_file", None)
    return Overrides(
        serial=getattr(args, "serial", None),
        mqtt=mqtt,
        key_file=None if key_file is None else Path(key_file),
        discovery_prefix=getattr(args, "discovery_prefix", None),
        no_gpio=bool(getattr(args, "no_gpio", False)),
        interface=getattr(args, "interface", None),
    )
