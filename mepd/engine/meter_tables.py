"""Who the meter is and how its tables are laid out, kept current: the re-reads p.55 asks for.

The poller reads the identity and the layout at start-up (`startup.read_meter`). Afterwards the
layout can change under it: a sequence resync may follow an IDT-version change (p.55), after
which the dimension tables are read again, power first, and BT22 with ET55's energy unit before
the next energy poll. Alerts (p.17) are looked into now and then, never answered. This class
keeps those pending re-reads and carries them out with the read function it is given.
"""

from __future__ import annotations

import dataclasses
import logging

from mepd.engine.startup import (
    Layout,
    Read,
    after_idt_change,
    energy_tables,
    explain_alerts,
    read_idt_version,
)
from mepd.protocol.errors import DecodeError
from mepd.readings import MeterIdentity

log = logging.getLogger(__name__)


class MeterTables:
    """The identity, the layout, and what must be read again before they can be trusted."""

    def __init__(self, alert_check_every_s: float) -> None:
        self.identity: MeterIdentity | None = None
        self.layout: Layout | None = None
        self.idt_check_pending = False  # a resync happened: is the layout still the same?
        self.energy_tables_pending = False  # after an IDT change: BT22 and ET55 before BT23
        self.alert_pending = False
        self._alert_check_every_s = alert_check_every_s
        self._last_alert_check = float("-inf")

    def on_resync(self) -> None:
        if self.layout is not None:
            self.idt_check_pending = True

    def on_alert(self) -> None:
        self.alert_pending = True

    def require(self) -> Layout:
        if self.layout is None:
            raise DecodeError("dimension tables not read yet")
        return self.layout

    def serial(self) -> str:
        assert self.identity is not None
        return self.identity.serial

    async def check_idt_version(self, read: Read) -> bool:
        """After a sequence jump: did the layout change (p.55)? True if it was read again.

        Pending until answered and, on a change, until the dimensions are read again: no table
        is read with dimensions that may be out of date. Only the dimensions can change (BT21,
        BT27, BT22, ET55's unit), not who the meter is or which port this is.
        """
        layout = self.require()
        idt_version = await read_idt_version(read)
        if idt_version == layout.idt_version:
            self.idt_check_pending = False
            return False
        self.layout = await after_idt_change(read, layout, idt_version)
        self.energy_tables_pending = True
        self.idt_check_pending = False
        if self.identity is not None:
            dims = self.layout.dims
            self.identity = dataclasses.replace(
                self.identity,
                summations=dims.summations,
                present_values=dims.present_values,
                idt_version=idt_version,
            )
        return True

    async def energy_layout(self, read: Read) -> Layout:
        """The layout for a BT23 poll, with BT22 and the unit read again if an IDT change
        left them pending."""
        if self.energy_tables_pending:
            self.layout = await energy_tables(read, self.require())
            self.energy_tables_pending = False
        return self.require()

    async def check_alerts(self, read: Read, now: float) -> None:
        """At most now and then: log what the alert is about. Never EP39, never ET50."""
        self.alert_pending = False
        if now - self._last_alert_check < self._alert_check_every_s:
            return
        self._last_alert_check = now
        await explain_alerts(read, (self.identity.channel if self.identity else None) or 1)
