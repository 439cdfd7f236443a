"""A Raspberry Pi's files laid out below a temporary directory, for host checks and the installer.

The boot files are what a fresh Raspberry Pi OS (bookworm) image has in substance: a config.txt
whose last section is a model filter, and a cmdline.txt with a serial console on serial0.
"""

from __future__ import annotations

import os
from pathlib import Path

PI4 = "Raspberry Pi 4 Model B Rev 1.4"
PI3 = "Raspberry Pi 3 Model B Plus Rev 1.3"
PI5 = "Raspberry Pi 5 Model B Rev 1.0"
PI2 = "Raspberry Pi 2 Model B Rev 1.1"
ZERO2W = "Raspberry Pi Zero 2 W Rev 1.0"

CONFIG_TXT = """\
# Boot configuration; see the config.txt documentation for every option.

dtparam=audio=on
camera_auto_detect=1
display_auto_detect=1
auto_initramfs=1
dtoverlay=vc4-kms-v3d
max_framebuffers=2
disable_fw_kms_setup=1
arm_64bit=1
disable_overscan=1
arm_boost=1

[cm4]
otg_mode=1

[cm5]
dtoverlay=dwc2,dr_mode=host
"""

CMDLINE_TXT = (
    "console=serial0,115200 console=tty1 root=PARTUUID=3c8a1f20-02 rootfstype=ext4 "
    "fsck.repair=yes rootwait quiet splash plymouth.ignore-serial-consoles\n"
)
CMDLINE_WITHOUT_CONSOLE = (
    "console=tty1 root=PARTUUID=3c8a1f20-02 rootfstype=ext4 "
    "fsck.repair=yes rootwait quiet splash plymouth.ignore-serial-consoles\n"
)


class FakePi:
    """Files of a Pi below `root`. Devices are plain files with the right mode and group."""

    def __init__(self, root: Path, model: str | None = PI4, *, boot: str = "boot/firmware") -> None:
        self.root = root
        self.boot = root / boot
        self.boot.mkdir(parents=True, exist_ok=True)
        (root / "dev").mkdir(exist_ok=True)
        (root / "etc/systemd/system/multi-user.target.wants").mkdir(parents=True, exist_ok=True)
        (root / "etc/udev/rules.d").mkdir(parents=True, exist_ok=True)
        if model is not None:
            tree = root / "proc/device-tree"
            tree.mkdir(parents=True, exist_ok=True)
            (tree / "model").write_bytes(model.encode() + b"\0")
        self.config(CONFIG_TXT)
        self.cmdline(CMDLINE_TXT)
        # Our own gid stands for "dialout" and "gpio" so that no test needs chown (or root).
        self.gid = os.getgid()
        self.uid = os.getuid()
        self.accounts(members={"dialout": [], "gpio": []})

    def config(self, text: str) -> Path:
        path = self.boot / "config.txt"
        path.write_text(text)
        return path

    def cmdline(self, text: str) -> Path:
        path = self.boot / "cmdline.txt"
        path.write_text(text)
        return path

    def accounts(
        self,
        *,
        user: str | None = "mepd",
        members: dict[str, list[str]],
        device_group: str = "dialout",
        other_gid_group: str = "gpio",
    ) -> None:
        """/etc/passwd and /etc/group. `device_group` gets our gid (the devices' group)."""
        etc = self.root / "etc"
        etc.mkdir(exist_ok=True)
        passwd = ["root:x:0:0:root:/root:/bin/bash"]
        if user is not None:
            passwd.append(f"{user}:x:990:990::/var/lib/mepd:/usr/sbin/nologin")
        (etc / "passwd").write_text("\n".join(passwd) + "\n")
        gids = {"root": 0, "tty": 5, other_gid_group: 60000, "mepd": 990}
        if self.gid == 0:  # running as root: keep "root" and the device group apart
            gids["root"] = 59999
        gids[device_group] = self.gid
        lines = [f"{name}:x:{gid}:{','.join(members.get(name, []))}" for name, gid in gids.items()]
        (etc / "group").write_text("\n".join(lines) + "\n")

    def link(self, name: str, target: str) -> None:
        link = self.root / "dev" / name
        if link.is_symlink():
            link.unlink()
        link.symlink_to(target)

    def device(self, name: str, mode: int = 0o660) -> Path:
        path = self.root / "dev" / name
        path.touch()
        path.chmod(mode)
        return path

    def enable(self, wants: str, unit: str) -> None:
        folder = self.root / "etc/systemd/system" / wants
        folder.mkdir(parents=True, exist_ok=True)
        link = folder / unit
        if not link.is_symlink():
            link.symlink_to(f"/lib/systemd/system/{unit}")

    def mask(self, unit: str) -> None:
        (self.root / "etc/systemd/system" / unit).symlink_to("/dev/null")

    def tree(self) -> dict[str, tuple[str, int, str]]:
        """Every path below root: (kind, mode, content or link target), for before/after diffs."""
        result: dict[str, tuple[str, int, str]] = {}
        for path in sorted(self.root.rglob("*")):
            key = path.relative_to(self.root).as_posix()
            info = path.lstat()
            if path.is_symlink():
                result[key] = ("link", 0, os.readlink(path))
            elif path.is_dir():
                result[key] = ("dir", info.st_mode & 0o7777, "")
            else:
                result[key] = ("file", info.st_mode & 0o7777, path.read_text(errors="replace"))
        return result
