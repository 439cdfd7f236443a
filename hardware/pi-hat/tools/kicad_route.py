#!/usr/bin/python3
"""Routes hardware/pi-hat/mepd-hat.kicad_pcb in place with a small grid maze router.

Run with the system Python that has KiCad 9's pcbnew module (/usr/bin/python3 on Debian)
after kicad_gen_pcb.py. Deterministic: same placement in, same board out.

Model: a 0.25 mm grid on F.Cu and B.Cu. Every piece of copper paints, per layer, the zone in
which a track centre (or a via centre) of another net may not lie (clearance + half widths +
a small margin), so every grid path is DRC-clean by construction. Nets are routed as trees
(A*, 8 directions, vias between layers, B.Cu dearer so the bottom GND pour stays whole).
GND pads on F.Cu get a short stub and a via into the GND pours on both layers; the pours are
added and filled last. Nets that fail are retried first in the next pass.
"""

from __future__ import annotations

import heapq
import math
import os
import sys
from pathlib import Path

import numpy as np
import pcbnew

sys.path.insert(0, str(Path(__file__).resolve().parent))

import kicad_design as d  # noqa: E402

HERE = Path(__file__).resolve().parent.parent
PCB = Path(os.environ.get("MEPD_PCB_OUT", HERE / "mepd-hat.kicad_pcb"))
OX, OY, W, H, CORNER = 100.0, 60.0, 65.0, 56.5, 3.0

G = 0.25            # grid pitch
TW = 0.25           # track width
CL = 0.2            # copper clearance (netclass Default)
VIA_D, VIA_DRILL = 0.6, 0.3
EDGE_CL = 0.5       # copper to board edge
HOLE_CL = 0.25      # copper to NPTH hole
HOLE_KEEPOUT = 3.1  # no copper within this radius of a mounting hole's centre: the M2.5
                    # screw head / standoff (5 mm across flats) sits there, not on the pour
M = 0.04            # safety margin on every painted zone
VIA_COST, BOTTOM_FACTOR = 8.0, 1.6
FREE, BLOCKED = -1, -2
GND = "GND"

NX, NY = int(W / G) + 1, int(H / G) + 1
XS = np.arange(NX) * G
YS = np.arange(NY) * G


def to_mm(v: pcbnew.VECTOR2I) -> tuple[float, float]:
    return pcbnew.ToMM(v.x) - OX, pcbnew.ToMM(v.y) - OY


def vec(x: float, y: float) -> pcbnew.VECTOR2I:
    return pcbnew.VECTOR2I(pcbnew.FromMM(OX + x), pcbnew.FromMM(OY + y))


class Shape:
    """A pad or hole outline: rectangle (cx, cy, hw, hh) or circle (hw = radius, hh < 0)."""

    def __init__(self, cx: float, cy: float, hw: float, hh: float) -> None:
        self.cx, self.cy, self.hw, self.hh = cx, cy, hw, hh

    def window(self, r: float) -> tuple[slice, slice]:
        ext = max(self.hw, self.hh) + r + G
        i0, i1 = max(0, int((self.cx - ext) / G)), min(NX, int((self.cx + ext) / G) + 2)
        j0, j1 = max(0, int((self.cy - ext) / G)), min(NY, int((self.cy + ext) / G) + 2)
        return slice(i0, i1), slice(j0, j1)

    def dist(self, si: slice, sj: slice) -> np.ndarray:
        x = XS[si][:, None]
        y = YS[sj][None, :]
        if self.hh < 0:
            return np.maximum(np.hypot(x - self.cx, y - self.cy) - self.hw, 0.0)
        dx = np.maximum(np.abs(x - self.cx) - self.hw, 0.0)
        dy = np.maximum(np.abs(y - self.cy) - self.hh, 0.0)
        return np.hypot(dx, dy)


def seg_dist(ax: float, ay: float, bx: float, by: float, si: slice, sj: slice) -> np.ndarray:
    x = XS[si][:, None]
    y = YS[sj][None, :]
    vx, vy = bx - ax, by - ay
    ll = vx * vx + vy * vy
    t = np.zeros_like(x * y) if ll == 0 else np.clip(((x - ax) * vx + (y - ay) * vy) / ll, 0, 1)
    return np.hypot(x - (ax + t * vx), y - (ay + t * vy))


