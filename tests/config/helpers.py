"""Shared helpers for the configuration tests: config files on disk and credentials."""

from __future__ import annotations

import textwrap
from collections.abc import Mapping
from pathlib import Path

import pytest

from mepd.config.load import load_config
from mepd.errors import ConfigError

DEMO_KEY = "MEPD-DEMO-KEY-000001"  # the documented demo key: safe in tests
HEX_KEY = "00112233445566778899aabbccddeeff"


def write(path: Path, text: str, mode: int = 0o600) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text))
    path.chmod(mode)
    return path


def credentials(directory: Path, secrets: Mapping[str, str]) -> dict[str, str]:
    """An environment whose $CREDENTIALS_DIRECTORY holds `secrets` (name -> value)."""
    directory.mkdir(parents=True, exist_ok=True)
    directory.chmod(0o700)
    for name, value in secrets.items():
        write(directory / name, value, 0o400)
    return {"CREDENTIALS_DIRECTORY": str(directory)}


def problem(path: Path | None, environ: Mapping[str, str] | None = None, **kwargs: object) -> str:
    """The message of the ConfigError that loading `path` raises."""
    with pytest.raises(ConfigError) as caught:
        load_config(path, environ=environ or {}, **kwargs)  # type: ignore[arg-type]
    return str(caught.value)
