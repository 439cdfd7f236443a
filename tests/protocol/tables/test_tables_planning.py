"""Read plans: every read at most 465 bytes, contiguous, covering exactly what was asked."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from mepd.protocol.errors import DecodeError
from mepd.protocol.frames import MAX_READ_COUNT, PartialRead
from mepd.protocol.tables import (
    BT23,
    BT28,
    ActualRegister,
    assemble,
    bt23_size,
    bt28_size,
    decode_bt21,
    plan_bt23,
    plan_bt28,
    plan_reads,
)
from tests.protocol.tables.strategies_tables import actual_registers

SPEC_BT21 = decode_bt21(bytes.fromhex("3F 0E 0C 0F 08 00 01 04 08 1A"))


def check_plan(plan: tuple[PartialRead, ...], table: int, offset: int, size: int) -> None:
    assert all(isinstance(read, PartialRead) for read in plan)
    assert all(read.table == table for read in plan)
    assert all(1 <= read.count <= MAX_READ_COUNT for read in plan)
    position = offset
    for read in plan:
        assert read.offset == position
        position += read.count
    assert position == offset + size


@given(
    table=st.integers(0, 0xFFFF),
    size=st.integers(0, 5000),
    offset=st.integers(0, 1000),
    max_count=st.integers(1, MAX_READ_COUNT),
)
def test_plan_reads_covers_exactly(table: int, size: int, offset: int, max_count: int) -> None:
    plan = plan_reads(table, size, offset=offset, max_count=max_count)
    check_plan(plan, table, offset, size)
    assert all(read.count <= max_count for read in plan)


@given(dims=actual_registers(max_summations=255, max_tiers=8))
def test_plan_bt23_whole_table(dims: ActualRegister) -> None:
    check_plan(plan_bt23(dims), BT23, 0, bt23_size(dims))


@given(st.data())
def test_plan_bt23_summations(data: st.DataObject) -> None:
    dims = data.draw(actual_registers(max_summations=255))
    k = data.draw(st.integers(0, dims.summations))
    size = (1 if dims.demand_reset_counter else 0) + 4 * k
    check_plan(plan_bt23(dims, k), BT23, 0, size)


@given(dims=actual_registers(max_present_values=255))
def test_plan_bt28(dims: ActualRegister) -> None:
    check_plan(plan_bt28(dims), BT28, 0, bt28_size(dims))


def test_spec_meter_bt23_is_never_read_whole() -> None:
    plan = plan_bt23(SPEC_BT21)
    assert [(r.offset, r.count) for r in plan] == [(0, 465), (465, 465), (930, 51)]
    # 13 bytes: the reset count and three summations (notes §11).
    assert [(r.offset, r.count) for r in plan_bt23(SPEC_BT21, 3)] == [(0, 13)]
    assert [(r.offset, r.count) for r in plan_bt28(SPEC_BT21)] == [(0, 136)]


def test_plan_rejects_impossible_requests() -> None:
    with pytest.raises(ValueError, match="summations"):
        plan_bt23(SPEC_BT21, 16)
    with pytest.raises(ValueError, match="465"):
        plan_reads(BT23, 10, max_count=466)
    with pytest.raises(ValueError, match="cannot plan"):
        plan_reads(BT23, -1)


@given(size=st.integers(0, 2000), seed=st.binary(min_size=1, max_size=1))
def test_assemble_joins_in_order(size: int, seed: bytes) -> None:
    table = bytes((seed[0] + i) % 256 for i in range(size))
    plan = plan_reads(BT23, size)
    answers = [table[r.offset : r.offset + r.count] for r in plan]
    assert assemble(plan, answers) == table


def test_assemble_checks_lengths() -> None:
    plan = plan_reads(BT23, 981)
    answers = [bytes(r.count) for r in plan]
    with pytest.raises(DecodeError, match="asked for 51 bytes, got 50"):
        assemble(plan, [*answers[:2], bytes(50)])
    with pytest.raises(DecodeError, match="3 reads planned, 2 answers"):
        assemble(plan, answers[:2])
    with pytest.raises(DecodeError, match="does not follow"):
        assemble([plan[1], plan[0]], [answers[1], answers[0]])
