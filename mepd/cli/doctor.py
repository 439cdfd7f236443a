"""`mepd doctor`: every check between a fresh Pi and a working gateway, each with its fix.

The host checks (UART, console, Bluetooth: `doctor_pi`; device permissions: `doctor_access`;
key file: `doctor_key`) read files only; this module adds what needs the network or the
meter (the configuration, the broker and its credentials, Home Assistant's birth message, a
test read) and prints each check as it completes. Exit 0 when nothing failed, 1 otherwise;
warnings pass. The test read starts with the broker checks and runs beside them, so a doctor
whose checks all answer is done in a few seconds (issue 15: at most 6).
"""

from __future__ import annotations

import argparse
import os
from collections.abc import AsyncIterator, Iterable, Iterator
from typing import TYPE_CHECKING, Any, TextIO

from mepd.cli.doctor_checks import KEY_FILE, SERVICE_USER, Check, Level
from mepd.config.overrides import add_interface_argument, add_override_arguments
from mepd.errors import ConfigError, MepdError
from mepd.text import printable

if TYPE_CHECKING:
    from mepd.config.resolved import Config, MeterConfig
    from mepd.settings import DiscoverySettings, MqttSettings

EXIT_OK = 0
EXIT_FAILED = 1
BROKER_TIMEOUT_S = 5.0
BIRTH_WAIT_S = 1.5
READ_TIMEOUT_S = 30.0


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "doctor",
        help="check the Pi, the permissions, the key, the broker and the meter; print fixes",
        description=(
            "Check everything mepd needs, in the order you would fix it: the UART and what may "
            "hold it (serial console, Bluetooth), device permissions for the service user, the "
            "key, the MQTT broker and credentials, Home Assistant's birth message, and a test "
            "read. Every failure comes with the command or edit that fixes it."
        ),
    )
    add_override_arguments(parser)
    add_interface_argument(parser)
    parser.add_argument(
        "--user", default=SERVICE_USER, help=f"the service's user (default {SERVICE_USER})"
    )
    parser.add_argument("--no-read", action="store_true", help="skip the test read of the meter")
    parser.add_argument("--root", default="/", help=argparse.SUPPRESS)  # a fake Pi, for tests
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    import asyncio  # noqa: PLC0415 - the event loop only when the command runs
    import logging  # noqa: PLC0415
    import sys  # noqa: PLC0415

    if not args.verbose:
        # The checks say what the logs would, once and with a fix; -v shows the logs too.
        logging.getLogger().setLevel(logging.CRITICAL)
    return asyncio.run(_stream(_checks(args), sys.stdout))


def report(checks: Iterable[Check], out: TextIO) -> int:
    failed = 0
    for check in checks:
        failed += _print_check(check, out)
    return _summary(failed, out)


async def _stream(checks: AsyncIterator[Check], out: TextIO) -> int:
    """Print each check the moment it is known, not all of them at the end."""
    failed = 0
    async for check in checks:
        failed += _print_check(check, out)
    return _summary(failed, out)


def _print_check(check: Check, out: TextIO) -> bool:
    """Print one check with its fix; True if it failed."""
    mark = {Level.OK: "ok  ", Level.WARN: "warn", Level.FAIL: "FAIL"}[check.level]
    # A detail may quote the broker, the meter or a file: escaped (issue 18, item 8).
    print(f"{mark} {check.name}: {printable(check.detail)}", file=out)
    if check.fix and check.level is not Level.OK:
        for line in check.fix.splitlines():
            print(f"     fix: {printable(line)}", file=out)
    out.flush()
    return check.level is Level.FAIL


def _summary(failed: int, out: TextIO) -> int:
    print(f"{failed} problem(s) found" if failed else "no problems found", file=out)
    return EXIT_FAILED if failed else EXIT_OK


async def _checks(args: argparse.Namespace) -> AsyncIterator[Check]:
    import asyncio  # noqa: PLC0415

    loaded: list[Check] = []
    config, key_problem = _load(args, loaded)
    for check in loaded:
        yield check
    if config is None:
        return
    for meter in config.meters:
        for check in _host_checks(meter, args, key_problem):
            yield check
    # The meter does not need the broker: its read runs beside the broker checks.
    reads = (
        [asyncio.create_task(read_check(meter)) for meter in config.meters]
        if not args.no_read and key_problem is None
        else []
    )
    try:
        broker = await broker_check(config.mqtt)
        yield broker
        if broker.level is not Level.FAIL and config.discovery.enabled:
            yield await birth_check(config.mqtt, config.discovery)
        for read in reads:
            yield await read
    finally:
        for read in reads:
            read.cancel()


def _load(args: argparse.Namespace, checks: list[Check]) -> tuple[Config | None, str | None]:
    """The configuration; a key that cannot be read is a finding, not the end of the checks."""
    from mepd.config.load import config_from_args  # noqa: PLC0415 - pydantic only when run

    try:
        config = config_from_args(args)
    except ConfigError as error:
        try:
            config = config_from_args(args, require_key=False)
        except ConfigError:
            checks.append(
                Check(
                    "configuration",
                    Level.FAIL,
                    str(error),
                    "edit the file as the message says; `mepd check-config FILE` re-checks it",
                )
            )
            return None, None
        checks.append(_described_config(config))
        checks.append(Check("key", Level.FAIL, str(error), _key_fix()))
        return config, str(error)
    checks.append(_described_config(config))
    return config, None


def _described_config(config: Config) -> Check:
    where = str(config.source) if config.source else "built-in defaults (no configuration file)"
    level = Level.OK if config.source else Level.WARN
    fix = None if config.source else "sudo scripts/install, or copy config.example.toml there"
    return Check("configuration", level, f"{where}, {len(config.meters)} meter(s)", fix)


