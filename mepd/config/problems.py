"""Configuration errors a person can act on: file, line, key path, what was expected.

pydantic knows the key path of a bad value but not its line, and tomllib keeps no positions;
`key_lines` finds them again in the source text (best effort: a path it cannot place gets the
line of its nearest enclosing table). Nothing here ever repeats a secret: values of secret
fields, unknown keys (a misspelt `pasword`) and anything shaped like a MEP key are described by
their type only.
"""

from __future__ import annotations

import difflib
import json
import re
from collections.abc import Mapping
from dataclasses import InitVar, dataclass, field
from datetime import date, datetime, time
from pathlib import Path
from typing import Any, get_args

from pydantic import BaseModel, ValidationError
from pydantic_core import ErrorDetails

from mepd.config.keysource import looks_like_key
from mepd.config.schema import SECRET_FIELDS, ConfigFile, MeterSection
from mepd.errors import ConfigError

Loc = tuple[str | int, ...]

_MAX_LISTED = 8
_SHOWN_CHARS = 60

# --- where a key path sits in the TOML text -----------------------------------------------------

_KEY_PART = r"""(?:[A-Za-z0-9_-]+|"(?:[^"\\\n]|\\.)*"|'[^'\n]*')"""
_DOTTED = rf"{_KEY_PART}(?:[ \t]*\.[ \t]*{_KEY_PART})*"
_ARRAY_HEADER = re.compile(rf"[ \t]*\[\[[ \t]*({_DOTTED})[ \t]*\]\]")
_TABLE_HEADER = re.compile(rf"[ \t]*\[[ \t]*({_DOTTED})[ \t]*\]")
_ASSIGNMENT = re.compile(rf"[ \t]*({_DOTTED})[ \t]*=")
_INLINE_ASSIGNMENT = re.compile(rf"[{{,][ \t]*({_DOTTED})[ \t]*=")
_PART = re.compile(_KEY_PART)


def _key_parts(dotted: str) -> tuple[str, ...]:
    parts = []
    for match in _PART.finditer(dotted):
        text = match.group()
        parts.append(text[1:-1] if text[0] in "\"'" else text)
    return tuple(parts)


def key_lines(text: str) -> dict[Loc, int]:
    """Line numbers (1-based) of tables and keys, by pydantic-style path (array indexes too)."""
    lines: dict[Loc, int] = {}
    arrays: dict[Loc, int] = {}  # an array of tables -> how many entries so far
    table: Loc = ()
    in_multiline: str | None = None

    def resolve(parts: tuple[str, ...]) -> Loc:
        out: list[str | int] = []
        for part in parts:
            out.append(part)
            count = arrays.get(tuple(out))
            if count:
                out.append(count - 1)  # a [table] under [[array]] belongs to its last entry
        return tuple(out)

    def record(path: Loc, number: int) -> None:
        for end in range(len(table) + 1, len(path) + 1):
            lines.setdefault(path[:end], number)

    for number, line in enumerate(text.splitlines(), start=1):
        if in_multiline is not None:
            if line.count(in_multiline) % 2:
                in_multiline = None
            continue
        if match := _ARRAY_HEADER.match(line):
            parts = _key_parts(match.group(1))
            array = (*resolve(parts[:-1]), parts[-1])
            arrays[array] = arrays.get(array, 0) + 1
            table = (*array, arrays[array] - 1)
            lines.setdefault(array, number)
            lines[table] = number
        elif match := _TABLE_HEADER.match(line):
            table = resolve(_key_parts(match.group(1)))
            lines.setdefault(table, number)
        elif match := _ASSIGNMENT.match(line):
            key = (*table, *_key_parts(match.group(1)))
            record(key, number)
            rest = line[match.end() :].lstrip()
            if rest.startswith("{"):
                for inner in _INLINE_ASSIGNMENT.finditer(rest):
                    record((*key, *_key_parts(inner.group(1))), number)
            for quote in ('"""', "'''"):
                if rest.count(quote) % 2:
                    in_multiline = quote
    return lines


# --- the source of a configuration ----------------------------------------------------------


@dataclass
class Source:
    """Where a configuration came from: its file, the line of each key path in it, and which
    paths the command line replaced.

    The text itself is not kept: it may hold an inline key or password, and a `repr`, a
    `dataclasses.asdict` or a traceback's locals would show it (issue 18, item 9). Only the
    line numbers are, found once when the file is read.
    """

    path: Path | None  # None: the built-in defaults
    text: InitVar[str] = ""
    overridden: dict[Loc, str] = field(default_factory=dict)  # path -> "--serial"
    _lines: dict[Loc, int] = field(init=False, repr=False, compare=False)

    def __post_init__(self, text: str) -> None:
        self._lines = key_lines(text)

    @property
    def label(self) -> str:
        return str(self.path) if self.path is not None else "the built-in defaults"

    def line_of(self, loc: Loc) -> int | None:
        for end in range(len(loc), 0, -1):
            if loc[:end] in self._lines:
                return self._lines[loc[:end]]
        return None

    def where(self, loc: Loc) -> str:
        """`FILE, line N, a.b` (or the command-line option that set it)."""
        for end in range(len(loc), 0, -1):
            if loc[:end] in self.overridden:
                return self.overridden[loc[:end]]
        parts = [] if self.path is None else [str(self.path)]
        line = self.line_of(loc) if self.path is not None else None
        if line is not None:
            parts.append(f"line {line}")
        if loc:
            parts.append(dotted(loc))
        return ", ".join(parts)

    def error(self, loc: Loc, message: str) -> ConfigError:
        where = self.where(loc)
        return ConfigError(f"{where}: {message}" if where else message)

    def validation_error(self, error: ValidationError, prefix: Loc = ()) -> ConfigError:
        """All of pydantic's complaints, one line each, in file order."""
        found = []
        for order, item in enumerate(error.errors(include_url=False, include_context=True)):
            loc = (*prefix, *item["loc"])
            line = self.line_of(loc) or 0
            found.append((line, order, f"{self.where(loc)}: {describe(item, loc)}"))
        found.sort()
        messages = [message for _, _, message in found]
        if len(messages) > _MAX_LISTED:
            hidden = len(messages) - _MAX_LISTED
            messages = [*messages[:_MAX_LISTED], f"... and {hidden} more"]
        return ConfigError("\n".join(messages))


