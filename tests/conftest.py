"""Shared fixtures: the guide's worked examples, a real Mosquitto, a daemon configuration."""

from __future__ import annotations

import inspect
import itertools
import json
import os
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


# Fixtures that start real processes (a Mosquitto, `mepd run`, the simulator on a pty).
_REAL_PROCESS_FIXTURES = frozenset({"broker", "daemon_config"})


def _long(item: pytest.Item) -> bool:
    fixtures = getattr(item, "fixturenames", ())
    return item.get_closest_marker("slow") is not None or bool(
        _REAL_PROCESS_FIXTURES.intersection(fixtures)
    )


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """The long tests (the soaks, @pytest.mark.slow, and the real-process ones) first in each
    xdist worker's share, dealt round-robin, instead of in file order.

    `--dist worksteal` (scripts/test) hands each of the n workers one contiguous n-th of the
    list and lets idle workers steal the back half of the longest queue. In file order the
    first share held most of tests/cli's real-process tests and the soaks, which then ran one
    after another on one worker while the others stole short tests and waited at the end.
    Without xdist: the long tests first, as before.
    """
    workers = max(1, int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "1")))
    long = [item for item in items if _long(item)]
    short = iter([item for item in items if not _long(item)])
    order: list[pytest.Item] = []
    remaining = len(items)
    for worker in range(workers):
        share = remaining // (workers - worker)  # as worksteal's first check_schedule() deals
        remaining -= share
        dealt = long[worker::workers]
        order += dealt
        order += itertools.islice(short, max(0, share - len(dealt)))
    order += short
    assert len(order) == len(items)
    items[:] = order


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
