"""What the meter says is so now: a phase missing (ET09) and the disconnect relay (ET23.94).

History policies (`scripted_source.py`) that read a state every so often and emit it when it
changed, and once after each start (it is retained status; the broker may have lost it).

- ET09 (p.67-73): its size hangs on ET04.53 (p.58), read once; "phase loss now" is A+80 bits
  0-2 (p.72), one read of 324 bytes with the default ten power cycles.
- The relay: ET46 (p.121) says a meter has a disconnect and how it is controlled; a meter
  without one refuses it, and the source is off. Its position is ET23.94 (p.99, "read it
  every few seconds"): one byte, read every `RELAY_LOOK`, as the read budget allows.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta

from mepd.engine.history import Found
from mepd.engine.read_script import Script
from mepd.protocol import PartialRead
from mepd.protocol.tables.ids import ET46
from mepd.protocol.tables.power_quality import decode_et09, plan_et09, plan_power_cycles
from mepd.protocol.tables.relay import (
    ET46_SHORT_SIZE,
    DisconnectControl,
    DisconnectState,
    decode_disconnect_status,
    decode_et46,
    plan_disconnect_status,
)
from mepd.readings import Condition, ConditionState, Event, RelayState

PHASE_LOOK = timedelta(minutes=2)
RELAY_LOOK = timedelta(minutes=1)  # p.99 says every few seconds; the read budget says no
PHASES = ("L1", "L2", "L3")


class PhaseLoss:
    name = "power_quality"
    what = "power quality table (ET04.53/ET09)"
    every = PHASE_LOOK

    def __init__(self) -> None:
        self._serial = ""
        self._lost: tuple[bool, bool, bool] | None = None
        self.again = False
        self.forget_layout()

    def forget_layout(self) -> None:
        self._cycles: int | None = None
        self._answered = False  # ET09 was read once: a later refusal is not "no ET09"

    @property
    def configured(self) -> bool:
        return self._answered

    def adopt(self, serial: str, cursor: str | None) -> Sequence[Event]:
        del cursor  # a state, said again after every start
        self._serial = serial
        self._lost = None
        return ()

    def look(self, now: datetime) -> Script[Sequence[Found]]:
        del now
        if self._cycles is None:
            self._cycles = (yield plan_power_cycles())[0]  # ET04.53 (p.58)
        cycles = self._cycles
        lost = decode_et09((yield plan_et09(cycles)), cycles).phase_lost_now
        self._answered = True
        if lost == self._lost:
            return ()
        self._lost = lost
        phases = tuple(phase for phase, gone in zip(PHASES, lost, strict=True) if gone)
        state = ConditionState(self._serial, Condition.PHASE_MISSING, any(lost), phases)
        return (Found(state, "".join(str(int(gone)) for gone in lost)),)


class Relay:
    name = "relay"
    what = "disconnect relay (ET46)"
    every = RELAY_LOOK

    def __init__(self) -> None:
        self._serial = ""
        self._state: DisconnectState | None = None
        self.again = False
        self.forget_layout()

    def forget_layout(self) -> None:
        self._control: DisconnectControl | None = None

    @property
    def configured(self) -> bool:
        return self._control is not None

    def adopt(self, serial: str, cursor: str | None) -> Sequence[Event]:
        del cursor
        self._serial = serial
        self._state = None
        return ()

    def look(self, now: datetime) -> Script[Sequence[Found]]:
        del now
        if self._control is None:
            # The part every firmware has (p.121); a meter without a relay refuses ET46.
            output = decode_et46((yield PartialRead(ET46, 0, ET46_SHORT_SIZE)))
            self._control = output.control_type
        state = decode_disconnect_status((yield plan_disconnect_status()))
        if state == self._state:
            return ()
        self._state = state
        return (Found(RelayState(self._serial, state, self._control), state.name.lower()),)
