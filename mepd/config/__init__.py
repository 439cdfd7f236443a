"""mepd's configuration: the TOML file, its defaults, the secrets and command-line overrides.

`load_config()` and `config_from_args()` return a `Config`; nothing else in mepd reads TOML.
pydantic and the poller's types load on first use of `load_config`, `Config` or `MeterConfig`,
so that building the command line's parser stays fast on a Pi Zero.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from mepd.config.defaults import DEFAULT_CONFIG_PATH
from mepd.config.overrides import (
    MqttUrl,
    Overrides,
    add_override_arguments,
    config_from_args,
    parse_mqtt_url,
)

if TYPE_CHECKING:
    from mepd.config.load import load_config
    from mepd.config.resolved import Config, MeterConfig

__all__ = [
    "DEFAULT_CONFIG_PATH",
    "Config",
    "MeterConfig",
    "MqttUrl",
    "Overrides",
    "add_override_arguments",
    "config_from_args",
    "load_config",
    "parse_mqtt_url",
]

_LAZY = {
    "load_config": "mepd.config.load",
    "Config": "mepd.config.resolved",
    "MeterConfig": "mepd.config.resolved",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)
