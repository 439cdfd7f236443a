"""From a TOML file (or none) to a `Config`: read, check the shape, merge, check, read secrets.

Every failure is a `ConfigError` whose message names the file, the line, the key path and what
was expected. Errors are raised `from None`: a pydantic error chained to them would carry the
very values (a key, a password) that the message leaves out.
"""

from __future__ import annotations

import ipaddress
import os
import re
import stat
import tomllib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from pathlib import Path, PurePosixPath
from typing import Any, TypeVar

from pydantic import BaseModel, SecretStr, ValidationError

from mepd.config import defaults
from mepd.config.keysource import (
    SecretUnavailable,
    optional_credential,
    read_credential,
    read_private_file,
    shown_path,
    user_name,
)
from mepd.config.overrides import Overrides
from mepd.config.problems import Loc, Source, describe
from mepd.config.resolved import Config, MeterConfig
from mepd.config.schema import (
    GPIO_LINES,
    ConfigFile,
    GpioSection,
    HomeAssistantSection,
    MeterSection,
    MqttSection,
    SerialSection,
    TlsSection,
)
from mepd.errors import ConfigError
from mepd.protocol.errors import KeyFormatError
from mepd.protocol.keys import MepKey
from mepd.settings import (
    DiscoverySettings,
    GpioLines,
    MqttSettings,
    PlausibilityLimits,
    Schedule,
    TlsSettings,
)

SectionT = TypeVar("SectionT", bound=BaseModel)
SecretT = TypeVar("SecretT", str, str | None)

_TOML_POSITION = re.compile(
    r"^(?P<message>.*) \(at (?:line (?P<line>\d+), column (?P<column>\d+)|end of document)\)$"
)
_TOML_KEY_TUPLE = re.compile(r"\((?:'[^']*'(?:, )?)+,?\)")
_LOCAL_SUFFIXES = (".local", ".lan", ".home", ".home.arpa", ".internal", ".localdomain")
_QUOTED = re.compile(r"'([^']*)'")
_SYNTAX_HINTS = {
    "Invalid value": 'text needs quotes (port = "/dev/ttyUSB0"); true and false are lower case',
    "Cannot overwrite a value": "a key given twice",
}


@dataclass(frozen=True)
class Document:
    """A configuration file whose shape is checked, and where its parts came from."""

    file: ConfigFile
    source: Source
    base_dir: Path  # relative paths in the file are relative to its directory

    def meter_entries(self) -> list[tuple[Loc, MeterSection]]:
        """`[meter]` or each `[[meters]]` entry, with its key path; one meter if neither."""
        if self.file.meter is not None and self.file.meters is not None:
            raise self.source.error(
                ("meters",),
                "expected either one [meter] or several [[meters]], not both; "
                "move [meter] into a [[meters]] entry",
            )
        if self.file.meters is not None:
            if not self.file.meters:
                raise self.source.error(("meters",), "expected at least one [[meters]] entry")
            return [(("meters", index), entry) for index, entry in enumerate(self.file.meters)]
        return [(("meter",), self.file.meter or MeterSection())]

    def path_of(self, text: str) -> Path:
        path = Path(text)
        return path if path.is_absolute() else self.base_dir / path


def load_config(
    path: Path | None = None,
    *,
    environ: Mapping[str, str] = os.environ,
    require_key: bool = True,
    overrides: Overrides | None = None,
) -> Config:
    """The configuration in `path`, or `DEFAULT_CONFIG_PATH` if it exists, else the defaults.

    `environ` supplies $CREDENTIALS_DIRECTORY. `require_key=False` reads no meter key
    (`MeterConfig.key` is None): for the demo, which brings its own, and for a doctor that
    checks the rest before the key.
    """
    document = read_document(path)
    if overrides is not None:
        document = apply_overrides(document, overrides)
    return resolve(document, environ=environ, require_key=require_key)


def read_document(path: Path | None) -> Document:
    if path is None:
        if not defaults.DEFAULT_CONFIG_PATH.exists():
            return Document(ConfigFile(), Source(None), Path("/"))
        path = defaults.DEFAULT_CONFIG_PATH
    text = _read_text(path)
    source = Source(path, text)
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        raise ConfigError(_syntax_message(path, str(error))) from None
    try:
        file = ConfigFile.model_validate(data)
    except ValidationError as error:
        problem = source.validation_error(error)
    else:
        return Document(file, source, path.absolute().parent)
    # Raised outside `except`: not even __context__ may hold the pydantic error and its inputs.
    raise problem


