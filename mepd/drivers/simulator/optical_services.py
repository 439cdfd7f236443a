"""The optical port's C12.18 services, sans-I/O: one request message in, one answer out.

This module owns the session side of the simulated meter's optical port (c1218 notes §4, §5):
the session states Base / ID / Session, which service is valid in which state (`isss`
otherwise), Identify, Negotiate (packet size and count), Logon, Security (a wrong password gets
`err`), Read (full and partial; tables other than BT00, BT01 and ET03 need the password first,
`isc`, OPG p.13, p.18-19; `bsy` by the `busy_rate` fault knob), Wait, Logoff and Terminate.

It knows nothing of packets, ACKs, toggles or timing: `optical.OpticalMeterPort` owns the link
and calls `serve` with each new request's message, so each side can be read (and kept under
the house's module size) on its own. The two link effects of a service go back through the
callbacks the port gives: Identify restarts the meter's toggle, Terminate drops the link to Base.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass
from enum import Enum

from mepd.drivers.simulator.faults import FaultSettings
from mepd.drivers.simulator.history import ServedReading
from mepd.drivers.simulator.meter import Meter
from mepd.drivers.simulator.stats import NOT_A_READ
from mepd.drivers.simulator.tables import BT23, BT28, LiveState
from mepd.protocol.c1218.errors import C1218Code
from mepd.protocol.c1218.packets import OVERHEAD_BYTES
from mepd.protocol.c1218.services import READ_RESPONSE_OVERHEAD, Service, read_response
from mepd.protocol.codes import extended_table

OPEN_TABLES = frozenset({0, 1, extended_table(3)})  # OPG p.18-19, p.48: no key needed
DEFAULT_PACKET_SIZE = 64
MAX_PACKET_SIZE = 1024  # what this meter grants at most
MAX_PACKETS = 8


class State(Enum):
    BASE = "base"
    ID = "id"
    SESSION = "session"


@dataclass
class OpticalStats:
    """What the optical port saw: counters a test reads after the fact."""

    packets_received: int = 0
    first_frame_naks: int = 0
    naks_sent: int = 0
    naks_received: int = 0
    duplicates: int = 0
    resends: int = 0
    traffic_timeouts: int = 0
    sessions: int = 0
    security_failures: int = 0
    busy_answers: int = 0
    answers_lost: int = 0


class OpticalServices:
    """The C12.18 server's session: its state, its negotiated packets and its answers."""

    def __init__(
        self,
        meter: Meter,
        password: bytes,
        *,
        rng: random.Random,
        epoch: float,
        optical: OpticalStats,
        faults: Callable[[], FaultSettings],
        restart_toggle: Callable[[], None],
        terminate: Callable[[], None],
    ) -> None:
        self.meter = meter
        self.optical = optical
        self._password = password
        self._rng = rng
        self._epoch = epoch
        self._faults = faults  # the port's current fault knobs (`set_faults` replaces them)
        self._restart_toggle = restart_toggle
        self._terminate_link = terminate
        self.state = State.BASE
        self.secured = False
        self.packet_size = DEFAULT_PACKET_SIZE
        self.packets = 1

    def reset(self) -> None:
        """Base state: no key given, the default packet size again (Terminate, traffic timeout)."""
        self.state, self.secured = State.BASE, False
        self.packet_size, self.packets = DEFAULT_PACKET_SIZE, 1

    def serve(self, message: bytes, now: float) -> bytes:
        """The answer to one request message, by the service table and the session state."""
        if not message:
            return _code(C1218Code.ERR)
        # 0x60..0x6B are all Negotiate: the low nibble counts the baud codes (notes §5.2).
        negotiate = Service.NEGOTIATE <= message[0] <= Service.NEGOTIATE + 11
        service = _SERVICES.get(Service.NEGOTIATE if negotiate else message[0])
        if service is None:
            return _code(C1218Code.SNS)
        required, handler = service
        reads = message[0] in (Service.READ_FULL, Service.READ_PARTIAL) and len(message) >= 3
        self.meter.stats.serving = int.from_bytes(message[1:3], "big") if reads else NOT_A_READ
        if required is not None and self.state is not required:
            return _code(C1218Code.ISSS)  # notes §4: not valid in this state
        return handler(self, message, now)

    def _identify(self, message: bytes, now: float) -> bytes:
        self.state = State.ID
        self._restart_toggle()  # the meter's toggle starts at 0 each session (notes §2.4)
        return bytes((C1218Code.OK, 0, 2, 0, 0))  # C12.18, version 2.0, no features (§5.1)

    def _terminate(self, message: bytes, now: float) -> bytes:
        self._terminate_link()
        return _code(C1218Code.OK)

    def _logon(self, message: bytes, now: float) -> bytes:
        if len(message) != 13:
            return _code(C1218Code.ERR)
        self.state = State.SESSION
        self.optical.sessions += 1
        return _code(C1218Code.OK)

    def _security(self, message: bytes, now: float) -> bytes:
        if message[1:] != self._password:
            self.optical.security_failures += 1
            self.meter.stats.authentication_failures += 1
            return _code(C1218Code.ERR)  # notes §5.5: MS reads err on Security as a bad key
        self.secured = True
        return _code(C1218Code.OK)

    def _logoff(self, message: bytes, now: float) -> bytes:
        self.state, self.secured = State.ID, False
        return _code(C1218Code.OK)

    def _wait(self, message: bytes, now: float) -> bytes:
        return _code(C1218Code.OK)

    def _negotiate(self, message: bytes, now: float) -> bytes:
        if len(message) < 4:
            return _code(C1218Code.ERR)
        size = min(int.from_bytes(message[1:3], "big"), MAX_PACKET_SIZE)
        packets = min(message[3], MAX_PACKETS)
        if size <= OVERHEAD_BYTES + READ_RESPONSE_OVERHEAD or packets < 1:
            return _code(C1218Code.ONP)
        self.packet_size, self.packets = size, packets
        return bytes((C1218Code.OK,)) + size.to_bytes(2, "big") + bytes((packets, 0x06))

    def _read(self, message: bytes, now: float) -> bytes:
        busy_rate = self._faults().busy_rate
        if busy_rate and self._rng.random() < busy_rate:
            self.optical.busy_answers += 1
            return _code(C1218Code.BSY)
        code = message[0]
        table = int.from_bytes(message[1:3], "big")
        if not self.secured and table not in OPEN_TABLES:
            return _code(C1218Code.ISC)  # OPG p.13: every other table needs a key
        meter = self.meter
        truth = meter.physics.truth_at(now - self._epoch)
        data = meter.tables.read(table, truth, LiveState(meter.sequence, meter.idt_version))
        if data is None:
            return _code(C1218Code.IAR)  # OPG p.24: a table that is not there
        if code == Service.READ_PARTIAL:
            if len(message) != 8:
                return _code(C1218Code.ERR)
            offset = int.from_bytes(message[3:6], "big")
            count = int.from_bytes(message[6:8], "big")
            chunk = data[offset : offset + count]
            data = chunk + bytes(count - len(chunk))  # OPG p.9: zeros past the end
        limit = (self.packet_size - OVERHEAD_BYTES) * self.packets - READ_RESPONSE_OVERHEAD
        if len(data) > limit:
            return _code(C1218Code.ONP)
        meter.stats.requests_handled += 1
        meter.stats.record_read(now)
        if table in (BT23, BT28):
            meter.history.record(ServedReading(now, truth.wall, table, truth))
        return read_response(data)


def _code(code: C1218Code) -> bytes:
    return bytes((code,))


Handler = Callable[[OpticalServices, bytes, float], bytes]
# Each service: the state it is valid in (None: any) and its handler (notes §4, §5).
_SERVICES: dict[int, tuple[State | None, Handler]] = {
    Service.IDENTIFY: (State.BASE, OpticalServices._identify),
    Service.NEGOTIATE: (State.ID, OpticalServices._negotiate),
    Service.LOGON: (State.ID, OpticalServices._logon),
    Service.SECURITY: (State.SESSION, OpticalServices._security),
    Service.READ_FULL: (State.SESSION, OpticalServices._read),
    Service.READ_PARTIAL: (State.SESSION, OpticalServices._read),
    Service.WAIT: (State.SESSION, OpticalServices._wait),
    Service.LOGOFF: (State.SESSION, OpticalServices._logoff),
    Service.TERMINATE: (None, OpticalServices._terminate),
}
