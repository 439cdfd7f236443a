"""The meters' side of the benchmark, in a process of its own: N simulated gen4 meters on ptys.

`mepd simulate` runs one meter and keeps what it saw to itself; the bench needs several
meters with distinct serials and a record of every answer, so this host builds them with the
same parts (`simulated_meter`, `PtyMeter`: realistic 30-60 ms turnaround, 9600 baud pacing in
4 ms chunks, 117-byte segments 25 ms apart) and taps them without changing their behaviour:

- every request frame's arrival (the meter's clock: `time.monotonic()`), for the spacing;
- every table read the meter's `LinkStats` counts, for the read rate;
- for each BT28 answer: the sample instant (when the meter took the request and read its
  registers), the request and response sizes, the planned answer start, the physical end of
  the last byte at the baud rate, and when that last byte was actually written to the pty.

`--interface optical` serves the optical port instead (C12.18, no tap: its counters and every
table read are reported), `--fault NAME=VALUE` sets either port's fault knobs (bench/optical.py).

The first line on stdout is JSON: {"ttys": [...], "serials": [...]}. On SIGTERM or SIGINT the
host writes its JSON report to --report and exits.

Run as `python bench/simhost.py --meters N --report FILE` (bench/run.py does).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import dataclasses
import json
import resource
import signal
import sys
import time
from collections import deque
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from mepd.drivers.simulator.driver import PtyMeter  # noqa: E402
from mepd.drivers.simulator.factory import simulated_meter  # noqa: E402
from mepd.drivers.simulator.faults import parse_faults  # noqa: E402
from mepd.drivers.simulator.optical import OpticalMeterPort, optical_meter  # noqa: E402
from mepd.drivers.simulator.port import MeterPort, Transmission  # noqa: E402
from mepd.drivers.simulator.profiles import PROFILES  # noqa: E402
from mepd.protocol.timing import response_wire_seconds  # noqa: E402

BT28 = 28


def bench_profile(index: int, profile: str = "gen4") -> Any:
    """The profile with a serial of its own, so N meters get N sets of topics."""
    base = PROFILES[profile]
    return dataclasses.replace(
        base,
        serial_number=f"{base.serial_number[:-2]}{index:02d}",
        utility_serial=f"BENCH-{profile.upper()}-{index:02d}",
    )


class Tap:
    """Records one meter's traffic by wrapping four of its methods (behaviour unchanged)."""

    def __init__(self, port: MeterPort, pty: PtyMeter) -> None:
        self.port = port
        self.frames: list[float] = []
        self.reads: list[float] = []
        self.bt28: list[dict[str, Any]] = []
        self._current: dict[str, Any] | None = None
        self._pending: deque[tuple[int, dict[str, Any]]] = deque()
        self._queued = 0
        self._written = 0
        on_frame, send, read = port._on_frame, port._send, port.meter._read
        record_read, write = port.stats.record_read, pty.driver._write

        def tap_frame(body: bytes, now: float) -> list[Transmission]:
            self.frames.append(now)
            self._current = {"sample": now, "request_bytes": len(body) + 2, "table": None}
            try:
                return on_frame(body, now)
            finally:
                self._current = None

        def tap_read(request: Any, t: float, now: float) -> bytes:
            data = read(request, t, now)
            if self._current is not None:
                self._current["table"] = request.table
                if request.table == BT28:
                    truth = port.meter.history.latest(BT28)
                    if truth is not None and truth.monotonic == now:
                        self._current["power_import"] = truth.truth.forward_w
            return data

        def tap_send(frame: bytes, now: float) -> list[Transmission]:
            out = send(frame, now)
            if not out:
                return out
            self._queued += sum(len(t.data) for t in out)
            current = self._current or {}
            record = {
                **current,
                "response_bytes": len(frame),
                "answer_start": out[0].at,
                "wire_end": out[0].at + response_wire_seconds(len(frame), port.baud),
                "last_write": None,
            }
            self._pending.append((self._queued, record))
            if current.get("table") == BT28:
                self.bt28.append(record)
            return out

        def tap_record_read(now: float) -> None:
            self.reads.append(now)
            record_read(now)

        def tap_write(data: bytes) -> None:
            write(data)
            at = time.monotonic()
            self._written += len(data)
            while self._pending and self._written >= self._pending[0][0]:
                self._pending.popleft()[1]["last_write"] = at

        port._on_frame = tap_frame  # type: ignore[method-assign]
        port._send = tap_send  # type: ignore[method-assign]
        port.meter._read = tap_read  # type: ignore[method-assign]
        port.stats.record_read = tap_record_read  # type: ignore[method-assign]
        pty.driver._write = tap_write

    def report(self, serial: str) -> dict[str, Any]:
        stats = {
            field.name: getattr(self.port.stats, field.name)
            for field in dataclasses.fields(self.port.stats)
            if not field.name.startswith("_")
        }
        return {
            "serial": serial,
            "frames": self.frames,
            "reads": self.reads,
            "bt28": self.bt28,
            "stats": stats,
        }