def seg_window(ax: float, ay: float, bx: float, by: float, r: float) -> tuple[slice, slice]:
    i0, i1 = max(0, int((min(ax, bx) - r) / G) - 1), min(NX, int((max(ax, bx) + r) / G) + 2)
    j0, j1 = max(0, int((min(ay, by) - r) / G) - 1), min(NY, int((max(ay, by) + r) / G) + 2)
    return slice(i0, i1), slice(j0, j1)


class Router:
    def __init__(self, board: pcbnew.BOARD) -> None:
        self.board = board
        self.tz = np.full((2, NX, NY), FREE, dtype=np.int32)   # track-centre zones
        self.vz = np.full((2, NX, NY), FREE, dtype=np.int32)   # via-centre zones
        self.net_ids: dict[str, int] = {}
        self.pads: dict[str, list[tuple[pcbnew.PAD, Shape, tuple[int, ...]]]] = {}
        self.tracks: list = []
        self._edges()
        self._pads_and_holes()

    def nid(self, net: str) -> int:
        return self.net_ids.setdefault(net, len(self.net_ids))

    @staticmethod
    def _paint(arr: np.ndarray, layer: int, si: slice, sj: slice, mask: np.ndarray,
               net: int) -> None:
        view = arr[layer, si, sj]
        view[mask & (view == FREE)] = net
        view[mask & (view >= 0) & (view != net)] = BLOCKED

    def _edges(self) -> None:
        x = XS[:, None]
        y = YS[None, :]
        d = np.minimum(np.minimum(x, W - x), np.minimum(y, H - y))
        for cx, cy in ((CORNER, CORNER), (W - CORNER, CORNER), (CORNER, H - CORNER),
                       (W - CORNER, H - CORNER)):
            inx = (x - cx) * (1 if cx > W / 2 else -1) > 0
            iny = (y - cy) * (1 if cy > H / 2 else -1) > 0
            corner = inx & iny
            d = np.where(corner, CORNER - np.hypot(x - cx, y - cy), d)
        for layer in (0, 1):
            self.tz[layer][d < EDGE_CL + TW / 2 + M] = BLOCKED
            self.vz[layer][d < EDGE_CL + VIA_D / 2 + M] = BLOCKED

    def _pads_and_holes(self) -> None:
        for fp in self.board.GetFootprints():
            for pad in fp.Pads():
                cx, cy = to_mm(pad.GetPosition())
                bb = pad.GetBoundingBox()
                if pad.GetShape(pcbnew.F_Cu) == pcbnew.PAD_SHAPE_CIRCLE:
                    shape = Shape(cx, cy, pcbnew.ToMM(pad.GetSize(pcbnew.F_Cu).x) / 2, -1)
                else:
                    shape = Shape(cx, cy, pcbnew.ToMM(bb.GetWidth()) / 2,
                                  pcbnew.ToMM(bb.GetHeight()) / 2)
                layers = tuple(i for i, lay in enumerate((pcbnew.F_Cu, pcbnew.B_Cu))
                               if pad.IsOnLayer(lay))
                if pad.GetAttribute() == pcbnew.PAD_ATTRIB_NPTH:
                    hole = Shape(cx, cy, HOLE_KEEPOUT - HOLE_CL, -1)
                    for layer in (0, 1):
                        for arr, r in ((self.tz, HOLE_CL + TW / 2), (self.vz, HOLE_CL + VIA_D / 2)):
                            si, sj = hole.window(r + M)
                            arr[layer, si, sj][hole.dist(si, sj) < r + M] = BLOCKED
                    continue
                net = pad.GetNetname()
                n = self.nid(net) if net else self.nid(f"<nc>{fp.GetReference()}.{pad.GetNumber()}")
                for layer in layers:
                    si, sj = shape.window(CL + VIA_D / 2 + M)
                    dd = shape.dist(si, sj)
                    self._paint(self.tz, layer, si, sj, dd < CL + TW / 2 + M, n)
                    self._paint(self.vz, layer, si, sj, dd < CL + VIA_D / 2 + M, n)
                if net:
                    self.pads.setdefault(net, []).append((pad, shape, layers))
        # no vias in or right next to any pad
        for plist in self.pads.values():
            for _, shape, _ in plist:
                si, sj = shape.window(VIA_D / 2 + 0.1)
                mask = shape.dist(si, sj) < VIA_D / 2 + 0.1
                for layer in (0, 1):
                    self.vz[layer, si, sj][mask] = BLOCKED

    # -- copper creation ---------------------------------------------------------------------
    def add_track(self, net: str, layer: int, a: tuple[float, float],
                  b: tuple[float, float]) -> None:
        n = self.nid(net)
        t = pcbnew.PCB_TRACK(self.board)
        t.SetStart(vec(*a))
        t.SetEnd(vec(*b))
        t.SetWidth(pcbnew.FromMM(TW))
        t.SetLayer((pcbnew.F_Cu, pcbnew.B_Cu)[layer])
        t.SetNet(self.board.FindNet(net))
        self.tracks.append(t)
        r = TW / 2 + CL + max(TW, VIA_D) / 2 + M
        si, sj = seg_window(*a, *b, r)
        dd = seg_dist(*a, *b, si, sj)
        self._paint(self.tz, layer, si, sj, dd < TW + CL + M, n)
        self._paint(self.vz, layer, si, sj, dd < TW / 2 + CL + VIA_D / 2 + M, n)

    def add_via(self, net: str, p: tuple[float, float]) -> None:
        n = self.nid(net)
        v = pcbnew.PCB_VIA(self.board)
        v.SetPosition(vec(*p))
        v.SetWidth(pcbnew.FromMM(VIA_D))
        v.SetDrill(pcbnew.FromMM(VIA_DRILL))
        v.SetLayerPair(pcbnew.F_Cu, pcbnew.B_Cu)
        v.SetNet(self.board.FindNet(net))
        self.tracks.append(v)
        shape = Shape(p[0], p[1], VIA_D / 2, -1)
        si, sj = shape.window(CL + VIA_D / 2 + M)
        dd = shape.dist(si, sj)
        for layer in (0, 1):
            self._paint(self.tz, layer, si, sj, dd < CL + TW / 2 + M, n)
            self._paint(self.vz, layer, si, sj, dd < CL + VIA_D / 2 + M, n)

    # -- search ------------------------------------------------------------------------------
    def pad_cells(self, n: int, shape: Shape, layers: tuple[int, ...]) -> list[int]:
        si, sj = shape.window(0)
        inside = shape.dist(si, sj) <= 1e-9
        cells = []
        for layer in layers:
            ok = inside & ((self.tz[layer, si, sj] == FREE) | (self.tz[layer, si, sj] == n))
            for i, j in zip(*np.nonzero(ok), strict=True):
                cells.append((layer * NX + si.start + int(i)) * NY + sj.start + int(j))
        return cells

    def search(self, n: int, sources: list[int], targets: set[int] | None,
               via_goal: bool = False, limit: int = 400000) -> list[int] | None:
        legal_t = ((self.tz == FREE) | (self.tz == n)).ravel().tobytes()
        legal_v = ((self.vz == FREE) | (self.vz == n)).ravel().tobytes()
        if targets:
            txs = [((c % (NX * NY)) // NY, c % NY) for c in targets]
            tx0, tx1 = min(t[0] for t in txs), max(t[0] for t in txs)
            ty0, ty1 = min(t[1] for t in txs), max(t[1] for t in txs)
        else:
            tx0 = tx1 = ty0 = ty1 = 0
        plane = NX * NY

        def h(i: int, j: int) -> float:
            if via_goal:
                return 0.0
            dx = tx0 - i if i < tx0 else (i - tx1 if i > tx1 else 0)
            dy = ty0 - j if j < ty0 else (j - ty1 if j > ty1 else 0)
            return 1.2 * (max(dx, dy) + 0.4142 * min(dx, dy))

        src = set(sources)
        best: dict[int, float] = {}
        prev: dict[int, int] = {}
        heap: list[tuple[float, float, int]] = []
        for s in sorted(src):
            if not legal_t[s]:
                continue
            best[s] = 0.0
            prev[s] = -1
            rem = s % plane
            heapq.heappush(heap, (h(rem // NY, rem % NY), 0.0, s))
        steps = ((1, 0, 1.0), (-1, 0, 1.0), (0, 1, 1.0), (0, -1, 1.0),
                 (1, 1, 1.4142), (1, -1, 1.4142), (-1, 1, 1.4142), (-1, -1, 1.4142))
        count = 0
        while heap:
            _, g, c = heapq.heappop(heap)
            if g > best.get(c, math.inf):
                continue
            layer, rem = divmod(c, plane)
            i, j = divmod(rem, NY)
            if via_goal:
                if c not in src and legal_v[rem] and legal_v[plane + rem]:
                    return self._path(prev, c)
            elif c in targets and c not in src:
                return self._path(prev, c)
            count += 1
            if count > limit:
                return None
            fac = BOTTOM_FACTOR if layer else 1.0
            for di, dj, cost in steps:
                ni, nj = i + di, j + dj
                if not (0 <= ni < NX and 0 <= nj < NY):
                    continue
                nc = c + di * NY + dj
                if not legal_t[nc]:
                    continue
                if di and dj and not (legal_t[c + di * NY] and legal_t[c + dj]):
                    continue
                ng = g + cost * fac
                if ng < best.get(nc, math.inf):
                    best[nc] = ng
                    prev[nc] = c
                    heapq.heappush(heap, (ng + h(ni, nj), ng, nc))
            if legal_v[rem] and legal_v[plane + rem]:
                nc = rem if layer else plane + rem
                if legal_t[nc]:
                    ng = g + VIA_COST
                    if ng < best.get(nc, math.inf):
                        best[nc] = ng
                        prev[nc] = c
                        heapq.heappush(heap, (ng + h(i, j), ng, nc))
        return None

    @staticmethod
    def _path(prev: dict[int, int], c: int) -> list[int]:
        out = [c]
        while prev[out[-1]] != -1:
            out.append(prev[out[-1]])
        return out[::-1]

    def commit(self, net: str, path: list[int], start: tuple[float, float] | None,
               end: tuple[float, float] | None) -> None:
        plane = NX * NY
        pts = []
        for c in path:
            layer, rem = divmod(c, plane)
            i, j = divmod(rem, NY)
            pts.append((layer, round(i * G, 4), round(j * G, 4)))
        if start is not None and (start[0], start[1]) != pts[0][1:]:
            self.add_track(net, pts[0][0], start, pts[0][1:])
        if end is not None and (end[0], end[1]) != pts[-1][1:]:
            self.add_track(net, pts[-1][0], pts[-1][1:], end)
        k = 0
        while k < len(pts) - 1:
            layer = pts[k][0]
            if pts[k + 1][0] != layer:
                self.add_via(net, pts[k][1:])
                k += 1
                continue
            d = (pts[k + 1][1] - pts[k][1], pts[k + 1][2] - pts[k][2])
            m = k + 1
            while (m + 1 < len(pts) and pts[m + 1][0] == layer
                   and (pts[m + 1][1] - pts[m][1], pts[m + 1][2] - pts[m][2]) == d):
                m += 1
            self.add_track(net, layer, pts[k][1:], pts[m][1:])
            k = m

    # -- nets --------------------------------------------------------------------------------
    def route_gnd_stubs(self) -> list[str]:
        failed = []
        for pad, shape, layers in sorted(self.pads.get(GND, []),
                                         key=lambda p: (p[1].cx, p[1].cy)):
            if len(layers) == 2:
                continue  # through-hole: on both pours already
            n = self.nid(GND)
            cells = self.pad_cells(n, shape, layers)
            path = self.search(n, cells, None, via_goal=True, limit=20000)
            if path is None:
                failed.append(f"GND stub {pad.GetParentFootprint().GetReference()}."
                              f"{pad.GetNumber()}")
                continue
            plane = NX * NY
            last = path[-1] % plane
            vx, vy = (last // NY) * G, (last % NY) * G
            self.commit(GND, path, (shape.cx, shape.cy), None)
            self.add_via(GND, (round(vx, 4), round(vy, 4)))
        return failed

    def route_net(self, net: str) -> bool:
        n = self.nid(net)
        plist = sorted(self.pads[net], key=lambda p: (p[1].cx + p[1].cy, p[1].cx))
        tree_cells = set(self.pad_cells(n, plist[0][1], plist[0][2]))
        centres = {c: (plist[0][1].cx, plist[0][1].cy) for c in tree_cells}
        todo = plist[1:]
        ok = True
        while todo:
            todo.sort(key=lambda p: min(math.hypot(p[1].cx - q[1].cx, p[1].cy - q[1].cy)
                                        for q in plist if q not in todo))
            pad, shape, layers = todo.pop(0)
            cells = self.pad_cells(n, shape, layers)
            path = self.search(n, cells, tree_cells) if cells and tree_cells else None
            if path is None:
                ok = False
                continue
            self.commit(net, path, (shape.cx, shape.cy), centres.get(path[-1]))
            new = set(path) | set(cells)
            for c in cells:
                centres[c] = (shape.cx, shape.cy)
            tree_cells |= new
        return ok


def route(order: list[str], board: pcbnew.BOARD) -> tuple[Router, list[str]]:
    r = Router(board)
    failed = r.route_gnd_stubs()
    for net in order:
        if not r.route_net(net):
            failed.append(net)
    return r, failed


def main() -> None:
    board = pcbnew.LoadBoard(str(PCB))
    for t in list(board.GetTracks()):
        board.Remove(t)
    for z in list(board.Zones()):
        board.Remove(z)
    probe = Router(board)
    nets = [n for n, p in probe.pads.items() if n != GND and len(p) > 1]

    def span(net: str) -> float:
        xs = [s.cx for _, s, _ in probe.pads[net]]
        ys = [s.cy for _, s, _ in probe.pads[net]]
        return (max(xs) - min(xs)) + (max(ys) - min(ys))

    order = sorted(nets, key=lambda n: (span(n), n))
    failed: list[str] = []
    r = probe
    for attempt in range(8):
        r, failed = route(order, board)
        print(f"pass {attempt + 1}: {len(failed)} failed {failed}")
        if not failed:
            break
        first = [n for n in order if n in failed]
        order = first + [n for n in order if n not in failed]
    for t in r.tracks:
        board.Add(t)
    for fp in board.GetFootprints():
        if fp.GetReference().startswith("H"):
            add_hole_keepout(board, to_mm(fp.GetPosition()))
    zones = [add_gnd_zone(board, pcbnew.B_Cu, 0), add_gnd_zone(board, pcbnew.F_Cu, 1)]
    pcbnew.ZONE_FILLER(board).Fill(zones)
    pcbnew.SaveBoard(str(PCB), board)
    d.normalize_uuids(str(PCB), "pcb-routed")
    print(f"routed {PCB}: {len(r.tracks)} tracks/vias, unrouted: {failed or 'none'}")
    if failed:
        sys.exit(1)


def add_hole_keepout(board: pcbnew.BOARD, centre: tuple[float, float]) -> None:
    """A rule area around a mounting hole: no pour, track or via under the screw head."""
    zone = pcbnew.ZONE(board)
    zone.SetIsRuleArea(True)
    layers = pcbnew.LSET()
    layers.AddLayer(pcbnew.F_Cu)
    layers.AddLayer(pcbnew.B_Cu)
    zone.SetLayerSet(layers)
    zone.SetDoNotAllowCopperPour(True)
    zone.SetDoNotAllowTracks(True)
    zone.SetDoNotAllowVias(True)
    zone.SetDoNotAllowPads(False)
    zone.SetDoNotAllowFootprints(False)
    outline = zone.Outline()
    outline.NewOutline()
    for k in range(32):
        a = 2 * math.pi * k / 32
        outline.Append(vec(centre[0] + HOLE_KEEPOUT * math.cos(a),
                           centre[1] + HOLE_KEEPOUT * math.sin(a)))
    board.Add(zone)


def add_gnd_zone(board: pcbnew.BOARD, layer: int, priority: int) -> pcbnew.ZONE:
    zone = pcbnew.ZONE(board)
    zone.SetLayer(layer)
    zone.SetNet(board.FindNet(GND))
    zone.SetAssignedPriority(priority)
    zone.SetLocalClearance(pcbnew.FromMM(0.3))
    zone.SetMinThickness(pcbnew.FromMM(0.25))
    zone.SetThermalReliefGap(pcbnew.FromMM(0.3))
    zone.SetThermalReliefSpokeWidth(pcbnew.FromMM(0.4))
    zone.SetPadConnection(pcbnew.ZONE_CONNECTION_THERMAL)
    zone.SetIslandRemovalMode(pcbnew.ISLAND_REMOVAL_MODE_ALWAYS)
    outline = zone.Outline()
    outline.NewOutline()
    for x, y in ((0.2, 0.2), (W - 0.2, 0.2), (W - 0.2, H - 0.2), (0.2, H - 0.2)):
        outline.Append(vec(x, y))
    board.Add(zone)
    return zone


if __name__ == "__main__":
    main()
