"""sd_notify against a real AF_UNIX datagram socket standing in for systemd."""

from __future__ import annotations

import logging
import os
import socket
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from mepd.service.notify import Notifier


class Manager:
    """The receiving end of $NOTIFY_SOCKET, as systemd binds it."""

    def __init__(self, address: str, env_value: str) -> None:
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(address)
        self.sock.settimeout(2.0)
        self.env_value = env_value

    def receive(self) -> list[str]:
        return self.sock.recv(4096).decode().split("\n")

    def nothing_pending(self) -> bool:
        self.sock.setblocking(False)
        try:
            self.sock.recv(4096)
        except BlockingIOError:
            return True
        finally:
            self.sock.settimeout(2.0)
        return False


@pytest.fixture
def path_manager(tmp_path: Path) -> Iterator[Manager]:
    path = str(tmp_path / "notify")
    manager = Manager(path, path)
    yield manager
    manager.sock.close()


@pytest.fixture
def abstract_manager() -> Iterator[Manager]:
    name = f"mepd-test/notify/{uuid.uuid4().hex}"
    manager = Manager("\0" + name, "@" + name)
    yield manager
    manager.sock.close()


def test_ready_reaches_a_path_socket(path_manager: Manager) -> None:
    notifier = Notifier({"NOTIFY_SOCKET": path_manager.env_value})
    assert notifier.enabled
    assert notifier.ready() is True
    assert path_manager.receive() == ["READY=1"]


def test_ready_with_a_status_is_one_datagram(path_manager: Manager) -> None:
    Notifier({"NOTIFY_SOCKET": path_manager.env_value}).ready("reading /dev/mep0")
    assert path_manager.receive() == ["READY=1", "STATUS=reading /dev/mep0"]


def test_status_is_one_line(path_manager: Manager) -> None:
    Notifier({"NOTIFY_SOCKET": path_manager.env_value}).status("1.2 kW\nphase L2 0.4 kW")
    assert path_manager.receive() == ["STATUS=1.2 kW phase L2 0.4 kW"]


def test_stopping(path_manager: Manager) -> None:
    Notifier({"NOTIFY_SOCKET": path_manager.env_value}).stopping()
    assert path_manager.receive() == ["STOPPING=1"]


def test_extend_timeout_in_microseconds(path_manager: Manager) -> None:
    Notifier({"NOTIFY_SOCKET": path_manager.env_value}).extend_timeout(30)
    assert path_manager.receive() == ["EXTEND_TIMEOUT_USEC=30000000"]


def test_watchdog_pets_at_half_the_interval(path_manager: Manager) -> None:
    notifier = Notifier(
        {
            "NOTIFY_SOCKET": path_manager.env_value,
            "WATCHDOG_USEC": "60000000",
            "WATCHDOG_PID": str(os.getpid()),
        }
    )
    assert notifier.watchdog_interval_s == pytest.approx(30.0)
    assert notifier.watchdog() is True
    assert notifier.watchdog() is True
    assert path_manager.receive() == ["WATCHDOG=1"]
    assert path_manager.receive() == ["WATCHDOG=1"]


def test_watchdog_without_pid_applies_to_us(path_manager: Manager) -> None:
    notifier = Notifier({"NOTIFY_SOCKET": path_manager.env_value, "WATCHDOG_USEC": "2000000"})
    assert notifier.watchdog_interval_s == pytest.approx(1.0)


def test_abstract_socket(abstract_manager: Manager) -> None:
    notifier = Notifier(
        {"NOTIFY_SOCKET": abstract_manager.env_value, "WATCHDOG_USEC": "10000000"}, pid=42
    )
    notifier.ready()
    notifier.watchdog()
    notifier.stopping()
    assert abstract_manager.receive() == ["READY=1"]
    assert abstract_manager.receive() == ["WATCHDOG=1"]
    assert abstract_manager.receive() == ["STOPPING=1"]


def test_watchdog_pid_of_another_process_disables_the_watchdog(path_manager: Manager) -> None:
    notifier = Notifier(
        {
            "NOTIFY_SOCKET": path_manager.env_value,
            "WATCHDOG_USEC": "60000000",
            "WATCHDOG_PID": str(os.getpid() + 1),
        }
    )
    assert notifier.watchdog_interval_s is None
    assert notifier.watchdog() is False
    assert notifier.ready() is True  # readiness is still ours to report
    assert path_manager.receive() == ["READY=1"]
    assert path_manager.nothing_pending()


@pytest.mark.parametrize("usec", ["0", "-5", "sixty", ""])
def test_no_watchdog_for_unusable_usec(path_manager: Manager, usec: str) -> None:
    notifier = Notifier({"NOTIFY_SOCKET": path_manager.env_value, "WATCHDOG_USEC": usec})
    assert notifier.watchdog_interval_s is None
    assert notifier.watchdog() is False


def test_unset_socket_is_a_no_op() -> None:
    notifier = Notifier({"WATCHDOG_USEC": "60000000", "WATCHDOG_PID": str(os.getpid())})
    assert not notifier.enabled
    assert notifier.watchdog_interval_s is None
    assert notifier.ready("x") is False
    assert notifier.status("x") is False
    assert notifier.watchdog() is False
    assert notifier.stopping() is False


def test_default_environment_is_os_environ(
    monkeypatch: pytest.MonkeyPatch, path_manager: Manager
) -> None:
    monkeypatch.setenv("NOTIFY_SOCKET", path_manager.env_value)
    monkeypatch.delenv("WATCHDOG_USEC", raising=False)
    Notifier().status("from os.environ")
    assert path_manager.receive() == ["STATUS=from os.environ"]


def test_unusable_socket_value_is_disabled_with_a_warning(
    caplog: pytest.LogCaptureFixture,
) -> None:
    with caplog.at_level(logging.WARNING, logger="mepd.service.notify"):
        notifier = Notifier({"NOTIFY_SOCKET": "vsock:2:1234"})
    assert not notifier.enabled
    assert notifier.ready() is False
    assert "neither a path nor an abstract socket" in caplog.text


def test_send_errors_never_raise_and_are_logged_once(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    notifier = Notifier({"NOTIFY_SOCKET": str(tmp_path / "nobody-listens")})
    with caplog.at_level(logging.DEBUG, logger="mepd.service.notify"):
        assert notifier.ready() is False
        assert notifier.status("still fine") is False
        assert notifier.stopping() is False
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1
    assert "cannot notify systemd" in warnings[0].getMessage()


def test_recovers_when_the_manager_comes_back(tmp_path: Path) -> None:
    path = str(tmp_path / "notify")
    notifier = Notifier({"NOTIFY_SOCKET": path})
    assert notifier.ready() is False  # nobody bound yet
    manager = Manager(path, path)
    try:
        assert notifier.status("back") is True
        assert manager.receive() == ["STATUS=back"]
    finally:
        manager.sock.close()
        notifier.close()
