"""BT00 General Configuration (0x0000; p.196-198): how the rest of the tables are encoded.

Read once. mepd decodes every table as LSB first with INT32 NI formats; `problems()` says
whether this meter agrees, so a client can refuse a meter it would misread.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from mepd.protocol.tables._wire import (
    decode_chars,
    encode_chars,
    pack_uint,
    require_at_least,
)

TABLE = "BT00"
BT00_SIZE = 19  # p.198: fields up to offset 18; "the remaining fields ... are reserved"
NI_FORMAT_INT32 = 8  # p.197


@dataclass(frozen=True)
class GeneralConfiguration:
    data_order_msb_first: bool  # p.196: 0 = LSB first
    char_format: int  # 1 = ASCII
    time_format: int  # p.197: 2 = UINT8 fields
    data_access_method: int  # 1 = offset/count
    id_format_bcd: bool  # BT01/BT05/BT06 ids: False = CHAR, True = BCD
    int_format: int  # 0 = two's complement
    ni_format1: int  # 8 = INT32
    ni_format2: int
    manufacturer: str  # "NES" or "ELON"
    nameplate_type: int  # 2 = electric
    default_set_used: int
    procedure_parameter_length: int  # max BT07 parameters
    response_data_length: int  # max BT08/ET59/ET85 response data
    standard_version: int  # p.198
    standard_revision: int
    dim_basic_tables_used: int
    dim_extended_tables_used: int  # 20 on fw 4.0+, else 13
    dim_basic_procedures_used: int
    dim_extended_procedures_used: int
    manufacturer_status_length: int
    pending_tables: int
    reserved: bytes = field(default=b"", repr=False)  # bytes after offset 18, kept verbatim

    def problems(self) -> tuple[str, ...]:
        """Why mepd's decoders would misread this meter's tables (empty if they will not)."""
        found = []
        if self.data_order_msb_first:
            found.append("BT00.0: data order is MSB first; mepd decodes LSB first (p.40)")
        if self.int_format != 0:
            found.append(f"BT00.1: integer format {self.int_format}, not two's complement")
        if (self.ni_format1, self.ni_format2) != (NI_FORMAT_INT32, NI_FORMAT_INT32):
            found.append(f"BT00.2: NI formats {self.ni_format1}/{self.ni_format2}, not INT32 (8/8)")
        return tuple(found)


def decode_bt00(data: bytes) -> GeneralConfiguration:
    data = bytes(data)
    require_at_least(TABLE, data, BT00_SIZE, "fields to offset 18")
    b0, b1, b2 = data[0], data[1], data[2]
    return GeneralConfiguration(
        data_order_msb_first=bool(b0 & 0x01),
        char_format=(b0 >> 1) & 0x07,
        time_format=b1 & 0x07,
        data_access_method=(b1 >> 3) & 0x03,
        id_format_bcd=bool(b1 & 0x20),
        int_format=(b1 >> 6) & 0x03,
        ni_format1=b2 & 0x0F,
        ni_format2=b2 >> 4,
        manufacturer=decode_chars(data[3:7]),
        nameplate_type=data[7],
        default_set_used=data[8],
        procedure_parameter_length=data[9],
        response_data_length=data[10],
        standard_version=data[11],
        standard_revision=data[12],
        dim_basic_tables_used=data[13],
        dim_extended_tables_used=data[14],
        dim_basic_procedures_used=data[15],
        dim_extended_procedures_used=data[16],
        manufacturer_status_length=data[17],
        pending_tables=data[18],
        reserved=data[BT00_SIZE:],
    )


def _bits(value: int, width: int, what: str) -> int:
    if not 0 <= value < (1 << width):
        raise ValueError(f"BT00 {what} = {value} does not fit {width} bits")
    return value


def encode_bt00(config: GeneralConfiguration) -> bytes:
    c = config
    b0 = int(c.data_order_msb_first) | _bits(c.char_format, 3, "char format") << 1
    b1 = (
        _bits(c.time_format, 3, "time format")
        | _bits(c.data_access_method, 2, "data access method") << 3
        | int(c.id_format_bcd) << 5
        | _bits(c.int_format, 2, "integer format") << 6
    )
    b2 = _bits(c.ni_format1, 4, "NI format 1") | _bits(c.ni_format2, 4, "NI format 2") << 4
    tail = (
        c.nameplate_type,
        c.default_set_used,
        c.procedure_parameter_length,
        c.response_data_length,
        c.standard_version,
        c.standard_revision,
        c.dim_basic_tables_used,
        c.dim_extended_tables_used,
        c.dim_basic_procedures_used,
        c.dim_extended_procedures_used,
        c.manufacturer_status_length,
        c.pending_tables,
    )
    return (
        bytes((b0, b1, b2))
        + encode_chars(c.manufacturer, 4, "BT00 manufacturer")
        + b"".join(pack_uint(value, 1, "BT00 field") for value in tail)
        + c.reserved
    )
