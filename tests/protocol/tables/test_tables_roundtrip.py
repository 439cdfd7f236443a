"""Encode then decode gives back what was encoded, for every table (the simulator relies on it)."""

from __future__ import annotations

from datetime import datetime

from hypothesis import given
from hypothesis import strategies as st

from mepd.protocol.errors import DecodeError
from mepd.protocol.tables import (
    ActualRegister,
    ClockFlags,
    FirmwareVersion,
    GeneralConfiguration,
    ManufacturerInfo,
    MfgDimensions,
    PresentRegisterSelection,
    RamOnlyStatus,
    SystemInformation,
    UtcClock,
    UtilityInformation,
    bt22_size,
    bt23_size,
    bt27_size,
    bt28_size,
    decode_bt00,
    decode_bt01,
    decode_bt21,
    decode_bt22,
    decode_bt23,
    decode_bt23_summations,
    decode_bt27,
    decode_bt28,
    decode_bt28_values,
    decode_bt52,
    decode_et03,
    decode_et04,
    decode_et11,
    decode_et70,
    encode_bt00,
    encode_bt01,
    encode_bt21,
    encode_bt22,
    encode_bt23,
    encode_bt27,
    encode_bt28,
    encode_bt52,
    encode_et03,
    encode_et04,
    encode_et11,
    encode_et70,
    plan_bt28_values,
)
from mepd.protocol.tables.et11 import ET11_SIZE
from tests.protocol.tables.strategies_tables import (
    UINT8,
    actual_registers,
    current_register_data,
    data_selections,
    ltime_dates,
    present_register_data,
)

# Names as a meter pads them: no NULs, no surrounding blanks.
names = st.text(st.characters(min_codepoint=0x21, max_codepoint=0x7E), max_size=4)
model_names = st.text(st.characters(min_codepoint=0x21, max_codepoint=0x7E), max_size=8)


@given(
    flags=st.tuples(*(st.booleans() for _ in range(2))),
    small=st.tuples(st.integers(0, 7), st.integers(0, 7), st.integers(0, 3), st.integers(0, 3)),
    ni=st.tuples(st.integers(0, 15), st.integers(0, 15)),
    manufacturer=names,
    tail=st.tuples(*(UINT8 for _ in range(12))),
    reserved=st.binary(max_size=20),
)
def test_bt00(
    flags: tuple[bool, bool],
    small: tuple[int, int, int, int],
    ni: tuple[int, int],
    manufacturer: str,
    tail: tuple[int, int, int, int, int, int, int, int, int, int, int, int],  # standard_version..
    reserved: bytes,
) -> None:
    config = GeneralConfiguration(flags[0], small[0], small[1], small[2], flags[1], small[3],
                                  ni[0], ni[1], manufacturer, *tail, reserved=reserved)  # fmt: skip
    encoded = encode_bt00(config)
    assert len(encoded) == 19 + len(reserved)
    assert decode_bt00(encoded) == config


def test_bt00_problems_flags_what_mepd_cannot_read() -> None:
    good = GeneralConfiguration(False, 1, 2, 1, False, 0, 8, 8, "NES", 2, 0, 255, 12, 1, 0,
                                10, 13, 2, 12, 9, 2)  # fmt: skip
    assert good.problems() == ()
    assert decode_bt00(encode_bt00(good)).problems() == ()
    msb = GeneralConfiguration(True, 1, 2, 1, False, 0, 8, 4, "NES", 2, 0, 255, 12, 1, 0,
                               10, 13, 2, 12, 9, 2)  # fmt: skip
    assert len(msb.problems()) == 2


@given(
    manufacturer=names,
    model=model_names,
    hw=st.tuples(UINT8, UINT8),
    fw=st.builds(FirmwareVersion, st.integers(0, 15), st.integers(0, 127), st.integers(0, 31)),
    serial=st.one_of(st.none(), st.binary(min_size=8, max_size=8).map(lambda b: b.hex().upper())),
)
def test_bt01(
    manufacturer: str, model: str, hw: tuple[int, int], fw: FirmwareVersion, serial: str | None
) -> None:
    info = ManufacturerInfo(manufacturer, model, hw[0], hw[1], fw, serial)
    encoded = encode_bt01(info)
    assert len(encoded) == (16 if serial is None else 24)
    assert decode_bt01(encoded) == info
    assert FirmwareVersion.from_packed(fw.packed) == fw


@given(actual_registers(max_summations=255, max_present_values=255, max_tiers=255))
def test_bt21(dims: ActualRegister) -> None:
    encoded = encode_bt21(dims)
    assert len(encoded) == 10
    assert decode_bt21(encoded) == dims


@given(st.data())
def test_bt22(data: st.DataObject) -> None:
    dims = data.draw(actual_registers(max_summations=40))
    selection = data.draw(data_selections(dims))
    encoded = encode_bt22(selection)
    assert len(encoded) == bt22_size(dims)
    assert decode_bt22(encoded, dims) == selection


@given(st.data())
def test_bt23(data: st.DataObject) -> None:
    dims = data.draw(actual_registers(max_tiers=3))
    selection = data.draw(st.one_of(st.none(), data_selections(dims)))
    contents = data.draw(current_register_data(dims, selection))
    encoded = encode_bt23(contents, dims)
    assert len(encoded) == bt23_size(dims)
    assert decode_bt23(encoded, dims, selection) == contents
    # Every prefix the planner can ask for decodes to the same leading summations.
    k = data.draw(st.integers(0, dims.summations))
    prefix = encoded[: (1 if dims.demand_reset_counter else 0) + 4 * k]
    reading = decode_bt23_summations(prefix, dims, selection)
    assert reading.demand_resets == contents.demand_resets
    assert reading.summations.items == contents.total.summations.items[:k]


