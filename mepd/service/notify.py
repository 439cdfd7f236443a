"""Telling systemd how mepd is doing: readiness, status line, watchdog, shutdown (sd_notify).

Written here rather than taken from a package on purpose. The protocol is one datagram: a few
`KEY=VALUE` lines sent with one `sendto()` to the AF_UNIX socket named in `$NOTIFY_SOCKET` (a path,
or an abstract socket when it starts with "@"). The Python bindings of libsystemd (`systemd-python`)
need libsystemd's headers and a C compiler to install into a venv, which a Pi owner's `pip install`
should not depend on, and the pure-Python packages wrap the same dozen lines.

Outside systemd (`$NOTIFY_SOCKET` unset: a terminal, the tests, `mepd demo`) every method is a
no-op. A failing send never raises: it is logged once as a warning, later ones at debug level,
because a daemon must not stop reading the meter over a status message.
"""

from __future__ import annotations

import logging
import os
import socket
from collections.abc import Mapping

log = logging.getLogger(__name__)

# sd_watchdog_enabled(3): pet at half the interval systemd announced, so that one late cycle
# does not get the service killed.
_WATCHDOG_SAFETY_FACTOR = 0.5


def _socket_address(value: str) -> str | None:
    """The sendto() address for a $NOTIFY_SOCKET value, or None for one we cannot use."""
    if value.startswith("@") and len(value) > 1:
        return "\0" + value[1:]  # Linux abstract namespace: a leading NUL byte, no file
    if value.startswith("/"):
        return value
    return None  # e.g. systemd 254's "vsock:..." (virtual machines): not a Pi service's case


def _watchdog_interval(environ: Mapping[str, str], pid: int) -> float | None:
    """Seconds between pets from $WATCHDOG_USEC/$WATCHDOG_PID, or None without a watchdog."""
    usec_text = environ.get("WATCHDOG_USEC", "")
    if not usec_text:
        return None
    try:
        usec = int(usec_text)
    except ValueError:
        log.warning("ignoring WATCHDOG_USEC=%r: not a number of microseconds", usec_text)
        return None
    if usec <= 0:
        return None
    pid_text = environ.get("WATCHDOG_PID", "")
    if pid_text:
        try:
            watched = int(pid_text)
        except ValueError:
            log.warning("ignoring the watchdog: WATCHDOG_PID=%r is not a process id", pid_text)
            return None
        if watched != pid:
            # The variables were inherited from a parent that systemd watches, not meant for us.
            return None
    return usec / 1_000_000 * _WATCHDOG_SAFETY_FACTOR


class Notifier:
    """sd_notify for one process. `environ` defaults to `os.environ`, `pid` to `os.getpid()`."""

    def __init__(self, environ: Mapping[str, str] | None = None, *, pid: int | None = None) -> None:
        env = os.environ if environ is None else environ
        self._socket_name = env.get("NOTIFY_SOCKET", "")
        self._address = _socket_address(self._socket_name) if self._socket_name else None
        if self._socket_name and self._address is None:
            log.warning(
                "NOTIFY_SOCKET=%r is neither a path nor an abstract socket; "
                "systemd will not hear from mepd",
                self._socket_name,
            )
        own_pid = os.getpid() if pid is None else pid
        interval = _watchdog_interval(env, own_pid)
        self._watchdog_interval_s = interval if self._address is not None else None
        self._sock: socket.socket | None = None
        self._warned = False

    @property
    def enabled(self) -> bool:
        """True when running under systemd with a usable notification socket."""
        return self._address is not None

    @property
    def watchdog_interval_s(self) -> float | None:
        """How often to call `watchdog()`: half of WatchdogSec=; None when nobody watches."""
        return self._watchdog_interval_s

    def ready(self, status: str | None = None) -> bool:
        """Start-up is complete (Type=notify waits for this); optionally with a status line."""
        fields = ["READY=1"]
        if status is not None:
            fields.append(_status_field(status))
        return self._send(fields)

    def status(self, text: str) -> bool:
        """The one-line status `systemctl status mepd` shows. Newlines become spaces."""
        return self._send([_status_field(text)])

    def watchdog(self) -> bool:
        """Pet the watchdog. A no-op (False) when the service has no WatchdogSec=."""
        if self._watchdog_interval_s is None:
            return False
        return self._send(["WATCHDOG=1"])

    def stopping(self, status: str | None = None) -> bool:
        """Shutdown has begun: systemd stops expecting watchdog pets."""
        fields = ["STOPPING=1"]
        if status is not None:
            fields.append(_status_field(status))
        return self._send(fields)

    def extend_timeout(self, seconds: float) -> bool:
        """Ask for `seconds` more before start-up (or shutdown) counts as hung."""
        return self._send([f"EXTEND_TIMEOUT_USEC={max(0, round(seconds * 1_000_000))}"])

    def close(self) -> None:
        if self._sock is not None:
            self._sock.close()
            self._sock = None

    def _send(self, fields: list[str]) -> bool:
        if self._address is None:
            return False
        payload = "\n".join(fields).encode("utf-8", errors="replace")
        try:
            if self._sock is None:
                self._sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
            # MSG_DONTWAIT: the event loop never blocks on a busy manager; the datagram is then
            # lost, which the next status or pet makes good.
            self._sock.sendto(payload, socket.MSG_DONTWAIT, self._address)
        except OSError as error:
            self._report(error)
            self.close()
            return False
        return True

    def _report(self, error: OSError) -> None:
        if self._warned:
            log.debug("sd_notify to %s failed again: %s", self._socket_name, error)
            return
        self._warned = True
        log.warning(
            "cannot notify systemd through %s (%s); the service status and watchdog may be "
            "stale. Said once; further failures are logged at debug level",
            self._socket_name,
            error,
        )


def _status_field(text: str) -> str:
    return "STATUS=" + " ".join(text.splitlines())
