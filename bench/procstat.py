"""What the kernel says about one process (Linux /proc), and what machine this is."""

from __future__ import annotations

import os
import platform
import sys
from dataclasses import dataclass
from pathlib import Path

TICKS_PER_S = os.sysconf("SC_CLK_TCK")


@dataclass(frozen=True)
class Sample:
    # CPU time of the threads alive now, from schedstat (ns); the 10 ms ticks of
    # /proc/PID/stat are too coarse for a process that uses a few ms a second.
    cpu_s: float
    cpu_ticks_s: float  # user + system from /proc/PID/stat: every thread ever, 10 ms ticks
    rss_kb: int
    hwm_kb: int  # peak RSS (VmHWM)
    voluntary: int  # context switches, summed over the threads alive now
    involuntary: int
    threads: int


def sample(pid: int) -> Sample | None:
    base = Path(f"/proc/{pid}")
    try:
        stat = (base / "stat").read_text()
        status = (base / "status").read_text()
    except OSError:
        return None
    fields = stat[stat.rindex(")") + 2 :].split()
    cpu_s = (int(fields[11]) + int(fields[12])) / TICKS_PER_S  # utime, stime
    values = dict(line.split(":", 1) for line in status.splitlines() if ":" in line)

    def kb(name: str) -> int:
        return int(values.get(name, "0 kB").split()[0])

    voluntary = involuntary = 0
    run_ns = 0
    try:
        tasks = list((base / "task").iterdir())
    except OSError:
        tasks = []
    for task in tasks:
        try:
            text = (task / "status").read_text()
            run_ns += int((task / "schedstat").read_text().split()[0])
        except (OSError, ValueError, IndexError):
            continue
        for line in text.splitlines():
            if line.startswith("voluntary_ctxt_switches:"):
                voluntary += int(line.split()[1])
            elif line.startswith("nonvoluntary_ctxt_switches:"):
                involuntary += int(line.split()[1])
    precise = run_ns / 1e9 if run_ns else cpu_s
    return Sample(precise, cpu_s, kb("VmRSS"), kb("VmHWM"), voluntary, involuntary, len(tasks))


def machine() -> dict[str, str]:
    model = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            key = line.split(":", 1)[0].strip().lower()
            if key in ("model name", "hardware", "model"):
                model = line.split(":", 1)[1].strip()
                if key == "model name":
                    break
    except OSError:
        pass
    try:
        pi = Path("/proc/device-tree/model").read_bytes().rstrip(b"\0").decode()
    except OSError:
        pi = ""
    try:
        load = " ".join(Path("/proc/loadavg").read_text().split()[:3])
    except OSError:
        load = "?"
    return {
        "cpu": model + (f" ({pi})" if pi else ""),
        "cores": str(os.cpu_count()),
        "arch": platform.machine(),
        "kernel": platform.release(),
        "python": sys.version.split()[0],
        "loadavg_at_start": load,
    }
