"""Where the daemon's time and memory go, with one meter: imports, CPU per reading, allocations.

    .venv/bin/python bench/profile_daemon.py [--seconds N] [--json out.json]

Runs of `mepd run` against the bench's simulator and Mosquitto, each in its own process:

1. `python -X importtime`: import time by module, and the whole start to the first publish
   (with the imports of the child that loads the configuration, mepd.config.isolated);
2. `python -m cProfile`: the functions that cost CPU per reading (the start-up is included;
   the run is long enough for it to be a small share);
3. under tracemalloc (bench/traced_daemon.py): net growth per reading and its sites, and
   the largest transient (peak above the steady level) during the window;
4. plain: the RSS split by mapping (which shared libraries, how much Python heap);
5. plain, twice: the peak RSS (VmHWM) after --seconds, with a USB adapter (no GPIO) and with
   the HAT's lines (gpiozero imported, on its MockFactory: GPIOZERO_PIN_FACTORY=mock).
"""

from __future__ import annotations

import argparse
import json
import math
import pstats
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import tracemalloc
from collections import Counter
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench.processes import BENCH, Rig, child_env, stop_daemon  # noqa: E402
from bench.processes import ROOT as _ROOT  # noqa: E402
from bench.subscriber import Subscriber  # noqa: E402

_IMPORT_LINE = re.compile(r"import time:\s+(\d+) \|\s+(\d+) \|( *)(\S+)")


def _launch(cmd: list[str], log: Path, env: dict[str, str] | None = None) -> subprocess.Popen[str]:
    return subprocess.Popen(
        cmd,
        stdout=subprocess.DEVNULL,
        stderr=log.open("w"),
        text=True,
        cwd=_ROOT,
        env=env or child_env(),
    )


def _presents(subscriber: Subscriber, start: float = 0.0, end: float = math.inf) -> int:
    return len(subscriber.select(lambda m: m.topic.endswith("/present") and start <= m.at <= end))


def _first_publish(subscriber: Subscriber, process: subprocess.Popen[str]) -> float:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        found = subscriber.select(lambda m: m.topic.endswith("/present"))
        if found:
            return found[0].at
        if process.poll() is not None:
            raise RuntimeError("the daemon exited before publishing")
        time.sleep(0.005)
    raise RuntimeError("no present payload within 30 s")


def importtime(tmp: Path) -> dict[str, Any]:
    rig = Rig(1, tmp / "importtime")
    try:
        with Subscriber(rig.broker.port) as subscriber:
            log = tmp / "importtime.log"
            spawned = time.monotonic()
            daemon = _launch(
                [
                    sys.executable,
                    "-X",
                    "importtime",
                    "-m",
                    "mepd",
                    "run",
                    "--config",
                    str(rig.config),
                ],
                log,
            )
            first = _first_publish(subscriber, daemon) - spawned
            time.sleep(1.0)
            stop_daemon(daemon)
    finally:
        rig.close()
    rows = []
    for line in log.read_text().splitlines():
        match = _IMPORT_LINE.match(line)
        if match:
            rows.append(
                {
                    "self_us": int(match[1]),
                    "cumulative_us": int(match[2]),
                    "depth": len(match[3]) // 2,
                    "module": match[4],
                }
            )
    top_level = [r for r in rows if r["depth"] == 0]
    total = sum(r["cumulative_us"] for r in top_level)
    by_package: Counter[str] = Counter()
    for row in rows:
        by_package[row["module"].split(".")[0]] += row["self_us"]
    return {
        "first_publish_s_with_importtime": first,
        "import_total_s": total / 1e6,
        "modules": len(rows),
        "top_cumulative": sorted(rows, key=lambda r: -r["cumulative_us"])[:25],
        "by_package_self_s": {k: v / 1e6 for k, v in by_package.most_common(15)},
    }


def cprofile(tmp: Path, seconds: float) -> dict[str, Any]:
    rig = Rig(1, tmp / "cprofile")
    output = tmp / "daemon.prof"
    try:
        with Subscriber(rig.broker.port) as subscriber:
            daemon = _launch(
                [
                    sys.executable,
                    "-m",
                    "cProfile",
                    "-o",
                    str(output),
                    "-m",
                    "mepd",
                    "run",
                    "--config",
                    str(rig.config),
                ],
                tmp / "cprofile.log",
            )
            _first_publish(subscriber, daemon)
            time.sleep(seconds)
            stop_daemon(daemon)
            readings = _presents(subscriber)
    finally:
        rig.close()
    stats = pstats.Stats(str(output))
    entries = stats.stats  # type: ignore[attr-defined]
    total = sum(tt for (_cc, _nc, tt, _ct, _callers) in entries.values())
    rows = []
    for (filename, line, name), (_cc, calls, tt, ct, _callers) in entries.items():
        short = filename.replace(str(_ROOT) + "/", "").replace(sys.prefix, "<venv>")
        rows.append(
            {
                "function": f"{short}:{line}({name})",
                "calls_per_reading": calls / readings,
                "tottime_ms_per_reading": tt * 1000 / readings,
                "cumtime_ms_per_reading": ct * 1000 / readings,
            }
        )
    return {
        "readings": readings,
        "seconds": seconds,
        "profiled_cpu_s": total,
        "note": "includes start-up; cProfile roughly doubles Python-level costs",
        "top_tottime": sorted(rows, key=lambda r: -r["tottime_ms_per_reading"])[:25],
        "top_cumtime": sorted(rows, key=lambda r: -r["cumtime_ms_per_reading"])[:40],
    }


