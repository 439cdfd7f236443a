"""Pieces of BT28 on a noisy line: where the power piece lies, what the guard checks in an
answer, and the poller switching to pieces and back (virtual time, tests/engine/inprocess.py).
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import replace
from datetime import UTC, datetime

import pytest

from mepd.drivers.simulator.faults import FaultSettings
from mepd.drivers.simulator.history import ServedHistory
from mepd.drivers.simulator.physics import Truth
from mepd.drivers.simulator.profiles import PROFILES
from mepd.drivers.simulator.registers import present_value
from mepd.engine.guard import Verdict, check_present
from mepd.engine.intake import Intake
from mepd.engine.present import PresentPlanner, answer_groups, piece_in, take_present
from mepd.engine.startup import Layout
from mepd.protocol import PartialRead
from mepd.protocol.tables import BT28, PresentRegisterSelection, plan_bt28
from mepd.protocol.tables.bt28 import bt28_size, present_values_offset
from mepd.readings import PIECES, Piece, PresentReading, ValueName
from mepd.settings import PlausibilityLimits
from tests.engine.inprocess import in_virtual_time, running
from tests.engine.test_guard import _present

LIMITS = PlausibilityLimits()
NOISY = FaultSettings(tx_corrupt_rate=0.002, tx_drop_rate=0.002)  # issue 19's line
HOST = datetime(2026, 1, 1, tzinfo=UTC)


def _layout(profile: str, selection: PresentRegisterSelection | None = None) -> Layout:
    return Layout(PROFILES[profile].dims, selection, None, 4, None)


@pytest.mark.parametrize("profile", ["gen3", "gen4"])
def test_the_power_piece_is_one_small_read_at_the_total_powers(profile: str) -> None:
    layout = _layout(profile)
    piece = piece_in(layout)
    assert piece is not None
    assert (piece.piece, piece.first, piece.count) == (Piece.POWER, 0, 2)  # p.216: first
    assert piece.request(layout) == PartialRead(BT28, present_values_offset(layout.dims), 8)


def test_a_layout_without_total_power_or_with_it_spread_has_no_piece() -> None:
    dims = PROFILES["gen3"].dims
    n = dims.present_values
    ids = (9, *range(100, 100 + n - 2), 8)  # export first, import last: no piece
    assert piece_in(_layout("gen3", PresentRegisterSelection(ids))) is None
    no_import = (9, *range(100, 100 + n - 1))
    assert piece_in(_layout("gen3", PresentRegisterSelection(no_import))) is None


def test_the_phase_sum_is_checked_only_in_one_answer() -> None:
    wrong = _present(power_import=2500.0)  # the phases sum to 1500 W
    assert check_present(wrong, LIMITS).verdict is Verdict.QUARANTINED
    totals: set[str] = {ValueName.POWER_IMPORT, ValueName.POWER_EXPORT}
    apart = [totals, set(wrong) - totals]  # two answers, two moments
    assert check_present(wrong, LIMITS, apart).verdict is Verdict.ACCEPTED
    assert check_present(wrong, LIMITS, [set(wrong)]).verdict is Verdict.QUARANTINED
    # Ranges apply to every value, together or not.
    far = _present(voltage_l1=400.0)
    assert check_present(far, LIMITS, apart).verdict is Verdict.QUARANTINED


def test_answer_groups_hold_the_values_whose_bytes_came_in_that_answer() -> None:
    layout = _layout("gen4")
    (whole,) = answer_groups(layout, plan_bt28(layout.dims))
    assert len(whole) == layout.dims.present_values
    cut = present_values_offset(layout.dims) + 6  # inside power_export
    split = (PartialRead(BT28, 0, cut), PartialRead(BT28, cut, bt28_size(layout.dims) - cut))
    first, second = answer_groups(layout, split)
    assert first == {ValueName.POWER_IMPORT}  # power_export is torn across both answers
    assert ValueName.POWER_EXPORT not in second
    assert ValueName.REACTIVE_POWER_IMPORT in second


def test_a_piece_carries_its_own_values_only() -> None:
    layout = _layout("gen4")
    piece = piece_in(layout)
    assert piece is not None
    intake = Intake(LIMITS, dict.fromkeys(("quarantined", "energy_held", "readings"), 0), float)
    data = (1234).to_bytes(4, "little", signed=True) + (0).to_bytes(4, "little")
    reading = take_present(intake, data, layout, piece, serial="S", host_time=HOST)
    assert reading is not None
    assert reading.piece is Piece.POWER
    assert {m.name for m in reading.values} == set(PIECES[Piece.POWER])
    assert reading.values.get(ValueName.POWER_IMPORT) is not None
    too_much = (10**9).to_bytes(4, "little") + bytes(4)  # 1 GW: quarantined
    assert take_present(intake, too_much, layout, piece, serial="S", host_time=HOST) is None


def _truth(history: ServedHistory, at: float) -> Truth:
    served = [s for s in history if s.table == BT28 and s.monotonic <= at]
    return served[-1].truth


@pytest.mark.parametrize("profile", ["gen3", "gen4"])
def test_the_poller_reads_pieces_while_the_line_is_noisy_and_whole_tables_again_after(
    profile: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="mepd.engine.present")

    async def scenario() -> tuple[list[PresentReading], list[PresentReading], int]:
        async with running(profile) as rig:
            loop = asyncio.get_running_loop()
            await rig.wait_for(PresentReading, 1)
            rig.port.set_faults(NOISY)
            noisy_from = loop.time() + 30.0  # the estimate needs a few answers
            await asyncio.sleep(150.0)
            clean_from = loop.time()
            rig.port.set_faults(replace(NOISY, tx_corrupt_rate=0.0, tx_drop_rate=0.0))
            await asyncio.sleep(120.0)
            noisy = [e for t, e in rig.events if noisy_from <= t < clean_from]
            clean = [e for t, e in rig.events if t >= clean_from + 60.0]
            wrong = 0
            for at, event in rig.events:
                if isinstance(event, PresentReading):
                    truth = _truth(rig.port.meter.history, at)
                    wrong += any(m.raw != present_value(truth, m.source.id) for m in event.values)
            return (
                [e for e in noisy if isinstance(e, PresentReading)],
                [e for e in clean if isinstance(e, PresentReading)],
                wrong,
            )

    noisy, clean, wrong = in_virtual_time(scenario)
    pieces = [r for r in noisy if r.piece is Piece.POWER]
    assert len(pieces) > len(noisy) / 2
    assert any(r.piece is None for r in noisy)  # the whole table is still tried, and comes
    assert len(noisy) / 2.0 >= 15.0  # power readings a minute; the community client: 9-15
    assert clean
    assert all(r.piece is None for r in clean)
    assert wrong == 0
    said = [r.getMessage() for r in caplog.records if r.name == "mepd.engine.present"]
    assert [line.split(" (")[0].split(":")[0] for line in said] == [
        "the line to the meter is noisy",
        "the line to the meter is clean again",
    ]


def test_on_a_noisy_line_the_whole_table_gets_one_frame_unless_there_is_no_piece() -> None:
    planner = PresentPlanner()
    planner.noise.noisy = True
    retries: list[bool] = []

    async def read(
        request: PartialRead, *, resend: bool = True, retry_damaged: bool = True
    ) -> bytes:
        retries.append(retry_damaged)
        return bytes(request.count)

    n = PROFILES["gen3"].dims.present_values
    without = _layout("gen3", PresentRegisterSelection((9, *range(100, 100 + n - 1))))
    for layout, expected in ((_layout("gen3"), False), (without, True)):
        retries.clear()
        assert asyncio.run(planner.fetch(read, layout, None)) == bytes(bt28_size(layout.dims))
        assert retries == [expected]
