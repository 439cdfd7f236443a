"""Reading a configuration file: TOML text to a shape-checked `Document` that knows its source.

Every failure is a `ConfigError` naming the file and the line. Errors are raised `from None`: a
pydantic error chained to them would carry the very values (a key, a password) that the message
leaves out.
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import TypeVar

from pydantic import BaseModel, ValidationError

from mepd.config import defaults
from mepd.config.problems import Loc, Source
from mepd.config.schema import ConfigFile, MeterSection
from mepd.errors import ConfigError

SectionT = TypeVar("SectionT", bound=BaseModel)

_TOML_POSITION = re.compile(
    r"^(?P<message>.*) \(at (?:line (?P<line>\d+), column (?P<column>\d+)|end of document)\)$"
)
_TOML_KEY_TUPLE = re.compile(r"\((?:'[^']*'(?:, )?)+,?\)")
_QUOTED = re.compile(r"'([^']*)'")
_SYNTAX_HINTS = {
    "Invalid value": 'text needs quotes (port = "/dev/ttyUSB0"); true and false are lower case',
    "Cannot overwrite a value": "a key given twice",
}


@dataclass(frozen=True)
class Document:
    """A configuration file whose shape is checked, and where its parts came from."""

    file: ConfigFile
    source: Source
    base_dir: Path  # relative paths in the file are relative to its directory

    def meter_entries(self) -> list[tuple[Loc, MeterSection]]:
        """`[meter]` or each `[[meters]]` entry, with its key path; one meter if neither."""
        if self.file.meter is not None and self.file.meters is not None:
            raise self.source.error(
                ("meters",),
                "expected either one [meter] or several [[meters]], not both; "
                "move [meter] into a [[meters]] entry",
            )
        if self.file.meters is not None:
            if not self.file.meters:
                raise self.source.error(("meters",), "expected at least one [[meters]] entry")
            return [(("meters", index), entry) for index, entry in enumerate(self.file.meters)]
        return [(("meter",), self.file.meter or MeterSection())]

    def path_of(self, text: str) -> Path:
        path = Path(text)
        return path if path.is_absolute() else self.base_dir / path


def read_document(path: Path | None) -> Document:
    if path is None:
        if not defaults.DEFAULT_CONFIG_PATH.exists():
            return Document(ConfigFile(), Source(None), Path("/"))
        path = defaults.DEFAULT_CONFIG_PATH
    text = _read_text(path)
    source = Source(path, text)
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        raise ConfigError(_syntax_message(path, str(error))) from None
    try:
        file = ConfigFile.model_validate(data)
    except ValidationError as error:
        problem = source.validation_error(error)
    else:
        return Document(file, source, path.absolute().parent)
    # Raised outside `except`: not even __context__ may hold the pydantic error and its inputs.
    raise problem


def _read_text(path: Path) -> str:
    try:
        content = path.read_bytes()
    except FileNotFoundError:
        raise ConfigError(
            f"{path}: no such configuration file (config.example.toml shows every option)"
        ) from None
    except IsADirectoryError:
        raise ConfigError(f"{path}: is a directory, expected a configuration file") from None
    except PermissionError:
        raise ConfigError(
            f"{path}: cannot read the configuration file: permission denied "
            f"(check its owner and mode, or run as a user who can read it)"
        ) from None
    except OSError as error:
        raise ConfigError(f"{path}: cannot read the configuration file: {error.strerror}") from None
    try:
        return content.decode("utf-8")
    except UnicodeDecodeError as error:
        line = content[: error.start].count(b"\n") + 1
        raise ConfigError(
            f"{path}, line {line}: not UTF-8 text; save the file as UTF-8 (TOML requires it)"
        ) from None


def _syntax_message(path: Path, message: str) -> str:
    match = _TOML_POSITION.match(message)
    if match is None:
        return f"{path}: TOML syntax error: {message}"
    # tomllib names keys as tuples, ('mqtt', 'tls'); the file says mqtt.tls.
    text = _TOML_KEY_TUPLE.sub(lambda key: ".".join(_QUOTED.findall(key[0])), match["message"])
    hint = _SYNTAX_HINTS.get(text)
    detail = text[:1].lower() + text[1:] + (f" ({hint})" if hint else "")
    if match["line"] is None:
        return f"{path}, at the end: TOML syntax error: {detail}"
    return f"{path}, line {match['line']}, column {match['column']}: TOML syntax error: {detail}"


def merged(base: SectionT, override: SectionT | None) -> SectionT:
    """`base` with every field the meter entry wrote itself (pydantic's fields_set) replaced."""
    if override is None:
        return base
    return base.model_copy(
        update={name: getattr(override, name) for name in override.model_fields_set}
    )


def name_from_port(port: str) -> str:
    """A stable name for a meter without one: the device's name, "mep0" for /dev/mep0."""
    base = port.split("://", 1)[1] if "://" in port else PurePosixPath(port).name
    return re.sub(r"[^A-Za-z0-9_-]+", "-", base).strip("-_")[:64] or "meter"