def traced(tmp: Path, seconds: float) -> dict[str, Any]:
    rig = Rig(1, tmp / "traced")
    out = tmp / "snapshots"
    out.mkdir()
    try:
        with Subscriber(rig.broker.port) as subscriber:
            daemon = _launch(
                [
                    sys.executable,
                    str(BENCH / "traced_daemon.py"),
                    str(out),
                    "run",
                    "--config",
                    str(rig.config),
                ],
                tmp / "traced.log",
            )
            _first_publish(subscriber, daemon)
            time.sleep(5.0)  # past the first energy read and the first diagnostics
            daemon.send_signal(signal.SIGUSR1)
            start = time.monotonic()
            time.sleep(seconds)
            daemon.send_signal(signal.SIGUSR1)
            end = time.monotonic()
            time.sleep(0.5)
            stop_daemon(daemon)
            readings = _presents(subscriber, start, end)
    finally:
        rig.close()
    first = tracemalloc.Snapshot.load(str(out / "snap1.pickle"))
    second = tracemalloc.Snapshot.load(str(out / "snap2.pickle"))
    level = json.loads((out / "snap2.json").read_text())
    before = json.loads((out / "snap1.json").read_text())
    growth = second.compare_to(first, "lineno")
    own = second.statistics("filename")
    return {
        "readings": readings,
        "traced_mb": level["current"] / 2**20,
        "net_growth_bytes_per_reading": (level["current"] - before["current"]) / readings,
        "peak_above_level_kb": (level["peak"] - level["current"]) / 1024,
        "top_growth": [
            {"site": str(s.traceback[0]), "bytes": s.size_diff, "blocks": s.count_diff}
            for s in growth[:12]
        ],
        "top_live_files": [
            {"file": s.traceback[0].filename.replace(str(_ROOT) + "/", ""), "kb": s.size / 1024}
            for s in own[:15]
        ],
    }


def smaps(tmp: Path) -> dict[str, Any]:
    rig = Rig(1, tmp / "smaps")
    try:
        with Subscriber(rig.broker.port) as subscriber:
            daemon = _launch(
                [sys.executable, "-m", "mepd", "run", "--config", str(rig.config)],
                tmp / "smaps.log",
            )
            _first_publish(subscriber, daemon)
            time.sleep(5.0)
            text = Path(f"/proc/{daemon.pid}/smaps").read_text()
            mappings = len(Path(f"/proc/{daemon.pid}/maps").read_text().splitlines())
            stop_daemon(daemon)
    finally:
        rig.close()
    rss: Counter[str] = Counter()
    current = "[anon]"
    for line in text.splitlines():
        if re.match(r"^[0-9a-f]+-[0-9a-f]+ ", line):
            parts = line.split()
            current = parts[5] if len(parts) > 5 else "[anon]"
        elif line.startswith("Rss:"):
            rss[current.replace(str(_ROOT) + "/", "")] += int(line.split()[1])
    return {
        "rss_mb": sum(rss.values()) / 1024,
        "mappings": mappings,
        "top_kb": dict(rss.most_common(15)),
    }


_NO_GPIO = "[gpio]\nenabled = false"  # as bench.processes.write_config writes it


def _memory_kb(pid: int) -> dict[str, int]:
    text = Path(f"/proc/{pid}/status").read_text()
    return {
        name: int(match[1])
        for name in ("VmHWM", "VmRSS")
        if (match := re.search(rf"^{name}:\s+(\d+) kB", text, re.MULTILINE))
    }


