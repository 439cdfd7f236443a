"""Decoded values with their meaning, and a container to look them up by stable name."""

from __future__ import annotations

from collections import Counter
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

    A table (BT27, BT22) that lists a source twice gives two values for one name, and nothing
    says which is right: such a source is in `duplicates` and in neither `by_name` nor
    `unique`, so the plausibility guard and the payload both leave it out (one rule for both;
    `items` keeps every register in table order, for the encoders and dumps).
    """

    items: tuple[Measurement, ...] = ()
    by_name: Mapping[str, Measurement] = field(init=False, repr=False, compare=False)
    duplicates: frozenset[str] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        counts = Counter(item.source.name for item in self.items)
        names = {item.source.name: item for item in self.items if counts[item.source.name] == 1}
        object.__setattr__(self, "by_name", MappingProxyType(names))
        object.__setattr__(
            self, "duplicates", frozenset(name for name, n in counts.items() if n > 1)
        )

    @property
    def unique(self) -> tuple[Measurement, ...]:
        """The items whose source the table lists once, in table order."""
        return tuple(item for item in self.items if item.source.name not in self.duplicates)

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
