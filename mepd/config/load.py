"""From a TOML file (or none) and the command line's overrides to a `Config`.

`load_config()` reads the file (document.py), puts the command line's values in place (here),
and builds the settings (build.py). Every failure is a `ConfigError` whose message names the
file, the line, the key path and what was expected.
"""

from __future__ import annotations

import argparse
import os
from collections.abc import Callable, Mapping
from dataclasses import replace
from pathlib import Path
from typing import Any

from pydantic import SecretStr, ValidationError

from mepd.config.build import resolve
from mepd.config.document import Document, SectionT, merged, name_from_port, read_document
from mepd.config.overrides import Overrides, overrides_from_args
from mepd.config.problems import Loc, describe
from mepd.config.resolved import Config
from mepd.config.schema import HomeAssistantSection, MqttSection, SerialSection, TlsSection
from mepd.errors import ConfigError


def load_config(
    path: Path | None = None,
    *,
    environ: Mapping[str, str] = os.environ,
    require_key: bool = True,
    overrides: Overrides | None = None,
    missing_key_warns: bool = False,
) -> Config:
    """The configuration in `path`, or `DEFAULT_CONFIG_PATH` if it exists, else the defaults.

    `environ` supplies $CREDENTIALS_DIRECTORY. `require_key=False` reads no meter key
    (`MeterConfig.key` is None): for the demo, which brings its own, and for a doctor that
    checks the rest before the key.
    """
    document = read_document(path)
    if overrides is not None:
        document = apply_overrides(document, overrides)
    config = resolve(
        document, environ=environ, require_key=require_key, missing_key_warns=missing_key_warns
    )
    if overrides is not None and overrides.no_gpio:
        config = replace(config, meters=tuple(replace(m, gpio=None) for m in config.meters))
    return config


def config_from_args(
    args: argparse.Namespace,
    *,
    environ: Mapping[str, str] = os.environ,
    require_key: bool = True,
) -> Config:
    """Load the configuration named by --config (or the default) and apply the overrides."""
    config = getattr(args, "config", None)
    return load_config(
        None if config is None else Path(config),
        environ=environ,
        require_key=require_key,
        overrides=overrides_from_args(args),
    )


def apply_overrides(document: Document, overrides: Overrides) -> Document:
    """The document with the command line's values in place, each checked like the file's.

    Later errors about an overridden key name the option (`--key-file: ...`), not the file.
    """
    file, source = document.file, document.source
    overridden = dict(source.overridden)
    updates: dict[str, Any] = {}
    one_meter = {
        "--serial": overrides.serial,
        "--key-file": overrides.key_file,
        "--interface": overrides.interface,
    }
    if any(value is not None for value in one_meter.values()):
        flag = next(name for name, value in one_meter.items() if value is not None)
        entries = document.meter_entries()
        if len(entries) != 1:
            names = ", ".join(
                entry.name or name_from_port(merged(file.serial, entry.serial).port)
                for _, entry in entries
            )
            raise ConfigError(
                f"{flag}: {source.label} has {len(entries)} meters ({names}); "
                + ("--interface needs" if flag == "--interface" else "--serial and --key-file need")
                + " a configuration with exactly one meter"
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
        if overrides.interface is not None:
            changes["interface"] = overrides.interface
            if overrides.interface == "optical":
                changes.update(encrypt=False, security="auto")
            overridden[(*loc, "interface")] = "--interface"
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
                password=None if url.password is None else SecretStr(url.password.reveal()),
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
