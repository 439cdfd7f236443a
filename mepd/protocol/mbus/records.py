"""EN 13757-3 variable data records (DIF, DIFE, VIF, VIFE, data) and the 12-byte fixed header.

This is the M-Bus application layer as the MEP server stores it in ET16 and ET45 (guide
p.91-93, CI = 0x72: "Tel. Header" then "Tel. Data Records"). Only current values are
decoded: storage number 0, tariff 0, sub-unit 0, instantaneous function. Every other record is
kept as a `SkippedRecord` with its reason, so a device with exotic records still yields its
volume or energy and never raises anything but `DecodeError`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from enum import Enum

from mepd.protocol.errors import DecodeError
from mepd.protocol.mbus import units
from mepd.protocol.mbus.units import MBusUnit, MediumKind, Quantity, ValueInformation

EXTENSION_BIT = 0x80
MAX_EXTENSIONS = 10  # EN 13757-3: at most 10 DIFEs and 10 VIFEs
HEADER_BYTES = 12  # ID 4, manufacturer 2, version 1, medium 1, access 1, status 1, signature 2

# DIF bits 3..0: the data field.
NO_DATA, SELECTION, REAL32, VARIABLE, SPECIAL = 0x0, 0x8, 0x5, 0xD, 0xF
DATA_SIZES = {0x0: 0, 0x1: 1, 0x2: 2, 0x3: 3, 0x4: 4, 0x5: 4, 0x6: 6, 0x7: 8, 0x8: 0}
DATA_SIZES |= {0x9: 1, 0xA: 2, 0xB: 3, 0xC: 4, 0xE: 6}
BCD_FIELDS = frozenset({0x9, 0xA, 0xB, 0xC, 0xE})
IDLE_FILLER = 0x2F
MANUFACTURER_DATA = frozenset({0x0F, 0x1F})  # 0x1F: more records follow in the next telegram


class SkipReason(Enum):
    STORED = "a stored value (storage number above 0)"
    TARIFF = "a tariff register"
    SUBUNIT = "a sub-unit's value"
    FUNCTION = "a maximum, minimum or error-state value"
    NO_DATA = "a record without data"
    REAL = "a 32-bit real, not an exact decimal"
    VARIABLE = "variable-length data"
    NOT_BCD = "BCD digits out of range"
    UNKNOWN_VIF = "a VIF mepd does not decode"
    UNKNOWN_VIFE = "a VIF extension mepd does not decode"
    TIME_FORMAT = "a time point in a format mepd does not decode"
    TIME_INVALID = "a time point the device marks invalid"
    MANUFACTURER = "manufacturer-specific data to the end of the telegram"
    RESERVED = "a reserved code: the rest of the telegram cannot be parsed"
    TRUNCATED = "the telegram ends inside this record"
    ENCRYPTED = "encrypted, and the MEP server had no key"
    FIXED = "fixed data structure: its medium/unit coding is not decoded"
    MODE2 = "data order Mode 2 (MSB first), which M-Bus devices do not use (p.31)"


@dataclass(frozen=True)
class RecordHeader:
    """A data record header (DRH): what ET57 maps to a data type (p.31, p.163)."""

    raw: bytes
    dif: int
    difes: tuple[int, ...]
    vif: int
    vifes: tuple[int, ...]
    text_unit: str = ""  # VIF 0x7C: the unit given as text

    @property
    def data_field(self) -> int:
        return self.dif & 0x0F

    @property
    def function(self) -> int:
        """0 instantaneous, 1 maximum, 2 minimum, 3 during error state."""
        return (self.dif >> 4) & 0x03

    @property
    def storage(self) -> int:
        number = (self.dif >> 6) & 0x01
        for index, dife in enumerate(self.difes):
            number |= (dife & 0x0F) << (1 + 4 * index)
        return number

    @property
    def tariff(self) -> int:
        return sum(((dife >> 4) & 0x03) << (2 * index) for index, dife in enumerate(self.difes))

    @property
    def subunit(self) -> int:
        return sum(((dife >> 6) & 0x01) << index for index, dife in enumerate(self.difes))


@dataclass(frozen=True)
class MBusValue:
    """A current reading: `value` (exact) in `unit`. `corrected` is False for VIFE 0x3A, the
    "non-temperature corrected" volume of the guide's ET57 example (p.33), else None."""

    quantity: Quantity
    value: Decimal
    unit: MBusUnit
    drh: bytes
    corrected: bool | None = None


@dataclass(frozen=True)
class TimePoint:
    """VIF 0x6D (type F) or 0x6C (type G): the device's own clock, local time."""

    moment: datetime
    drh: bytes


@dataclass(frozen=True)
class SkippedRecord:
    drh: bytes
    reason: SkipReason


Decoded = MBusValue | TimePoint | SkippedRecord