def _read_text(path: Path) -> str:
    try:
        content = path.read_bytes()
    except FileNotFoundError:
        raise ConfigError(
            f"{path}: no such configuration file (config.example.toml shows every option)"
        ) from None
    except IsADirectoryError:
        raise ConfigError(f"{path}: is a directory, expected a configuration file") from None
    except PermissionError:
        raise ConfigError(
            f"{path}: cannot read the configuration file: permission denied "
            f"(check its owner and mode, or run as a user who can read it)"
        ) from None
    except OSError as error:
        raise ConfigError(f"{path}: cannot read the configuration file: {error.strerror}") from None
    try:
        return content.decode("utf-8")
    except UnicodeDecodeError as error:
        line = content[: error.start].count(b"\n") + 1
        raise ConfigError(
            f"{path}, line {line}: not UTF-8 text; save the file as UTF-8 (TOML requires it)"
        ) from None


def _syntax_message(path: Path, message: str) -> str:
    match = _TOML_POSITION.match(message)
    if match is None:
        return f"{path}: TOML syntax error: {message}"
    # tomllib names keys as tuples, ('mqtt', 'tls'); the file says mqtt.tls.
    text = _TOML_KEY_TUPLE.sub(lambda key: ".".join(_QUOTED.findall(key[0])), match["message"])
    hint = _SYNTAX_HINTS.get(text)
    detail = text[:1].lower() + text[1:] + (f" ({hint})" if hint else "")
    if match["line"] is None:
        return f"{path}, at the end: TOML syntax error: {detail}"
    return f"{path}, line {match['line']}, column {match['column']}: TOML syntax error: {detail}"


# --- from a document to a Config -------------------------------------------------------------


def resolve(document: Document, *, environ: Mapping[str, str], require_key: bool) -> Config:
    file, source = document.file, document.source
    entries = document.meter_entries()
    state_directory = document.path_of(file.state_directory)
    meters: list[MeterConfig] = []
    warnings: list[str] = []
    names: dict[str, Loc] = {}
    ports: dict[str, tuple[Loc, str]] = {}
    pins: dict[int, tuple[str, str]] = {}  # GPIO -> (meter, line)
    for loc, entry in entries:
        serial = _merged(file.serial, entry.serial)
        gpio = _merged(file.gpio, entry.gpio)
        schedule = _merged(file.schedule, entry.schedule)
        limits = _merged(file.limits, entry.limits)

        name = entry.name or _name_from_port(serial.port)
        if name in names:
            how = "" if entry.name else f" (from its port {serial.port})"
            raise source.error(
                (*loc, "name") if entry.name else loc,
                f"meter name {name!r}{how} is already used by {_where_short(names[name])}; "
                f'expected a unique name = "..." for each meter',
            )
        names[name] = loc

        port_identity = serial.port if "://" in serial.port else os.path.realpath(serial.port)
        if port_identity in ports:
            other_loc, other_name = ports[port_identity]
            raise source.error(
                _table_loc(loc, entry.serial, "serial"),
                f"port {serial.port} is already used by meter {other_name!r} "
                f"({_where_short(other_loc)}); expected one port per meter",
            )
        ports[port_identity] = (loc, name)

        gpio_loc = _table_loc(loc, entry.gpio, "gpio")
        lines = _gpio_lines(gpio, source, gpio_loc)
        if lines is not None:
            _claim_pins(lines, name, pins, source, gpio_loc)

        meter_schedule = Schedule(schedule.present_s, schedule.energy_s, schedule.clock_s)
        try:
            meter_schedule.validate()
        except ConfigError as error:
            raise source.error(_table_loc(loc, entry.schedule, "schedule"), str(error)) from None

        key, origin = (
            _resolve_key(document, loc, entry, name=name, meter_count=len(entries), environ=environ)
            if require_key
            else (None, "not read")
        )
        if entry.key is not None:
            warnings += _readable_secret_warning(source, "the meter key", "key_file")

        meters.append(
            MeterConfig(
                name=name,
                port=serial.port,
                baud=serial.baud,
                gpio=lines,
                key=key,
                key_origin=origin,
                encrypt=entry.encrypt,
                security=entry.security,
                tls_client_id=entry.tls_client_id,
                tls_engine=entry.tls_engine,
                schedule=meter_schedule,
                limits=replace(
                    PlausibilityLimits(),
                    main_fuse_a=limits.main_fuse_a,
                    phases=limits.phases,
                    nominal_voltage_v=limits.nominal_voltage_v,
                ),
                state_path=state_directory / f"{name}.json",
            )
        )
    mqtt, mqtt_warnings = _mqtt_settings(document, environ)
    home = file.homeassistant
    return Config(
        source=source.path,
        meters=tuple(meters),
        state_directory=state_directory,
        log_level_name=file.logging.level,
        warnings=tuple(dict.fromkeys([*warnings, *mqtt_warnings])),
        mqtt=mqtt,
        discovery=DiscoverySettings(
            enabled=home.discovery,
            prefix=home.discovery_prefix,
            status_topic=home.status_topic,
            gateway_id=home.gateway_id,
        ),
    )


