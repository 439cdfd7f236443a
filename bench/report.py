"""The printed table: every figure with its unit, and each target judged met or missed."""

from __future__ import annotations

import math
from typing import Any

OVERHEAD_TARGET = 0.02  # of a BT28 read's wire time
RSS_TARGET_MB = 40.0  # one meter
FIRST_PUBLISH_TARGET_S = 3.0
LATCH_UP_TARGET_S = 5.0


def _ms(value: float) -> str:
    return "-" if value is None or math.isnan(value) else f"{value * 1000:.1f}"


def _num(value: float | None, digits: int = 2) -> str:
    return "-" if value is None or math.isnan(value) else f"{value:.{digits}f}"


def _pct(value: float) -> str:
    return "-" if value is None or math.isnan(value) else f"{value * 100:.2f} %"


def _verdict(ok: bool) -> str:
    return "MET" if ok else "MISSED"


def _table(header: list[str], rows: list[list[str]]) -> list[str]:
    widths = [max(len(str(row[i])) for row in [header, *rows]) for i in range(len(header))]
    lines = ["  ".join(str(cell).rjust(widths[i]) for i, cell in enumerate(header))]
    lines.append("  ".join("-" * width for width in widths))
    lines += ["  ".join(str(cell).rjust(widths[i]) for i, cell in enumerate(row)) for row in rows]
    return ["  " + line for line in lines]


def render(results: dict[str, Any]) -> str:
    machine = results["machine"]
    steady = results["steady"]
    out = [
        "mepd benchmark",
        f"machine: {machine['cpu']}, {machine['cores']} cores, {machine['arch']}, Linux "
        f"{machine['kernel']}, Python {machine['python']}, load average at start "
        f"{machine['loadavg_at_start']}; Python speed: {machine.get('digest_us', '?')} us per "
        f"MEP digest of a BT28 answer (scale the CPU figures by its ratio on another machine)",
        f"setup: daemon `python -m mepd run` in its own process; {results['profile']} meters "
        f"simulated in another (real ptys, 9600 baud 8N1 pacing in 3-byte chunks, 30-60 ms "
        f"turnaround, 117-byte segments 25 ms apart); {results['mosquitto']} on loopback "
        f"(set_tcp_nodelay {'true' if results.get('broker_nodelay', True) else 'false'}); "
        f"{results['seconds']:g} s measured per scenario after start-up",
    ]
    sizes = next((s["freshness"] for s in steady if s["freshness"].get("request_bytes")), None)
    if sizes:
        out.append(
            f"a BT28 read: request {sizes['request_bytes']} B, response "
            f"{sizes['response_bytes']} B; wire time (request + turnaround + response + gaps) "
            f"p50 {_ms(sizes['read_wire']['p50'])} ms"
        )
    base = results.get("broker_baseline")
    if base:
        out.append(
            f"broker baseline (paho publish -> Mosquitto -> paho subscriber, 1.2 kB): "
            f"p50 {_ms(base['p50'])} ms, p99 {_ms(base['p99'])} ms (included in 'overhead')"
        )

    out += ["", "Freshness: age of the power value when the subscriber gets it from the broker"]
    rows = []
    for s in steady:
        f = s["freshness"]
        rows.append(
            [
                str(s["meters"]),
                str(f["readings"]),
                f"{_ms(f['age']['p50'])} / {_ms(f['age']['p99'])}",
                f"{_ms(f['wire']['p50'])} / {_ms(f['wire']['p99'])}",
                f"{_ms(f['overhead']['p50'])} / {_ms(f['overhead']['p99'])}",
                f"{_ms(f['to_ts']['p50'])} | {_ms(f['after_ts']['p50'])}",
                f"{_pct(f['ratio']['p50'])} / {_pct(f['ratio']['p99'])}",
                f"{_ms(f['sim_lag']['p50'])}",
                str(f["unmatched"] + f["mismatched"]),
            ]
        )
    out += _table(
        [
            "meters",
            "readings",
            "age p50/p99 ms",
            "wire p50/p99 ms",
            "overhead p50/p99 ms",
            "read | publish ms",
            "overhead/read wire p50/p99",
            "sim lag ms",
            "unpaired",
        ],
        rows,
    )

    out += ["", "Meter load, per meter (the simulator's LinkStats and taps; whole run)"]
    rows = []
    for s in steady:
        loads = [m["load"] for m in s["per_meter"]]
        rows.append(
            [
                str(s["meters"]),
                _num(max(x["reads_per_s"] for x in loads), 3),
                str(max(x["max_reads_in_60s"] for x in loads)),
                _ms(min(x["min_spacing_s"] for x in loads)),
                str(sum(x["too_close"] for x in loads)),
                str(sum(x["throttled"] for x in loads)),
                str(sum(x["over_budget"] for x in loads)),
            ]
        )
    out += _table(
        [
            "meters",
            "reads/s (window, max)",
            "max reads in 60 s",
            "min spacing ms",
            "too close",
            "throttled",
            "over budget",
        ],
        rows,
    )

    out += ["", "Cost of the daemon process (all its threads; measured window)"]
    rows = []
    for s in steady:
        c = s["cost"]
        rows.append(
            [
                str(s["meters"]),
                str(c["readings"]),
                _num(c["cpu_s_per_1000_readings"]),
                _pct(c["cpu_wall_ratio"]),
                _num(c["rss_mb"], 1),
                _num(c["peak_rss_mb"], 1),
                _num(c["voluntary_per_reading"], 1),
                _num(c["wakeups_per_s"], 1),
                _num(c["involuntary_per_reading"], 2),
                str(c["threads"]),
            ]
        )
    out += _table(
        [
            "meters",
            "readings",
            "CPU s/1000 readings",
            "CPU/wall",
            "RSS MB",
            "peak RSS MB",
            "wakeups/reading",
            "wakeups/s",
            "preempted/reading",
            "threads",
        ],
        rows,
    )
    straced = [s for s in steady if "strace" in s]
    for s in straced:
        t = s["strace"]
        if "skipped" in t:
            out.append(f"  syscalls ({s['meters']} meter(s)): not measured: {t['skipped']}")
            continue
        top = ", ".join(f"{name} {n:.1f}" for name, n in t["top_per_reading"].items())
        out.append(
            f"  syscalls per reading ({s['meters']} meter(s), strace -c -f for "
            f"{t['seconds']:.0f} s, {t['readings']} readings): {t['syscalls_per_reading']:.1f} "
            f"({top})"
        )

    out += ["", "Start and recovery"]
    rows = []
    for s in steady:
        st = s["startup"]
        restart = s.get("broker_restart", {})
        rows.append(
            [
                str(s["meters"]),
                _num(s["first_publish_s"]),
                _num(s["all_published_s"]),
                f"{_num(st['to_first_request_s'])} + {_num(st['start_up_exchanges_s'])} "
                f"({st['start_up_reads']} reads) + {_num(st['first_bt28_to_broker_s'])}",
                _num(restart.get("first_present_s", math.nan)),
                _num(restart.get("all_meters_s", math.nan)),
                _num(s.get("shutdown_s") or math.nan),
            ]
        )
    out += _table(
        [
            "meters",
            "first publish s",
            "all meters s",
            "= to 1st request + start-up reads + 1st BT28 to broker",
            "broker restart: 1st power s",
            "all meters s",
            "SIGTERM->exit s",
        ],
        rows,
    )
    latch = results.get("latch_up")
    if latch is not None:
        if "skipped" in latch:
            out.append(f"  latch-up recovery: not measured: {latch['skipped']}")
        else:
            rounds = [r for r in latch["rounds"] if not math.isnan(r["recovery_s"])]

            def mean(key: str) -> float:
                values = [r[key] for r in rounds if key in r and not math.isnan(r[key])]
                return sum(values) / len(values) if values else math.nan

            out.append(
                f"  latch-up recovery, IN-PROCESS (daemon + simulator + gpiozero MockFactory in "
                f"one process; real pty and broker), {latch.get('settle_s', 0):g} s after the "
                f"first readings: latch-up -> next present at the broker, max "
                f"{_num(latch['max_s'])} s, mean {_num(latch['mean_s'])} s over "
                f"{len(latch['rounds'])} rounds ("
                + ", ".join(_num(r["recovery_s"]) for r in latch["rounds"])
                + ")"
            )
            out.append(
                f"    mean split: detect {_num(mean('detect_s'))} s (next poll, two 500 ms "
                f"timeouts, resends paced by the read budget) + power cycle "
                f"{_num(mean('power_cycle_s'))} s + settle, re-read and publish "
                f"{_num(mean('reread_s'))} s"
            )

    out += ["", "Targets"]
    out += _targets(results)
    return "\n".join(out)


