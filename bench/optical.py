"""The optical port against the MEP port, side by side: freshness of power, bytes per reading.

    .venv/bin/python bench/optical.py [--seconds 60] [--profiles gen3,gen4] [--json out.json]

Each case is bench/run.py's machinery for one meter: a real Mosquitto (bench/broker.py), the
simulator on a real pty in a process of its own (bench/simhost.py, `--interface optical` for
the optical port), `python -m mepd run` with a generated configuration, and the bench's paho
subscriber (bench/subscriber.py). Cases: {MEP, optical} x profiles x {clean line, fault mix}.

Figures (CLOCK_MONOTONIC in every process):
- age: subscriber's arrival of a present payload - the instant the meter answered the first
  read of the BT28 reading it carries (a reading the optical port splits into several reads
  is as old as its first part); p50 / p99.
- gap: between two successive present payloads at the subscriber; p50 / p99 / max.
- bytes per reading: the simulator's own line counters (`LinkStats.bytes_by_table`: every
  byte in and out while it served that table: requests, answers, resends, ACK/NAK), divided
  by the readings published (energy: distinct read times, so a replay is not a reading).
  The optical session's own services (Identify ... Terminate) are counted apart, per session.
"""

from __future__ import annotations

import argparse
import bisect
import itertools
import json
import math
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench.analysis import percentile  # noqa: E402
from bench.broker import Broker, find_mosquitto  # noqa: E402
from bench.processes import SimHost, start_daemon, stop_daemon, write_config  # noqa: E402
from bench.subscriber import Received, Subscriber  # noqa: E402

BT23, BT28 = 23, 28
NOT_A_READ = "-1"  # mepd.drivers.simulator.stats.NOT_A_READ, as a JSON key
FIRST_PUBLISH_TIMEOUT_S = 40.0
WARMUP_S = 3.0
# Both ports' knobs: line noise both ways and answers lost; the optical port's own: a good
# packet NAKed by the meter, `bsy` instead of a read's answer (mepd simulate --fault).
LINE_FAULTS = (
    "tx_corrupt_rate=0.001",
    "rx_corrupt_rate=0.001",
    "tx_drop_rate=0.0005",
    "rx_drop_rate=0.0005",
    "lose_response_rate=0.02",
)
OPTICAL_FAULTS = ("nak_rate=0.02", "busy_rate=0.02")


@dataclass(frozen=True)
class Case:
    interface: str
    profile: str
    faults: bool

    @property
    def name(self) -> str:
        return f"{self.interface} {self.profile} {'faults' if self.faults else 'clean'}"

    def simhost_options(self) -> tuple[str, ...]:
        faults = (*LINE_FAULTS, *OPTICAL_FAULTS) if self.interface == "optical" else LINE_FAULTS
        chosen = faults if self.faults else ()
        options = ("--profile", self.profile, "--interface", self.interface)
        return options + tuple(arg for fault in chosen for arg in ("--fault", fault))


def run_case(case: Case, seconds: float, keep: bool) -> dict[str, Any]:
    tmp = Path(tempfile.mkdtemp(prefix="mepd-bench-optical-"))
    broker = Broker(tmp / "broker")
    broker.start()
    sim: SimHost | None = None
    daemon: subprocess.Popen[str] | None = None
    subscriber = Subscriber(broker.port).start()
    try:
        sim = SimHost.start(1, tmp, 0.005, options=case.simhost_options())
        options = ('interface = "optical"',) if case.interface == "optical" else ()
        config = write_config(tmp / "config", sim.ttys, broker.port, meter_options=options)
        daemon = start_daemon(config, (tmp / "daemon.log").open("w"))
        if subscriber.wait_for(_present, within_s=FIRST_PUBLISH_TIMEOUT_S) is None:
            tail = (tmp / "daemon.log").read_text().strip().splitlines()[-5:]
            raise RuntimeError(f"{case.name}: no present payload: " + " | ".join(tail))
        time.sleep(WARMUP_S)
        start = time.monotonic()
        time.sleep(seconds)
        end = time.monotonic()
        stop_daemon(daemon)
        daemon = None
        report = sim.stop()["meters"][0]
        sim = None
        return {"case": case.name, **figures(subscriber.messages, report, start, end)}
    finally:
        subscriber.stop()
        if daemon is not None:
            stop_daemon(daemon)
        if sim is not None and sim.process.poll() is None:
            sim.stop()
        broker.stop()
        if not keep:
            import shutil  # noqa: PLC0415

            shutil.rmtree(tmp, ignore_errors=True)


def _present(message: Received) -> bool:
    return message.topic.endswith("/present") and not message.retain


def _energy(message: Received) -> bool:
    return message.topic.endswith("/energy") and not message.retain