def _merged(base: SectionT, override: SectionT | None) -> SectionT:
    """`base` with every field the meter entry wrote itself (pydantic's fields_set) replaced."""
    if override is None:
        return base
    return base.model_copy(
        update={name: getattr(override, name) for name in override.model_fields_set}
    )


def _table_loc(loc: Loc, own: BaseModel | None, table: str) -> Loc:
    """Where a merged table's problem is: the meter's own sub-table, else the top-level one."""
    if own is not None:
        return (*loc, table)
    return (table,) if loc == ("meter",) else loc


def _where_short(loc: Loc) -> str:
    return "[meter]" if loc == ("meter",) else f"meters[{loc[1]}]"


def _name_from_port(port: str) -> str:
    """A stable name for a meter without one: the device's name, "mep0" for /dev/mep0."""
    base = port.split("://", 1)[1] if "://" in port else PurePosixPath(port).name
    return re.sub(r"[^A-Za-z0-9_-]+", "-", base).strip("-_")[:64] or "meter"


def _gpio_lines(section: GpioSection, source: Source, loc: Loc) -> GpioLines | None:
    if not section.enabled:
        return None
    used: dict[int, str] = {}
    for line in GPIO_LINES:
        pin = getattr(section, line)
        if pin is None:
            continue
        if pin in used:
            raise source.error(
                (*loc, line),
                f"GPIO {pin} is also {used[pin]}; expected a separate GPIO for each line",
            )
        used[pin] = line
    return GpioLines(
        transceiver_power=section.transceiver_power,
        transceiver_power_active_high=section.transceiver_power_active_high,
        mep_enable=section.mep_enable,
        mep_enable_active_high=section.mep_enable_active_high,
        meter_sense=section.meter_sense,
        meter_sense_active_high=section.meter_sense_active_high,
        link_led=section.link_led,
        power_led=section.power_led,
    )


def _claim_pins(
    lines: GpioLines, name: str, pins: dict[int, tuple[str, str]], source: Source, loc: Loc
) -> None:
    for line in GPIO_LINES:
        pin = getattr(lines, line)
        if pin is None:
            continue
        if pin in pins:
            other, other_line = pins[pin]
            raise source.error(
                loc,
                f"meter {name!r} would use GPIO {pin} ({line}), which meter {other!r} already "
                f"uses ({other_line}); only one meter can use the HAT's lines. Give this meter "
                f"its own [meters.gpio] pins, or enabled = false for a plain USB adapter",
            )
        pins[pin] = (name, line)


# --- secrets -------------------------------------------------------------------------------


def _resolve_key(
    document: Document,
    loc: Loc,
    entry: MeterSection,
    *,
    name: str,
    meter_count: int,
    environ: Mapping[str, str],
) -> tuple[MepKey, str]:
    source = document.source
    if entry.key is not None:
        return _parsed_key(entry.key.get_secret_value(), source, (*loc, "key"), ""), (
            f"key in {source.label}"
        )
    if entry.key_file is not None:
        path = document.path_of(entry.key_file)
        text = _secret(source, (*loc, "key_file"), lambda: read_private_file(path, "key"))
        shown = shown_path(path)
        return _parsed_key(text, source, (*loc, "key_file"), f"{shown}: "), f"key file {shown}"
    if entry.key_credential is not None:
        credential = entry.key_credential
        text = _secret(
            source, (*loc, "key_credential"), lambda: read_credential(credential, environ, "key")
        )
        shown = shown_path(credential)
        return (
            _parsed_key(text, source, (*loc, "key_credential"), f"credential {shown}: "),
            f"credential {shown}",
        )
    fallback = (
        defaults.DEFAULT_KEY_CREDENTIAL
        if meter_count == 1
        else f"{defaults.DEFAULT_KEY_CREDENTIAL}-{name}"
    )
    found = _secret(source, loc, lambda: optional_credential(fallback, environ, "key"))
    if found is not None:
        return _parsed_key(found, source, loc, f"credential {fallback}: "), f"credential {fallback}"
    path = defaults.KEY_DIRECTORY / fallback
    if not environ.get(defaults.CREDENTIALS_ENV) and path.exists():
        # By hand, outside the unit: the file the unit would load, if this user may read it.
        if not os.access(path, os.R_OK):
            raise ConfigError(
                f"no meter key: {path} holds it but user {user_name()} cannot read it (as it "
                f"should be); run this command with sudo, or pass --key-file FILE"
            )
        text = _secret(source, loc, lambda: read_private_file(path, "key"))
        return _parsed_key(text, source, loc, f"{path}: "), f"key file {path}"
    raise _no_key(
        source, loc, name=name, credential=fallback, meter_count=meter_count, environ=environ
    )


