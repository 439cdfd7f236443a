"""mepd's own processes for tests: `mepd simulate` on a pty, as a user would start it."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager

PYTHON = sys.executable


@contextmanager
def simulator(*options: str) -> Iterator[str]:
    """`mepd simulate` in its own process; yields the tty path it prints first."""
    process = subprocess.Popen(
        [PYTHON, "-m", "mepd", "simulate", *options],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    assert process.stdout is not None
    try:
        path = process.stdout.readline().strip()
        assert path.startswith("/dev/"), path
        yield path
    finally:
        process.terminate()
        process.wait(10)
