"""Issue 19's before/after table from two `bench/availability.py --json` outputs.

python bench/availability_table.py before.json [...] -- after.json [...]
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from typing import Any

Row = tuple[str, str, Callable[[dict[str, Any]], str]]


def _s(value: float) -> str:
    return f"{value:.1f} s"


ROWS: tuple[Row, ...] = (
    (
        "silence_no_gpio",
        "comeback, latched line w/o GPIO (median / max); frames/min while dead; n; "
        "max probe wait / max probe to reading",
        lambda r: (
            f"{_s(r['comeback_s']['median'])} / {_s(r['comeback_s']['max'])}; "
            f"{r['frames_per_min_after_first_min']}; n={r['comeback_s']['n']}; "
            + (
                f"{_s(r['probe_wait_s']['max'])} / {_s(r['probe_to_reading_s']['max'])}"
                if "probe_wait_s" in r
                else "-"
            )
        ),
    ),
    (
        "silence_gpio",
        "comeback, silent meter with GPIO (median / max); frames/min while dead; n; "
        "max probe wait / max probe to reading",
        lambda r: (
            f"{_s(r['comeback_s']['median'])} / {_s(r['comeback_s']['max'])}; "
            f"{r['frames_per_min_after_first_min']}; n={r['comeback_s']['n']}; "
            + (
                f"{_s(r['probe_wait_s']['max'])} / {_s(r['probe_to_reading_s']['max'])}"
                if "probe_wait_s" in r
                else "-"
            )
        ),
    ),
    (
        "optical_gen3",
        "comeback after a 3-8 s gen3 optical takeover (median / max)",
        lambda r: f"{_s(r['comeback_s']['median'])} / {_s(r['comeback_s']['max'])}",
    ),
    (
        "idt_gen3",
        "IDT bump -> power, gen3 (median / max; exchanges)",
        lambda r: (
            f"{_s(r['power_back_s']['median'])} / {_s(r['power_back_s']['max'])}; "
            f"{r['exchanges_until_power']}"
        ),
    ),
    (
        "idt_gen4",
        "IDT bump -> power, gen4 (median / max; exchanges)",
        lambda r: (
            f"{_s(r['power_back_s']['median'])} / {_s(r['power_back_s']['max'])}; "
            f"{r['exchanges_until_power']}"
        ),
    ),
    (
        "broker_restart",
        "broker back after 10 s -> first power value (max of 3)",
        lambda r: _s(r["max_s"]),
    ),
    (
        "ha_birth",
        "HA birth -> every entity has a value (max of 3); clock offset known after start",
        lambda r: f"{_s(r['max_s'])}; {_s(r['clock_offset_known_s'])}",
    ),
    (
        "noisy_gen3",
        "noisy gen3: mepd power readings/min, gaps > 5 s, whole tables/min, wrong; "
        "community readings/min, wrong",
        lambda r: (
            f"{r['mepd']['readings_per_min']:.1f}, {r['mepd']['gaps_over_5s']}, "
            f"{r['mepd'].get('whole_tables_per_min', r['mepd']['readings_per_min']):.1f}, "
            f"{r['mepd']['wrong_readings']}; community {r['community']['readings_per_min']:.1f}, "
            f"{r['community']['wrong_readings']}"
        ),
    ),
    (
        "noisy_gen4",
        "noisy gen4: mepd power readings/min, gaps > 5 s, whole tables/min, wrong; "
        "community readings/min, wrong",
        lambda r: (
            f"{r['mepd']['readings_per_min']:.1f}, {r['mepd']['gaps_over_5s']}, "
            f"{r['mepd'].get('whole_tables_per_min', r['mepd']['readings_per_min']):.1f}, "
            f"{r['mepd']['wrong_readings']}; community {r['community']['readings_per_min']:.1f}, "
            f"{r['community']['wrong_readings']}"
        ),
    ),
)


def _load(paths: list[str]) -> dict[str, Any]:
    merged: dict[str, Any] = {}
    for path in paths:
        with open(path) as file:
            merged.update(json.load(file)["results"])
    return merged


def main() -> int:
    split = sys.argv.index("--")
    before, after = _load(sys.argv[1:split]), _load(sys.argv[split + 1 :])
    print("| item | before | after |\n|---|---|---|")
    for key, label, cell in ROWS:
        if key in before or key in after:
            b = cell(before[key]) if key in before else "-"
            a = cell(after[key]) if key in after else "-"
            print(f"| {label} | {b} | {a} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