def _parsed_key(text: str, source: Source, loc: Loc, origin: str) -> MepKey:
    try:
        return MepKey.parse(text)
    except KeyFormatError as error:  # its message describes the shape, never the key
        raise source.error(loc, f"{origin}{error}") from None


def _no_key(
    source: Source,
    loc: Loc,
    *,
    name: str,
    credential: str,
    meter_count: int,
    environ: Mapping[str, str],
) -> ConfigError:
    path = defaults.KEY_DIRECTORY / credential
    directory = environ.get(defaults.CREDENTIALS_ENV)
    checked = f" (credential {credential!r} is missing or blank)" if directory else ""
    if meter_count == 1:
        config = source.path or defaults.DEFAULT_CONFIG_PATH
        return ConfigError(
            f"no meter key{checked}: put it in {path} (one line, chmod 600), which the systemd "
            f"unit loads as the credential {credential}; or set key_file or key under [meter] "
            f"in {config}; or pass --key-file FILE"
        )
    return source.error(
        loc,
        f"no key for meter {name!r}{checked}: put it in {path} (chmod 600) and add "
        f"LoadCredential={credential}:{path} to the unit, or set key_file, key or "
        f"key_credential in its [[meters]] entry",
    )


def _secret(source: Source, loc: Loc, read: Callable[[], SecretT]) -> SecretT:
    try:
        text = read()
    except SecretUnavailable as error:
        raise source.error(loc, str(error)) from None
    return text


def _readable_secret_warning(source: Source, what: str, instead: str) -> list[str]:
    if source.path is None:
        return []
    try:
        status = source.path.stat()
    except OSError:
        return []
    mode = stat.S_IMODE(status.st_mode)
    # Group-readable is fine when the group is mepd's own (root:mepd 0640).
    group_readable = mode & 0o040 and status.st_gid != os.getegid()
    if not (mode & 0o004 or group_readable):
        return []
    return [
        f"{source.path}: {what} is in this file and other users can read it "
        f"(mode {mode:04o}); chmod 600 {source.path}, or move it to {instead}"
    ]


def _mqtt_settings(
    document: Document, environ: Mapping[str, str]
) -> tuple[MqttSettings, list[str]]:
    source = document.source
    section: MqttSection = document.file.mqtt
    warnings: list[str] = []
    password: str | None = None
    if section.password is not None:
        password = section.password.get_secret_value()
        if ("mqtt", "password") not in source.overridden:
            warnings += _readable_secret_warning(source, "the MQTT password", "password_file")
    elif section.password_file is not None:
        path = document.path_of(section.password_file)
        password = _secret(
            source,
            ("mqtt", "password_file"),
            lambda: read_private_file(path, "MQTT password").rstrip("\r\n"),
        )
    elif section.password_credential is not None:
        credential = section.password_credential
        password = _secret(
            source,
            ("mqtt", "password_credential"),
            lambda: read_credential(credential, environ, "MQTT password").rstrip("\r\n"),
        )
    if password == "":
        raise source.error(("mqtt",), "the MQTT password is empty")

    tls: TlsSettings | None = None
    if section.tls.enabled:
        files: dict[str, Path | None] = {}
        for name in ("ca_file", "cert_file", "key_file"):
            text = getattr(section.tls, name)
            files[name] = None if text is None else document.path_of(text)
            _check_readable(source, ("mqtt", "tls", name), files[name])
        tls = TlsSettings(
            ca_file=files["ca_file"],
            cert_file=files["cert_file"],
            key_file=files["key_file"],
            verify_hostname=section.tls.verify_hostname,
        )
        if not section.tls.verify_hostname:
            warnings.append(
                f"{source.where(('mqtt', 'tls', 'verify_hostname'))}: the broker's certificate "
                f"is not checked against its name; anyone on the path can read the password"
            )
    elif password is not None and not _is_home_network(section.host):
        warnings.append(
            f"{source.where(('mqtt',))}: the MQTT password goes to {section.host} unencrypted; "
            f"set [mqtt.tls] enabled = true if the broker offers TLS"
        )
    settings = MqttSettings(
        host=section.host,
        port=section.port,
        client_id=section.client_id,
        username=section.username,
        password=password,
        tls=tls,
        keepalive_s=section.keepalive_s,
        topic_prefix=section.topic_prefix,
    )
    return settings, warnings


