"""Table codecs for a read-only MEP client: bytes <-> frozen dataclasses in SI units.

Pure functions, no I/O. Decoders raise only `DecodeError` on short or inconsistent data;
encoders (used by the meter simulator) raise `ValueError` on values a table cannot hold.
"""

from mepd.protocol.tables.bt00 import GeneralConfiguration, decode_bt00, encode_bt00
from mepd.protocol.tables.bt01 import (
    FirmwareVersion,
    ManufacturerInfo,
    decode_bt01,
    encode_bt01,
)
from mepd.protocol.tables.bt21 import ActualRegister, decode_bt20, decode_bt21, encode_bt21
from mepd.protocol.tables.bt22 import DataSelection, bt22_size, decode_bt22, encode_bt22
from mepd.protocol.tables.bt23 import (
    CoincidentRecord,
    CurrentRegisterData,
    DemandRecord,
    RegisterBlock,
    TotalSummations,
    bt23_size,
    decode_bt23,
    decode_bt23_summations,
    encode_bt23,
)
from mepd.protocol.tables.bt27 import (
    PresentRegisterSelection,
    bt27_size,
    decode_bt27,
    encode_bt27,
)
from mepd.protocol.tables.bt28 import (
    PresentDemand,
    PresentRegisterData,
    bt28_size,
    decode_bt28,
    encode_bt28,
)
from mepd.protocol.tables.bt52 import ClockFlags, UtcClock, decode_bt52, encode_bt52
from mepd.protocol.tables.et03 import UtilityInformation, decode_et03, encode_et03
from mepd.protocol.tables.et04 import SystemInformation, decode_et04, encode_et04
from mepd.protocol.tables.et11 import MfgDimensions, decode_et11, encode_et11
from mepd.protocol.tables.et13 import (
    AlertFlags,
    alert_flags_offset,
    decode_et13_alert_flags,
    encode_et13,
)
from mepd.protocol.tables.et54 import InterfaceCompatibility, decode_et54, encode_et54
from mepd.protocol.tables.et55 import (
    EnergyRegisterUnit,
    decode_et55_energy_unit,
    encode_et55,
    energy_unit_offset,
    may_have_energy_unit,
)
from mepd.protocol.tables.et70 import RamOnlyStatus, decode_et70, encode_et70
from mepd.protocol.tables.ids import (
    BT00,
    BT01,
    BT20,
    BT21,
    BT22,
    BT23,
    BT27,
    BT28,
    BT52,
    ET03,
    ET04,
    ET11,
    ET13,
    ET54,
    ET55,
    ET70,
)
from mepd.protocol.tables.measurements import Measurement, Measurements
from mepd.protocol.tables.planning import assemble, plan_bt23, plan_bt28, plan_reads
from mepd.protocol.tables.sources import (
    DEFAULT_PRESENT_VALUE_SOURCES,
    DEFAULT_SUMMATION_SOURCES,
    SOURCES,
    SOURCES_BY_NAME,
    Source,
    SourceKind,
    source_for,
    summation_source,
    unknown_source,
)
from mepd.protocol.tables.units import Unit

__all__ = [
    "BT00",
    "BT01",
    "BT20",
    "BT21",
    "BT22",
    "BT23",
    "BT27",
    "BT28",
    "BT52",
    "DEFAULT_PRESENT_VALUE_SOURCES",
    "DEFAULT_SUMMATION_SOURCES",
    "ET03",
    "ET04",
    "ET11",
    "ET13",
    "ET54",
    "ET55",
    "ET70",
    "SOURCES",
    "SOURCES_BY_NAME",
    "ActualRegister",
    "AlertFlags",
    "ClockFlags",
    "CoincidentRecord",
    "CurrentRegisterData",
    "DataSelection",
    "DemandRecord",
    "EnergyRegisterUnit",
    "FirmwareVersion",
    "GeneralConfiguration",
    "InterfaceCompatibility",
    "ManufacturerInfo",
    "Measurement",
    "Measurements",
    "MfgDimensions",
    "PresentDemand",
    "PresentRegisterData",
    "PresentRegisterSelection",
    "RamOnlyStatus",
    "RegisterBlock",
    "Source",
    "SourceKind",
    "SystemInformation",
    "TotalSummations",
    "Unit",
    "UtcClock",
    "UtilityInformation",
    "alert_flags_offset",
    "assemble",
    "bt22_size",
    "bt23_size",
    "bt27_size",
    "bt28_size",
    "decode_bt00",
    "decode_bt01",
    "decode_bt20",
    "decode_bt21",
    "decode_bt22",
    "decode_bt23",
    "decode_bt23_summations",
    "decode_bt27",
    "decode_bt28",
    "decode_bt52",
    "decode_et03",
    "decode_et04",
    "decode_et11",
    "decode_et13_alert_flags",
    "decode_et54",
    "decode_et55_energy_unit",
    "decode_et70",
    "encode_bt00",
    "encode_bt01",
    "encode_bt21",
    "encode_bt22",
    "encode_bt23",
    "encode_bt27",
    "encode_bt28",
    "encode_bt52",
    "encode_et03",
    "encode_et04",
    "encode_et11",
    "encode_et13",
    "encode_et54",
    "encode_et55",
    "encode_et70",
    "energy_unit_offset",
    "may_have_energy_unit",
    "plan_bt23",
    "plan_bt28",
    "plan_reads",
    "source_for",
    "summation_source",
    "unknown_source",
]
