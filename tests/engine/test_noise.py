"""The noisy-line policy (engine/noise.py): pure, answers in, a decision out."""

from __future__ import annotations

import random

import pytest
from hypothesis import given
from hypothesis import strategies as st

from mepd.engine.noise import (
    ANSWER_OVERHEAD_BYTES,
    NOISY_LINE,
    LineNoise,
    NoisyLinePolicy,
    PresentRead,
    byte_survival,
)

GEN4_BT28 = 364  # 4 present demands with times, 84 values
PIECE = 8  # total power import and export


def _line(noise: LineNoise, rng: random.Random, per_byte: float, table_bytes: int, n: int) -> None:
    """`n` exchanges of one answer each over a line that damages `per_byte` of the bytes."""
    intact = (1.0 - per_byte) ** (table_bytes + ANSWER_OVERHEAD_BYTES)
    for _ in range(n):
        damaged = rng.random() > intact
        noise.answered(table_bytes, damaged=int(damaged), intact=not damaged)


def test_the_estimate_finds_the_byte_rate_whatever_the_answer_sizes() -> None:
    rng = random.Random(3)
    answers = []
    for _ in range(4000):
        size = rng.choice((21, 100, 377))
        answers.append((size, rng.random() > 0.996**size))
    assert byte_survival(answers) == pytest.approx(0.996, abs=0.0006)


def test_no_damage_is_a_clean_line_and_no_intact_answer_a_dead_one() -> None:
    assert byte_survival([(100, False)] * 5) == 1.0
    assert byte_survival([]) == 1.0
    assert byte_survival([(100, True)] * 5) < 0.01


@given(st.lists(st.tuples(st.integers(1, 480), st.booleans()), max_size=60))
def test_the_estimate_is_a_chance(answers: list[tuple[int, bool]]) -> None:
    assert 0.0 <= byte_survival(answers) <= 1.0


def test_a_clean_line_reads_whole_tables() -> None:
    noise = LineNoise()
    _line(noise, random.Random(1), 0.0, GEN4_BT28, 50)
    assert [noise.next_present(GEN4_BT28) for _ in range(8)] == [PresentRead.WHOLE] * 8
    assert not noise.noisy


def test_no_verdict_before_enough_answers() -> None:
    noise = LineNoise()
    noise.answered(GEN4_BT28, damaged=NOISY_LINE.min_answers - 1, intact=False)
    assert noise.next_present(GEN4_BT28) is PresentRead.WHOLE
    noise.answered(GEN4_BT28, damaged=1, intact=False)
    assert noise.next_present(GEN4_BT28) is PresentRead.PIECE


def test_a_noisy_line_reads_pieces_and_the_whole_table_every_few_polls() -> None:
    noise = LineNoise()
    rng = random.Random(2)
    _line(noise, rng, 0.004, GEN4_BT28, 40)  # the line: 0.2 % corrupted + 0.2 % lost
    reads = [noise.next_present(GEN4_BT28) for _ in range(12)]
    assert noise.noisy
    every = NOISY_LINE.whole_every
    assert reads == [
        PresentRead.WHOLE if (n + 1) % every == 0 else PresentRead.PIECE for n in range(12)
    ]


def test_the_line_is_clean_again_once_the_answers_are_and_not_before() -> None:
    noise = LineNoise()
    rng = random.Random(4)
    _line(noise, rng, 0.004, GEN4_BT28, 40)
    noise.next_present(GEN4_BT28)
    assert noise.noisy
    # Pieces get through a noisy line: a run of intact small answers is no evidence yet.
    _line(noise, rng, 0.004, PIECE, 20)
    noise.next_present(GEN4_BT28)
    assert noise.noisy
    _line(noise, rng, 0.0, PIECE, NOISY_LINE.window_answers)
    assert noise.next_present(GEN4_BT28) is PresentRead.WHOLE
    assert not noise.noisy


def test_between_the_thresholds_the_verdict_stays() -> None:
    """Hysteresis: a line whose whole answers arrive intact 57 % of the time keeps its state."""
    policy = NoisyLinePolicy()
    assert policy.noisy_below < 0.575 < policy.clean_above
    for start_noisy in (False, True):
        noise = LineNoise(policy)
        noise.noisy = start_noisy
        for _ in range(23):
            noise.answered(GEN4_BT28)
        noise.answered(GEN4_BT28, damaged=17, intact=False)  # 42.5 % of 40 answers damaged
        assert noise.intact_chance(GEN4_BT28) == pytest.approx(0.575, abs=0.01)
        noise.next_present(GEN4_BT28)
        assert noise.noisy is start_noisy


def test_an_exchange_that_gave_up_counts_its_damaged_answers_only() -> None:
    noise = LineNoise()
    for _ in range(9):
        noise.answered(100)
    noise.answered(100, damaged=3, intact=False)
    before = noise.intact_chance(100)
    assert 0.6 < before < 0.8  # 3 of 12 answers damaged
    noise.answered(100, damaged=0, intact=False)  # silence: no evidence about the bytes
    assert noise.intact_chance(100) == before
