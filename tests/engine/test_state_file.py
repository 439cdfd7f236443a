"""A state file with any content gives a fresh start, the bad file kept aside, one warning.

Reproduces issue 18 item 2: top-level `[]`, `null`, a number or a string, an energy pair that is
an object, a 400-digit integer, `Infinity` and deep nesting each stopped `mepd run` with a
traceback, and under the unit's restart limit that ended as a failed service.
"""

from __future__ import annotations

import json
import logging
import math
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mepd.engine.state import MeterState, StateFile, StateStore

GOOD = {"version": 1, "serial": "5706567000001", "energy": {"energy_import": [1234.0, 1e9]}}

BAD = {
    "top-level list": "[]",
    "top-level null": "null",
    "top-level number": "5",
    "top-level string": '"x"',
    "energy pair is an object": json.dumps({**GOOD, "energy": {"energy_import": {"a": 1}}}),
    "energy pair too short": json.dumps({**GOOD, "energy": {"energy_import": [1.0]}}),
    "400-digit integer": json.dumps({**GOOD, "energy": {"energy_import": [10**400, 1.0]}}),
    "Infinity": '{"version": 1, "energy": {"energy_import": [Infinity, 1.0]}}',
    "NaN time": '{"version": 1, "energy": {"energy_import": [1.0, NaN]}}',
    "negative energy": json.dumps({**GOOD, "energy": {"energy_import": [-5.0, 1.0]}}),
    "boolean value": json.dumps({**GOOD, "energy": {"energy_import": [True, 1.0]}}),
    "serial is a number": json.dumps({**GOOD, "serial": 5}),
    "deep nesting": "[" * 100_000 + "]" * 100_000,
    "not json": "{not json",
    "not utf-8": "\udcff",
    "other version": json.dumps({**GOOD, "version": 99}),
}


def _write(path: Path, content: str) -> None:
    path.write_bytes(content.encode("utf-8", "surrogateescape"))


@pytest.mark.parametrize("content", list(BAD.values()), ids=list(BAD))
def test_any_bad_content_starts_fresh_and_keeps_the_file_aside(
    tmp_path: Path, content: str, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "meter.json"
    _write(path, content)
    with caplog.at_level(logging.WARNING):
        assert StateFile(path).load() == MeterState()
    assert not path.exists()  # moved aside, so the next save cannot overwrite it
    (kept,) = tmp_path.glob("meter.json.bad-*")
    assert kept.read_bytes() == content.encode("utf-8", "surrogateescape")
    warnings = [r for r in caplog.records if r.levelno >= logging.WARNING]
    assert len(warnings) == 1
    assert str(kept) in warnings[0].getMessage()
    assert "starting fresh" in warnings[0].getMessage()


def test_a_second_bad_file_does_not_overwrite_the_first(tmp_path: Path) -> None:
    path = tmp_path / "meter.json"
    for content in ("[]", "null"):
        path.write_text(content)
        StateFile(path).load()
    assert sorted(p.read_text() for p in tmp_path.glob("meter.json.bad-*")) == ["[]", "null"]


def test_a_good_file_is_loaded_and_left_in_place(tmp_path: Path) -> None:
    path = tmp_path / "meter.json"
    path.write_text(json.dumps(GOOD))
    assert StateFile(path).load().energy == {"energy_import": (1234.0, 1e9)}
    assert path.exists()


def test_an_unreadable_file_is_not_moved(tmp_path: Path) -> None:
    # A permission problem is the owner's to fix; the file itself may be fine.
    path = tmp_path / "meter.json"
    path.mkdir()  # reading a directory fails with an OSError
    assert StateFile(path).load() == MeterState()
    assert path.is_dir()


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner),
    max_leaves=20,
)


@settings(max_examples=150, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    value=json_values
    | st.fixed_dictionaries({"version": st.just(1), "serial": json_values, "energy": json_values})
    | st.fixed_dictionaries(
        {
            "version": st.just(1),
            "energy": st.dictionaries(st.text(max_size=8), st.lists(json_values, max_size=3)),
        }
    )
)
def test_fuzzed_content_never_raises_and_loads_only_sane_values(
    tmp_path: Path, value: object
) -> None:
    path = tmp_path / "fuzz.json"
    path.write_text(json.dumps(value, allow_nan=True))
    state = StateFile(path).load()
    for number, stamp in state.energy.values():
        assert math.isfinite(number)
        assert number >= 0
        assert math.isfinite(stamp)
    assert state.serial is None or isinstance(state.serial, str)
    for kept in tmp_path.glob("fuzz.json*"):
        kept.unlink()


def test_an_unwritable_state_file_is_not_retried_on_every_poll(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    # Issue 18 item 6: an ERROR and a write plus fsync on every energy poll.
    blocker = tmp_path / "file"
    blocker.write_text("")
    store = StateStore(blocker / "meter.json")
    with caplog.at_level(logging.WARNING):
        for second in range(0, 600, 15):  # an energy poll every 15 s for 10 minutes
            store.save(now_s=float(second))
    errors = [r for r in caplog.records if "cannot write the state file" in r.getMessage()]
    assert len(errors) == 1
    assert "next try" in errors[0].getMessage()
    assert store.file is not None
    assert store.file.failed_writes <= 3  # once, then at the write interval (300 s)
