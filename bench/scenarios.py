"""The scenarios: steady polling of N meters (with start-up, strace and a broker restart),
the MQTT loopback baseline, and the in-process latch-up run."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench import analysis, procstat
from bench.broker import Broker
from bench.processes import (
    BENCH,
    ROOT,
    Rig,
    child_env,
    start_daemon,
    stop_daemon,
    strace_count,
)
from bench.subscriber import Received, Subscriber, loopback_latency

FIRST_PUBLISH_TIMEOUT_S = 30.0
WARMUP_S = 3.0  # after every meter's first publish: imports and start-up reads are done


@dataclass(frozen=True)
class Options:
    seconds: float
    strace_s: float
    broker_restart: bool
    poll_interval_s: float
    keep: bool = False
    broker_nodelay: bool = True


def _present_topic(serial: str) -> str:
    return f"mepd/meter/{serial}/present"


def _is_present(message: Received) -> bool:
    return message.topic.endswith("/present")


def baseline(seconds_budget: float = 3.0) -> dict[str, Any]:
    """Publish -> broker -> subscriber on loopback: the broker's share of every figure."""
    with tempfile.TemporaryDirectory(prefix="mepd-bench-") as tmp, Broker(Path(tmp)) as broker:
        count = max(50, int(seconds_budget / 0.01))
        return analysis.summary(loopback_latency(broker.port, count=count))


def steady(meters: int, options: Options) -> dict[str, Any]:
    """One daemon process polling `meters` simulated meters; everything the table needs."""
    tmp = Path(tempfile.mkdtemp(prefix=f"mepd-bench-{meters}m-"))
    rig = Rig(meters, tmp, options.poll_interval_s, broker_nodelay=options.broker_nodelay)
    broker, sim = rig.broker, rig.sim
    daemon_log = (tmp / "daemon.log").open("w")
    subscriber = Subscriber(broker.port).start()
    daemon: subprocess.Popen[str] | None = None
    result: dict[str, Any] = {"meters": meters, "serials": sim.serials}
    try:
        spawned = time.monotonic()
        daemon = start_daemon(rig.config, daemon_log)
        firsts: dict[str, float] = {}
        deadline = spawned + FIRST_PUBLISH_TIMEOUT_S
        while len(firsts) < meters and time.monotonic() < deadline:
            if daemon.poll() is not None:
                daemon_log.flush()
                tail = (tmp / "daemon.log").read_text().strip().splitlines()[-5:]
                raise RuntimeError(f"the daemon exited ({daemon.returncode}): " + " | ".join(tail))
            for message in subscriber.select(_is_present):
                serial = message.topic.split("/")[-2]
                firsts.setdefault(serial, message.at)
            time.sleep(0.01)
        if len(firsts) < meters:
            raise RuntimeError(f"not every meter published within {FIRST_PUBLISH_TIMEOUT_S} s")
        result["first_publish_s"] = min(firsts.values()) - spawned
        result["all_published_s"] = max(firsts.values()) - spawned
        time.sleep(WARMUP_S)
        # The measured window.
        start_sample, start = procstat.sample(daemon.pid), time.monotonic()
        _sleep_while_alive(daemon, options.seconds)
        end_sample, end = procstat.sample(daemon.pid), time.monotonic()
        if start_sample is None or end_sample is None:
            raise RuntimeError("the daemon went away during the measurement")
        window = [m for m in subscriber.select(_is_present) if start <= m.at <= end]
        result["window_s"] = end - start
        result["cost"] = _cost(start_sample, end_sample, end - start, len(window))
        # Syscalls, with strace attached (it slows the daemon: never in the window above).
        if options.strace_s > 0:
            result["strace"] = _strace(daemon.pid, options.strace_s, tmp, subscriber)
        if options.broker_restart:
            subscriber.stop()
            subscriber, result["broker_restart"] = _broker_restart(broker, meters)
        result["shutdown_s"] = stop_daemon(daemon)
        daemon = None
        sim_report = sim.stop()
        if options.keep:
            (tmp / "present.json").write_text(
                json.dumps([[m.at, m.topic, m.payload.decode()] for m in window])
            )
            everything = subscriber.select(lambda _: True)
            (tmp / "messages.json").write_text(
                json.dumps([[m.at, m.topic, len(m.payload), m.retain] for m in everything])
            )
        wall_minus_monotonic = time.time() - time.monotonic()
        result["startup"] = _startup(sim_report, spawned, firsts)
        parts, per_meter = [], []
        for meter in sim_report["meters"]:
            serial = meter["serial"]
            messages = [m for m in window if m.topic == _present_topic(serial)]
            rows = analysis.freshness_rows(messages, meter["bt28"], wall_minus_monotonic)
            parts.append(rows)
            per_meter.append(
                {
                    "serial": serial,
                    "freshness": analysis.summarise(rows),
                    "load": analysis.meter_load(meter, start, end),
                }
            )
        result["per_meter"] = per_meter
        result["freshness"] = analysis.summarise(analysis.pool(parts))
        result["simulator_cpu_s"] = sim_report["cpu_s"]
        return result
    finally:
        if daemon is not None:
            stop_daemon(daemon)
        if sim.process.poll() is None:
            sim.process.kill()
        subscriber.stop()
        broker.stop()
        daemon_log.close()
        if options.keep:
            print(f"kept {tmp}", file=sys.stderr)
        else:
            shutil.rmtree(tmp, ignore_errors=True)


