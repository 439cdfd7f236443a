"""Fixtures for the configuration tests."""

from __future__ import annotations

from pathlib import Path

import pytest

from mepd.config import defaults
from tests.config.helpers import DEMO_KEY, credentials


@pytest.fixture(autouse=True)
def no_system_config(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """Never read the host's /etc/mepd: point the defaults at a missing directory."""
    missing = tmp_path / "etc" / "mepd" / "config.toml"
    monkeypatch.setattr(defaults, "DEFAULT_CONFIG_PATH", missing)
    monkeypatch.setattr(defaults, "KEY_DIRECTORY", missing.parent)
    return missing


@pytest.fixture
def environ(tmp_path: Path) -> dict[str, str]:
    """A systemd-like environment whose credential "mbk" is the demo key."""
    return credentials(tmp_path / "credentials", {"mbk": DEMO_KEY})
