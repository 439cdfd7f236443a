"""mepd/protocol stays sans-I/O: no event loop, port, clock, socket or broker in it."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PROTOCOL = Path(__file__).resolve().parents[2] / "mepd" / "protocol"
FORBIDDEN = (
    "asyncio",
    "serial",
    "serial_asyncio",
    "paho",
    "gpiozero",
    "socket",
    "select",
    "selectors",
    "subprocess",
    "threading",
    "time",
    "mepd.drivers",
    "mepd.publish",
    "mepd.cli",
)


def forbidden_imports(source: str) -> list[str]:
    found = []
    for node in ast.walk(ast.parse(source)):
        names: list[str] = []
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names = [node.module]
        found += [
            name
            for name in names
            if any(name == bad or name.startswith(bad + ".") for bad in FORBIDDEN)
        ]
    return found


def test_the_scanner_catches_what_it_should() -> None:
    assert forbidden_imports("import asyncio") == ["asyncio"]
    assert forbidden_imports("from serial.tools import list_ports") == ["serial.tools"]
    assert forbidden_imports("import paho.mqtt.client as mqtt") == ["paho.mqtt.client"]
    assert forbidden_imports("def f():\n    import time\n") == ["time"]
    assert forbidden_imports("from mepd.drivers import gpio") == ["mepd.drivers"]
    assert forbidden_imports("import serialize, timeit, dataclasses") == []


MODULES = sorted(PROTOCOL.rglob("*.py"))


def test_the_protocol_package_is_found() -> None:
    assert len(MODULES) >= 8


@pytest.mark.parametrize("module", MODULES, ids=lambda p: str(p.relative_to(PROTOCOL)))
def test_protocol_module_is_pure(module: Path) -> None:
    assert forbidden_imports(module.read_text()) == []