async def serve(args: argparse.Namespace) -> dict[str, Any]:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    taps: list[tuple[str, Tap | OpticalMeterPort]] = []
    read_logs: list[list[list[float]]] = []
    faults = parse_faults(args.fault)
    async with contextlib.AsyncExitStack() as stack:
        ttys = []
        for index in range(args.meters):
            profile = bench_profile(index + 1, args.profile)
            seed, epoch, wall = args.seed + index, time.monotonic(), time.time()
            port: MeterPort | OpticalMeterPort
            if args.interface == "optical":
                port = optical_meter(
                    profile, seed=seed, epoch=epoch, start_wall=wall, faults=faults
                )
            else:
                port = simulated_meter(profile, seed=seed, epoch=epoch, start_wall=wall)
                port.set_faults(faults)
            pty = await stack.enter_async_context(PtyMeter(port))
            pty.driver._poll_interval_s = args.poll_interval
            tap = Tap(port, pty) if isinstance(port, MeterPort) else port
            taps.append((profile.utility_serial, tap))
            read_logs.append(log_reads(port))
            ttys.append(pty.path)
        print(json.dumps({"ttys": ttys, "serials": [s for s, _ in taps]}), flush=True)
        await stop.wait()
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return {
        "meters": [
            {**_report(serial, tap), "table_reads": reads}
            for (serial, tap), reads in zip(taps, read_logs, strict=True)
        ],
        "cpu_s": usage.ru_utime + usage.ru_stime,
        "poll_interval_s": args.poll_interval,
    }


def log_reads(port: MeterPort | OpticalMeterPort) -> list[list[float]]:
    """[host monotonic, table, offset] of every table read the meter answers, either port
    (wraps one method, behaviour unchanged): where a reading's parts begin (bench/optical.py)."""
    log: list[list[float]] = []
    if isinstance(port, MeterPort):
        meter, read = port.meter, port.meter._read

        def tap_read(request: Any, t: float, now: float) -> bytes:
            log.append([now, request.table, getattr(request, "offset", 0)])
            return read(request, t, now)

        meter._read = tap_read  # type: ignore[method-assign]
        return log
    services, serve = port.services, port.services.serve

    def tap_serve(message: bytes, now: float) -> bytes:
        if message[:1] in (b"\x30", b"\x3f") and len(message) >= 3:  # read full / partial
            offset = int.from_bytes(message[3:6], "big") if len(message) >= 6 else 0
            log.append([now, int.from_bytes(message[1:3], "big"), offset])
        return serve(message, now)

    services.serve = tap_serve  # type: ignore[method-assign]
    return log


def _report(serial: str, tap: Tap | OpticalMeterPort) -> dict[str, Any]:
    """The tap's report (MEP), or the optical port's counters; both with every BT23/BT28
    answer the meter served: [host monotonic, table, forward W] (bench/optical.py)."""
    if isinstance(tap, Tap):
        port: MeterPort | OpticalMeterPort = tap.port
        report = tap.report(serial)
    else:
        port = tap
        report = {"serial": serial, "stats": _fields(port.stats), "optical": _fields(port.optical)}
    served = [[r.monotonic, r.table, r.truth.forward_w] for r in port.meter.history]
    return {**report, "served": served}


def _fields(stats: Any) -> dict[str, Any]:
    return {
        field.name: getattr(stats, field.name)
        for field in dataclasses.fields(stats)
        if not field.name.startswith("_")
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--meters", type=int, default=1)
    parser.add_argument("--profile", choices=sorted(PROFILES), default="gen4")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--interface", choices=("mep", "optical"), default="mep")
    parser.add_argument(
        "--fault", action="append", default=[], help="NAME=VALUE, as `mepd simulate --fault`"
    )
    parser.add_argument(
        "--poll-interval",
        type=float,
        default=0.005,
        help="the simulator's timer tick (latch-up, alerts, partial frames); default as mepd's",
    )
    parser.add_argument("--report", required=True, help="JSON report written on SIGTERM")
    args = parser.parse_args()
    report = asyncio.run(serve(args))
    Path(args.report).write_text(json.dumps(report))
    return 0


if __name__ == "__main__":
    sys.exit(main())
