"""Turning stamps into figures: freshness, the meter's load, percentiles.

Definitions (all times are CLOCK_MONOTONIC, the same in every process of the machine):

- sample: the instant the simulated meter took the BT28 request and read its registers
  (`Meter.handle` for a request whose last byte had just arrived). The value is that old.
- wire: turnaround (the meter's 30-60 ms before answering) + the response frame at 9600 baud
  (10 bits a byte, plus 25 ms after each 117-byte segment, p.21). Physics: no client can
  have the value earlier than sample + wire.
- available: the moment the simulator wrote the response's last byte to the pty: from then
  on the whole answer was mepd's to take. (The simulator writes in 4 ms chunks, each at its
  start time, so this is up to 3 byte times *before* the physical end of the last byte;
  `sim_lag` = available - physical end shows that, and any lateness of the simulator.)
- received: the bench's MQTT subscriber got the present payload from the broker.
- age = received - sample = wire + sim_lag + overhead, where overhead = received - available:
  mepd's serial read, digest check, decode, guard, JSON and MQTT publish, plus the broker's
  forwarding and the subscriber's wake-up (the loopback baseline shows the broker's share).
- BT28 read wire time = request frame + turnaround + response frame (+ segment gaps) at
  9600 baud: the 2 % target's yardstick.
"""

from __future__ import annotations

import bisect
import itertools
import json
import math
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from bench.subscriber import Received

BAUD = 9600
BITS_PER_BYTE = 10


def percentile(values: Sequence[float], pct: float) -> float:
    """Linear interpolation between closest ranks (numpy's default); NaN when empty."""
    if not values:
        return math.nan
    ordered = sorted(values)
    rank = (len(ordered) - 1) * pct / 100.0
    low, high = math.floor(rank), math.ceil(rank)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


def summary(values: Sequence[float]) -> dict[str, float]:
    return {
        "n": len(values),
        "p50": percentile(values, 50),
        "p99": percentile(values, 99),
        "min": min(values) if values else math.nan,
        "max": max(values) if values else math.nan,
    }


def wire_seconds(byte_count: int) -> float:
    return byte_count * BITS_PER_BYTE / BAUD


FIELDS = (
    "age",
    "wire",
    "turnaround",
    "overhead",
    "read_wire",
    "ratio",
    "sim_lag",
    "to_ts",
    "after_ts",
)


def freshness_rows(
    messages: Sequence[Received],
    served: Sequence[dict[str, Any]],
    wall_minus_monotonic: float,
) -> dict[str, Any]:
    """Pair each present payload with the BT28 answer it carries, and time the journey.

    The answer is the last one whose last byte had been written before the payload arrived;
    the pairing is checked against the power value the meter served (mismatches counted).
    Returns {"rows": {field: [seconds...]}, "readings", "unmatched", "mismatched", sizes}.
    """
    answers = sorted((r for r in served if r.get("last_write") is not None), key=_end)
    ends = [_end(answer) for answer in answers]
    rows: dict[str, list[float]] = {name: [] for name in FIELDS}
    result: dict[str, Any] = {"rows": rows, "readings": 0, "unmatched": 0, "mismatched": 0}
    used: set[int] = set()
    for message in messages:
        index = bisect.bisect_right(ends, message.at) - 1
        if index < 0 or index in used:
            result["unmatched"] += 1
            continue
        used.add(index)
        answer = answers[index]
        payload = json.loads(message.payload)
        if "power_import" in answer and int(payload.get("power_import", -1)) != int(
            answer["power_import"]
        ):
            result["mismatched"] += 1
            continue
        sample = answer["sample"]
        wire_end = answer["wire_end"]
        available = answer["last_write"]
        stamped = datetime.fromisoformat(payload["ts"]).timestamp() - wall_minus_monotonic
        read_wire = wire_seconds(answer["request_bytes"]) + (wire_end - sample)
        overhead = message.at - available
        values = {
            "age": message.at - sample,
            "wire": wire_end - sample,
            "turnaround": answer["answer_start"] - sample,
            "overhead": overhead,
            "read_wire": read_wire,
            "ratio": overhead / read_wire,
            "sim_lag": answer["last_write"] - wire_end,
            # the payload's ts (ms resolution): serial read and digest check before it;
            # decode, guard, JSON, publish, the broker and the subscriber after it
            "to_ts": stamped - available,
            "after_ts": message.at - stamped,
        }
        for name in FIELDS:
            rows[name].append(values[name])
        result["readings"] += 1
        result["request_bytes"] = answer["request_bytes"]
        result["response_bytes"] = answer["response_bytes"]
    return result


def summarise(rows: dict[str, Any]) -> dict[str, Any]:
    """Percentiles of every field, plus the counts, from `freshness_rows` (or pooled rows)."""
    result: dict[str, Any] = {name: summary(rows["rows"][name]) for name in FIELDS}
    for key in ("readings", "unmatched", "mismatched", "request_bytes", "response_bytes"):
        result[key] = rows.get(key)
    return result


def pool(parts: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """Several meters' `freshness_rows` as one."""
    pooled: dict[str, Any] = {"rows": {name: [] for name in FIELDS}}
    for part in parts:
        for name in FIELDS:
            pooled["rows"][name].extend(part["rows"][name])
        for key in ("readings", "unmatched", "mismatched"):
            pooled[key] = pooled.get(key, 0) + part[key]
        for key in ("request_bytes", "response_bytes"):
            if key in part:
                pooled[key] = part[key]
    return pooled


def _end(answer: dict[str, Any]) -> float:
    return float(answer["last_write"])


def meter_load(meter: dict[str, Any], start: float, end: float) -> dict[str, Any]:
    """What the meter saw: its read rate in the window, the worst 60 s, spacing, violations."""
    reads = sorted(meter["reads"])
    frames = sorted(meter["frames"])
    in_window = [at for at in reads if start <= at <= end]
    worst = 0
    first = 0
    for last, at in enumerate(reads):
        while reads[first] <= at - 60.0:
            first += 1
        worst = max(worst, last - first + 1)
    spacing = [b - a for a, b in itertools.pairwise(frames)]
    stats = meter["stats"]
    return {
        "reads_per_s": len(in_window) / (end - start) if end > start else math.nan,
        "reads_total": len(reads),
        "max_reads_in_60s": worst,
        "min_spacing_s": min(spacing) if spacing else math.nan,
        "too_close": stats["too_close_requests"],
        "throttled": stats["throttled_requests"],
        "over_budget": stats["read_rate_violations"],
        "requests_handled": stats["requests_handled"],
        "timeouts_seen": stats["responses_lost"],
    }
