"""`mepd run` under tracemalloc: SIGUSR1 writes a snapshot (for bench/profile_daemon.py).

    python bench/traced_daemon.py OUTDIR run --config FILE

snapN.pickle is a `tracemalloc.Snapshot`; snapN.json has the traced memory then and its peak
since the previous snapshot (the peak is reset at each one).
"""

from __future__ import annotations

import json
import os
import signal
import sys
import tracemalloc
from pathlib import Path
from types import FrameType

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))


def main() -> int:
    out = Path(sys.argv[1])
    tracemalloc.start(int(os.environ.get("BENCH_TRACE_FRAMES", "6")))
    taken = 0

    def dump(_signum: int, _frame: FrameType | None) -> None:
        nonlocal taken
        taken += 1
        current, peak = tracemalloc.get_traced_memory()
        tracemalloc.take_snapshot().dump(str(out / f"snap{taken}.pickle"))
        (out / f"snap{taken}.json").write_text(json.dumps({"current": current, "peak": peak}))
        tracemalloc.reset_peak()

    signal.signal(signal.SIGUSR1, dump)
    from mepd.cli import main as mepd_main  # noqa: PLC0415 - traced from here on

    return mepd_main(sys.argv[2:])


if __name__ == "__main__":
    sys.exit(main())
