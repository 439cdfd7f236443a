"""Decoded values with their meaning, and a container to look them up by stable name."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

from mepd.protocol.tables.sources import Source
from mepd.protocol.tables.units import Unit


def scaled(raw: int, scale: float) -> float:
    """raw * scale; sub-unit scales divide, so 231456 mV is 231.456 V, not 231.45600000000002."""
    divisor = round(1 / scale) if 0 < scale < 1 else 0
    if divisor and abs(divisor * scale - 1) < 1e-12:
        return raw / divisor
    return raw * scale


@dataclass(frozen=True)
class Measurement:
    """One register: SI `value` = `raw` * source.scale (* the BT23 energy unit, p.207)."""

    source: Source
    value: float
    unit: Unit
    raw: int

    @classmethod
    def of(cls, source: Source, raw: int, multiplier: int = 1) -> Measurement:
        return cls(source, scaled(raw * multiplier, source.scale), source.unit, raw)

    @property
    def name(self) -> str:
        return self.source.name


@dataclass(frozen=True)
class Measurements:
    """Measurements in table order; `get`/`by_name` find one by its source name.

    If a table lists a source twice, the first one wins the name lookup (both stay in order).
    """

    items: tuple[Measurement, ...] = ()
    by_name: Mapping[str, Measurement] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        names: dict[str, Measurement] = {}
        for item in self.items:
            names.setdefault(item.source.name, item)
        object.__setattr__(self, "by_name", MappingProxyType(names))

    @classmethod
    def of(cls, items: Iterable[Measurement]) -> Measurements:
        return cls(tuple(items))

    def get(self, name: str) -> Measurement | None:
        return self.by_name.get(name)

    def __iter__(self) -> Iterator[Measurement]:
        return iter(self.items)

    def __len__(self) -> int:
        return len(self.items)

    def __getitem__(self, index: int) -> Measurement:
        return self.items[index]

    def __contains__(self, name: object) -> bool:
        return name in self.by_name