def rss(tmp: Path, seconds: float) -> dict[str, Any]:
    """Peak RSS of `mepd run` `seconds` after its first publish, without and with GPIO."""
    results: dict[str, Any] = {"seconds": seconds}
    for case, gpio in (("no_gpio", False), ("hat_gpio", True)):
        rig = Rig(1, tmp / f"rss-{case}")
        env = child_env()
        if gpio:
            config = rig.config.read_text()
            assert _NO_GPIO in config, "bench.processes.write_config changed its [gpio] table"
            rig.config.write_text(config.replace(_NO_GPIO, "[gpio]\nenabled = true"))
            env["GPIOZERO_PIN_FACTORY"] = "mock"  # the HAT's lines, nothing driven
        try:
            with Subscriber(rig.broker.port) as subscriber:
                daemon = _launch(
                    [sys.executable, "-m", "mepd", "run", "--config", str(rig.config)],
                    tmp / f"rss-{case}.log",
                    env,
                )
                _first_publish(subscriber, daemon)
                time.sleep(seconds)
                memory = _memory_kb(daemon.pid)
                stop_daemon(daemon)
                readings = _presents(subscriber)
        finally:
            rig.close()
        results[case] = {
            "vm_hwm_mb": memory["VmHWM"] / 1024,
            "vm_rss_mb": memory["VmRSS"] / 1024,
            "readings": readings,
        }
    return results


def main() -> int:
    parser = argparse.ArgumentParser(
        prog="bench/profile_daemon.py", description=__doc__.splitlines()[0]
    )
    parser.add_argument("--seconds", type=float, default=30.0)
    parser.add_argument("--json", type=Path)
    parser.add_argument("--keep", type=Path, help="copy the cProfile output here")
    parser.add_argument(
        "--only", choices=["importtime", "cprofile", "traced", "smaps", "rss"], action="append"
    )
    args = parser.parse_args()
    chosen = args.only or ["importtime", "cprofile", "traced", "smaps", "rss"]
    results: dict[str, Any] = {}
    with tempfile.TemporaryDirectory(prefix="mepd-profile-") as name:
        tmp = Path(name)
        if "importtime" in chosen:
            results["importtime"] = importtime(tmp)
        if "cprofile" in chosen:
            results["cprofile"] = cprofile(tmp, args.seconds)
            if args.keep:
                shutil.copy(tmp / "daemon.prof", args.keep)
        if "traced" in chosen:
            results["traced"] = traced(tmp, args.seconds)
        if "smaps" in chosen:
            results["smaps"] = smaps(tmp)
        if "rss" in chosen:
            results["rss"] = rss(tmp, args.seconds)
    print(_render(results))
    if args.json:
        args.json.write_text(json.dumps(results, indent=2))
    return 0


def _render(results: dict[str, Any]) -> str:
    out: list[str] = []
    if "importtime" in results:
        r = results["importtime"]
        out.append(
            f"imports: {r['import_total_s']:.3f} s for {r['modules']} modules "
            f"(first publish {r['first_publish_s_with_importtime']:.2f} s under -X importtime)"
        )
        out.append(
            "  by package (self time, s): "
            + ", ".join(f"{k} {v:.3f}" for k, v in r["by_package_self_s"].items())
        )
        for row in r["top_cumulative"][:15]:
            out.append(
                f"  {row['cumulative_us'] / 1000:7.1f} ms  {'  ' * row['depth']}{row['module']}"
            )
    if "cprofile" in results:
        r = results["cprofile"]
        out.append(
            f"cProfile: {r['readings']} readings in {r['seconds']:g} s (+ start-up), "
            f"{r['profiled_cpu_s']:.2f} s profiled; per reading, by own time:"
        )
        for row in r["top_tottime"][:20]:
            own, cum = row["tottime_ms_per_reading"], row["cumtime_ms_per_reading"]
            out.append(
                f"  {own:7.3f} ms own {cum:8.3f} ms cum "
                f"{row['calls_per_reading']:8.1f} calls  {row['function']}"
            )
    if "traced" in results:
        r = results["traced"]
        out.append(
            f"tracemalloc: {r['traced_mb']:.1f} MB traced; net growth "
            f"{r['net_growth_bytes_per_reading']:.0f} B/reading over {r['readings']} readings; "
            f"peak {r['peak_above_level_kb']:.0f} kB above the level"
        )
        for row in r["top_growth"][:8]:
            out.append(f"  {row['bytes']:+8d} B {row['blocks']:+5d} blocks  {row['site']}")
    if "smaps" in results:
        r = results["smaps"]
        out.append(f"RSS by mapping: {r['rss_mb']:.1f} MB")
        for name, kb in r["top_kb"].items():
            out.append(f"  {kb / 1024:6.1f} MB  {name}")
    if "rss" in results:
        r = results["rss"]
        out.append(f"peak RSS (VmHWM) {r['seconds']:g} s after the first publish:")
        for case, label in (("no_gpio", "USB adapter, no GPIO"), ("hat_gpio", "HAT GPIO lines")):
            row = r[case]
            out.append(
                f"  {row['vm_hwm_mb']:5.1f} MB  {label} (VmRSS {row['vm_rss_mb']:.1f} MB, "
                f"{row['readings']} readings)"
            )
    return "\n".join(out)


if __name__ == "__main__":
    sys.exit(main())
