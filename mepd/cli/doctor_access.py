"""Host checks for `mepd doctor`: may the service user use the serial port and the GPIO chips?

Users and groups come from NSS on the real root and from the root's /etc files on a fake one;
the groups the systemd unit adds (SupplementaryGroups=) count as the user's.
"""

from __future__ import annotations

import grp
import os
import pwd
import stat
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from mepd.cli.doctor_checks import SERVICE_GROUPS, SERVICE_USER, Check, Level, host_path


@dataclass(frozen=True)
class _Account:
    name: str
    uid: int
    gids: frozenset[int]


class _UserDb:
    """Users and groups: NSS (pwd/grp) on the real root, the root's /etc files on a fake one."""

    def __init__(self, root: Path) -> None:
        self._native = root.resolve() == Path("/")
        self._passwd = self._read(root / "etc/passwd")
        self._group = self._read(root / "etc/group")

    @staticmethod
    def _read(path: Path) -> list[list[str]]:
        try:
            lines = path.read_text(errors="replace").splitlines()
        except OSError:
            return []
        return [line.split(":") for line in lines if line and not line.startswith("#")]

    def account(self, name: str) -> _Account | None:
        if self._native:
            try:
                entry = pwd.getpwnam(name)
            except KeyError:
                return None
            gids = {entry.pw_gid} | {g.gr_gid for g in grp.getgrall() if name in g.gr_mem}
            return _Account(name, entry.pw_uid, frozenset(gids))
        for fields in self._passwd:
            if len(fields) >= 4 and fields[0] == name:
                gids = {int(fields[3])}
                gids |= {int(g[2]) for g in self._group if len(g) >= 4 and name in g[3].split(",")}
                return _Account(name, int(fields[2]), frozenset(gids))
        return None

    def gid(self, group: str) -> int | None:
        if self._native:
            try:
                return grp.getgrnam(group).gr_gid
            except KeyError:
                return None
        for fields in self._group:
            if len(fields) >= 3 and fields[0] == group:
                return int(fields[2])
        return None

    def group_name(self, gid: int) -> str:
        if self._native:
            try:
                return grp.getgrgid(gid).gr_name
            except KeyError:
                return str(gid)
        for fields in self._group:
            if len(fields) >= 3 and fields[2] == str(gid):
                return fields[0]
        return str(gid)


def _missing_user(name: str, user: str) -> Check:
    return Check(
        name,
        Level.FAIL,
        f"the service user {user} does not exist",
        f"sudo useradd --system --user-group --home-dir /var/lib/mepd --no-create-home "
        f"--shell /usr/sbin/nologin {user} && sudo usermod -aG {','.join(SERVICE_GROUPS)} {user}"
        " (or re-run scripts/install)",
    )


def _access(
    name: str,
    device: str,
    path: Path,
    *,
    account: _Account,
    users: _UserDb,
    service_groups: Sequence[str],
) -> Check:
    info = path.stat()
    mode = stat.S_IMODE(info.st_mode)
    group = users.group_name(info.st_gid)
    target = path.resolve().name
    shown = device if Path(device).name == target else f"{device} -> {target}"
    via_unit = {g for g in (users.gid(n) for n in service_groups) if g is not None}
    if info.st_uid == account.uid and mode & 0o600 == 0o600:
        return Check(name, Level.OK, f"{shown}: owned by {account.name}")
    if info.st_gid in account.gids | via_unit and mode & 0o060 == 0o060:
        how = "is in it" if info.st_gid in account.gids else "gets it from the unit"
        return Check(name, Level.OK, f"{shown}: group {group} rw, {account.name} {how}")
    if mode & 0o006 == 0o006:
        return Check(name, Level.WARN, f"{shown}: anybody may read and write it (mode {mode:04o})")
    member = info.st_gid in account.gids | via_unit
    return _denied(name, shown, target, group, mode=mode, outsider=None if member else account.name)


def _denied(
    name: str, shown: str, target: str, group: str, *, mode: int, outsider: str | None
) -> Check:
    """Why the service user may not use a device, and the fix; `outsider`: not in its group."""
    if group == "tty" and mode & 0o040 == 0:
        return Check(
            name,
            Level.FAIL,
            f"{shown}: group tty, mode {mode:04o}: a console or login prompt holds it",
            "remove the console from cmdline.txt and disable its getty "
            "(see the serial console check), then: sudo reboot",
        )
    if group == "root":
        usual = "gpio" if target.startswith("gpiochip") else "dialout"
        return Check(
            name,
            Level.FAIL,
            f"{shown}: owned by root, mode {mode:04o}: only root may use it",
            f"sudo chgrp {usual} /dev/{target} && sudo chmod 660 /dev/{target}  (until reboot; "
            "90-mepd.rules does this at boot: sudo udevadm trigger)",
        )
    if outsider is not None:
        return Check(
            name,
            Level.FAIL,
            f"{shown}: group {group}, mode {mode:04o}: {outsider} is not in group {group}",
            f"sudo usermod -aG {group} {outsider}\n"
            f"sudo systemctl edit mepd  (add: [Service] SupplementaryGroups={group})",
        )
    return Check(
        name,
        Level.FAIL,
        f"{shown}: group {group}, mode {mode:04o}: the group may not read and write it",
        f"sudo chmod 660 /dev/{target}  (until reboot; 90-mepd.rules sets MODE=0660 at boot)",
    )


def check_device_access(
    device: str,
    user: str = SERVICE_USER,
    *,
    root: str | os.PathLike[str] = "/",
    service_groups: Sequence[str] = SERVICE_GROUPS,
) -> Check:
    """May `user` read and write `device` (the serial port), counting the unit's groups?"""
    base = host_path(root)
    path = base / device.lstrip("/")
    name = "port access"
    if not path.exists():
        if Path(device).name == "mep0":
            fix = (
                "ls -l /dev/ttyAMA0 (the udev rule 90-mepd.rules links mep0 to it; on a Pi 3/4/"
                "Zero W see the uart check), then: sudo udevadm trigger --subsystem-match=tty"
            )
        else:
            fix = "set the right port in /etc/mepd/config.toml: ls -l /dev/serial* /dev/ttyUSB*"
        return Check(name, Level.FAIL, f"{device} does not exist", fix)
    users = _UserDb(base)
    account = users.account(user)
    if account is None:
        return _missing_user(name, user)
    return _access(name, device, path, account=account, users=users, service_groups=service_groups)


def check_gpio_access(
    user: str = SERVICE_USER,
    *,
    root: str | os.PathLike[str] = "/",
    service_groups: Sequence[str] = SERVICE_GROUPS,
) -> Check:
    """May `user` use every /dev/gpiochip* (transceiver power, MEP ENABLE, sense, LEDs)?"""
    base = host_path(root)
    name = "gpio access"
    chips = sorted((base / "dev").glob("gpiochip*"))
    if not chips:
        return Check(
            name,
            Level.WARN,
            "no /dev/gpiochip*: the HAT's transceiver power and MEP ENABLE lines cannot be "
            "driven (fine with a USB-RS232 adapter)",
        )
    users = _UserDb(base)
    account = users.account(user)
    if account is None:
        return _missing_user(name, user)
    results = [
        _access(
            name,
            f"/dev/{chip.name}",
            chip,
            account=account,
            users=users,
            service_groups=service_groups,
        )
        for chip in chips
    ]
    for result in results:
        if result.level is not Level.OK:
            return result
    return Check(name, Level.OK, "; ".join(r.detail for r in results))


# --- the key ----------------------------------------------------------------------------------
