#!/usr/bin/python3
"""Writes hardware/pi-hat/mepd-hat.kicad_pcb: HAT+ outline, mounting holes, header, placement.

Run with the system Python that has KiCad 9's pcbnew module (/usr/bin/python3 on Debian).
Nets and symbol links come from the schematic's netlist (exported with kicad-cli), so the
board matches the schematic by construction (DRC --schematic-parity checks it). Footprints
come from the KiCad libraries ($KICAD9_FOOTPRINT_DIR, default /usr/share/kicad/footprints).
The output is unrouted; kicad_route.py routes it.

HAT+ mechanics: 65 x 56.5 mm, 3 mm corner radius, four M2.5 holes 3.5 mm from the edges
(58 x 49 mm pattern), the 40-pin header centred on the top edge with its pin row centre 3.5 mm
from that edge, pin 1 at the left (x = 32.5 - 24.13 = 8.37 mm) on the inner row.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from pathlib import Path

import pcbnew

sys.path.insert(0, str(Path(__file__).resolve().parent))

import kicad_design as d  # noqa: E402
from kicad_sexpr import find, find_all, parse  # noqa: E402

HERE = Path(__file__).resolve().parent.parent
SCH = HERE / f"{d.PROJECT}.kicad_sch"
OUT = Path(os.environ.get("MEPD_PCB_OUT", HERE / f"{d.PROJECT}.kicad_pcb"))
FPDIR = Path(os.environ.get("KICAD9_FOOTPRINT_DIR", "/usr/share/kicad/footprints"))

W, H = 65.0, 56.5
OX, OY = 100.0, 60.0  # board origin on the page
CORNER = 3.0
HOLES = [(3.5, 3.5), (61.5, 3.5), (3.5, 52.5), (61.5, 52.5)]
HEADER_PIN1 = (32.5 - 9.5 * 2.54, 3.5 + 1.27)  # inner row; even pins on the edge row

# ref: (x, y, rotation_deg, side) in board mm (origin top-left, y down)
PLACE = {
    "J1": (HEADER_PIN1[0], HEADER_PIN1[1], None, "B"),  # orientation solved below
    "J2": (32.5 - 12.7, 45.6, 0, "F"),
    # transceiver block
    "U1": (24.0, 25.0, 0, "F"),
    "C1": (17.0, 18.5, 90, "F"),
    "C2": (17.0, 23.0, 90, "F"),
    "C3": (13.5, 20.5, 90, "F"),
    "C4": (17.0, 28.0, 90, "F"),
    "C5": (29.0, 19.0, 0, "F"),
    "R1": (16.0, 10.0, 90, "F"),
    "R2": (19.0, 10.0, 90, "F"),
    "R3": (30.0, 12.5, 0, "F"),
    "R4": (30.0, 15.0, 0, "F"),
    # load switch block
    "U2": (8.5, 26.0, 0, "F"),
    "R5": (22.0, 10.0, 90, "F"),
    "R6": (8.5, 21.5, 0, "F"),
    "R7": (8.5, 30.5, 0, "F"),
    "C6": (12.5, 33.0, 90, "F"),
    "C7": (4.5, 22.5, 90, "F"),
    "C10": (4.5, 29.5, 90, "F"),
    # terminal protection: TVS under the terminal pins, series R above them, clamps at U1
    "D1": (32.5 - 12.7 + 5.08, 39.0, 90, "F"),
    "D2": (32.5 - 12.7 + 10.16, 39.0, 90, "F"),
    "D3": (32.5 - 12.7 + 15.24, 39.0, 90, "F"),
    "D4": (32.5 - 12.7 + 20.32, 39.0, 90, "F"),
    "R22": (18.2, 33.4, 0, "F"),
    "R23": (24.6, 33.4, 0, "F"),
    "R20": (31.0, 33.4, 0, "F"),
    "R21": (37.4, 33.4, 0, "F"),
    "D9": (31.5, 27.0, 0, "F"),
    "D10": (13.2, 28.8, 0, "F"),
    # ENABLE option A: level shifter, high-side switch, zener
    "Q1": (54.0, 32.0, 0, "F"),
    "R16": (54.0, 28.0, 0, "F"),
    "Q2": (50.0, 36.0, 0, "F"),
    "R18": (50.0, 32.5, 0, "F"),
    "R17": (50.5, 40.0, 0, "F"),
    "D8": (57.5, 38.5, 90, "F"),
    "R19": (54.0, 43.0, 0, "F"),
    # meter sense
    "R8": (44.5, 37.0, 90, "F"),
    "R9": (44.5, 30.5, 90, "F"),
    "C9": (42.0, 30.5, 90, "F"),
    "Q4": (45.0, 25.5, 0, "F"),
    "R10": (40.0, 22.0, 90, "F"),
    # LEDs, right edge
    "R11": (55.0, 12.0, 0, "F"),
    "D7": (59.5, 12.0, 180, "F"),
    "R12": (55.0, 15.0, 0, "F"),
    "D6": (59.5, 15.0, 180, "F"),
    # ID EEPROM
    "U3": (47.0, 14.0, 0, "F"),
    "R13": (39.5, 10.0, 90, "F"),
    "R14": (43.0, 10.0, 90, "F"),
    "R15": (53.0, 20.0, 0, "F"),
    "C8": (47.0, 9.0, 0, "F"),
    "JP1": (56.5, 23.5, 0, "F"),
}


def mm(x: float, y: float) -> pcbnew.VECTOR2I:
    return pcbnew.VECTOR2I(pcbnew.FromMM(OX + x), pcbnew.FromMM(OY + y))


def netlist() -> tuple[dict, dict]:
    """(components: ref -> (uuid, value, footprint), pin_net: (ref, pin) -> net)."""
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "hat.net"
        subprocess.run(["kicad-cli", "sch", "export", "netlist", "--format", "kicadsexpr",
                        "-o", str(out), str(SCH)], check=True, capture_output=True)
        tree = parse(out.read_text())
    comps = {}
    for c in find_all(find(tree, "components"), "comp"):
        ref = find(c, "ref")[1]
        comps[ref] = (find(c, "tstamps")[1], find(c, "value")[1], find(c, "footprint")[1])
    pin_net = {}
    for n in find_all(find(tree, "nets"), "net"):
        for node in find_all(n, "node"):
            pin_net[(find(node, "ref")[1], find(node, "pin")[1])] = find(n, "name")[1]
    return comps, pin_net


def load_fp(lib_id: str) -> pcbnew.FOOTPRINT:
    lib, name = lib_id.split(":")
    fp = pcbnew.FootprintLoad(str(FPDIR / f"{lib}.pretty"), name)
    if fp is None:
        raise SystemExit(f"footprint {lib_id} not found in {FPDIR}")
    fp.SetFPID(pcbnew.LIB_ID(lib, name))
    return fp


def pad_xy(fp: pcbnew.FOOTPRINT, num: str) -> tuple[float, float]:
    for p in fp.Pads():
        if p.GetNumber() == num:
            v = p.GetPosition()
            return round(pcbnew.ToMM(v.x) - OX, 3), round(pcbnew.ToMM(v.y) - OY, 3)
    raise KeyError(num)


def place_header(fp: pcbnew.FOOTPRINT) -> None:
    """Bottom side, pin 1 at HEADER_PIN1, odd pins inner row, pins running +x."""
    x, y = HEADER_PIN1
    fp.SetPosition(mm(x, y))
    fp.Flip(mm(x, y), pcbnew.FLIP_DIRECTION_LEFT_RIGHT)
    for rot in (0, 90, 180, 270):
        fp.SetOrientationDegrees(rot)
        p1, p2, p3 = pad_xy(fp, "1"), pad_xy(fp, "2"), pad_xy(fp, "3")
        if (abs(p3[0] - p1[0] - 2.54) < 1e-3 and abs(p3[1] - p1[1]) < 1e-3
                and abs(p2[1] - (p1[1] - 2.54)) < 1e-3 and abs(p2[0] - p1[0]) < 1e-3):
            return
    raise SystemExit("no orientation of the header footprint matches the Pi pinout")


def outline(board: pcbnew.BOARD) -> None:
    r = CORNER

    def seg(a: tuple[float, float], b: tuple[float, float]) -> None:
        s = pcbnew.PCB_SHAPE(board, pcbnew.SHAPE_T_SEGMENT)
        s.SetStart(mm(*a))
        s.SetEnd(mm(*b))
        s.SetLayer(pcbnew.Edge_Cuts)
        s.SetWidth(pcbnew.FromMM(0.1))
        board.Add(s)

    def arc(c: tuple[float, float], start: tuple[float, float], mid: tuple[float, float],
            end: tuple[float, float]) -> None:
        s = pcbnew.PCB_SHAPE(board, pcbnew.SHAPE_T_ARC)
        s.SetArcGeometry(mm(*start), mm(*mid), mm(*end))
        s.SetLayer(pcbnew.Edge_Cuts)
        s.SetWidth(pcbnew.FromMM(0.1))
        board.Add(s)

    k = r * (1 - 0.5 ** 0.5)
    seg((r, 0), (W - r, 0))
    seg((W, r), (W, H - r))
    seg((W - r, H), (r, H))
    seg((0, H - r), (0, r))
    arc((W - r, r), (W - r, 0), (W - k, k), (W, r))
    arc((W - r, H - r), (W, H - r), (W - k, H - k), (W - r, H))
    arc((r, H - r), (r, H), (k, H - k), (0, H - r))
    arc((r, r), (0, r), (k, k), (r, 0))


# Silkscreen (F.SilkS): what an assembler and a reviewer need without the schematic.
# (x, y, text, size mm)
SILK = [
    (8.0, 43.0, "mepd MEP HAT+", 1.2),
    (8.0, 45.0, "rev B", 1.2),
    (32.5 - 12.7, 49.4, "1 GND", 0.9),
    (32.5 - 7.62, 49.4, "2 EN", 0.9),
    (32.5 - 2.54, 49.4, "3 TXD", 0.9),
    (32.5 + 2.54, 49.4, "4 RXD", 0.9),
    (32.5 + 7.62, 49.4, "5 V+", 0.9),
    (32.5 + 12.7, 49.4, "6 nc", 0.9),
    (32.5, 50.9, "MEP terminal: pin N = meter pin N", 0.8),
    (59.5, 10.2, "LINK", 0.8),
    (59.5, 17.7, "PWR", 0.8),
    (56.5, 25.5, "WP: bridge=write", 0.8),
    (8.0, 37.2, "ENABLE: fit ONE of", 0.8),
    (8.0, 38.5, "R23 = 11V from V+", 0.8),
    (8.0, 39.8, "R22 = MAX3232 5V", 0.8),
]


def silkscreen(board: pcbnew.BOARD) -> None:
    for x, y, text, size in SILK:
        t = pcbnew.PCB_TEXT(board)
        t.SetText(text)
        t.SetLayer(pcbnew.F_SilkS)
        t.SetTextSize(pcbnew.VECTOR2I(pcbnew.FromMM(size), pcbnew.FromMM(size)))
        t.SetTextThickness(pcbnew.FromMM(max(0.12, size * 0.15)))
        t.SetPosition(mm(x, y))
        board.Add(t)


def main() -> None:
    comps, pin_net = netlist()
    board = pcbnew.BOARD()
    ds = board.GetDesignSettings()
    ds.SetBoardThickness(pcbnew.FromMM(1.6))
    board.SetCopperLayerCount(2)

    nets: dict[str, pcbnew.NETINFO_ITEM] = {}
    for name in sorted(set(pin_net.values())):
        ni = pcbnew.NETINFO_ITEM(board, name)
        board.Add(ni)
        nets[name] = ni

    outline(board)
    silkscreen(board)

    parts = {p.ref: p for p in d.PARTS}
    for ref in sorted(comps, key=lambda r: (r.rstrip("0123456789"), int(r.lstrip("JURCDPQ")))):
        tstamp, value, fpid = comps[ref]
        part = parts[ref]
        fp = load_fp(fpid)
        fp.SetReference(ref)
        fp.SetValue(value)
        fp.SetPath(pcbnew.KIID_PATH(f"/{tstamp}"))
        fp.SetSheetname("/")
        fp.SetSheetfile(SCH.name)
        for name, val in (("MPN", part.mpn), ("Manufacturer", part.manufacturer)):
            field = pcbnew.PCB_FIELD(fp, fp.GetNextFieldId(), name)
            field.SetText(val)
            field.SetVisible(False)
            field.SetLayer(pcbnew.F_Fab)
            fp.AddField(field)
        if not part.in_bom:
            fp.SetAttributes(fp.GetAttributes() | pcbnew.FP_EXCLUDE_FROM_BOM)
        if part.dnp:
            fp.SetAttributes(fp.GetAttributes() | pcbnew.FP_DNP)
        board.Add(fp)
        x, y, rot, side = PLACE[ref]
        if ref == "J1":
            place_header(fp)
        else:
            fp.SetPosition(mm(x, y))
            fp.SetOrientationDegrees(rot)
            if side == "B":
                fp.Flip(mm(x, y), pcbnew.FLIP_DIRECTION_LEFT_RIGHT)
        for pad in fp.Pads():
            net = pin_net.get((ref, pad.GetNumber()))
            if net:
                pad.SetNet(nets[net])
                if ref == "J1" and net == "GND":
                    # the header's GND pins sit between signal tracks, which starve thermal
                    # spokes; a solid joint to the pours (2 layers, 1.6 mm) still solders
                    pad.SetLocalZoneConnection(pcbnew.ZONE_CONNECTION_FULL)
        # keep silkscreen references readable and off the pads
        fp.Reference().SetTextSize(pcbnew.VECTOR2I(pcbnew.FromMM(0.8), pcbnew.FromMM(0.8)))
        fp.Reference().SetTextThickness(pcbnew.FromMM(0.12))

    for i, (hx, hy) in enumerate(HOLES, start=1):
        fp = load_fp("MountingHole:MountingHole_2.7mm_M2.5")
        fp.SetReference(f"H{i}")
        fp.SetValue("M2.5")
        fp.SetAttributes(fp.GetAttributes() | pcbnew.FP_BOARD_ONLY | pcbnew.FP_EXCLUDE_FROM_BOM
                         | pcbnew.FP_EXCLUDE_FROM_POS_FILES)
        fp.SetPosition(mm(hx, hy))
        fp.Reference().SetVisible(False)
        board.Add(fp)

    j1 = board.FindFootprintByReference("J1")
    assert pad_xy(j1, "1") == (round(HEADER_PIN1[0], 3), round(HEADER_PIN1[1], 3))
    pcbnew.SaveBoard(str(OUT), board)
    d.normalize_uuids(str(OUT), "pcb-placed")
    print(f"wrote {OUT}")


if __name__ == "__main__":
    main()
