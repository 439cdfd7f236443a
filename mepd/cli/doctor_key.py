"""Host checks for `mepd doctor`: the key file systemd hands the service, and the key's shape.

Nothing here ever prints or logs a key: key checks describe its shape (length, hex or text).
"""

from __future__ import annotations

import os
import re
import stat
import string
from pathlib import Path

from mepd.cli.doctor_checks import KEY_FILE, Check, Level, host_path
from mepd.protocol.errors import KeyFormatError
from mepd.protocol.keys import MepKey

_HEX = frozenset(string.hexdigits)


def describe_key_shape(text: str) -> str:
    """What a key looks like ("20 printable characters", "32 hex digits"), never what it is."""
    candidate = text.strip()
    digits = re.sub(r"[ :-]", "", candidate)
    if digits[:2].lower() == "0x":
        digits = digits[2:]
    if digits and len(digits) in (32, 40) and all(ch in _HEX for ch in digits):
        return f"{len(digits)} hex digits ({len(digits) // 2} bytes)"
    if candidate.isascii() and candidate.isprintable():
        return f"{len(candidate)} printable characters"
    return f"{len(candidate)} characters, some not printable ASCII"


def check_key_text(text: str, name: str = "key") -> Check:
    """Is this a key in a form the utility hands out? The result shows its shape only."""
    try:
        MepKey.parse(text)
    except KeyFormatError as error:
        return Check(
            name,
            Level.FAIL,
            f"the key is not usable: {error}",
            "write the key exactly as your utility printed it (20 characters, or 32 or 40 hex "
            "digits), alone on one line",
        )
    return Check(
        name, Level.OK, f"the key is {describe_key_shape(text)}; mepd uses its first 16 bytes"
    )


def _key_file_mode(path: str, real: Path, owner_uid: int, enter: str) -> Check | None:
    """A failure of the file itself (missing, not a file, mode, owner), or None."""
    name = "key file"
    if not real.exists():
        return Check(name, Level.FAIL, f"{path} does not exist", enter)
    info = real.stat()
    if not stat.S_ISREG(info.st_mode):
        return Check(
            name, Level.FAIL, f"{path} is not a regular file", f"sudo rm -r {path}\n{enter}"
        )
    mode = stat.S_IMODE(info.st_mode)
    if mode & 0o077:
        return Check(
            name,
            Level.FAIL,
            f"{path} has mode {mode:04o}: other users can read the key",
            f"sudo chmod 600 {path}",
        )
    if info.st_uid != owner_uid:
        return Check(
            name,
            Level.FAIL,
            f"{path} is owned by uid {info.st_uid}, not root",
            f"sudo chown root:root {path}",
        )
    return None


def check_key_file(
    path: str = KEY_FILE,
    *,
    root: str | os.PathLike[str] = "/",
    owner_uid: int = 0,
) -> Check:
    """The key file systemd hands the service (LoadCredential=mbk:/etc/mepd/mbk): 0600, root's."""
    real = host_path(root) / path.lstrip("/")
    name = "key file"
    enter = f"sudo sh -c 'umask 077 && cat > {path}'  (paste the key, press Enter, then Ctrl-D)"
    problem = _key_file_mode(path, real, owner_uid, enter)
    if problem is not None:
        return problem
    owner = "root" if owner_uid == 0 else f"uid {owner_uid}"
    where = f"{path}: mode {stat.S_IMODE(real.stat().st_mode):04o}, owner {owner}"
    try:
        text = real.read_text(encoding="utf-8", errors="replace")
    except PermissionError:
        return Check(
            name,
            Level.WARN,
            f"{where}; cannot read it as this user to check the key",
            "sudo mepd doctor",
        )
    lines = [line for line in text.splitlines() if line.strip()]
    if len(lines) > 1:
        return Check(
            name,
            Level.FAIL,
            f"{path} has {len(lines)} non-empty lines; it must hold the key alone",
            f"sudo nano {path}  (leave only the key)",
        )
    found = check_key_text(text, name)
    if not found.ok:
        return Check(name, found.level, f"{path}: {found.detail}", found.fix)
    return Check(name, Level.OK, f"{where}; {found.detail}")
