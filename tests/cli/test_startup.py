"""`mepd --help` and `mepd run --help` import argparse-level code only; `mepd run` holds no
pydantic. What each command imports is checked by name, in a fresh interpreter, not by time."""

from __future__ import annotations

import argparse
import re
import subprocess
import sys
from pathlib import Path

import pytest

from mepd.cli import common
from mepd.config.isolated import config_in_child
from mepd.config.load import config_from_args
from mepd.drivers import tls_engine
from mepd.drivers.simulator.factory import DEMO_MBK
from mepd.drivers.simulator.faults import FAULT_NAMES
from mepd.drivers.simulator.profiles import PROFILES
from mepd.errors import ConfigError
from mepd.protocol.timing import DEFAULT_BAUD
from tests.config.helpers import DEMO_KEY

# What building the parser must never pull in: each is a library or a layer that a command
# needs only once its handler runs.
HEAVY = (
    "pydantic",
    "pydantic_core",
    "paho",
    "websockets",
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


def test_run_loads_its_configuration_without_pydantic(tmp_path: Path) -> None:
    """The daemon's process never imports pydantic: the configuration comes from a child."""
    key = tmp_path / "mbk"
    key.write_text(DEMO_KEY)
    key.chmod(0o600)
    config = tmp_path / "config.toml"
    config.write_text(f'[meter]\nkey_file = "{key}"\n[gpio]\nenabled = false\n')
    script = (
        "import argparse, sys\n"
        "from pathlib import Path\n"
        "from mepd.config.isolated import config_in_child\n"
        f"loaded = config_in_child(argparse.Namespace(config=Path({str(config)!r})))\n"
        "print(loaded.meters[0].key_origin)\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in ('pydantic', 'pydantic_core')"
        " or m.startswith('mepd.config.')))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=60, check=False
    )
    assert result.returncode == 0, result.stderr
    origin, modules = result.stdout.splitlines()
    assert origin == f"key file {key}"
    assert modules == "['mepd.config.isolated', 'mepd.config.resolved']"


def test_run_gets_the_same_configuration_and_errors_as_an_in_process_load(
    tmp_path: Path,
) -> None:
    key = tmp_path / "mbk"
    key.write_text(DEMO_KEY)
    key.chmod(0o600)
    good = tmp_path / "good.toml"
    good.write_text(f'[meter]\nkey_file = "{key}"\n[mqtt]\nusername = "u"\npassword = "pw"\n')
    args = argparse.Namespace(config=good, mqtt="mqtt://u:secret@127.0.0.1:1")
    assert config_in_child(args, environ={}) == config_from_args(args, environ={})

    bad = tmp_path / "bad.toml"
    bad.write_text('[serial]\nbaud = "x"\n')
    with pytest.raises(ConfigError) as in_process:
        config_from_args(argparse.Namespace(config=bad), environ={})
    with pytest.raises(ConfigError) as in_child:
        config_in_child(argparse.Namespace(config=bad), environ={})
    assert str(in_child.value) == str(in_process.value)
    assert "line 2, serial.baud" in str(in_child.value)
