"""mepd's benchmarks: freshness, cost and the meter's rate budget, measured side by side.

    .venv/bin/python bench/run.py [--seconds N] [--meters 1,4,8] [--quick] [--json out.json]

For each meter count: a real Mosquitto, a simulator host with N gen4 meters on ptys (9600
baud pacing, realistic turnaround), and `python -m mepd run` in a process of its own with a
generated configuration. A paho subscriber times every present payload against the moment
the meter sampled it; /proc gives the daemon's CPU, RSS and wake-ups; strace (if installed)
its syscalls. Then a broker restart, and latch-up recovery (in-process: see latchup.py).
Definitions of every column: bench/analysis.py and /tmp/readme-bench.md.
"""

from __future__ import annotations

import argparse
import json
import math
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench import procstat, report, scenarios  # noqa: E402
from bench.broker import find_mosquitto  # noqa: E402


def _meters(text: str) -> list[int]:
    try:
        counts = [int(part) for part in text.split(",") if part.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected numbers like 1,4,8, got {text!r}") from None
    if not counts or any(not 1 <= n <= 32 for n in counts):
        raise argparse.ArgumentTypeError("meter counts must be 1-32")
    return counts


def _clean(value: Any) -> Any:
    """JSON has no NaN: write null."""
    if isinstance(value, float) and math.isnan(value):
        return None
    if isinstance(value, dict):
        return {key: _clean(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_clean(item) for item in value]
    return value


def python_speed_us() -> float:
    """Microseconds for one MEP digest over a BT28 answer (392 bytes), pure Python: compare
    it between machines to scale the CPU figures (a Pi 3 or Zero 2 W is many times slower)."""
    from mepd.protocol.digest import digest  # noqa: PLC0415

    key, data = bytes(range(16)), bytes(392)
    best = math.inf
    for _ in range(5):
        started = time.perf_counter()
        for _ in range(100):
            digest(key, data)
        best = min(best, (time.perf_counter() - started) / 100)
    return best * 1e6


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="bench/run.py", description=__doc__.splitlines()[0] if __doc__ else None
    )
    parser.add_argument(
        "--seconds", type=float, default=None, help="measured seconds per scenario (default 60)"
    )
    parser.add_argument("--meters", type=_meters, default=[1, 4, 8], help="e.g. 1,4,8")
    parser.add_argument(
        "--quick", action="store_true", help="15 s per scenario, 3 latch-ups, 5 s of strace"
    )
    parser.add_argument("--json", type=Path, help="also write every figure to this file")
    parser.add_argument("--no-strace", action="store_true", help="skip the syscall count")
    parser.add_argument("--no-restart", action="store_true", help="skip the broker restart")
    parser.add_argument(
        "--latch-ups", type=int, default=None, help="rounds (default 8, --quick 3; 0: skip)"
    )
    parser.add_argument(
        "--latch-settle",
        type=float,
        default=0.0,
        help="seconds of polling before the first latch-up (the read budget refills in ~150 s)",
    )
    parser.add_argument(
        "--sim-poll-interval",
        type=float,
        default=0.005,
        help="the simulators' timer tick in s (default 0.005, as in mepd simulate)",
    )
    parser.add_argument(
        "--broker-nagle",
        action="store_true",
        help="leave Mosquitto's set_tcp_nodelay at its default (false), as most installs have",
    )
    parser.add_argument("--keep", action="store_true", help="keep the temporary directories")
    args = parser.parse_args(argv)
    seconds = args.seconds or (15.0 if args.quick else 60.0)
    latch_ups = args.latch_ups if args.latch_ups is not None else (3 if args.quick else 8)
    strace_s = 0.0 if args.no_strace else (5.0 if args.quick else 10.0)
    mosquitto = find_mosquitto()
    if mosquitto is None:
        print("bench: mosquitto is not installed (apt-get install mosquitto)", file=sys.stderr)
        return 1
    version = subprocess.run(
        [str(mosquitto), "-h"], capture_output=True, text=True, check=False
    ).stdout.split("\n", 1)[0]
    results: dict[str, Any] = {
        "machine": {**procstat.machine(), "digest_us": f"{python_speed_us():.0f}"},
        "mosquitto": version.replace("mosquitto version", "Mosquitto").strip() or "Mosquitto",
        "profile": "gen4",
        "seconds": seconds,
        "started": time.strftime("%Y-%m-%d %H:%M:%S"),
        "argv": sys.argv[1:],
        "broker_nodelay": not args.broker_nagle,
    }
    print(f"bench: broker baseline, then {args.meters} meter(s) x {seconds:g} s", file=sys.stderr)
    results["broker_baseline"] = scenarios.baseline()
    options = scenarios.Options(
        seconds=seconds,
        strace_s=strace_s,
        broker_restart=not args.no_restart,
        poll_interval_s=args.sim_poll_interval,
        keep=args.keep,
        broker_nodelay=not args.broker_nagle,
    )
    results["steady"] = []
    for index, meters in enumerate(args.meters):
        print(f"bench: {meters} meter(s)", file=sys.stderr)
        # syscalls once (the first scenario): strace slows what it watches
        scenario = scenarios.Options(**{**options.__dict__, "strace_s": strace_s * (index == 0)})
        results["steady"].append(scenarios.steady(meters, scenario))
    if latch_ups > 0:
        print(f"bench: latch-up recovery x {latch_ups} (in-process)", file=sys.stderr)
        results["latch_up"] = scenarios.latch_up(
            latch_ups, keep=args.keep, settle_s=args.latch_settle
        )
    print(report.render(results))
    if args.json:
        args.json.write_text(json.dumps(_clean(results), indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
