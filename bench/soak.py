"""The long soaks: the poller against an in-process simulator on a noisy line, through the
MEP port and through the optical port, on the virtual clock, publishing only the meter's truth
(tests/engine/test_soak.py and test_optical_soak.py with more exchanges).

    .venv/bin/python bench/soak.py [--polls 10000]

The test command runs the same tests with 1,000 exchanges each; this runs them with as many as
you like and prints pytest's verdict and durations.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--polls", type=int, default=10_000, help="exchanges per profile")
    args = parser.parse_args()
    env = {**os.environ, "MEPD_SOAK_POLLS": str(args.polls)}
    command = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-n", "0"]
    command += ["--durations=0", "tests/engine/test_soak.py", "tests/engine/test_optical_soak.py"]
    return subprocess.run(command, cwd=REPO, env=env, check=False).returncode


if __name__ == "__main__":
    sys.exit(main())
