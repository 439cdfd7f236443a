"""What EN 13757-3 codes mean: media, value units and their decimal exponents, as data.

The MEP server stores the M-Bus device's application layer data as it came (guide p.90-93:
ET16 "Tel. Header" and "Tel. Data Records"). These tables cover the subset a gas, water or
heat meter needs for Home Assistant's Energy dashboard: volume and energy (cumulative), with
power, flow and temperatures of heat meters; anything else is skipped with a reason.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum, StrEnum

from mepd.protocol.errors import DecodeError


class MediumKind(Enum):
    """What a sub-meter measures, in the granularity Home Assistant's dashboard wants."""

    GAS = "gas"
    WATER = "water"
    WARM_WATER = "warm_water"
    HEAT = "heat"
    ELECTRICITY = "electricity"
    OTHER = "other"


# EN 13757-3 medium (device type) codes; the guide lists 3, 4, 6 and 7 (p.93).
_MEDIA: dict[int, MediumKind] = {
    0x02: MediumKind.ELECTRICITY,
    0x03: MediumKind.GAS,
    0x04: MediumKind.HEAT,  # heat, outlet
    0x06: MediumKind.WARM_WATER,  # 30-90 °C
    0x07: MediumKind.WATER,
    0x0C: MediumKind.HEAT,  # heat, inlet
    0x0D: MediumKind.HEAT,  # heat / cooling
    0x15: MediumKind.WARM_WATER,  # hot water, >= 90 °C
    0x16: MediumKind.WATER,  # cold water
}


def medium_kind(code: int) -> MediumKind:
    return _MEDIA.get(code, MediumKind.OTHER)


class Quantity(Enum):
    """What a data record measures. Cumulative ones are meter readings (`total_increasing`)."""

    VOLUME = "volume"
    ENERGY = "energy"
    POWER = "power"
    VOLUME_FLOW = "volume_flow"
    FLOW_TEMPERATURE = "flow_temperature"
    RETURN_TEMPERATURE = "return_temperature"
    TEMPERATURE_DIFFERENCE = "temperature_difference"

    @property
    def cumulative(self) -> bool:
        return self in (Quantity.VOLUME, Quantity.ENERGY)


class MBusUnit(StrEnum):
    """Units a decoded value is given in: exact decimal conversions of the VIF's unit only.

    Wh-based energy becomes kWh and J-based energy GJ (both exact powers of ten; Home Assistant
    accepts either for device class energy); volume is m³ (gas and water device classes).
    """

    CUBIC_METRE = "m³"
    KILOWATT_HOUR = "kWh"
    GIGAJOULE = "GJ"
    WATT = "W"
    CUBIC_METRE_PER_HOUR = "m³/h"
    CELSIUS = "°C"
    KELVIN = "K"


@dataclass(frozen=True)
class ValueInformation:
    """A primary (or first-extension) VIF decoded: value x 10**exponent is in `unit`."""

    quantity: Quantity
    unit: MBusUnit
    exponent: int


def _range(
    first: int, count: int, quantity: Quantity, unit: MBusUnit, base: int
) -> dict[int, ValueInformation]:
    return {first + n: ValueInformation(quantity, unit, base + n) for n in range(count)}


# Primary VIFs (bit 7, the extension bit, masked off): E000 0nnn 10^(nnn-3) Wh = 10^(nnn-6) kWh;
# E000 1nnn 10^nnn J = 10^(nnn-9) GJ; E001 0nnn 10^(nnn-6) m³; E010 1nnn 10^(nnn-3) W;
# E011 1nnn 10^(nnn-6) m³/h; E101 10nn / 11nn 10^(nn-3) °C; E110 00nn 10^(nn-3) K.
PRIMARY: dict[int, ValueInformation] = {
    **_range(0x00, 8, Quantity.ENERGY, MBusUnit.KILOWATT_HOUR, -6),
    **_range(0x08, 8, Quantity.ENERGY, MBusUnit.GIGAJOULE, -9),
    **_range(0x10, 8, Quantity.VOLUME, MBusUnit.CUBIC_METRE, -6),
    **_range(0x28, 8, Quantity.POWER, MBusUnit.WATT, -3),
    **_range(0x38, 8, Quantity.VOLUME_FLOW, MBusUnit.CUBIC_METRE_PER_HOUR, -6),
    **_range(0x58, 4, Quantity.FLOW_TEMPERATURE, MBusUnit.CELSIUS, -3),
    **_range(0x5C, 4, Quantity.RETURN_TEMPERATURE, MBusUnit.CELSIUS, -3),
    **_range(0x60, 4, Quantity.TEMPERATURE_DIFFERENCE, MBusUnit.KELVIN, -3),
}