def dotted(loc: Loc) -> str:
    text = ""
    for part in loc:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else part)
    return text


# --- what went wrong, in words ----------------------------------------------------------------

_TABLE_EXPECTED = frozenset({"model_type", "dict_type", "list_type"})
_EXPECTED = {
    "int_type": "expected an integer",
    "float_type": "expected a number",
    "bool_type": "expected true or false",
    "string_type": 'expected a string in quotes ("...")',
    "model_type": "expected a table",
    "dict_type": "expected a table",
    "list_type": "expected an array of tables ([[...]])",
    "missing": "required, but missing",
}


def describe(item: ErrorDetails, loc: Loc) -> str:
    kind = item["type"]
    context: Mapping[str, Any] = item.get("ctx") or {}
    if kind == "extra_forbidden":
        return _unknown_key(loc)  # its value may be a misplaced secret: never shown
    if kind == "value_error" and "error" in context:
        message = str(context["error"])
    elif kind == "literal_error":
        message = f"expected one of {context.get('expected', '?')}"
    else:
        message = _EXPECTED.get(kind) or _lower_first(item["msg"])
    if kind == "missing" or not item["loc"] or isinstance(item.get("input"), dict | list):
        return message
    # Where a table belongs, the type says enough, and the value may be a pasted secret.
    secret = _is_secret(loc) or kind in _TABLE_EXPECTED
    return f"{message}, got {_shown(item.get('input'), secret=secret)}"


def _lower_first(text: str) -> str:
    return text[:1].lower() + text[1:]


def _is_secret(loc: Loc) -> bool:
    return any(part in SECRET_FIELDS for part in loc if isinstance(part, str))


def _shown(value: object, *, secret: bool) -> str:
    """A value as the user wrote it, or only its type when it may be a secret."""
    kind = _type_word(value)
    if isinstance(value, bool):
        return "true" if value else "false"
    if secret:
        return f"{kind} (not shown: a secret)"
    if isinstance(value, str):
        if looks_like_key(value):
            return f"{kind} (not shown: it looks like a MEP key)"
        text = json.dumps(value, ensure_ascii=False)
        return text if len(text) <= _SHOWN_CHARS else text[: _SHOWN_CHARS - 4] + '..."'
    if isinstance(value, int | float):
        return str(value)
    return kind


_TYPE_WORDS: tuple[tuple[type | tuple[type, ...], str], ...] = (
    (bool, "a boolean"),  # before int: a bool is an int
    (str, "a string"),
    (int, "an integer"),
    (float, "a number"),
    ((datetime, date, time), "a date or time"),
    (dict, "a table"),
    (list, "an array"),
)


def _type_word(value: object) -> str:
    return next((word for kind, word in _TYPE_WORDS if isinstance(value, kind)), "a value")


def _unknown_key(loc: Loc) -> str:
    name = str(loc[-1])
    model = _model_at(loc[:-1])
    if model is None:
        return "unknown key"
    allowed = list(model.model_fields)
    message = "unknown key"
    close = difflib.get_close_matches(name, allowed, n=1, cutoff=0.6)
    if close:
        message += f" (did you mean {close[0]}?)"
    elif len(loc) > 1 and name in ConfigFile.model_fields:
        # `state_directory = ...` written after a [table] header lands in that table.
        message += " here: top-level keys must come before the first [table] of the file"
    elif len(loc) == 1 and name in MeterSection.model_fields:
        message += " at the top level: it belongs under [meter]"
    return f"{message}; expected one of: {', '.join(allowed)}"


def _model_at(loc: Loc) -> type[BaseModel] | None:
    """The model that validates the table at `loc`, following fields, lists and Optionals."""
    model: type[BaseModel] = ConfigFile
    for part in loc:
        if isinstance(part, int):
            continue
        info = model.model_fields.get(part)
        if info is None:
            return None
        found = _model_in(info.annotation)
        if found is None:
            return None
        model = found
    return model


def _model_in(annotation: Any) -> type[BaseModel] | None:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    for argument in get_args(annotation):
        found = _model_in(argument)
        if found is not None:
            return found
    return None
