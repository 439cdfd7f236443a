"""Orthogonal wires between the pins of one schematic block, without touching other nets.

KiCad joins a wire to anything that lies on one of its end points, and to a pin whose tip lies
anywhere on it: a careless wire silently merges two nets. So a candidate route (straight, L,
or Z through a free column or row) is accepted only if no segment overlaps or ends on another
net's wire, passes over another net's point (pin tip, stub end, label), or crosses a part's
body. What cannot be routed is left to labels by the caller. Coordinates are integers in
hundredths of a millimetre.
"""

from __future__ import annotations

from dataclasses import dataclass, field

Point = tuple[int, int]
Seg = tuple[Point, Point]
GRID = 254  # 2.54 mm


def mm(v: float) -> int:
    return int(round(v * 100))


def _on(p: Point, s: Seg) -> bool:
    (x1, y1), (x2, y2) = s
    return min(x1, x2) <= p[0] <= max(x1, x2) and min(y1, y2) <= p[1] <= max(y1, y2) and (
        x1 == x2 == p[0] or y1 == y2 == p[1]
    )


def _vertical(s: Seg) -> bool:
    return s[0][0] == s[1][0]


def _clash(a: Seg, b: Seg) -> bool:
    """True if the two segments touch in a way KiCad would take for a connection or overlap."""
    if _vertical(a) == _vertical(b):
        if _vertical(a) and a[0][0] != b[0][0]:
            return False
        if not _vertical(a) and a[0][1] != b[0][1]:
            return False
        k = 1 if _vertical(a) else 0
        lo_a, hi_a = sorted((a[0][k], a[1][k]))
        lo_b, hi_b = sorted((b[0][k], b[1][k]))
        return lo_a <= hi_b and lo_b <= hi_a
    v, h = (a, b) if _vertical(a) else (b, a)
    x, y = v[0][0], h[0][1]
    if not (_on((x, y), v) and _on((x, y), h)):
        return False
    # a plain crossing is no connection; an end point on the other segment is
    return (x, y) in (v[0], v[1], h[0], h[1])


@dataclass
class Sheet:
    """Everything already on the sheet, by net."""

    points: dict[Point, str] = field(default_factory=dict)
    segs: list[tuple[Seg, str]] = field(default_factory=list)
    boxes: list[tuple[int, int, int, int]] = field(default_factory=list)

    def add_point(self, p: Point, net: str) -> None:
        if self.points.setdefault(p, net) != net:
            raise SystemExit(f"schematic collision at {p}: {self.points[p]} vs {net}")

    def free(self, seg: Seg, net: str) -> bool:
        for p, other in self.points.items():
            if _on(p, seg) and (other != net or p not in seg):
                return False
        for s, other in self.segs:
            if _clash(seg, s) and (other != net or not (set(seg) & set(s))):
                return False
            if other == net and _vertical(seg) == _vertical(s) and _overlap(seg, s) > 0:
                return False
        (x1, y1), (x2, y2) = seg
        for bx0, by0, bx1, by1 in self.boxes:
            if max(x1, x2) > bx0 and min(x1, x2) < bx1 and max(y1, y2) > by0 and min(y1, y2) < by1:
                return False
        return True

    def route(self, a: Point, b: Point, net: str, bounds: tuple[int, int, int, int]
              ) -> list[Point] | None:
        (x1, y1), (x2, y2) = a, b
        cands: list[list[Point]] = []
        if x1 == x2 or y1 == y2:
            cands.append([a, b])
        cands += [[a, (x2, y1), b], [a, (x1, y2), b]]
        bx0, by0, bx1, by1 = bounds
        for m in range(bx0 - bx0 % GRID + GRID, bx1, GRID):
            cands.append([a, (m, y1), (m, y2), b])
        for m in range(by0 - by0 % GRID + GRID, by1, GRID):
            cands.append([a, (x1, m), (x2, m), b])

        def cost(path: list[Point]) -> int:
            return sum(abs(p[0] - q[0]) + abs(p[1] - q[1]) for p, q in zip(path, path[1:],
                                                                           strict=False)) \
                + 500 * (len(path) - 2)

        for path in sorted(cands, key=cost):
            path = [p for i, p in enumerate(path) if i == 0 or p != path[i - 1]]
            segs = list(zip(path, path[1:], strict=False))
            if any(s[0] == s[1] for s in segs):
                continue
            if len({p for s in segs for p in s}) != len(path):
                continue
            if all(self.free(s, net) for s in segs) and not _self_clash(segs):
                return path
        return None

    def commit(self, path: list[Point], net: str) -> None:
        for s in zip(path, path[1:], strict=False):
            self.segs.append((s, net))


def _overlap(a: Seg, b: Seg) -> int:
    """Length shared by two parallel segments on one line (0 when they only touch)."""
    k = 1 if _vertical(a) else 0
    if a[0][1 - k] != b[0][1 - k]:
        return 0
    lo_a, hi_a = sorted((a[0][k], a[1][k]))
    lo_b, hi_b = sorted((b[0][k], b[1][k]))
    return max(0, min(hi_a, hi_b) - max(lo_a, lo_b))


def _self_clash(segs: list[Seg]) -> bool:
    for i, a in enumerate(segs):
        for b in segs[i + 2:]:
            if _clash(a, b):
                return True
    return False


def junctions(sheet: Sheet, tips: set[Point]) -> list[Point]:
    """Points where three or more wire ends (or a pin tip and two ends) meet."""
    count: dict[Point, int] = {}
    for (a, b), _ in sheet.segs:
        for p in (a, b):
            count[p] = count.get(p, 0) + 1
    return sorted(p for p, n in count.items() if n + (p in tips) >= 3)
