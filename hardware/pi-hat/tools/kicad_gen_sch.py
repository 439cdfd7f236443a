#!/usr/bin/env python3
"""Writes hardware/pi-hat/mepd-hat.kicad_sch from kicad_design.py.

Deterministic: UUIDs derive from names, so re-running gives the same file. Symbols come from
the KiCad 9 libraries (kicad-symbols, /usr/share/kicad/symbols or $KICAD9_SYMBOL_DIR) and are
embedded in the schematic, as KiCad does. Every connected pin gets a short stub, continued
by a wire, a net label or a power symbol (unused pins: a no-connect flag). Parts sit in
framed blocks by function (kicad_sch_layout.py) and are wired to each other inside a block
(kicad_sch_route.py), with labels only for nets that leave a block or where no clean route
exists.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import kicad_design as d  # noqa: E402
import kicad_sch_layout as lay  # noqa: E402
import kicad_sch_route as rt  # noqa: E402
from kicad_sexpr import Sym, dump, find, find_all, parse, walk  # noqa: E402

SYMDIR = Path(os.environ.get("KICAD9_SYMBOL_DIR", "/usr/share/kicad/symbols"))
OUT = Path(os.environ.get("MEPD_SCH_OUT",
                       Path(__file__).resolve().parent.parent / f"{d.PROJECT}.kicad_sch"))
STUB = 2.54
ROOT = d.uid("root-sheet")

_libcache: dict[str, str] = {}


def _lib(name: str) -> str:
    if name not in _libcache:
        _libcache[name] = (SYMDIR / f"{name}.kicad_sym").read_text()
    return _libcache[name]


def _raw_symbol(lib: str, name: str) -> list:
    """Parses only the named symbol: the whole library would take seconds (a unit's name
    carries a suffix, `"R_0_1"`, so the quoted name finds only the symbol itself)."""
    text = _lib(lib)
    at = text.find(f'(symbol "{name}"')
    while at >= 0:
        s = parse(text, at, first=True)
        if s[1] == name:
            return s
        at = text.find(f'(symbol "{name}"', at + 1)
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


def wire(pts: list[tuple[float, float]], key: str) -> list:
    return [Sym("wire"), [Sym("pts"), *[[Sym("xy"), round(x, 4), round(y, 4)] for x, y in pts]],
            [Sym("stroke"), [Sym("width"), 0], [Sym("type"), Sym("default")]], [Sym("uuid"), key]]


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

    sheet = rt.Sheet()
    tips: set[rt.Point] = set()
    two_pin: set[str] = set()
    # net -> block -> stub ends (with the label angle there), in part order
    ends: dict[str, dict[str, list[tuple[float, float, int, str]]]] = {}

    for part in d.PARTS:
        sym = need(part.lib_id)
        pins = pins_of(sym)
        x, y, rot = lay.PLACE.get(part.ref, (*part.sch, part.rot))
        missing = set(part.pins) ^ set(pins)
        if missing:
            raise SystemExit(f"{part.ref}: pin mismatch {sorted(missing)}")
        placed = {k: rotate(px, py, a, rot) for k, (px, py, a) in pins.items()}
        ys = [sy for _, sy, _ in placed.values()]
        xs = [sx for sx, _, _ in placed.values()]
        if not placed:                            # BOM-only hardware: ref above, value below
            ref_at, val_at, just = (x, y - 3.81), (x, y + 3.81), None
        elif len(placed) == 2 and ys[0] == ys[1]:  # horizontal two-pin: ref above, value below
            ref_at, val_at, just = (x, y - 3.175), (x, y + 3.175), None
        elif len(placed) == 2:                    # vertical two-pin: both to the right
            ref_at, val_at, just = (x + 2.54, y - 1.27), (x + 2.54, y + 1.27), "left"
        elif len(placed) == 3:                    # small three-pin part: both to the right
            right = x + max(max(xs), 0) + 1.27
            ref_at, val_at, just = (right, y - 1.27), (right, y + 1.27), "left"
        else:
            top = y + min(ys) - 3.81
            right = x + max(max(xs), 0) + 1.27
            ref_at, val_at, just = (right, top + 1.27), (right, top + 3.81), "left"
        props = [
            prop("Reference", part.ref, *ref_at, justify=just, angle=-rot),
            prop("Value", part.value, *val_at, justify=just, angle=-rot),
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
                                  rot=rot, dnp=part.dnp, on_board=part.on_board))
        if placed:
            bx = [rt.mm(x + sx) for sx, _, _ in placed.values()]
            by = [rt.mm(y + sy) for _, sy, _ in placed.values()]
            box = [min(bx), min(by), max(bx), max(by)]
            for lo, hi in ((0, 2), (1, 3)):
                if box[lo] == box[hi]:
                    box[lo], box[hi] = box[lo] - 127, box[hi] + 127
            sheet.boxes.append((box[0], box[1], box[2], box[3]))
        block = lay.BLOCK_OF.get(part.ref, "")
        if len(placed) == 2:
            two_pin.add(part.ref)
        for num, (sx, sy, ang) in sorted(placed.items()):
            ax, ay = round(x + sx, 4), round(y + sy, 4)
            net = part.pins[num]
            key = f"{part.ref}.{num}"
            tip = (rt.mm(ax), rt.mm(ay))
            sheet.add_point(tip, net or f"nc/{key}")
            tips.add(tip)
            if net is None:
                items.append([Sym("no_connect"), [Sym("at"), ax, ay],
                              [Sym("uuid"), d.uid("nc", key)]])
                continue
            dx, dy, lang = stub_dir(ang)
            ex, ey = round(ax + dx * STUB, 4), round(ay + dy * STUB, 4)
            sheet.add_point((rt.mm(ex), rt.mm(ey)), net)
            sheet.commit([tip, (rt.mm(ex), rt.mm(ey))], net)
            items.append(wire([(ax, ay), (ex, ey)], d.uid("wire", key)))
            if net in d.POWER_NETS:
                # on the connectors' 2.54 mm pitch a GND name would cover the next label
                show = not (net == "GND" and part.ref.startswith("J"))
                power(net, ex, ey, f"pwr/{key}", dx, dy, show)
            else:
                ends.setdefault(net, {}).setdefault(block, []).append((ex, ey, lang, key))

    def label(net: str, end: tuple[float, float, int, str]) -> None:
        ex, ey, lang, key = end
        just = "right bottom" if lang in (180, 270) else "left bottom"
        items.append([Sym("label"), net, [Sym("at"), ex, ey, lang],
                      eff(justify=just), [Sym("uuid"), d.uid("label", key)]])

    # wires inside each block (nearest pin to the growing tree first); labels between blocks
    # and wherever no clean route exists
    frames = {title: tuple(rt.mm(v) for v in frame) for title, frame, _ in lay.BLOCKS}
    for net in sorted(ends):
        for block, group in sorted(ends[net].items()):
            bounds = frames.get(block, (0, 0, rt.mm(420), rt.mm(297)))
            # the label goes on a two-pin part's end where there is one: an IC's pin names
            # and fields crowd its own ends
            group = sorted(group, key=lambda e: e[3].split(".")[0] not in two_pin)
            tree = [group[0]]
            vertices = [(rt.mm(group[0][0]), rt.mm(group[0][1]))]
            labelled = len(ends[net]) > 1
            if labelled:
                label(net, group[0])
            todo = group[1:]
            while todo:
                def dist(e: tuple[float, float, int, str]) -> int:
                    p = (rt.mm(e[0]), rt.mm(e[1]))
                    return min(abs(p[0] - v[0]) + abs(p[1] - v[1]) for v in vertices)
                todo.sort(key=dist)
                e = todo.pop(0)
                p = (rt.mm(e[0]), rt.mm(e[1]))
                path = None
                for v in sorted(vertices, key=lambda v: abs(p[0] - v[0]) + abs(p[1] - v[1])):
                    path = sheet.route(p, v, net, bounds)
                    if path:
                        break
                if path is None:
                    if not labelled:
                        label(net, tree[0])
                        labelled = True
                    label(net, e)
                    continue
                sheet.commit(path, net)
                for k, (a, b) in enumerate(zip(path, path[1:], strict=False)):
                    items.append(wire([(a[0] / 100, a[1] / 100), (b[0] / 100, b[1] / 100)],
                                      d.uid("route", net, e[3], str(k))))
                vertices.extend(path)
                tree.append(e)
    for jx, jy in rt.junctions(sheet, tips):
        items.append([Sym("junction"), [Sym("at"), jx / 100, jy / 100], [Sym("diameter"), 0],
                      [Sym("color"), 0, 0, 0, 0], [Sym("uuid"), d.uid("junction", str(jx),
                                                                       str(jy))]])
    for title, (x0, y0, x1, y1), _ in lay.BLOCKS:
        items.append([Sym("rectangle"), [Sym("start"), x0, y0], [Sym("end"), x1, y1],
                      [Sym("stroke"), [Sym("width"), 0], [Sym("type"), Sym("dash")]],
                      [Sym("fill"), [Sym("type"), Sym("none")]],
                      [Sym("uuid"), d.uid("block", title)]])
        items.append([Sym("text"), title, [Sym("exclude_from_sim"), Sym("no")],
                      [Sym("at"), x0 + 1.27, y0 + 1.27, 0],
                      [Sym("effects"), [Sym("font"), [Sym("size"), 2.0, 2.0], [Sym("bold"),
                                                                               Sym("yes")]],
                       [Sym("justify"), Sym("left"), Sym("top")]],
                      [Sym("uuid"), d.uid("block-title", title)]])

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

    for i, ((tx, ty), text) in enumerate(lay.NOTES):
        items.append([Sym("text"), text.replace("\\n", "\n"), [Sym("exclude_from_sim"), Sym("no")],
                      [Sym("at"), tx, ty, 0], eff(justify="left top"),
                      [Sym("uuid"), d.uid("note", str(i))]])

    sch = [
        Sym("kicad_sch"), [Sym("version"), 20250114], [Sym("generator"), "eeschema"],
        [Sym("generator_version"), "9.0"], [Sym("uuid"), ROOT], [Sym("paper"), "A3"],
        [Sym("title_block"), [Sym("title"), "mepd Pi HAT+ (MEP port gateway)"],
         [Sym("rev"), "B"], [Sym("company"), "mepd project"],
         [Sym("comment"), 1, "Generated by hardware/pi-hat/tools/kicad_gen_sch.py - edit the "
                             "design there"],
         [Sym("comment"), 2, "GPIO 22 XCVR on=high, 23 ENABLE on=low, 24 sense low=meter, "
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
