"""Every configuration example in the repository loads: the *.toml files and README.md's
```toml blocks (found at run time, so examples added later are checked too)."""

from __future__ import annotations

import re
import tomllib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from mepd.config import build as build_module
from mepd.config import keys as keys_module
from mepd.config.load import load_config
from mepd.config.problems import _model_in
from mepd.config.schema import (
    ConfigFile,
    GpioSection,
    HomeAssistantSection,
    LimitsSection,
    LoggingSection,
    MeterSection,
    MqttSection,
    ScheduleSection,
    SerialSection,
    TlsSection,
)
from mepd.protocol.keys import MepKey
from tests.config.helpers import DEMO_KEY, credentials, write
from tests.conftest import REPO

# Not mepd configurations, or not ours to check.
_NOT_CONFIGS = {"pyproject.toml", "ruff.toml", ".ruff.toml", "mypy.toml", "Cargo.toml"}
_SKIPPED_DIRS = {"hardware", "node_modules", "build", "dist"}
_TOML_BLOCK = re.compile(r"^```toml[ \t]*\n(.*?)^```", re.MULTILINE | re.DOTALL)


def example_files() -> list[Path]:
    found = []
    for path in sorted(REPO.rglob("*.toml")):
        parts = path.relative_to(REPO).parts
        if path.name in _NOT_CONFIGS or any(
            part.startswith(".") or part in _SKIPPED_DIRS or part.endswith(".egg-info")
            for part in parts[:-1]
        ):
            continue
        found.append(path)
    return found


def readme_blocks() -> list[pytest.param]:  # type: ignore[valid-type]
    readme = REPO / "README.md"
    text = readme.read_text(encoding="utf-8")
    return [
        pytest.param(match.group(1), id=f"README.md:{text.count(chr(10), 0, match.start()) + 1}")
        for match in _TOML_BLOCK.finditer(text)
    ]


def _values(data: Any, key: str) -> Iterator[Any]:
    if isinstance(data, dict):
        for name, value in data.items():
            if name == key:
                yield value
            yield from _values(value, key)
    elif isinstance(data, list):
        for item in data:
            yield from _values(item, key)


def load_example(path: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Load as mepd would, with every secret it names supplied: the demo key for every key
    file and credential, and every TLS file present."""
    monkeypatch.setattr(keys_module, "read_private_file", lambda *_: DEMO_KEY)
    monkeypatch.setattr(build_module, "read_private_file", lambda *_: DEMO_KEY)
    monkeypatch.setattr(build_module, "_check_readable", lambda *_: None)
    data = tomllib.loads(path.read_text(encoding="utf-8"))
    names = [meter.name for meter in load_config(path, environ={}, require_key=False).meters]
    wanted = {"mbk", *(f"mbk-{name}" for name in names)}
    wanted |= set(_values(data, "key_credential")) | set(_values(data, "password_credential"))
    environ = credentials(tmp_path / "credentials", dict.fromkeys(wanted, DEMO_KEY))

    config = load_config(path, environ=environ)

    assert config.meters
    assert all(meter.key is not None for meter in config.meters)


def test_there_are_examples() -> None:
    names = {path.name for path in example_files()}

    assert {"config.example.toml", "config.multi-meter.example.toml"} <= names


@pytest.mark.parametrize("path", example_files(), ids=lambda path: str(path.relative_to(REPO)))
def test_every_toml_example_loads(
    path: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    load_example(path, tmp_path, monkeypatch)


@pytest.mark.parametrize("block", readme_blocks())
def test_every_readme_toml_block_loads(
    block: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    load_example(write(tmp_path / "config.toml", block), tmp_path, monkeypatch)


def test_the_example_is_the_defaults(tmp_path: Path) -> None:
    """config.example.toml shows every default as it is: loading it changes nothing."""
    environ = credentials(tmp_path / "credentials", {"mbk": DEMO_KEY})

    example = load_config(REPO / "config.example.toml", environ=environ)
    defaults = load_config(None, environ=environ)

    assert example.meters == defaults.meters
    assert example.mqtt == defaults.mqtt
    assert example.discovery == defaults.discovery
    assert example.log_level_name == defaults.log_level_name
    assert example.state_directory == defaults.state_directory
    assert example.warnings == ()
    assert example.meters[0].key == MepKey.parse(DEMO_KEY)


@pytest.mark.parametrize(
    ("table", "model"),
    [
        ("", ConfigFile),
        ("meter", MeterSection),
        ("serial", SerialSection),
        ("gpio", GpioSection),
        ("schedule", ScheduleSection),
        ("limits", LimitsSection),
        ("mqtt", MqttSection),
        ("mqtt.tls", TlsSection),
        ("homeassistant", HomeAssistantSection),
        ("logging", LoggingSection),
    ],
)
def test_the_example_shows_every_option(table: str, model: type[Any]) -> None:
    text = (REPO / "config.example.toml").read_text(encoding="utf-8")
    start = text.index(f"\n[{table}]\n") if table else 0
    end = text.find("\n[", start + 1)
    section = text[start : end if end >= 0 else len(text)]
    for name, info in model.model_fields.items():
        if _model_in(info.annotation) is not None:
            continue  # a table of its own: a case of this test, or of the multi-meter example
        assert re.search(rf"^(# )?{name} = ", section, re.MULTILINE), f"{table}.{name}"
