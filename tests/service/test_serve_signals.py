"""`mepd run` says it has started only once Ctrl-C and SIGTERM stop it cleanly.

A process started in the background by a shell or by pytest-xdist inherits SIGINT ignored;
Python keeps it so until the daemon installs its own handlers. The started line is what
scripts, tests and users wait for before they signal, so a signal sent after it must never
fall into that window and be lost (seen as a `mepd run` that ignored one SIGINT).
"""

from __future__ import annotations

import asyncio
import logging
import signal
from pathlib import Path

import pytest

from mepd.config.load import load_config
from mepd.service.daemon import serve

STARTED = "meter(s), MQTT"


class _HandlerAtStart(logging.Handler):
    """Notes the SIGINT handler in force when the started line is logged, then stops."""

    def __init__(self, stop: asyncio.Event) -> None:
        super().__init__()
        self.stop = stop
        self.handler_at_start: object = None

    def emit(self, record: logging.LogRecord) -> None:
        if STARTED in record.getMessage():
            self.handler_at_start = signal.getsignal(signal.SIGINT)
            self.stop.set()


@pytest.mark.asyncio
async def test_the_started_line_comes_once_a_signal_would_stop_the_daemon(tmp_path: Path) -> None:
    path = tmp_path / "config.toml"
    path.write_text(
        f'state_directory = "{tmp_path / "state"}"\n'
        '[meter]\nkey = "MEPD-DEMO-KEY-000001"\n'
        f'[serial]\nport = "{tmp_path / "no-such-tty"}"\n'
        "[gpio]\nenabled = false\n"
        '[mqtt]\nhost = "127.0.0.1"\nport = 9\n'
    )
    config = load_config(path, environ={})
    stop = asyncio.Event()
    watcher = _HandlerAtStart(stop)
    daemon_log = logging.getLogger("mepd.service.daemon")
    daemon_log.addHandler(watcher)
    level = daemon_log.level
    daemon_log.setLevel(logging.INFO)
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN)  # as a background job has it
    try:
        await asyncio.wait_for(serve(config, stop=stop), 30)
    finally:
        signal.signal(signal.SIGINT, previous)
        daemon_log.removeHandler(watcher)
        daemon_log.setLevel(level)
    assert watcher.handler_at_start not in (signal.SIG_IGN, signal.SIG_DFL, None)
