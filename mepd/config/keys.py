"""Which key each meter gets: inline, a key file, a systemd credential, or /etc/mepd/mbk.

A key is parsed as soon as it is read; a message about it names where it came from and its
shape, never its bytes. Secrets written into a file that others can read earn a warning.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Callable, Mapping
from typing import TypeVar

from mepd.config import defaults
from mepd.config.document import Document
from mepd.config.keysource import (
    SecretUnavailable,
    optional_credential,
    read_credential,
    read_private_file,
    shown_path,
    user_name,
)
from mepd.config.problems import Loc, Source
from mepd.config.schema import MeterSection
from mepd.errors import ConfigError
from mepd.protocol.errors import KeyFormatError
from mepd.protocol.keys import MepKey

SecretT = TypeVar("SecretT", str, str | None)


class MissingKeyError(ConfigError):
    """No key option and nothing at the default place: `check-config` warns, `run` stops."""


def resolve_key(
    document: Document,
    loc: Loc,
    entry: MeterSection,
    *,
    name: str,
    meter_count: int,
    environ: Mapping[str, str],
) -> tuple[MepKey, str]:
    source = document.source
    if entry.key is not None:
        return _parsed_key(entry.key.get_secret_value(), source, (*loc, "key"), ""), (
            f"key in {source.label}"
        )
    if entry.key_file is not None:
        path = document.path_of(entry.key_file)
        text = secret(source, (*loc, "key_file"), lambda: read_private_file(path, "key"))
        shown = shown_path(path)
        return _parsed_key(text, source, (*loc, "key_file"), f"{shown}: "), f"key file {shown}"
    if entry.key_credential is not None:
        credential = entry.key_credential
        text = secret(
            source, (*loc, "key_credential"), lambda: read_credential(credential, environ, "key")
        )
        shown = shown_path(credential)
        return (
            _parsed_key(text, source, (*loc, "key_credential"), f"credential {shown}: "),
            f"credential {shown}",
        )
    fallback = (
        defaults.DEFAULT_KEY_CREDENTIAL
        if meter_count == 1
        else f"{defaults.DEFAULT_KEY_CREDENTIAL}-{name}"
    )
    found = secret(source, loc, lambda: optional_credential(fallback, environ, "key"))
    if found is not None:
        return _parsed_key(found, source, loc, f"credential {fallback}: "), f"credential {fallback}"
    path = defaults.KEY_DIRECTORY / fallback
    if not environ.get(defaults.CREDENTIALS_ENV) and path.exists():
        # By hand, outside the unit: the file the unit would load, if this user may read it.
        if not os.access(path, os.R_OK):
            raise ConfigError(
                f"no meter key: {path} holds it but user {user_name()} cannot read it (as it "
                f"should be); run this command with sudo, or pass --key-file FILE"
            )
        text = secret(source, loc, lambda: read_private_file(path, "key"))
        return _parsed_key(text, source, loc, f"{path}: "), f"key file {path}"
    raise _no_key(
        source, loc, name=name, credential=fallback, meter_count=meter_count, environ=environ
    )


def _parsed_key(text: str, source: Source, loc: Loc, origin: str) -> MepKey:
    try:
        return MepKey.parse(text)
    except KeyFormatError as error:  # its message describes the shape, never the key
        raise source.error(loc, f"{origin}{error}") from None


def _no_key(
    source: Source,
    loc: Loc,
    *,
    name: str,
    credential: str,
    meter_count: int,
    environ: Mapping[str, str],
) -> MissingKeyError:
    path = defaults.KEY_DIRECTORY / credential
    directory = environ.get(defaults.CREDENTIALS_ENV)
    checked = f" (credential {credential!r} is missing or blank)" if directory else ""
    if meter_count == 1:
        config = source.path or defaults.DEFAULT_CONFIG_PATH
        return MissingKeyError(
            f"no meter key{checked}: put it in {path} (one line, chmod 600), which the systemd "
            f"unit loads as the credential {credential}; or set key_file or key under [meter] "
            f"in {config}; or pass --key-file FILE"
        )
    return MissingKeyError(
        str(
            source.error(
                loc,
                f"no key for meter {name!r}{checked}: put it in {path} (chmod 600) and add "
                f"LoadCredential={credential}:{path} to the unit, or set key_file, key or "
                f"key_credential in its [[meters]] entry",
            )
        )
    )


def secret(source: Source, loc: Loc, read: Callable[[], SecretT]) -> SecretT:
    try:
        text = read()
    except SecretUnavailable as error:
        raise source.error(loc, str(error)) from None
    return text


def readable_secret_warning(source: Source, what: str, instead: str) -> list[str]:
    if source.path is None:
        return []
    try:
        status = source.path.stat()
    except OSError:
        return []
    mode = stat.S_IMODE(status.st_mode)
    # Group-readable is fine when the group is mepd's own (root:mepd 0640).
    group_readable = mode & 0o040 and status.st_gid != os.getegid()
    if not (mode & 0o004 or group_readable):
        return []
    return [
        f"{source.path}: {what} is in this file and other users can read it "
        f"(mode {mode:04o}); chmod 600 {source.path}, or move it to {instead}"
    ]
