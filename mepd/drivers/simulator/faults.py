"""Fault knobs of the simulated meter: all off by default, changeable while it runs.

`FaultSettings` is a frozen value; a running meter swaps in a new one (`Meter.set_faults`), so a
test can flip a knob mid-run without racing the meter's own reads of it. Rates are
probabilities: per byte for the byte faults, per response for lost/delayed responses, per
second for the event faults (latch-up, optical takeover, IDT bump). The randomness behind all
of them comes from one `random.Random(seed)` owned by the meter.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass

from mepd.errors import ConfigError


@dataclass(frozen=True)
class FaultSettings:
    # Line faults, per byte: the meter's transmit side, optionally its receive side.
    tx_corrupt_rate: float = 0.0
    tx_drop_rate: float = 0.0
    rx_corrupt_rate: float = 0.0
    rx_drop_rate: float = 0.0
    # Per response: the request is processed (the sequence number moves) but no answer
    # arrives, or it arrives `delay_seconds` late (p.20: clients must cope with both).
    lose_response_rate: float = 0.0
    delay_response_rate: float = 0.0
    delay_seconds: float = 0.8
    # Per second: the RS-232 transceiver latches up until its power is cycled (>= 1 s off).
    latchup_rate: float = 0.0
    # Per second, gen3 only (p.20): the optical port takes the shared UART for a while;
    # MEP is silent, and afterwards the meter's sequence number has moved on.
    optical_takeover_rate: float = 0.0
    optical_seconds: float = 3.0
    # Per second: an IDT-version change (+25 on the sequence number, ET04.116 + 1; p.55).
    idt_bump_rate: float = 0.0
    # Per second: the meter forgets its TLS session (a reset); the next 0x80 gets 0x0A.
    tls_session_loss_rate: float = 0.0
    # The meter is configured with other keys than the client's.
    key_mismatch: bool = False
    # Some meters refuse a full read of BT23 even when it would fit (notes §11).
    reject_bt23_full_read: bool = False
    # The first N requests arrive with one byte flipped (a bit error at start-up): the meter
    # cannot verify their digest and answers a bare 0x0B, as for a wrong key (p.11).
    corrupt_first_requests: float = 0
    # Wh added to BT23's total import register for as long as it is set (may be negative): a
    # meter that glitches (+117,000,000 Wh, issue 14) or steps back (-1,000,000 Wh).
    energy_offset_wh: float = 0.0
    # Optical port only (C12.18): per request packet, a NAK although it arrived intact; per
    # request, `bsy` instead of the answer (c1218 notes §2.7, §5.10).
    nak_rate: float = 0.0
    busy_rate: float = 0.0
    # Per second: a live event in the event logs (sag, phase loss and back, swell, cover).
    event_rate: float = 0.0
    # BT74's size in entries (BT71.5); 0: the default 100. A small log wraps and overflows.
    event_log_capacity: float = 0
    # The load profile (p.27-31): 1-minute intervals for fast tests (0: the profile's), and a
    # small data set that wraps, so old intervals are overwritten before a client reads them:
    # `lp_blocks` blocks of `lp_block_intervals` intervals (0: the profile's).
    lp_interval_min: float = 0
    lp_blocks: float = 0
    lp_block_intervals: float = 0

    def replace(self, **changes: object) -> FaultSettings:
        return dataclasses.replace(self, **changes)  # type: ignore[arg-type]


FAULT_NAMES: tuple[str, ...] = tuple(f.name for f in dataclasses.fields(FaultSettings))
_RATE_SUFFIX = "_rate"
_SIGNED = frozenset({"energy_offset_wh"})


def parse_fault(assignment: str) -> tuple[str, float | bool]:
    """`NAME=VALUE` from the command line, checked: rates in [0, 1], seconds >= 0, booleans."""
    name, sep, text = assignment.partition("=")
    name = name.strip().replace("-", "_")
    if not sep:
        raise ConfigError(f"--fault expects NAME=VALUE, got {assignment!r}")
    if name not in FAULT_NAMES:
        raise ConfigError(f"unknown fault {name!r}; known faults: {', '.join(FAULT_NAMES)}")
    default = getattr(FaultSettings(), name)
    text = text.strip()
    if isinstance(default, bool):
        lowered = text.lower()
        if lowered in ("1", "true", "yes", "on"):
            return name, True
        if lowered in ("0", "false", "no", "off"):
            return name, False
        raise ConfigError(f"fault {name} takes true or false, got {text!r}")
    try:
        value = float(text)
    except ValueError:
        raise ConfigError(f"fault {name} takes a number, got {text!r}") from None
    if name.endswith(_RATE_SUFFIX) and not 0.0 <= value <= 1.0:
        raise ConfigError(f"fault {name} is a probability in [0, 1], got {text}")
    if name in _SIGNED:
        if not math.isfinite(value):
            raise ConfigError(f"fault {name} takes a finite number, got {text}")
        return name, value
    if value < 0 or math.isnan(value):  # NaN is not a duration either
        raise ConfigError(f"fault {name} cannot be negative, got {text}")
    return name, value


def parse_faults(assignments: list[str]) -> FaultSettings:
    settings = FaultSettings()
    for assignment in assignments:
        name, value = parse_fault(assignment)
        settings = settings.replace(**{name: value})
    return settings
