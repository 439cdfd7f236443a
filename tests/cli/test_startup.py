"""`mepd --help` and `mepd run --help` import argparse-level code only. What each command
imports is checked by name, in a fresh interpreter, not by time."""

from __future__ import annotations

import re
import subprocess
import sys

import pytest

from mepd.cli import common
from mepd.drivers import tls_engine
from mepd.drivers.simulator.factory import DEMO_MBK
from mepd.drivers.simulator.faults import FAULT_NAMES
from mepd.drivers.simulator.profiles import PROFILES
from mepd.protocol.timing import DEFAULT_BAUD
from tests.config.helpers import DEMO_KEY

# What building the parser must never pull in: each is a library or a layer that a command
# needs only once its handler runs.
HEAVY = (
    "pydantic",
    "pydantic_core",
    "paho",
    "cryptography",
    "gpiozero",
    "serial",
    "mepd.engine",
    "mepd.publish",
    "mepd.drivers.simulator",
    "mepd.config.load",
)
_IMPORTED = re.compile(r"^import time:\s+\d+ \|\s+\d+ \|\s*(\S+)$", re.MULTILINE)


# `-X importtime` logs `import` statements only: `main` loads the command modules with
# importlib.import_module, which it does not log. This lists sys.modules when main is done.
_LOADED = (
    "import sys\n"
    "from mepd.cli import main\n"
    "try:\n"
    "    main(sys.argv[1:])\n"
    "except SystemExit:\n"
    "    pass\n"
    "print('\\n'.join(sorted(sys.modules)), file=sys.stderr)\n"
)


def run_python(*argv: str) -> str:
    result = subprocess.run(
        [sys.executable, *argv], capture_output=True, text=True, timeout=60, check=False
    )
    assert result.returncode == 0, result.stderr[-2000:]
    return result.stderr


def imported_by(*argv: str) -> set[str]:
    """Every module `python -m mepd ARGV` imports: `-X importtime`'s log, and sys.modules."""
    logged = set(_IMPORTED.findall(run_python("-X", "importtime", "-m", "mepd", *argv)))
    assert "mepd.cli.main" in logged  # the parse worked: the log is not empty or reformatted
    loaded = set(run_python("-c", _LOADED, *argv).split())
    assert "mepd.cli.main" in loaded
    return logged | loaded


def heavy(modules: set[str]) -> list[str]:
    return sorted(m for m in modules if any(m == h or m.startswith(h + ".") for h in HEAVY))


@pytest.mark.parametrize("argv", [("--help",), ("run", "--help")])
def test_help_imports_no_heavy_module(argv: tuple[str, ...]) -> None:
    assert heavy(imported_by(*argv)) == []


def test_the_import_check_sees_a_heavy_import() -> None:
    """The check above can fail: `simulate --baud 0` imports the simulator before it refuses."""
    result = subprocess.run(
        [sys.executable, "-X", "importtime", "-m", "mepd", "simulate", "--baud", "0"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 2
    assert "mepd.drivers.simulator" in heavy(set(_IMPORTED.findall(result.stderr)))


def test_help_registers_every_command_module() -> None:
    modules = imported_by("--help")
    for name in ("run", "check_config", "probe", "dump", "remove_discovery", "doctor"):
        assert f"mepd.cli.{name}" in modules
    assert {"mepd.cli.demo", "mepd.cli.simulate"} <= modules


def test_run_help_imports_only_its_own_command() -> None:
    modules = imported_by("run", "--help")
    assert "mepd.cli.run" in modules
    assert not {"mepd.cli.doctor", "mepd.cli.demo", "mepd.cli.simulate"} & modules


def test_the_help_names_what_the_simulator_offers() -> None:
    """`--help` names the simulator's choices without importing it; both must agree."""
    assert tuple(sorted(PROFILES)) == common.SIMULATED_PROFILES
    assert common.DEMO_KEY == DEMO_MBK == DEMO_KEY
    assert common.FAULT_NAMES == FAULT_NAMES
    assert common.TLS_ENGINES == tls_engine.ENGINES
    assert common.DEFAULT_BAUD == DEFAULT_BAUD