def parse_drh(data: bytes, at: int = 0) -> tuple[RecordHeader, int]:
    """The DRH starting at `at`, and the offset just after it (a text unit included)."""
    start = at
    dif, at = _byte(data, at)
    difes, at = _chain(data, at, dif)
    vif, at = _byte(data, at)
    text = ""
    if vif & 0x7F == units.VIF_PLAIN_TEXT:
        length, at = _byte(data, at)
        if at + length > len(data):
            raise DecodeError("M-Bus: the telegram ends inside a text unit")
        text = data[at : at + length][::-1].decode("latin-1")  # sent LSB (last char) first
        at += length
    vifes, at = _chain(data, at, vif)
    return RecordHeader(bytes(data[start:at]), dif, difes, vif, vifes, text), at


def drh_length(data: bytes) -> int:
    """How many bytes of `data` the DRH at its start takes (ET57 pads 3-byte DRHs, p.163)."""
    return parse_drh(data)[1]


def _byte(data: bytes, at: int) -> tuple[int, int]:
    if at >= len(data):
        raise DecodeError("M-Bus: the telegram ends inside a record header")
    return data[at], at + 1


def _chain(data: bytes, at: int, first: int) -> tuple[tuple[int, ...], int]:
    chain: list[int] = []
    more = first & EXTENSION_BIT
    while more:
        if len(chain) == MAX_EXTENSIONS:
            raise DecodeError("M-Bus: more than 10 extension bytes in a record header")
        byte, at = _byte(data, at)
        chain.append(byte)
        more = byte & EXTENSION_BIT
    return tuple(chain), at


def _variable_size(lvar: int) -> int | None:
    """EN 13757-3 LVAR: text, BCD or binary of a given length; None for reserved codes."""
    if lvar <= 0xBF:
        return lvar  # ASCII text
    if lvar <= 0xDF:
        return lvar & 0x0F  # positive (C_) or negative (D_) BCD, bytes
    if lvar <= 0xEF:
        return lvar - 0xE0  # binary, bytes
    if lvar <= 0xF4:
        return 4 * (lvar - 0xEC)
    return {0xF5: 6, 0xF6: 8}.get(lvar)


def decode_records(data: bytes) -> tuple[Decoded, ...]:
    """Every record of a telegram's data part, in order; never raises on odd content."""
    out: list[Decoded] = []
    at = 0
    while at < len(data):
        dif = data[at]
        if dif == IDLE_FILLER:
            at += 1
            continue
        if dif & 0x0F == SPECIAL:
            reason = SkipReason.MANUFACTURER if dif in MANUFACTURER_DATA else SkipReason.RESERVED
            out.append(SkippedRecord(bytes(data[at:]), reason))
            break
        try:
            header, at = parse_drh(data, at)
        except DecodeError:
            out.append(SkippedRecord(bytes(data[at:]), SkipReason.TRUNCATED))
            break
        size = DATA_SIZES.get(header.data_field)
        if header.data_field == VARIABLE and at < len(data):
            size = _variable_size(data[at])
            at += 1
            if size is None:
                out.append(SkippedRecord(header.raw, SkipReason.RESERVED))
                break
        if size is None or at + size > len(data):
            out.append(SkippedRecord(header.raw, SkipReason.TRUNCATED))
            break
        out.append(interpret(header, bytes(data[at : at + size])))
        at += size
    return tuple(out)


def interpret(header: RecordHeader, raw: bytes) -> Decoded:  # noqa: PLR0911 - one per reason
    """A record's meaning, or why mepd leaves it alone."""
    for reason, present in (
        (SkipReason.FUNCTION, header.function),
        (SkipReason.STORED, header.storage),
        (SkipReason.TARIFF, header.tariff),
        (SkipReason.SUBUNIT, header.subunit),
    ):
        if present:
            return SkippedRecord(header.raw, reason)
    field = header.data_field
    if field in (NO_DATA, SELECTION):
        return SkippedRecord(header.raw, SkipReason.NO_DATA)
    if header.vif & 0x7F in (units.VIF_DATE, units.VIF_DATE_TIME):
        return _time_point(header, raw)
    meaning = value_information(header)
    if isinstance(meaning, SkipReason):
        return SkippedRecord(header.raw, meaning)
    info, corrected = meaning
    if field == REAL32:
        return SkippedRecord(header.raw, SkipReason.REAL)
    if field == VARIABLE:
        return SkippedRecord(header.raw, SkipReason.VARIABLE)
    if field in BCD_FIELDS:
        try:
            number = units.decode_bcd(raw)
        except DecodeError:
            return SkippedRecord(header.raw, SkipReason.NOT_BCD)
    else:
        number = int.from_bytes(raw, "little", signed=True)  # type B: signed binary
    value = Decimal(number).scaleb(info.exponent)
    return MBusValue(info.quantity, value, info.unit, header.raw, corrected)