def figures(
    messages: list[Received], report: dict[str, Any], start: float, end: float
) -> dict[str, Any]:
    """Ages and gaps inside [start, end]; bytes per reading over the whole run."""
    reads = [r for r in report["table_reads"] if int(r[1]) == BT28]
    first_offset = min((int(r[2]) for r in reads), default=0)
    starts = [float(r[0]) for r in reads if int(r[2]) == first_offset]
    presents = [m for m in messages if _present(m)]
    ages = []
    for message in presents:
        index = bisect.bisect_left(starts, message.at) - 1
        if start <= message.at <= end and index >= 0:
            ages.append(message.at - starts[index])
    arrivals = [m.at for m in presents if start <= m.at <= end]
    gaps = [b - a for a, b in itertools.pairwise(arrivals)]
    energy_times = {json.loads(m.payload).get("ts") for m in messages if _energy(m)}
    traffic = report["stats"]["bytes_by_table"]
    sessions = report.get("optical", {}).get("sessions", 0)

    def per(table: str, readings: int) -> tuple[float, float]:
        received, sent = traffic.get(table, [0, 0])
        if not readings:
            return math.nan, math.nan
        # the meter's received bytes are the client's requests; its sent bytes the answers
        return received / readings, sent / readings

    return {
        "age_p50": percentile(ages, 50),
        "age_p99": percentile(ages, 99),
        "gap_p50": percentile(gaps, 50),
        "gap_p99": percentile(gaps, 99),
        "gap_max": max(gaps, default=math.nan),
        "present_per_min": len(arrivals) * 60 / (end - start),
        "bt28": per(str(BT28), len(presents)),
        "bt23": per(str(BT23), len(energy_times)),
        "session": per(NOT_A_READ, sessions) if sessions else (math.nan, math.nan),
        "sessions": sessions,
        "readings": len(presents),
        "energy_readings": len(energy_times),
        "bytes": [report["stats"]["bytes_received"], report["stats"]["bytes_sent"]],
        "optical": report.get("optical", {}),
    }


def render(rows: list[dict[str, Any]], seconds: float) -> str:
    def ms(value: float) -> str:
        return "-" if math.isnan(value) else f"{value * 1000:.0f}"

    def pair(values: tuple[float, float]) -> str:
        out, into = values
        return "-" if math.isnan(out) else f"{out:.0f} / {into:.0f}"

    head = (
        f"| case ({seconds:g} s) | age p50 ms | age p99 ms | gap p50 ms | gap p99 ms | gap max ms "
        "| present/min | BT28 bytes out / in | BT23 bytes out / in | session bytes out / in "
        "(sessions) |"
    )
    lines = [head, "|" + "---|" * 10]
    for row in rows:
        if "error" in row:
            lines.append(f"| {row['case']} | {row['error']} |" + " |" * 8)
            continue
        session = pair(row["session"]) + f" ({row['sessions']})" if row["sessions"] else "-"
        lines.append(
            f"| {row['case']} | {ms(row['age_p50'])} | {ms(row['age_p99'])} "
            f"| {ms(row['gap_p50'])} | {ms(row['gap_p99'])} | {ms(row['gap_max'])} "
            f"| {row['present_per_min']:.1f} | {pair(row['bt28'])} | {pair(row['bt23'])} "
            f"| {session} |"
        )
    lines.append(
        "bytes out = sent by mepd (requests, ACK/NAK, resends), in = sent by the meter, "
        "per published reading; counted by the simulator."
    )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="bench/optical.py", description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=60.0, help="measured seconds per case")
    parser.add_argument("--profiles", default="gen3,gen4", help="e.g. gen3,gen4")
    parser.add_argument("--interfaces", default="mep,optical")
    parser.add_argument("--no-faults", action="store_true", help="clean line only")
    parser.add_argument("--json", type=Path, help="also write every figure to this file")
    parser.add_argument("--keep", action="store_true", help="keep the temporary directories")
    args = parser.parse_args(argv)
    if find_mosquitto() is None:
        print("bench: mosquitto is not installed (apt-get install mosquitto)", file=sys.stderr)
        return 1
    rows = []
    for faults in (False,) if args.no_faults else (False, True):
        for profile in args.profiles.split(","):
            for interface in args.interfaces.split(","):
                case = Case(interface, profile, faults)
                print(f"bench: {case.name}", file=sys.stderr)
                try:
                    rows.append(run_case(case, args.seconds, args.keep))
                except RuntimeError as error:
                    rows.append({"case": case.name, "error": str(error)[:200]})
    print(render(rows, args.seconds))
    if args.json:
        args.json.write_text(json.dumps(rows, indent=2, default=str))
    return 0


if __name__ == "__main__":
    sys.exit(main())
