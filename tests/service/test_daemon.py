"""The daemon's own logic: the watchdog's judgement and the STATUS= line."""

from __future__ import annotations

from dataclasses import dataclass, field

from mepd.readings import LinkStatus, MeterIdentity
from mepd.service.daemon import Daemon, Watchdog


@dataclass
class FakeNotifier:
    sent: list[str] = field(default_factory=list)
    watchdog_interval_s: float | None = 30.0

    def watchdog(self) -> bool:
        self.sent.append("WATCHDOG=1")
        return True

    def status(self, text: str) -> bool:
        self.sent.append(f"STATUS={text}")
        return True


@dataclass
class FakeTransport:
    description: str


@dataclass
class FakePoller:
    due: float
    transport: FakeTransport = field(default_factory=lambda: FakeTransport("/dev/mep0"))

    def overdue_s(self, now: float) -> float:
        return now - self.due


def test_the_watchdog_is_petted_only_while_every_loop_keeps_its_promise() -> None:
    notifier = FakeNotifier()
    healthy, stalled = FakePoller(due=100.0), FakePoller(due=100.0)
    watchdog = Watchdog(notifier, [healthy, stalled], allowance_s=30.0)  # type: ignore[arg-type,list-item]
    assert watchdog.check(now=120.0)
    assert notifier.sent == ["WATCHDOG=1"]
    healthy.due = 200.0  # in a long backoff: a promise that runs to t=200
    assert not watchdog.check(now=140.0)  # the other one is 40 s late
    assert notifier.sent == ["WATCHDOG=1"]
    stalled.due = 140.0  # it finished a cycle
    assert watchdog.check(now=141.0)
    assert notifier.sent == ["WATCHDOG=1", "WATCHDOG=1"]


def test_status_line_names_each_meter_by_serial_once_known() -> None:
    notifier = FakeNotifier()
    daemon = Daemon(notifier, ["mep0", "usb0"])  # type: ignore[arg-type]
    assert daemon.status_line() == "mep0: connecting; usb0: connecting"
    first = daemon.observe(0)
    first(MeterIdentity("SIM-1", "Echelon", "83331", "4.1", "1.0", 1, 4, 20, 1, "/dev/mep0"))
    first(LinkStatus("SIM-1", True, "meter answers"))
    daemon.observe(1)(LinkStatus(None, False, "cannot open /dev/ttyUSB0"))
    assert notifier.sent[-1] == "STATUS=SIM-1: answers; usb0: cannot open /dev/ttyUSB0"
