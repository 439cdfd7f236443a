"""Load profile interval status codes (p.239-241): names are stable (they go out on MQTT)."""

from __future__ import annotations

from enum import Enum
from types import MappingProxyType


class CommonFlag(Enum):
    """The high nibble of the extended status: flags common to all channels (p.239)."""

    DAYLIGHT_SAVING = "daylight_saving"
    POWER_OUTAGE = "power_outage"
    CLOCK_SET_FORWARD = "clock_set_forward"
    CLOCK_SET_BACKWARD = "clock_set_backward"

    @property
    def bit(self) -> int:
        return _BITS[self]


_BITS = {
    CommonFlag.DAYLIGHT_SAVING: 0,
    CommonFlag.POWER_OUTAGE: 1,
    CommonFlag.CLOCK_SET_FORWARD: 2,
    CommonFlag.CLOCK_SET_BACKWARD: 3,
}

# p.239-241: a channel's status nibble; 0 is no status and has no name.
CHANNEL_STATUS_NAMES = MappingProxyType(
    {
        0: "ok",
        1: "overflow",
        2: "partial_interval",
        3: "long_interval",
        4: "skipped",
        5: "test_mode",
        8: "decryption_failure",
        9: "clock_error",
        10: "device_missing",
        11: "not_current",
        12: "opted_out",
        15: "placeholder",
    }
)
CHANNEL_OK = CHANNEL_STATUS_NAMES[0]
# p.240-241: the channel value was not measured (zeroed or a placeholder): no energy from it.
NOT_MEASURED = frozenset(CHANNEL_STATUS_NAMES[code] for code in (4, 8, 12, 15))
