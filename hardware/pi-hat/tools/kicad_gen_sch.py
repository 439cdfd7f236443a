#!/usr/bin/env python3
"""Writes hardware/pi-hat/mepd-hat.kicad_sch from kicad_design.py.

Deterministic: UUIDs derive from names, so re-running gives the same file. Symbols come from
the KiCad 9 libraries (kicad-symbols, /usr/share/kicad/symbols or $KICAD9_SYMBOL_DIR) and are
embedded in the schematic, as KiCad does. Every pin gets a short wire stub ending in a net
label, a power symbol or a no-connect flag.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import kicad_design as d  # noqa: E402
from kicad_sexpr import Sym, dump, find, find_all, parse, walk  # noqa: E402

SYMDIR = Path(os.environ.get("KICAD9_SYMBOL_DIR", "/usr/share/kicad/symbols"))
OUT = Path(os.environ.get("MEPD_SCH_OUT",
                       Path(__file__).resolve().parent.parent / f"{d.PROJECT}.kicad_sch"))
STUB = 2.54
ROOT = d.uid("root-sheet")

_libcache: dict[str, list] = {}


def _lib(name: str) -> list:
    if name not in _libcache:
        _libcache[name] = parse((SYMDIR / f"{name}.kicad_sym").read_text())
    return _libcache[name]


def _raw_symbol(lib: str, name: str) -> list:
    for s in find_all(_lib(lib), "symbol"):
        if s[1] == name:
            return s
    raise KeyError(f"{lib}:{name}")


def _rename_units(node: list, old: str, new: str) -> list:
    out = []
    for x in node:
        if isinstance(x, list) and len(x) > 1 and x[0] == "symbol" and isinstance(x[1], str) \
                and x[1].startswith(old + "_"):
            out.append([Sym("symbol"), new + x[1][len(old):], *x[2:]])
        else:
            out.append(x)
    return out


def lib_symbol(lib_id: str) -> list:
    """The library symbol, flattened (extends resolved), named 'Lib:Name'."""
    lib, name = lib_id.split(":")
    sym = _raw_symbol(lib, name)
    ext = find(sym, "extends")
    if ext is not None:
        parent = lib_symbol(f"{lib}:{ext[1]}")
        parent_name = parent[1].split(":")[1]
        child_props = {p[1]: p for p in find_all(sym, "property")}
        body = []
        for x in parent[2:]:
            if isinstance(x, list) and x[0] == "property" and x[1] in child_props:
                body.append(child_props.pop(x[1]))
            else:
                body.append(x)
        body.extend(child_props.values())
        body = _rename_units(body, parent_name, name)
        return [Sym("symbol"), lib_id, *body]
    return [Sym("symbol"), lib_id, *_rename_units(sym[2:], name, name)]


def pins_of(symbol: list) -> dict[str, tuple[float, float, int]]:
    pins = {}
    for p in walk(symbol, "pin"):
        if len(p) < 3 or not isinstance(p[1], Sym):
            continue
        at = find(p, "at")
        num = find(p, "number")
        pins[num[1]] = (float(at[1]), float(at[2]), int(float(at[3])))
    return pins


def eff(hide: bool = False, justify: str | None = None) -> list:
    e: list = [Sym("effects"), [Sym("font"), [Sym("size"), 1.27, 1.27]]]
    if justify:
        e.append([Sym("justify"), *[Sym(j) for j in justify.split()]])
    if hide:
        e.append([Sym("hide"), Sym("yes")])
    return e


def prop(name: str, value: str, x: float, y: float, hide: bool = False,
         justify: str | None = None, angle: int = 0) -> list:
    # field angles are relative to the symbol: pass -rotation to draw the text horizontally
    return [Sym("property"), name, value, [Sym("at"), x, y, angle % 360], eff(hide, justify)]


def sym_instance(lib_id: str, ref: str, value: str, x: float, y: float, key: str,
                 props: list[list], pin_numbers: list[str], in_bom: bool = True,
                 rot: int = 0, dnp: bool = False, on_board: bool = True) -> list:
    yn = {True: Sym("yes"), False: Sym("no")}
    node: list = [
        Sym("symbol"), [Sym("lib_id"), lib_id], [Sym("at"), x, y, rot], [Sym("unit"), 1],
        [Sym("exclude_from_sim"), Sym("no")], [Sym("in_bom"), yn[in_bom]],
        [Sym("on_board"), yn[on_board and not ref.startswith("#")]], [Sym("dnp"), yn[dnp]],
        [Sym("uuid"), d.uid("sym", key)],
    ]
    node.extend(props)
    for n in pin_numbers:
        node.append([Sym("pin"), n, [Sym("uuid"), d.uid("pin", key, n)]])
    node.append([Sym("instances"), [Sym("project"), d.PROJECT,
                                    [Sym("path"), f"/{ROOT}", [Sym("reference"), ref],
                                     [Sym("unit"), 1]]]])
    return node


def rotate(px: float, py: float, ang: int, rot: int) -> tuple[float, float, int]:
    """Library pin (y up) -> schematic offset (y down) and pin angle, symbol rotated CCW."""
    sx, sy = px, -py
    for _ in range(rot // 90):
        sx, sy = sy, -sx
    return sx, sy, (ang + rot) % 360


# power symbol rotation so that its graphic continues along the stub
PWR_ROT = {  # (net, stub dx, stub dy) -> rotation
    ("GND", -1, 0): 270, ("GND", 1, 0): 90, ("GND", 0, 1): 0, ("GND", 0, -1): 180,
    ("+3V3", -1, 0): 90, ("+3V3", 1, 0): 270, ("+3V3", 0, 1): 180, ("+3V3", 0, -1): 0,
}


def stub_dir(angle: int) -> tuple[float, float, int]:
    # library pin angle -> direction away from the body in schematic coords, label angle
    return {0: (-1, 0, 180), 180: (1, 0, 0), 90: (0, 1, 270), 270: (0, -1, 90)}[angle]


def main() -> None:
    items: list = []
    libs: dict[str, list] = {}
    pwr_count = 0

    def need(lib_id: str) -> list:
        if lib_id not in libs:
            libs[lib_id] = lib_symbol(lib_id)
        return libs[lib_id]

    def power(net: str, x: float, y: float, key: str, sdx: float = 0, sdy: float = 1,
              show: bool = True) -> None:
        nonlocal pwr_count
        pwr_count += 1
        lib_id = f"power:{net}"
        sym = need(lib_id)
        ref = f"#PWR{pwr_count:03d}"
        rot = PWR_ROT[(net, int(sdx), int(sdy))]
        tx, ty = x + sdx * 4.445, y + sdy * 5.08
        just = "left" if sdx > 0 else ("right" if sdx < 0 else None)
        items.append(sym_instance(
            lib_id, ref, net, x, y, key,
            [prop("Reference", ref, x, y, hide=True),
             prop("Value", net, tx, ty + (0.635 if sdx else 0), justify=just,
                  angle=-rot if rot in (90, 270) else 0, hide=not show),
             prop("Footprint", "", x, y, hide=True), prop("Datasheet", "", x, y, hide=True)],
            list(pins_of(sym)), in_bom=False, rot=rot))

    used: dict[tuple[float, float], str] = {}

    def claim(px: float, py: float, net: str) -> None:
        # two nets on one connection point would silently merge them: refuse
        if used.setdefault((px, py), net) != net:
            raise SystemExit(f"layout collision at {(px, py)}: {used[(px, py)]} vs {net}")

    for part in d.PARTS:
        sym = need(part.lib_id)
        pins = pins_of(sym)
        x, y = part.sch
        missing = set(part.pins) ^ set(pins)
        if missing:
            raise SystemExit(f"{part.ref}: pin mismatch {sorted(missing)}")
        placed = {k: rotate(px, py, a, part.rot) for k, (px, py, a) in pins.items()}
        ys = [sy for _, sy, _ in placed.values()]
        xs = [sx for sx, _, _ in placed.values()]
        if not placed:                            # BOM-only hardware: ref above, value below
            ref_at, val_at, just = (x, y - 3.81), (x, y + 3.81), None
        elif len(placed) == 2 and ys[0] == ys[1]:  # horizontal two-pin: ref above, value below
            ref_at, val_at, just = (x, y - 3.175), (x, y + 3.175), None
        elif len(placed) == 3:                    # small three-pin part: both above
            ref_at, val_at, just = (x, y - 6.35), (x, y - 3.81), None
        else:
            top = y + min(ys) - 3.81
            right = x + max(max(xs), 0) + 1.27
            ref_at, val_at, just = (right, top + 1.27), (right, top + 3.81), "left"
        props = [
            prop("Reference", part.ref, *ref_at, justify=just, angle=-part.rot),
            prop("Value", part.value, *val_at, justify=just, angle=-part.rot),
            prop("Footprint", part.footprint, x, y, hide=True),
            prop("Datasheet", "", x, y, hide=True),
            prop("Description", part.description, x, y, hide=True),
            prop("MPN", part.mpn, x, y, hide=True),
            prop("Manufacturer", part.manufacturer, x, y, hide=True),
        ]
        for k, v in part.extra.items():
            props.append(prop(k, v, x, y, hide=True))
        items.append(sym_instance(part.lib_id, part.ref, part.value, x, y, part.ref, props,
                                  sorted(pins, key=lambda s: (len(s), s)), part.in_bom,
                                  rot=part.rot, dnp=part.dnp, on_board=part.on_board))
        for num, (sx, sy, ang) in sorted(placed.items()):
            ax, ay = round(x + sx, 4), round(y + sy, 4)
            net = part.pins[num]
            key = f"{part.ref}.{num}"
            claim(ax, ay, net or f"nc/{key}")
            if net is None:
                items.append([Sym("no_connect"), [Sym("at"), ax, ay],
                              [Sym("uuid"), d.uid("nc", key)]])
                continue
            dx, dy, lang = stub_dir(ang)
            ex, ey = round(ax + dx * STUB, 4), round(ay + dy * STUB, 4)
            claim(ex, ey, net)
            items.append([Sym("wire"), [Sym("pts"), [Sym("xy"), ax, ay], [Sym("xy"), ex, ey]],
                          [Sym("stroke"), [Sym("width"), 0], [Sym("type"), Sym("default")]],
                          [Sym("uuid"), d.uid("wire", key)]])
            if net in d.POWER_NETS:
                # on the connectors' 2.54 mm pitch a GND name would cover the next label
                show = not (net == "GND" and part.ref.startswith("J"))
                power(net, ex, ey, f"pwr/{key}", dx, dy, show)
            else:
                just = "right bottom" if lang in (180, 270) else "left bottom"
                items.append([Sym("label"), net, [Sym("at"), ex, ey, lang],
                              eff(justify=just), [Sym("uuid"), d.uid("label", key)]])

    # PWR_FLAGs on the nets the Pi supplies through passive header pins
    for i, net in enumerate(d.PWR_FLAG_NETS):
        fx, fy = 25.4 + 15.24 * i, 55.88
        flag = need("power:PWR_FLAG")
        ref = f"#FLG{i + 1:02d}"
        items.append(sym_instance(
            "power:PWR_FLAG", ref, "PWR_FLAG", fx, fy, f"flag/{net}",
            [prop("Reference", ref, fx, fy - 3.81, hide=True),
             prop("Value", "PWR_FLAG", fx, fy - 3.81),
             prop("Footprint", "", fx, fy, hide=True), prop("Datasheet", "", fx, fy, hide=True)],
            list(pins_of(flag)), in_bom=False))
        items.append([Sym("wire"), [Sym("pts"), [Sym("xy"), fx, fy], [Sym("xy"), fx, fy + STUB]],
                      [Sym("stroke"), [Sym("width"), 0], [Sym("type"), Sym("default")]],
                      [Sym("uuid"), d.uid("wire", "flag", net)]])
        power(net, fx, fy + STUB, f"flag-pwr/{net}")

    for i, ((tx, ty), text) in enumerate(d.NOTES):
        items.append([Sym("text"), text.replace("\\n", "\n"), [Sym("exclude_from_sim"), Sym("no")],
                      [Sym("at"), tx, ty, 0], eff(justify="left top"),
                      [Sym("uuid"), d.uid("note", str(i))]])

    sch = [
        Sym("kicad_sch"), [Sym("version"), 20250114], [Sym("generator"), "eeschema"],
        [Sym("generator_version"), "9.0"], [Sym("uuid"), ROOT], [Sym("paper"), "A3"],
        [Sym("title_block"), [Sym("title"), "mepd Pi HAT+ (MEP port gateway)"],
         [Sym("rev"), "1"], [Sym("company"), "mepd project"],
         [Sym("comment"), 1, "Generated by hardware/pi-hat/tools/kicad_gen_sch.py - edit the "
                             "design there"],
         [Sym("comment"), 2, "BCM GPIO: 22 XCVR power, 23 ENABLE (low=on), 24 sense, "
                             "25/27 LEDs"]],
        [Sym("lib_symbols"), *[libs[k] for k in sorted(libs)]],
        *items,
        [Sym("sheet_instances"), [Sym("path"), "/", [Sym("page"), "1"]]],
        [Sym("embedded_fonts"), Sym("no")],
    ]
    OUT.write_text(dump(sch) + "\n")
    print(f"wrote {OUT}")


if __name__ == "__main__":
    main()