def _sleep_while_alive(process: subprocess.Popen[str], seconds: float) -> None:
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        if process.poll() is not None:
            raise RuntimeError(f"the daemon exited with {process.returncode}")
        time.sleep(min(0.5, max(0.0, end - time.monotonic())))


def _cost(
    before: procstat.Sample, after: procstat.Sample, wall_s: float, readings: int
) -> dict[str, Any]:
    cpu = after.cpu_s - before.cpu_s
    per = 1000.0 / readings if readings else float("nan")
    return {
        "readings": readings,
        "cpu_s": cpu,
        "cpu_s_per_1000_readings": cpu * per,
        "cpu_wall_ratio": cpu / wall_s,
        "rss_mb": after.rss_kb / 1024,
        "peak_rss_mb": after.hwm_kb / 1024,
        "voluntary_per_reading": (after.voluntary - before.voluntary) / readings
        if readings
        else float("nan"),
        "involuntary_per_reading": (after.involuntary - before.involuntary) / readings
        if readings
        else float("nan"),
        "wakeups_per_s": (after.voluntary - before.voluntary) / wall_s,
        "threads": after.threads,
        "cpu_s_total": after.cpu_ticks_s,
        "cpu_s_ticks": after.cpu_ticks_s - before.cpu_ticks_s,
    }


def _strace(pid: int, seconds: float, tmp: Path, subscriber: Subscriber) -> dict[str, Any]:
    start = time.monotonic()
    counts = strace_count(pid, seconds, tmp)
    end = time.monotonic()
    if isinstance(counts, str):
        return {"skipped": counts}
    readings = len(subscriber.select(lambda m: _is_present(m) and start <= m.at <= end))
    total = sum(counts.values())
    top = sorted(counts.items(), key=lambda item: -item[1])[:6]
    return {
        "seconds": end - start,
        "readings": readings,
        "syscalls_per_reading": total / readings if readings else float("nan"),
        "top_per_reading": {
            name: calls / readings if readings else float("nan") for name, calls in top
        },
        "epoll_wait_per_reading": counts.get("epoll_wait", 0) / readings
        if readings
        else float("nan"),
    }


def _broker_restart(broker: Broker, meters: int) -> tuple[Subscriber, dict[str, Any]]:
    """`systemctl restart mosquitto`: how long until every meter's power is at the broker again."""
    down, up = broker.restart()
    subscriber = Subscriber(broker.port).start()  # ours reconnects at once; the daemon times
    subscribed = time.monotonic()
    found = subscriber.wait_for(_is_present, count=1, within_s=60.0)
    first = found[0].at if found else float("nan")
    serials: dict[str, float] = {}
    deadline = time.monotonic() + 60.0
    while len(serials) < meters and time.monotonic() < deadline:
        for message in subscriber.select(_is_present):
            serials.setdefault(message.topic, message.at)
        time.sleep(0.01)
    availability = subscriber.wait_for(
        lambda m: m.topic.endswith("/availability") and m.payload == b"online", within_s=5.0
    )
    return subscriber, {
        "broker_down_s": up - down,
        "subscriber_ready_s": subscribed - up,
        "first_present_s": first - up,
        "all_meters_s": (max(serials.values()) - up) if len(serials) == meters else float("nan"),
        "availability_online_s": (availability[0].at - up) if availability else float("nan"),
    }


def _startup(report: dict[str, Any], spawned: float, firsts: dict[str, float]) -> dict[str, Any]:
    """Process start -> first request at the meter -> first BT28 sample -> at the broker."""
    meter = report["meters"][0]
    first_frame = min(meter["frames"]) if meter["frames"] else float("nan")
    first_bt28 = min((r["sample"] for r in meter["bt28"]), default=float("nan"))
    first_publish = firsts.get(meter["serial"], float("nan"))
    start_up_reads = sum(1 for at in meter["reads"] if at < first_bt28)
    return {
        "to_first_request_s": first_frame - spawned,
        "start_up_exchanges_s": first_bt28 - first_frame,
        "start_up_reads": start_up_reads,
        "first_bt28_to_broker_s": first_publish - first_bt28,
    }


def latch_up(count: int, keep: bool = False, settle_s: float = 0.0) -> dict[str, Any]:
    """In-process (daemon + simulator + MockFactory GPIO in one process): see bench/latchup.py."""
    with (
        tempfile.TemporaryDirectory(prefix="mepd-bench-latch-") as tmp,
        Broker(Path(tmp) / "broker") as broker,
    ):
        completed = subprocess.run(
            [
                sys.executable,
                str(BENCH / "latchup.py"),
                "--mqtt-port",
                str(broker.port),
                "--count",
                str(count),
                "--workdir",
                tmp,
                "--settle",
                str(settle_s),
            ],
            capture_output=True,
            text=True,
            cwd=ROOT,
            env=child_env(),
            timeout=60 + 20 * count + settle_s,
            check=False,
        )
        if completed.returncode != 0 or not completed.stdout.strip():
            tail = completed.stderr.strip().splitlines()[-5:]
            return {"skipped": f"latch-up run failed ({completed.returncode}): {' | '.join(tail)}"}
        result: dict[str, Any] = json.loads(completed.stdout.strip().splitlines()[-1])
        if keep:
            print(completed.stderr, file=sys.stderr)
        return result
