"""From a checked `Document` to a `Config`: tables merged per meter, cross-checks, secrets read.

A model checks its own values (schema.py); what needs a meter's tables merged over the
top-level ones (unique names, ports and pins, the read budget) or reads a file is checked here,
with the same file, line and key in the message.
"""

from __future__ import annotations

import ipaddress
import os
from collections.abc import Mapping
from dataclasses import replace
from pathlib import Path

from pydantic import BaseModel

from mepd.config.document import Document, merged, name_from_port
from mepd.config.keys import MissingKeyError, readable_secret_warning, resolve_key, secret
from mepd.config.keysource import read_credential, read_private_file
from mepd.config.problems import Loc, Source
from mepd.config.resolved import Config, MeterConfig
from mepd.config.schema import GPIO_LINES, GpioSection, MqttSection
from mepd.config.statistics import statistics_settings
from mepd.errors import ConfigError
from mepd.protocol.c1218.services import PASSWORD_BYTES as OPTICAL_PASSWORD_BYTES
from mepd.protocol.keys import MepKey
from mepd.settings import (
    DiscoverySettings,
    GpioLines,
    MqttSettings,
    PlausibilityLimits,
    Schedule,
    Secret,
    TlsSettings,
)

_LOCAL_SUFFIXES = (".local", ".lan", ".home", ".home.arpa", ".internal", ".localdomain")


def resolve(
    document: Document,
    *,
    environ: Mapping[str, str],
    require_key: bool,
    missing_key_warns: bool = False,
) -> Config:
    """The settings; `missing_key_warns`: a meter without any key is a warning (check-config)."""
    file, source = document.file, document.source
    entries = document.meter_entries()
    state_directory = document.path_of(file.state_directory)
    meters: list[MeterConfig] = []
    warnings: list[str] = []
    names: dict[str, Loc] = {}
    ports: dict[str, tuple[Loc, str]] = {}
    pins: dict[int, tuple[str, str]] = {}  # GPIO -> (meter, line)
    for loc, entry in entries:
        serial = merged(file.serial, entry.serial)
        gpio = merged(file.gpio, entry.gpio)
        schedule = merged(file.schedule, entry.schedule)
        limits = merged(file.limits, entry.limits)

        name = entry.name or name_from_port(serial.port)
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
        # The HAT is a MEP device: an optical meter is read with a USB IR head, no GPIO.
        lines = None if entry.interface == "optical" else _gpio_lines(gpio, source, gpio_loc)
        if lines is not None:
            _claim_pins(lines, name, pins, source, gpio_loc)

        meter_schedule = Schedule(schedule.present_s, schedule.energy_s, schedule.clock_s)
        try:
            meter_schedule.validate()
        except ConfigError as error:
            raise source.error(_table_loc(loc, entry.schedule, "schedule"), str(error)) from None

        key: MepKey | None = None
        origin = "not read"
        if require_key:
            try:
                key, origin = resolve_key(
                    document, loc, entry, name=name, meter_count=len(entries), environ=environ
                )
            except MissingKeyError as missing:
                if not missing_key_warns:
                    raise
                origin = "nowhere yet"
                warnings.append(f"the key is not there yet (`mepd run` needs it): {missing}")
        if entry.key is not None:
            warnings += readable_secret_warning(source, "the meter key", "key_file")
        if key is not None and entry.interface == "optical":
            _check_optical_password(key, source, loc, origin)

        meters.append(
            MeterConfig(
                name=name,
                port=serial.port,
                baud=serial.baud,
                gpio=lines,
                gpio_auto=gpio.enabled == "auto",
                key=key,
                key_origin=origin,
                encrypt=entry.encrypt,
                security=entry.security,
                tls_client_id=entry.tls_client_id,
                tls_engine=entry.tls_engine,
                interface=entry.interface,
                optical_echo=entry.optical_echo,
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
    statistics, statistics_warnings = statistics_settings(
        document, environ, [meter.name for meter in meters]
    )
    home = file.homeassistant
    return Config(
        source=source.path,
        meters=tuple(meters),
        state_directory=state_directory,
        log_level_name=file.logging.level,
        warnings=tuple(dict.fromkeys([*warnings, *mqtt_warnings, *statistics_warnings])),
        mqtt=mqtt,
        discovery=DiscoverySettings(
            enabled=home.discovery,
            prefix=home.discovery_prefix,
            status_topic=home.status_topic,
            gateway_id=home.gateway_id,
        ),
        ha_statistics=statistics,
    )


def _check_optical_password(key: MepKey, source: Source, loc: Loc, origin: str) -> None:
    """The optical port's Security compares all 20 bytes (OPG p.13): a 16-byte key cannot be."""
    if len(key.supplied) != OPTICAL_PASSWORD_BYTES:
        raise source.error(
            loc,
            f"{origin}: the optical password is {OPTICAL_PASSWORD_BYTES} bytes (20 characters "
            f"or 40 hex digits, as the utility gives the read-only key RK); this key has "
            f"{len(key.supplied)}",
        )


def _table_loc(loc: Loc, own: BaseModel | None, table: str) -> Loc:
    """Where a merged table's problem is: the meter's own sub-table, else the top-level one."""
    if own is not None:
        return (*loc, table)
    return (table,) if loc == ("meter",) else loc


def _where_short(loc: Loc) -> str:
    return "[meter]" if loc == ("meter",) else f"meters[{loc[1]}]"


def _gpio_lines(section: GpioSection, source: Source, loc: Loc) -> GpioLines | None:
    if section.enabled is False:
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
            warnings += readable_secret_warning(source, "the MQTT password", "password_file")
    elif section.password_file is not None:
        path = document.path_of(section.password_file)
        password = secret(
            source,
            ("mqtt", "password_file"),
            lambda: read_private_file(path, "MQTT password").rstrip("\r\n"),
        )
    elif section.password_credential is not None:
        credential = section.password_credential
        password = secret(
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
        password=None if password is None else Secret(password),
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
