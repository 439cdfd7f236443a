"""Issue 15 item 7: `mepd doctor` prints each check as it completes, and is quick.

Before, it was silent for 5 s and then printed everything at once. Each line's arrival is
timed here as the user's terminal would see it.
"""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

from tests.fake_pi import FakePi
from tests.mosquitto import Mosquitto
from tests.processes import simulator

MOST_S = 6.0  # when everything answers


def test_checks_appear_as_they_complete_and_all_within_6_s(
    tmp_path: Path, daemon_config: Path, broker: Mosquitto
) -> None:
    pi = FakePi(tmp_path / "pi")
    pi.accounts(members={"dialout": ["mepd"], "gpio": ["mepd"]})
    with simulator() as tty:
        (pi.root / tty.lstrip("/")).parent.mkdir(parents=True, exist_ok=True)
        pi.device(tty.removeprefix("/dev/"))
        started = time.monotonic()
        command = [sys.executable, "-m", "mepd", "doctor", "--root", str(pi.root)]
        command += ["--config", str(daemon_config), "--serial", tty]
        command += ["--mqtt", f"mqtt://127.0.0.1:{broker.port}"]
        process = subprocess.Popen(
            command,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
        )
        assert process.stdout is not None
        arrivals = [(time.monotonic() - started, line) for line in process.stdout]
        assert process.wait(30) == 0, arrivals
    elapsed = time.monotonic() - started
    first = next(at for at, line in arrivals if "configuration:" in line)
    read = next(at for at, line in arrivals if "test read" in line)
    assert arrivals[-1][1].strip() == "no problems found"
    # the configuration line is on screen while the meter is still being read
    assert read - first > 0.5, arrivals
    assert elapsed <= MOST_S, arrivals
    assert not (daemon_config.parent / "state").exists()  # doctor only looks (item 4)