# First extension table (after VIF 0xFB): E000 000n 10^(n-1) MWh = 10^(n+2) kWh;
# E000 100n 10^(n-1) GJ; E001 000n 10^(n+2) m³.
EXTENSION_FB: dict[int, ValueInformation] = {
    **_range(0x00, 2, Quantity.ENERGY, MBusUnit.KILOWATT_HOUR, 2),
    **_range(0x08, 2, Quantity.ENERGY, MBusUnit.GIGAJOULE, -1),
    **_range(0x10, 2, Quantity.VOLUME, MBusUnit.CUBIC_METRE, 2),
}

VIF_DATE = 0x6C  # time point, date (type G, 2 bytes)
VIF_DATE_TIME = 0x6D  # time point, date and time (type F, 4 bytes)
VIF_PLAIN_TEXT = 0x7C  # the unit follows as text: a length byte, then that many characters
VIF_EXTENSION_FB = 0x7B
VIF_EXTENSION_FD = 0x7D

# Combinable (orthogonal) VIFEs that keep a value what it is.
VIFE_UNCORRECTED = 0x3A  # guide p.33: "0C 93 3A ... non-temperature corrected cubic meters"
VIFE_FACTOR_FIRST = 0x70  # E111 0nnn: multiplicative correction factor 10^(nnn-6)
VIFE_FACTOR_LAST = 0x77
VIFE_TIMES_1000 = 0x7D  # multiplicative correction factor 10^3


# --- manufacturer id (guide p.92: [ASCII(1st) - 64] x 32 x 32 + [ASCII(2nd) - 64] x 32 + ...) --


def decode_manufacturer(code: int) -> str:
    """The three letters of an M-Bus manufacturer id; a 5-bit group out of A-Z shows as `?`."""
    letters = ((code >> 10) & 0x1F, (code >> 5) & 0x1F, code & 0x1F)
    return "".join(chr(64 + n) if 1 <= n <= 26 else "?" for n in letters)


def encode_manufacturer(name: str) -> int:
    if len(name) != 3 or not all("A" <= c <= "Z" for c in name):
        raise ValueError(f"an M-Bus manufacturer id is three letters A-Z, not {name!r}")
    first, second, third = (ord(c) - 64 for c in name)
    return (first << 10) | (second << 5) | third


# --- BCD (EN 13757-3 type A), LSB first --------------------------------------------------------


def decode_bcd(raw: bytes) -> int:
    """Packed BCD, least significant byte first; a top nibble F is a minus sign."""
    digits = []
    for byte in reversed(raw):
        digits += [byte >> 4, byte & 0x0F]
    sign = 1
    if digits and digits[0] == 0xF:
        sign, digits[0] = -1, 0
    if any(d > 9 for d in digits):
        raise DecodeError(f"M-Bus: {raw.hex(' ')} is not BCD")
    value = 0
    for digit in digits:
        value = value * 10 + digit
    return sign * value


def encode_bcd(value: int, size: int) -> bytes:
    if not 0 <= value < 10 ** (2 * size):
        raise ValueError(f"{value} does not fit {2 * size} BCD digits")
    text = f"{value:0{2 * size}d}"
    packed = bytes(int(text[i : i + 2], 16) for i in range(0, len(text), 2))
    return packed[::-1]
