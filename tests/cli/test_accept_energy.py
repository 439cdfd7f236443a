"""`mepd accept-energy`: a request next to the meter's state file, read by the daemon."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from mepd.cli.main import EXIT_CONFIG, EXIT_OK, main
from mepd.engine.state import MeterState, StateFile, StateStore, read_accept_request


def test_it_leaves_a_request_the_daemon_reads_and_says_what_it_replaces(
    daemon_config: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    state_path = tmp_path / "state" / "mep0.json"
    saved = MeterState("SIM-1", {"energy_import": (3_615_722.0, 1.0)})
    assert StateFile(state_path).save(saved, 0.0, force=True)
    before = state_path.read_bytes()

    assert main(["accept-energy", "--config", str(daemon_config)]) == EXIT_OK
    out = capsys.readouterr().out
    assert "meter mep0 (serial SIM-1): the next energy reading will be the new baseline" in out
    assert "energy_import: last published 3615.722 kWh" in out
    assert state_path.read_bytes() == before  # the daemon's file is never written here

    request = read_accept_request(state_path)
    assert request is not None
    assert request.serial == "SIM-1"
    assert json.loads(request.path.read_text())["serial"] == "SIM-1"
    store = StateStore(state_path)
    assert store.accept_request() == request
    store.accept_done(request)
    assert store.accept_request() is None


def test_an_unknown_meter_is_a_configuration_error(
    daemon_config: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["accept-energy", "--config", str(daemon_config), "--meter", "nope"]) == EXIT_CONFIG
    assert "no meter named 'nope'" in capsys.readouterr().err
