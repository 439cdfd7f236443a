"""Shared fixtures: the guide's worked examples, a real Mosquitto, a daemon configuration."""

from __future__ import annotations

import inspect
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import settings

from mepd.drivers.simulator.factory import DEMO_MBK
from tests.mosquitto import Mosquitto, mosquitto_available
from tests.virtual_time import run_virtual

# Hypothesis' 200 ms per-example deadline fails at random on a loaded 2-core machine running
# xdist workers; hangs are pytest-timeout's job. Example counts stay at the defaults.
settings.register_profile("mepd", deadline=None)
settings.load_profile("mepd")

REPO = Path(__file__).resolve().parent.parent
# The MEP guide's worked examples (digests, frames, the TLS session), copied from the guide's
# pages into the repository so a clone alone runs the tests. Each entry's "source" names its page.
VECTORS_FILE = REPO / "tests" / "data" / "vectors.json"


def load_vectors() -> list[dict[str, Any]]:
    if not VECTORS_FILE.exists():
        pytest.fail(f"the guide's test vectors are missing: {VECTORS_FILE}")
    vectors: list[dict[str, Any]] = json.loads(VECTORS_FILE.read_text())
    return vectors


def vectors_of(*kinds: str) -> list[dict[str, Any]]:
    return [vector for vector in load_vectors() if vector["kind"] in kinds]


def vector(name: str) -> dict[str, Any]:
    (found,) = [v for v in load_vectors() if v["name"] == name]
    return found


@pytest.hookimpl(tryfirst=True)
def pytest_pyfunc_call(pyfuncitem: pytest.Function) -> bool | None:
    """`@pytest.mark.virtual_time` async tests run on a VirtualTimeLoop (tests/virtual_time.py)."""
    if pyfuncitem.get_closest_marker("virtual_time") is None:
        return None
    if not inspect.iscoroutinefunction(pyfuncitem.obj):
        pytest.fail(f"{pyfuncitem.nodeid}: virtual_time is for async def tests")
    if pyfuncitem.get_closest_marker("asyncio") is not None:
        pytest.fail(f"{pyfuncitem.nodeid}: virtual_time and asyncio are two event loops")
    arguments = {name: pyfuncitem.funcargs[name] for name in pyfuncitem._fixtureinfo.argnames}
    run_virtual(pyfuncitem.obj(**arguments))
    return True


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """The long tests (@pytest.mark.slow) first: under xdist (scripts/test runs `-n 3
    --dist worksteal`) one worker takes the soak at once while the others work through the
    rest, instead of the soak starting last and running alone at the end."""
    items.sort(key=lambda item: item.get_closest_marker("slow") is None)


@pytest.fixture(scope="session")
def vectors() -> list[dict[str, Any]]:
    return load_vectors()


@pytest.fixture
def broker(tmp_path: Path) -> Iterator[Mosquitto]:
    """A real Mosquitto (Debian's) on a free loopback port, anonymous clients allowed."""
    if not mosquitto_available():
        pytest.fail("mosquitto is not installed: run scripts/setup --test")
    server = Mosquitto(tmp_path / "broker")
    server.start()
    yield server
    server.stop()


@pytest.fixture
def daemon_config(tmp_path: Path) -> Path:
    """A config file for `mepd run`/`probe`/`doctor` against the simulator: demo key, no GPIO."""
    key = tmp_path / "mbk"
    key.write_text(DEMO_MBK + "\n")
    key.chmod(0o600)
    path = tmp_path / "config.toml"
    path.write_text(
        f'state_directory = "{tmp_path / "state"}"\n'
        f'[meter]\nkey_file = "{key}"\n'
        "[gpio]\nenabled = false\n"
        '[homeassistant]\ngateway_id = "testgw"\n'
    )
    return path
