"""The present poll on any line: the whole BT28, or its power piece while the line is noisy.

`noise.LineNoise` decides (policy as data); this module knows where a piece lies in a layout,
which values came in which answer (the guard cross-checks only values read together), and
feeds every exchange's outcome to the noise estimate. The poller only calls it.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable
from dataclasses import dataclass
from datetime import datetime
from functools import partial
from typing import Protocol

from mepd.engine.intake import Intake
from mepd.engine.noise import LineNoise, NoisyLinePolicy, PresentRead
from mepd.engine.session import MeterSession
from mepd.engine.startup import Layout, read_plan
from mepd.errors import MepdError
from mepd.protocol import PartialRead
from mepd.protocol.errors import FrameError
from mepd.protocol.frames import Request
from mepd.protocol.tables import bt28_size, plan_bt28, plan_bt28_values
from mepd.protocol.tables.bt28 import present_value_sources, value_offset
from mepd.readings import PIECES, Piece, PresentReading

log = logging.getLogger(__name__)

INT32_BYTES = 4


class Reader(Protocol):
    """The poller's read: one verified request, counted as an answer."""

    def __call__(
        self, request: PartialRead, *, resend: bool = True, retry_damaged: bool = True
    ) -> Awaitable[bytes]: ...


@dataclass(frozen=True)
class PieceRead:
    """Where a piece lies in this layout's BT28: values `first`..`first + count - 1`, one read
    (values between the piece's own are read too, and dropped)."""

    piece: Piece
    first: int
    count: int

    def request(self, layout: Layout) -> PartialRead:
        return plan_bt28_values(layout.dims, self.first, self.count)


# A piece is read only if it is small: one spread over the table is no piece.
PIECE_MAX_VALUES = 8


def piece_in(layout: Layout, piece: Piece = Piece.POWER) -> PieceRead | None:
    """`piece` in `layout`, or None when the layout lacks one of its values or spreads them."""
    names = [source.name for source in present_value_sources(layout.dims, layout.selection)]
    if any(names.count(name) != 1 for name in PIECES[piece]):
        return None  # absent, or listed twice (published by nobody, measurements.py)
    where = [names.index(name) for name in PIECES[piece]]
    first, last = min(where), max(where)
    if last - first + 1 > PIECE_MAX_VALUES:
        return None
    return PieceRead(piece, first, last - first + 1)


def answer_groups(layout: Layout, plan: tuple[PartialRead, ...]) -> tuple[frozenset[str], ...]:
    """For each read of a whole-table plan, the values whose bytes all came in its answer."""
    sources = present_value_sources(layout.dims, layout.selection)
    groups = []
    for read in plan:
        end = read.offset + read.count
        groups.append(
            frozenset(
                source.name
                for k, source in enumerate(sources)
                if read.offset <= value_offset(layout.dims, k)
                and value_offset(layout.dims, k) + INT32_BYTES <= end
            )
        )
    return tuple(groups)


def table_bytes(request: Request) -> int:
    """What the answer carries of the table (0 when the request does not say)."""
    return request.count if isinstance(request, PartialRead) else 0


class PresentPlanner:
    """What the next present poll reads, and the line's noise measured on every exchange."""

    def __init__(self, policy: NoisyLinePolicy | None = None) -> None:
        self.noise = LineNoise(policy) if policy is not None else LineNoise()
        # The next poll reads the power piece whatever the line: after an IDT change (p.55:
        # power first), 8 bytes come sooner than the whole table; the rest follows next poll.
        self.power_first = False

    def next_piece(self, layout: Layout) -> PieceRead | None:
        """The piece to read next, or None: the whole table."""
        whole_bytes = bt28_size(layout.dims)
        was_noisy = self.noise.noisy
        choice = self.noise.next_present(whole_bytes)
        if self.noise.noisy != was_noisy:
            self._say_noise(whole_bytes)
        if self.power_first:
            self.power_first = False
            return piece_in(layout)
        return None if choice is PresentRead.WHOLE else piece_in(layout)

    def _say_noise(self, whole_bytes: int) -> None:
        chance = self.noise.intact_chance(whole_bytes)
        if self.noise.noisy:
            log.warning(
                "the line to the meter is noisy (about %.0f %% of whole present-value answers "
                "arrive intact): reading total power on its own, the other values when they "
                "get through (check the cable, its length and the ground)",
                100 * chance,
            )
        else:
            log.warning("the line to the meter is clean again: reading whole tables")

    async def fetch(
        self, read: Reader, layout: Layout, piece: PieceRead | None, *, probe: bool = False
    ) -> bytes | None:
        """What a present poll reads: `piece` (a probe's: one frame), or the whole table. On a
        noisy line each part of the whole table gets one frame: a damaged answer ends the
        attempt (None; counted as noise), so the budget (p.51) goes to the pieces."""
        if piece is not None:
            return await read(piece.request(layout), resend=not probe)
        plan = plan_bt28(layout.dims)
        if not self.noise.noisy or piece_in(layout) is None:  # no piece: the table is all
            return await read_plan(read, plan)
        try:
            return await read_plan(partial(read, retry_damaged=False), plan)
        except FrameError:
            return None

    async def read(
        self,
        session: MeterSession,
        request: Request,
        *,
        resend: bool = True,
        retry_damaged: bool = True,
    ) -> bytes:
        """`session.read`, its damaged answers (and the intact one) counted as line noise."""
        before = session.stats.corrupt_responses
        size = table_bytes(request)
        try:
            data = await session.read(request, resend=resend, retry_damaged=retry_damaged)
        except MepdError:
            self.noise.answered(
                size, damaged=session.stats.corrupt_responses - before, intact=False
            )
            raise
        self.noise.answered(size, damaged=session.stats.corrupt_responses - before)
        return data


def take_present(
    intake: Intake,
    data: bytes,
    layout: Layout,
    piece: PieceRead | None,
    *,
    serial: str,
    host_time: datetime,
) -> PresentReading | None:
    """The answer(s) of a present poll through the intake: the whole table (`piece` None,
    read as `plan_bt28` plans it), or one piece."""
    if piece is None:
        plan = plan_bt28(layout.dims)
        return intake.present(data, layout, serial, host_time, answer_groups(layout, plan))
    span = (piece.first, piece.count)
    return intake.piece(data, layout, serial, host_time, piece=piece.piece, span=span)
