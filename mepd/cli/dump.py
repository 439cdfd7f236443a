"""`mepd dump TABLE`: one table's verified bytes, in hex and decoded (table_dump.py)."""

from __future__ import annotations

import argparse
from typing import Any

from mepd.cli.common import EXIT_OK, add_meter_argument, apply_log_level, choose_meter, make_control
from mepd.config.overrides import METER_OPTIONS, add_interface_argument, add_override_arguments
from mepd.text import printable


def register(subparsers: Any) -> None:
    dump = subparsers.add_parser(
        "dump",
        help="print one table of the meter in hex and decoded",
        description=(
            "Read TABLE (BT28, ET03, or a number such as 2051) and print its verified bytes "
            "and, where mepd has a decoder, its fields with units."
        ),
    )
    dump.add_argument(
        "table", metavar="TABLE", type=_table_argument, help="BTnn, ETnn or a table number"
    )
    dump.add_argument("--offset", type=int, default=0, help="first byte to read (default 0)")
    dump.add_argument("--count", type=int, default=None, help="bytes to read (default: all)")
    add_override_arguments(dump, METER_OPTIONS)
    add_interface_argument(dump)
    add_meter_argument(dump)
    dump.set_defaults(handler=_dump)


def _table_argument(text: str) -> int:
    """The table number; a name that is no table is a malformed command line (exit 2)."""
    from mepd.cli.table_dump import parse_table  # noqa: PLC0415 - the protocol only when used
    from mepd.errors import ConfigError  # noqa: PLC0415

    try:
        return parse_table(text)
    except ConfigError as error:
        raise argparse.ArgumentTypeError(str(error)) from None


def _dump(args: argparse.Namespace) -> int:
    import asyncio  # noqa: PLC0415 - the event loop only when the command runs

    from mepd.cli.table_dump import describe, dump_table, hex_lines, table_name  # noqa: PLC0415
    from mepd.config.load import config_from_args  # noqa: PLC0415
    from mepd.drivers.serial import SerialPort  # noqa: PLC0415

    table: int = args.table
    config = config_from_args(args)
    apply_log_level(config, args)
    meter = choose_meter(config, args.meter)
    key = meter.settings().key
    dump = asyncio.run(
        dump_table(
            SerialPort(meter.port, meter.baud, ir_head=meter.interface == "optical"),
            make_control(meter),
            key,
            table,
            offset=args.offset,
            count=args.count,
            encrypt=meter.encrypt,
            interface=meter.interface,
        )
    )
    print(f"{table_name(table)} (table {table}), {len(dump.data)} bytes from offset {dump.offset}:")
    print("\n".join(hex_lines(dump.data, dump.offset)) or "(no bytes)")
    if dump.decoded is not None:
        print("decoded:")
        print("\n".join(printable(line) for line in describe(dump.decoded, "  ")))
    elif dump.note:
        print(f"not decoded: {printable(dump.note)}")
    return EXIT_OK