def _key_fix() -> str:
    return (
        "put the MEP Basic Key your utility gave you in /etc/mepd/mbk as they wrote it, "
        "then: sudo chown root:root /etc/mepd/mbk && sudo chmod 600 /etc/mepd/mbk"
    )


def _host_checks(
    meter: MeterConfig, args: argparse.Namespace, key_problem: str | None
) -> Iterator[Check]:
    from mepd.cli.doctor_access import check_device_access, check_gpio_access  # noqa: PLC0415
    from mepd.cli.doctor_pi import uart_checks, uses_pi_uart  # noqa: PLC0415

    if uses_pi_uart(meter.port, args.root):
        yield from uart_checks(args.root)
    yield check_device_access(meter.port, args.user, root=args.root)
    if meter.gpio is not None:
        yield check_gpio_access(args.user, root=args.root)
    if key_problem is None:
        # Loaded with require_key: the key was read and parsed. Say only where it came from.
        yield Check("key", Level.OK, f"meter {meter.name}: a valid key from {meter.key_origin}")


def all_host_checks(
    *,
    port: str = "/dev/mep0",
    user: str = SERVICE_USER,
    root: str | os.PathLike[str] = "/",
    key_file: str | None = KEY_FILE,
) -> Iterator[Check]:
    """Every host check for one port, in the order a person would fix them (no configuration)."""
    from mepd.cli.doctor_access import check_device_access, check_gpio_access  # noqa: PLC0415
    from mepd.cli.doctor_key import check_key_file  # noqa: PLC0415
    from mepd.cli.doctor_pi import uart_checks, uses_pi_uart  # noqa: PLC0415

    if uses_pi_uart(port, root):
        yield from uart_checks(root)
    yield check_device_access(port, user, root=root)
    yield check_gpio_access(user, root=root)
    if key_file is not None:
        yield check_key_file(key_file, root=root)


async def broker_check(mqtt: MqttSettings) -> Check:
    from mepd.publish.client import MqttConnection  # noqa: PLC0415
    from mepd.service.daemon import describe_broker  # noqa: PLC0415

    connection = MqttConnection(mqtt, f"mepd-doctor-{os.getpid()}")
    await connection.start()
    try:
        connected = await connection.wait_connected(BROKER_TIMEOUT_S)
        problem = connection.problem
    finally:
        await connection.stop()
    where = describe_broker(mqtt)
    if connected:
        return Check("MQTT broker", Level.OK, f"{where} accepts mepd's credentials")
    return Check(
        "MQTT broker",
        Level.FAIL,
        problem or f"no answer from {where} within {BROKER_TIMEOUT_S:.0f} s",
        "check [mqtt] host, port, username and password (or --mqtt); on the broker's host: "
        "sudo systemctl status mosquitto",
    )


async def birth_check(mqtt: MqttSettings, discovery: DiscoverySettings) -> Check:
    """Is HA's birth message retained? If not, mepd only hears it when HA (re)starts."""
    import asyncio  # noqa: PLC0415

    from mepd.publish.client import MqttConnection  # noqa: PLC0415

    heard: list[tuple[bytes, bool]] = []
    connection = MqttConnection(
        mqtt,
        f"mepd-doctor-birth-{os.getpid()}",
        subscriptions=(discovery.status_topic,),
        on_message=lambda _topic, payload, retained: heard.append((payload, retained)),
    )
    await connection.start()
    try:
        await connection.wait_connected(BROKER_TIMEOUT_S)
        await asyncio.sleep(BIRTH_WAIT_S)
    finally:
        await connection.stop()
    retained = [payload for payload, was_retained in heard if was_retained]
    name = "Home Assistant birth message"
    if retained:
        return Check(
            name,
            Level.OK,
            f"{discovery.status_topic} is retained ({retained[-1].decode(errors='replace')})",
        )
    return Check(
        name,
        Level.WARN,
        f"nothing retained on {discovery.status_topic}: mepd re-announces its devices when "
        "Home Assistant starts, and on every reconnect, so this is fine unless Home "
        "Assistant's MQTT integration uses another birth topic",
        "in Home Assistant: Settings > Devices & services > MQTT > Configure > "
        f"birth message topic {discovery.status_topic}, payload online (retain optional)",
    )


async def read_check(meter: MeterConfig) -> Check:
    from mepd.cli.common import make_control  # noqa: PLC0415
    from mepd.cli.meter_probe import probe  # noqa: PLC0415
    from mepd.drivers.serial import SerialPort  # noqa: PLC0415

    name = f"test read ({meter.name} on {meter.port})"
    try:
        result = await probe(
            meter.settings(keep_state=False),
            SerialPort(meter.port, meter.baud, ir_head=meter.interface == "optical"),
            make_control(meter),
            timeout_s=READ_TIMEOUT_S,
            offers=False,  # only whether the meter reads
        )
    except MepdError as error:
        return Check(name, Level.FAIL, str(error), _port_fix(str(error)))
    power = result.present.values.get("power_import")
    shown = f", {power.value:g} W import" if power else ""
    return Check(
        name,
        Level.OK,
        f"meter {result.identity.serial} ({result.identity.manufacturer} "
        f"{result.identity.model}, firmware {result.identity.firmware}) answers "
        + (
            "through the optical port (ANSI C12.18) with the optical password"
            if result.identity.interface == "optical"
            else f"in {result.identity.security.upper()} mode with the MEP key"
        )
        + shown,
    )


def _port_fix(message: str) -> str:
    if "in use" in message:
        return "a running mepd holds the port: sudo systemctl stop mepd, then run doctor again"
    if "rejected the key" in message:
        return _key_fix()
    return (
        "check the cable and that the meter's MEP port is enabled by your utility; "
        "`mepd -v probe` shows every exchange"
    )