def _targets(results: dict[str, Any]) -> list[str]:
    lines = []
    for s in results["steady"]:
        ratio = s["freshness"]["ratio"]
        ok50, ok99 = ratio["p50"] < OVERHEAD_TARGET, ratio["p99"] < OVERHEAD_TARGET
        lines.append(
            f"  overhead < 2 % of a BT28 read's wire time, {s['meters']} meter(s): "
            f"p50 {_verdict(ok50)} ({_pct(ratio['p50'])}), p99 {_verdict(ok99)} "
            f"({_pct(ratio['p99'])})"
        )
    violations = sum(
        m["load"]["too_close"] + m["load"]["throttled"] + m["load"]["over_budget"]
        for s in results["steady"]
        for m in s["per_meter"]
    )
    lines.append(f"  rate budget violations = 0: {_verdict(violations == 0)} ({violations})")
    one = next((s for s in results["steady"] if s["meters"] == 1), None)
    if one:
        peak = one["cost"]["peak_rss_mb"]
        lines.append(
            f"  peak RSS < {RSS_TARGET_MB:g} MB with one meter: "
            f"{_verdict(peak < RSS_TARGET_MB)} ({peak:.1f} MB)"
        )
    for s in results["steady"]:
        first = s["first_publish_s"]
        lines.append(
            f"  first publish <= {FIRST_PUBLISH_TARGET_S:g} s, {s['meters']} meter(s): "
            f"{_verdict(first <= FIRST_PUBLISH_TARGET_S)} ({first:.2f} s)"
        )
    latch = results.get("latch_up")
    if latch is not None and "skipped" not in latch:
        worst = latch["max_s"]
        lines.append(
            f"  latch-up recovery <= {LATCH_UP_TARGET_S:g} s (in-process): "
            f"{_verdict(not math.isnan(worst) and worst <= LATCH_UP_TARGET_S)} (max {worst:.2f} s)"
        )
    elif latch is not None:
        lines.append(f"  latch-up recovery <= {LATCH_UP_TARGET_S:g} s: NOT MEASURED")
    return lines