def _check_readable(source: Source, loc: Loc, path: Path | None) -> None:
    if path is None:
        return
    if not path.exists():
        raise source.error(loc, f"{path} does not exist")
    if not path.is_file():
        raise source.error(loc, f"{path} is not a file")
    if not os.access(path, os.R_OK):
        raise source.error(loc, f"cannot read {path}: permission denied")


def _is_home_network(host: str) -> bool:
    """Loopback, a private address or a local name: plain MQTT there is the common setup, and
    a warning at every start would only teach people to ignore warnings."""
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        name = host.lower().rstrip(".")
        return "." not in name or name.endswith(_LOCAL_SUFFIXES)
    return not address.is_global


# --- command-line overrides ---------------------------------------------------------------------


def apply_overrides(document: Document, overrides: Overrides) -> Document:
    """The document with the command line's values in place, each checked like the file's.

    Later errors about an overridden key name the option (`--key-file: ...`), not the file.
    """
    file, source = document.file, document.source
    overridden = dict(source.overridden)
    updates: dict[str, Any] = {}
    if overrides.serial is not None or overrides.key_file is not None:
        flag = "--serial" if overrides.serial is not None else "--key-file"
        entries = document.meter_entries()
        if len(entries) != 1:
            names = ", ".join(
                entry.name or _name_from_port(_merged(file.serial, entry.serial).port)
                for _, entry in entries
            )
            raise ConfigError(
                f"{flag}: {source.label} has {len(entries)} meters ({names}); --serial and "
                f"--key-file need a configuration with exactly one meter"
            )
        loc, entry = entries[0]
        changes: dict[str, Any] = {}
        if overrides.serial is not None:
            port = overrides.serial
            changes["serial"] = _checked(
                "--serial", ("port",), lambda: _with_fields(entry.serial, SerialSection, port=port)
            )
            overridden[(*loc, "serial", "port")] = "--serial"
        if overrides.key_file is not None:
            changes.update(
                key=None, key_file=str(overrides.key_file.absolute()), key_credential=None
            )
            overridden[(*loc, "key_file")] = "--key-file"
        entry = entry.model_copy(update=changes)
        if loc == ("meter",):
            updates["meter"] = entry
        else:
            updates["meters"] = [entry]
    if overrides.mqtt is not None:
        url = overrides.mqtt
        tls = file.mqtt.tls if url.tls and file.mqtt.tls.enabled else TlsSection(enabled=url.tls)
        mqtt_changes: dict[str, Any] = {"host": url.host, "port": url.port, "tls": tls}
        if url.username is not None:
            # The configured password belongs to the configured user: drop it with the user.
            mqtt_changes.update(
                username=url.username,
                password=None if url.password is None else SecretStr(url.password),
                password_file=None,
                password_credential=None,
            )
        updates["mqtt"] = _checked(
            "--mqtt", (), lambda: _with_fields(file.mqtt, MqttSection, **mqtt_changes)
        )
        for name in ("host", "port", "tls", "username", "password"):
            overridden[("mqtt", name)] = "--mqtt"
    if overrides.discovery_prefix is not None:
        prefix = overrides.discovery_prefix
        updates["homeassistant"] = _checked(
            "--discovery-prefix",
            ("discovery_prefix",),
            lambda: _with_fields(
                file.homeassistant, HomeAssistantSection, discovery_prefix=prefix, discovery=True
            ),
        )
        overridden[("homeassistant", "discovery_prefix")] = "--discovery-prefix"
    return Document(
        file.model_copy(update=updates), replace(source, overridden=overridden), document.base_dir
    )


def _with_fields(section: SectionT | None, model: type[SectionT], **updates: Any) -> SectionT:
    """`section`'s own fields with `updates`, validated like the file's values."""
    own = (
        {}
        if section is None
        else {name: getattr(section, name) for name in section.model_fields_set}
    )
    return model.model_validate({**own, **updates})


def _checked(flag: str, loc: Loc, build: Callable[[], SectionT]) -> SectionT:
    try:
        return build()
    except ValidationError as error:
        first = error.errors(include_url=False)[0]
        problem = ConfigError(f"{flag}: {describe(first, loc or tuple(first['loc']))}")
    raise problem  # outside `except`, as in read_document
