"""`[homeassistant.statistics]`: the backfill's URL, token sources and errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from mepd.config.load import load_config
from mepd.config.statistics import websocket_url
from tests.config.helpers import DEMO_KEY, credentials, problem, write

TOKEN = "eyJhbGciOiJIUzI1NiJ9.secret-token-Zq"
METER = f"[meter]\nname = 'mep0'\nkey = '{DEMO_KEY}'\n"


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("http://homeassistant.local:8123", "ws://homeassistant.local:8123/api/websocket"),
        ("https://ha.example:443/", "wss://ha.example:443/api/websocket"),
        ("ws://10.0.0.2:8123/api/websocket", "ws://10.0.0.2:8123/api/websocket"),
    ],
)
def test_the_url_becomes_the_websocket_endpoint(given: str, expected: str) -> None:
    assert websocket_url(given) == expected


def test_off_unless_configured(tmp_path: Path) -> None:
    config = load_config(write(tmp_path / "c.toml", METER), environ={})
    assert config.ha_statistics is None


def test_token_from_a_private_file(tmp_path: Path) -> None:
    write(tmp_path / "ha-token", TOKEN + "\n")
    path = write(
        tmp_path / "c.toml",
        METER + "[homeassistant.statistics]\nurl = 'http://ha:8123'\ntoken_file = 'ha-token'\n"
        "meters = ['mep0']\nregisters = ['energy_import']\n",
    )
    config = load_config(path, environ={})
    statistics = config.ha_statistics
    assert statistics is not None
    assert statistics.token.reveal() == TOKEN
    assert statistics.url == "ws://ha:8123/api/websocket"
    assert statistics.registers == ("energy_import",)
    assert TOKEN not in repr(config)


def test_token_file_readable_by_others_is_refused(tmp_path: Path) -> None:
    write(tmp_path / "ha-token", TOKEN, 0o644)
    path = write(
        tmp_path / "c.toml",
        METER + "[homeassistant.statistics]\nurl = 'http://ha:8123'\ntoken_file = 'ha-token'\n",
    )
    message = problem(path)
    assert "homeassistant.statistics.token_file" in message
    assert "chmod 600" in message
    assert TOKEN not in message


def test_token_from_a_credential(tmp_path: Path) -> None:
    environ = credentials(tmp_path / "creds", {"ha-token": TOKEN})
    path = write(
        tmp_path / "c.toml",
        METER + "[homeassistant.statistics]\nurl = 'http://ha:8123'\n"
        "token_credential = 'ha-token'\n",
    )
    statistics = load_config(path, environ=environ).ha_statistics
    assert statistics is not None
    assert statistics.token.reveal() == TOKEN


@pytest.mark.parametrize(
    ("table", "expected"),
    [
        ("url = 'http://ha:8123'\n", "expected token_file, token_credential or token"),
        (f"url = 'ftp://ha'\ntoken = '{TOKEN}'\n", "expected Home Assistant's address"),
        (f"url = 'http://ha'\ntoken = '{TOKEN}'\nregisters = ['power']\n", "registers"),
        (f"url = 'http://ha'\ntoken = '{TOKEN}'\nmeters = ['other']\n", "no meter is named"),
        (f"url = 'http://ha'\ntoken = '{TOKEN}'\ntoken_file = '/x'\n", "expected only one"),
    ],
)
def test_mistakes_name_the_line_and_never_the_token(
    tmp_path: Path, table: str, expected: str
) -> None:
    path = write(tmp_path / "c.toml", METER + "[homeassistant.statistics]\n" + table)
    message = problem(path)
    assert expected in message
    assert "c.toml" in message
    assert "line" in message
    assert TOKEN not in message
