"""The simulator's outage timeline: one story, the same whoever asks and over any window."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from mepd.drivers.simulator.outages import (
    LONGEST_S,
    PERIOD_S,
    SHORTEST_S,
    outages_between,
    supplied_s,
)

DEC_2026 = 1_796_083_200.0

instants = st.floats(min_value=DEC_2026 - 30 * 86_400, max_value=DEC_2026 + 365 * 86_400)


def test_a_week_holds_two_or_three_outages_of_plausible_length() -> None:
    week = outages_between(DEC_2026 - 7 * 86_400, DEC_2026)
    assert 2 <= len(week) <= 4
    assert all(SHORTEST_S <= outage.duration_s <= LONGEST_S for outage in week)
    assert [outage.start for outage in week] == sorted(outage.start for outage in week)


@given(instants, st.floats(min_value=1.0, max_value=10 * 86_400), st.floats(0.0, 1.0))
def test_a_split_window_sees_the_same_outages(start: float, length: float, cut: float) -> None:
    end = start + length
    middle = start + cut * length
    whole = outages_between(start, end)
    parts = set(outages_between(start, middle)) | set(outages_between(middle, end))
    assert set(whole) == parts
    assert abs(supplied_s(start, end) - supplied_s(start, middle) - supplied_s(middle, end)) < 1e-6


@given(instants)
def test_the_supply_is_off_for_at_most_one_outage_a_period(start: float) -> None:
    off = PERIOD_S - supplied_s(start, start + PERIOD_S)
    assert 0.0 <= off <= 2 * LONGEST_S


def test_another_seed_tells_another_story() -> None:
    window = (DEC_2026 - 30 * 86_400, DEC_2026)
    assert outages_between(*window, seed=1) != outages_between(*window, seed=2)
