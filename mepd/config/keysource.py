"""Reading secrets (the meter key, the MQTT password) from private files and systemd credentials.

A key file other users could read is refused, as ssh refuses such a private key: a meter key
is the utility's secret, and a warning in a log nobody reads protects nothing. systemd
credentials are read as they are: systemd already makes them private to the service.
Messages name the file, never its content.
"""

from __future__ import annotations

import errno
import os
import pwd
import stat
from collections.abc import Mapping
from pathlib import Path

from mepd.config.defaults import CREDENTIALS_ENV
from mepd.protocol.errors import KeyFormatError
from mepd.protocol.keys import parse_key

# Group and other permission bits: any of them set and the file is not private.
_NOT_PRIVATE = 0o077
_MAX_SECRET_BYTES = 4096


class SecretUnavailable(Exception):  # noqa: N818 - reads as what happened, like FileNotFoundError
    """A secret could not be read. The message says why and how to fix it, never the secret."""


def looks_like_key(text: str) -> bool:
    """True if `text` has the shape of a MEP key, so that no message repeats it."""
    try:
        parse_key(text)
    except KeyFormatError:
        return False
    return True


def shown_path(text: str | Path) -> str:
    """A path for a message, unless someone pasted the key where the path belongs.

    Told by shape, not length: a path with a slash is a path (only its last part could be a
    pasted key), and so is the name of a file that exists; anything else with the shape of a
    key is not shown. A 20-character path such as /etc/mepd/mbk-meter1 is shown.
    """
    text = str(text)
    if os.path.lexists(text):
        return text
    last = text.rstrip("/").rpartition("/")[2]
    if looks_like_key(last):
        return "(the value is not shown: it looks like a MEP key)"
    return text


def read_private_file(path: Path, what: str) -> str:
    """The text of a file only its owner can access, or `SecretUnavailable` saying what to do."""
    shown = shown_path(path)
    try:
        # O_NONBLOCK: a FIFO given by mistake must not hang the daemon's start.
        descriptor = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
    except FileNotFoundError:
        raise SecretUnavailable(
            f"{shown} does not exist; create it with the {what} on one line, then chmod 600 {shown}"
        ) from None
    except PermissionError:
        user = user_name()
        raise SecretUnavailable(
            f"cannot read {shown}: permission denied for user {user}; the user mepd runs as must "
            f"own it (chown {user} {shown}; chmod 600 {shown})"
        ) from None
    except OSError as error:
        raise SecretUnavailable(f"cannot read {shown}: {error.strerror}") from None
    try:
        # fstat of what was opened, not stat of the name: nothing can be swapped in between.
        status = os.fstat(descriptor)
        if not stat.S_ISREG(status.st_mode):
            raise SecretUnavailable(
                f"{shown} is not a regular file; expected a file with the {what}"
            )
        if status.st_uid not in (os.geteuid(), 0):
            user = user_name()
            raise SecretUnavailable(
                f"{shown} is owned by user {_owner_name(status.st_uid)}, so that user can "
                f"replace the {what}; mepd accepts it only from {user} or root: "
                f"chown {user} {shown}; chmod 600 {shown}"
            )
        mode = stat.S_IMODE(status.st_mode)
        if mode & _NOT_PRIVATE:
            raise SecretUnavailable(
                f"{shown} has mode {mode:04o}, so other users can read or replace the {what}; "
                f"mepd refuses it, as ssh refuses such a private key: chmod 600 {shown}"
            )
        content = os.read(descriptor, _MAX_SECRET_BYTES + 1)
    finally:
        os.close(descriptor)
    return _decoded(content, shown, what)


def read_credential(name: str, environ: Mapping[str, str], what: str) -> str:
    """The systemd credential `name`, or `SecretUnavailable` saying how to provide it."""
    directory = environ.get(CREDENTIALS_ENV)
    shown = shown_path(name)
    if not directory:
        raise SecretUnavailable(
            f"credential {shown} needs ${CREDENTIALS_ENV}, which is not set: mepd is not running "
            f"under a systemd unit with LoadCredential={shown}:FILE; outside systemd, give a file "
            f"instead"
        )
    path = Path(directory) / name
    try:
        content = path.read_bytes()[: _MAX_SECRET_BYTES + 1]
    except FileNotFoundError:
        raise SecretUnavailable(
            f"credential {shown} is not in ${CREDENTIALS_ENV} ({directory}); add "
            f"LoadCredential={shown}:FILE (or SetCredentialEncrypted=) to the service"
        ) from None
    except OSError as error:
        reason = "permission denied" if error.errno == errno.EACCES else error.strerror
        raise SecretUnavailable(f"cannot read credential {shown}: {reason}") from None
    return _decoded(content, f"credential {shown}", what)


def optional_credential(name: str, environ: Mapping[str, str], what: str) -> str | None:
    """The credential if the service has a non-blank one, else None.

    The unit's `SetCredential=mbk:\\n` fallback makes a blank credential when /etc/mepd/mbk
    is missing: that means "no key given", not "an empty key".
    """
    directory = environ.get(CREDENTIALS_ENV)
    if not directory or not (Path(directory) / name).is_file():
        return None
    text = read_credential(name, environ, what)
    return text if text.strip() else None


def _decoded(content: bytes, shown: str, what: str) -> str:
    if len(content) > _MAX_SECRET_BYTES:
        raise SecretUnavailable(f"{shown} is too large to hold a {what}")
    try:
        return content.decode("utf-8")
    except UnicodeDecodeError:
        raise SecretUnavailable(f"{shown} is not UTF-8 text; expected the {what} as text") from None


def _owner_name(uid: int) -> str:
    try:
        return f"{pwd.getpwuid(uid).pw_name} ({uid})"
    except KeyError:
        return str(uid)


def user_name() -> str:
    """Who mepd runs as, for messages about file ownership."""
    try:
        return pwd.getpwuid(os.geteuid()).pw_name
    except KeyError:
        return str(os.geteuid())
