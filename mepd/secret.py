"""`Secret`: a password that no repr, str, format or `dataclasses.asdict` shows.

A foundation module (it imports nothing), so the command line's `--mqtt` URL can hold its
password as one without loading the settings; `mepd.settings` re-exports it.
"""

from __future__ import annotations

import hmac

__all__ = ["Secret"]


class Secret:
    """A password, shown as `***` by repr, str and format; `reveal()` gives the text to the one
    place that sends it.

    Neither a dataclass nor a str, so `dataclasses.asdict` copies it as the `Secret` it is
    instead of expanding it into plain text, and no f-string or log line can print it by
    accident. Immutable: copies are the object itself. It does pickle with its value (the
    configuration comes from a forked child over a pipe, `config/isolated.py`).
    """

    __slots__ = ("_value",)
    _value: str

    def __init__(self, value: str) -> None:
        object.__setattr__(self, "_value", value)

    def __setattr__(self, name: str, value: object) -> None:
        raise AttributeError("a Secret is immutable")

    def reveal(self) -> str:
        return self._value

    def __repr__(self) -> str:
        return "Secret('***')"

    def __str__(self) -> str:
        return "***"

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Secret):
            return NotImplemented
        return hmac.compare_digest(self._value.encode(), other._value.encode())

    def __hash__(self) -> int:
        return hash((Secret, self._value))

    def __copy__(self) -> Secret:
        return self

    def __deepcopy__(self, _memo: object) -> Secret:
        return self

    def __reduce__(self) -> tuple[type[Secret], tuple[str]]:
        return Secret, (self._value,)
