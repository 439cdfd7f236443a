"""Payloads of what the meter remembers: load-profile intervals and the month's peak demand.

An interval goes out once, at QoS 1, so the broker's acknowledgement can move the engine's
cursor (`readings.Receipt`); the peak is retained status, like the link.
"""

from __future__ import annotations

import json

from mepd.publish.discovery import DEMAND_W
from mepd.publish.payloads import encode, exact, timestamp
from mepd.readings import DemandPeak, IntervalRecord

INTERVAL_DECIMALS = 3  # Wh; the meter counts whole Wh, a BT62 divisor may give fractions


def interval_payload(record: IntervalRecord) -> bytes:
    """{"start", "end" (ISO 8601 UTC), "values" (SI units: Wh), "status" (flag names)}."""
    values = {}
    for measurement in record.values.unique:
        value = exact(measurement.value, INTERVAL_DECIMALS)
        if value is not None:
            values[measurement.name] = format(value.normalize(), "f")
    body = {
        "start": timestamp(record.start),
        "end": timestamp(record.end),
    }
    head = encode(body)[:-1].decode()
    numbers = ",".join(f"{json.dumps(name)}:{text}" for name, text in values.items())
    status = ",".join(json.dumps(flag) for flag in record.status)
    return f'{head},"values":{{{numbers}}},"status":[{status}]}}'.encode()


def peak_payload(peak: DemandPeak) -> bytes:
    value = exact(peak.demand_w, INTERVAL_DECIMALS)
    return encode(
        {
            "month": peak.month,
            DEMAND_W: value.normalize() if value is not None else "None",
            "window_s": peak.window_s,
            "start": timestamp(peak.start),
            "end": timestamp(peak.end),
        }
    )