@given(st.data())
def test_bt27(data: st.DataObject) -> None:
    dims = data.draw(actual_registers(max_present_values=255))
    demands = tuple(data.draw(st.lists(UINT8, min_size=dims.present_demands,
                                       max_size=dims.present_demands)))  # fmt: skip
    values = tuple(data.draw(st.lists(UINT8, min_size=dims.present_values,
                                      max_size=dims.present_values)))  # fmt: skip
    selection = PresentRegisterSelection(values, demands)
    encoded = encode_bt27(selection)
    assert len(encoded) == bt27_size(dims)
    assert decode_bt27(encoded, dims) == selection
    # The values alone, read at offset BT21.8.
    tail = decode_bt27(encoded[dims.present_demands :], dims, offset=dims.present_demands)
    # With no present demands, offset BT21.8 is 0: the whole (demand-less) table.
    assert tail == PresentRegisterSelection(values, None if dims.present_demands else ())


@given(st.data())
def test_bt28(data: st.DataObject) -> None:
    dims = data.draw(actual_registers(max_present_values=90))
    selection = None
    if data.draw(st.booleans()):
        selection = PresentRegisterSelection(
            tuple(data.draw(st.lists(UINT8, min_size=dims.present_values,
                                     max_size=dims.present_values))),
            tuple(data.draw(st.lists(UINT8, min_size=dims.present_demands,
                                     max_size=dims.present_demands))),
        )  # fmt: skip
    elif dims.present_values > 84:
        dims = ActualRegister(**{**dims.__dict__, "present_values": 84})
    contents = data.draw(present_register_data(dims, selection))
    encoded = encode_bt28(contents, dims)
    assert len(encoded) == bt28_size(dims)
    assert decode_bt28(encoded, dims, selection) == contents
    # Any run of values alone, as a piece read gets it (a noisy line, engine/present.py).
    if dims.present_values:
        first = data.draw(st.integers(0, dims.present_values - 1))
        count = data.draw(st.integers(1, min(8, dims.present_values - first)))
        read = plan_bt28_values(dims, first, count)
        piece = decode_bt28_values(
            encoded[read.offset : read.offset + read.count], dims, selection, first, count
        )
        assert piece.items == contents.values.items[first : first + count]


@given(
    moment=ltime_dates,
    flags=st.one_of(
        st.none(),
        st.builds(ClockFlags, st.integers(0, 7), st.booleans(), st.booleans(), st.booleans(),
                  st.booleans()),
    ),
)  # fmt: skip
def test_bt52(moment: datetime, flags: ClockFlags | None) -> None:
    clock = UtcClock(moment, flags)
    encoded = encode_bt52(clock)
    assert len(encoded) == (6 if flags is None else 7)
    assert decode_bt52(encoded) == clock


@given(
    serial=st.text(st.characters(min_codepoint=0x20, max_codepoint=0xFF), max_size=30).filter(
        lambda text: text == text.strip()
    ),
    crc=st.one_of(st.none(), st.integers(0, 0xFFFF)),
)
def test_et03(serial: str, crc: int | None) -> None:
    info = UtilityInformation(serial, crc)
    encoded = encode_et03(info)
    assert len(encoded) == (30 if crc is None else 143)
    assert decode_et03(encoded) == info


@given(
    raw=st.tuples(UINT8, UINT8, st.integers(0, 0xFFFF), st.integers(0, 0xFFFF),
                  st.integers(0, 0xFFFF), UINT8, UINT8),
    program_id=st.binary(min_size=8, max_size=8),
    window=st.tuples(st.integers(0, 127), st.integers(1, 128)),
)  # fmt: skip
def test_et04(
    raw: tuple[int, int, int, int, int, int, int], program_id: bytes, window: tuple[int, int]
) -> None:
    frequency, te, registration, max_current, voltage, idt, security = raw
    info = SystemInformation(float(frequency), program_id, te, registration / 1000,
                             float(max_current), float(voltage), idt, security)  # fmt: skip
    encoded = encode_et04(info)
    assert decode_et04(encoded) == info
    assert decode_et04(encoded[116:117], offset=116) == SystemInformation(idt_version=idt)
    # Any window decodes exactly the fields that lie wholly inside it.
    start, length = window
    part = encoded[start : start + length]
    try:
        partial = decode_et04(part, offset=start)
    except DecodeError:
        return  # the window holds none of the fields
    for name, value in vars(partial).items():
        assert value is None or value == getattr(info, name)


@given(st.lists(st.integers(0, 0xFFFF), min_size=25, max_size=25))
def test_et11(values: list[int]) -> None:
    from mepd.protocol.tables.et11 import _LAYOUT  # the table's own field list

    fields = {
        name: value % (1 << (8 * size))
        for (name, (_, size)), value in zip(_LAYOUT.items(), values, strict=True)
    }
    dims = MfgDimensions(**fields)
    encoded = encode_et11(dims)
    assert len(encoded) == ET11_SIZE
    assert decode_et11(encoded) == dims
    assert decode_et11(encoded[34:35], offset=34) == MfgDimensions(
        mep_channel_count=fields["mep_channel_count"]
    )


@given(UINT8)
def test_et70(channel: int) -> None:
    encoded = encode_et70(RamOnlyStatus(channel))
    assert len(encoded) == 156
    assert decode_et70(encoded) == RamOnlyStatus(channel)
    assert decode_et70(encoded[142:143], offset=142) == RamOnlyStatus(channel)