def value_information(header: RecordHeader) -> tuple[ValueInformation, bool | None] | SkipReason:
    """What a DRH's VIF and VIFEs say a value is (exponent corrected by the VIFEs), with
    whether it is temperature corrected (False for VIFE 0x3A, else unknown)."""
    base = header.vif & 0x7F
    if base == units.VIF_EXTENSION_FB and header.vifes:
        info = units.EXTENSION_FB.get(header.vifes[0] & 0x7F)
        combinable = header.vifes[1:]
    else:
        info = units.PRIMARY.get(base) if base != units.VIF_EXTENSION_FB else None
        combinable = header.vifes
    if info is None:
        return SkipReason.UNKNOWN_VIF
    exponent, corrected = info.exponent, None
    for vife in combinable:
        code = vife & 0x7F
        if code == units.VIFE_UNCORRECTED:
            corrected = False
        elif units.VIFE_FACTOR_FIRST <= code <= units.VIFE_FACTOR_LAST:
            exponent += (code & 0x07) - 6
        elif code == units.VIFE_TIMES_1000:
            exponent += 3
        else:
            return SkipReason.UNKNOWN_VIFE
    return ValueInformation(info.quantity, info.unit, exponent), corrected


def _time_point(header: RecordHeader, raw: bytes) -> Decoded:
    """Type F (4 bytes: date and time) or type G (2 bytes: date) of EN 13757-3."""
    base, field = header.vif & 0x7F, header.data_field
    if header.vifes or (base, field) not in ((units.VIF_DATE_TIME, 0x4), (units.VIF_DATE, 0x2)):
        return SkippedRecord(header.raw, SkipReason.TIME_FORMAT)
    value = int.from_bytes(raw, "little")
    if base == units.VIF_DATE_TIME:
        if value & 0x80:  # IV: time invalid
            return SkippedRecord(header.raw, SkipReason.TIME_INVALID)
        minute, hour, date = value & 0x3F, (value >> 8) & 0x1F, value >> 16
    else:
        minute, hour, date = 0, 0, value
    day, month = date & 0x1F, (date >> 8) & 0x0F
    year = ((date >> 5) & 0x07) | ((date >> 12) & 0x0F) << 3
    try:
        return TimePoint(datetime(2000 + year, month, day, hour, minute), header.raw)
    except ValueError:
        return SkippedRecord(header.raw, SkipReason.TIME_INVALID)


# --- the fixed header and a whole telegram -----------------------------------------------------


@dataclass(frozen=True)
class DeviceIdentity:
    """Who the sub-meter is (p.92-93). `serial` is the 8-digit ID (hex digits if not BCD)."""

    serial: str
    manufacturer: str
    manufacturer_code: int
    version: int
    medium: int  # EN 13757-3 medium code: 3 gas, 4 heat, 6 hot water, 7 water (p.93)

    @property
    def kind(self) -> MediumKind:
        return units.medium_kind(self.medium)


@dataclass(frozen=True)
class Telegram:
    identity: DeviceIdentity
    access_number: int
    status: int  # p.93: bits 0-1 application error, 2 power low, 3 permanent, 4 temporary error
    signature: int
    values: tuple[MBusValue, ...]
    time_point: datetime | None
    skipped: tuple[SkippedRecord, ...]

    def first(self, quantity: Quantity) -> MBusValue | None:
        """The device's first current value of `quantity`: its meter reading for a volume or an
        energy (a device that lists more puts its main register first)."""
        return next((item for item in self.values if item.quantity is quantity), None)


def decode_identity(header: bytes) -> DeviceIdentity:
    if len(header) < HEADER_BYTES:
        raise DecodeError(f"M-Bus: a telegram header is {HEADER_BYTES} bytes, got {len(header)}")
    code = int.from_bytes(header[4:6], "little")
    serial = f"{int.from_bytes(header[0:4], 'little'):08X}"  # BCD shows as its digits
    return DeviceIdentity(serial, units.decode_manufacturer(code), code, header[6], header[7])


def decode_telegram(data: bytes, *, skip_records: SkipReason | None = None) -> Telegram:
    """The 12-byte header and the records after it (no terminator); `skip_records` keeps the
    records undecoded for that reason (encrypted, Mode 2)."""
    identity = decode_identity(data)
    body = bytes(data[HEADER_BYTES:])
    if skip_records is not None:
        items: tuple[Decoded, ...] = (SkippedRecord(body, skip_records),) if body else ()
    else:
        items = decode_records(body)
    times = [item.moment for item in items if isinstance(item, TimePoint)]
    return Telegram(
        identity=identity,
        access_number=data[8],
        status=data[9],
        signature=int.from_bytes(data[10:12], "little"),
        values=tuple(item for item in items if isinstance(item, MBusValue)),
        time_point=times[0] if times else None,
        skipped=tuple(item for item in items if isinstance(item, SkippedRecord)),
    )
