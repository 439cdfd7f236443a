"""The Pi HAT design (hardware/pi-hat) against the software (mepd.drivers.hat) and its own checks.

The schematic's netlist is exported with kicad-cli into a temporary directory and walked from
each function's pin to the 40-pin header, whose pin -> BCM GPIO table is written out below
(the Raspberry Pi's, independent of the design scripts). Board and software cannot drift.

kicad-cli (KiCad 9) and dtc come from scripts/install-kicad.sh. Without them the tests fail
when CI is set and skip otherwise.
"""

from __future__ import annotations

import csv
import json
import os
import re
import shutil
import subprocess
import sys
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from mepd.drivers.hat import DEFAULT_PINS

if TYPE_CHECKING:  # imported at run time from hardware/pi-hat/tools (see _design_parts)
    from kicad_design import Part

REPO = Path(__file__).resolve().parents[2]
HAT = REPO / "hardware" / "pi-hat"
SCHEMATIC = HAT / "mepd-hat.kicad_sch"
BOARD = HAT / "mepd-hat.kicad_pcb"
OVERLAY = HAT / "overlay" / "mepd-hat-overlay.dts"
EEPROM_SETTINGS = HAT / "eeprom" / "mepd-hat-eeprom.txt"
BOM = HAT / "bom" / "mepd-hat-bom.csv"
SCH_GENERATOR = HAT / "tools" / "kicad_gen_sch.py"
INSTALL_HINT = "run scripts/install-kicad.sh (KiCad 9 from bookworm-backports, dtc)"

# Raspberry Pi 40-pin header: header pin -> BCM GPIO.
HEADER_TO_BCM = {
    3: 2,
    5: 3,
    7: 4,
    8: 14,
    10: 15,
    11: 17,
    12: 18,
    13: 27,
    15: 22,
    16: 23,
    18: 24,
    19: 10,
    21: 9,
    22: 25,
    23: 11,
    24: 8,
    26: 7,
    27: 0,
    28: 1,
    29: 5,
    31: 6,
    32: 12,
    33: 13,
    35: 19,
    36: 16,
    37: 26,
    38: 20,
    40: 21,
}
HEADER_3V3 = {1, 17}
HEADER_5V = {2, 4}
HEADER_GND = {6, 9, 14, 20, 25, 30, 34, 39}

# Warnings that ERC may report, each justified in hardware/pi-hat/README.md. None today.
WAIVED_ERC_WARNINGS: set[str] = set()


def require_tool(name: str) -> str:
    path = shutil.which(name)
    if path:
        return path
    message = f"{name} not found: {INSTALL_HINT}"
    if os.environ.get("CI"):
        pytest.fail(message)
    pytest.skip(message)
    raise AssertionError("unreachable")


# --- a small S-expression reader for the kicad-cli netlist ---------------------------------

_TOKEN = re.compile(r'\s*(?:(\()|(\))|"((?:[^"\\]|\\.)*)"|([^\s()"]+))')


SExpr = str | list["SExpr"]


def parse_sexpr(text: str) -> list[SExpr]:
    stack: list[list[SExpr]] = [[]]
    pos = 0
    while True:
        m = _TOKEN.match(text, pos)
        if not m or m.end() == pos:
            break
        pos = m.end()
        if m.group(1):
            stack.append([])
        elif m.group(2):
            node = stack.pop()
            stack[-1].append(node)
        elif m.group(3) is not None:
            stack[-1].append(re.sub(r"\\(.)", r"\1", m.group(3)))
        else:
            stack[-1].append(m.group(4))
    tree = stack[0][0]
    assert isinstance(tree, list), "the netlist is not one (...) expression"
    return tree


def children(node: list[SExpr], key: str) -> list[list[SExpr]]:
    return [x for x in node if isinstance(x, list) and x and x[0] == key]


def child(node: list[SExpr], key: str) -> list[SExpr]:
    found = children(node, key)
    assert found, f"no ({key} ...) in {str(node)[:80]}"
    return found[0]


def atom(value: SExpr) -> str:
    assert isinstance(value, str), f"expected an atom, got {str(value)[:80]}"
    return value


def text(node: list[SExpr], key: str) -> str:
    """The atom of the (key atom) child of node."""
    return atom(child(node, key)[1])


@dataclass
class Component:
    ref: str
    value: str
    footprint: str
    part: str
    fields: dict[str, str]
    in_bom: bool
    fitted: bool = True


@dataclass
class Netlist:
    components: dict[str, Component]
    nets: dict[str, list[tuple[str, str, str, str]]]  # name -> (ref, pin, function, type)
    pin_net: dict[tuple[str, str], str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        for name, nodes in self.nets.items():
            for ref, pin, _, _ in nodes:
                self.pin_net[(ref, pin)] = name

    def by_role(self, role: str) -> Component:
        found = [c for c in self.components.values() if c.fields.get("HAT_Function") == role]
        assert len(found) == 1, f"expected one part with HAT_Function={role}, got {found}"
        return found[0]

    def pin(self, ref: str, function: str) -> str:
        """Pin number of ref's pin named function."""
        for nodes in self.nets.values():
            for r, p, f, _ in nodes:
                if r == ref and f == function:
                    return p
        raise AssertionError(f"{ref} has no connected pin {function}")

    def net_of(self, ref: str, pin: str) -> str:
        return self.pin_net[(ref, pin)]

    def is_power(self, net: str) -> bool:
        return any(t in ("power_in", "power_out") for _, _, _, t in self.nets[net])

    def pins_on(self, net: str) -> list[tuple[str, str]]:
        return [(r, p) for r, p, _, _ in self.nets[net]]

    def resistors_between(self, net_a: str, net_b: str) -> list[str]:
        out = []
        for ref, comp in self.components.items():
            if comp.part != "R":
                continue
            nets = {self.pin_net.get((ref, "1")), self.pin_net.get((ref, "2"))}
            if nets == {net_a, net_b}:
                out.append(ref)
        return out

    def gpios_reaching(self, ref: str, pin: str) -> set[int]:
        """BCM GPIOs whose header pin is reached from (ref, pin) through resistors.

        Crosses two-pin resistors (series and current-limit), never into a power net (so a
        pull-up or pull-down does not count as a path), and no other parts.
        """
        header = self.by_role("pi_header").ref
        start = self.net_of(ref, pin)
        seen = {start}
        queue = deque([start])
        gpios: set[int] = set()
        while queue:
            net = queue.popleft()
            for r, p in self.pins_on(net):
                if r == header:
                    assert int(p) in HEADER_TO_BCM, f"{net} reaches header pin {p}, not a GPIO"
                    gpios.add(HEADER_TO_BCM[int(p)])
                elif self.components[r].part == "R":
                    other = self.pin_net.get((r, "2" if p == "1" else "1"))
                    if other and other not in seen and not self.is_power(other):
                        seen.add(other)
                        queue.append(other)
        return gpios


def load_netlist(path: Path) -> Netlist:
    tree = parse_sexpr(path.read_text())
    comps = {}
    for comp in children(child(tree, "components"), "comp"):
        fields = {}
        for f in children(child(comp, "fields"), "field"):
            name = text(f, "name")
            fields[name] = atom(f[2]) if len(f) > 2 else ""
        props = {text(p, "name") for p in children(comp, "property")}
        ref = text(comp, "ref")
        comps[ref] = Component(
            ref=ref,
            value=text(comp, "value"),
            footprint=text(comp, "footprint") if children(comp, "footprint") else "",
            part=text(child(comp, "libsource"), "part"),
            fields=fields,
            in_bom="exclude_from_bom" not in props,
            fitted="dnp" not in props,
        )
    nets = {}
    for net in children(child(tree, "nets"), "net"):
        nodes = []
        for node in children(net, "node"):
            func = text(node, "pinfunction") if children(node, "pinfunction") else ""
            nodes.append((text(node, "ref"), text(node, "pin"), func, text(node, "pintype")))
        nets[text(net, "name")] = nodes
    return Netlist(comps, nets)


@pytest.fixture(scope="module")
def kicad_cli() -> str:
    return require_tool("kicad-cli")


@pytest.fixture(scope="module")
def netlist(kicad_cli: str, tmp_path_factory: pytest.TempPathFactory) -> Netlist:
    out = tmp_path_factory.mktemp("netlist") / "mepd-hat.net"
    subprocess.run(
        [
            kicad_cli,
            "sch",
            "export",
            "netlist",
            "--format",
            "kicadsexpr",
            "-o",
            str(out),
            str(SCHEMATIC),
        ],
        check=True,
        capture_output=True,
        text=True,
    )
    return load_netlist(out)


# --- software <-> board cross-check ---------------------------------------------------------


def test_transceiver_power_switch_gpio_matches_software(netlist: Netlist) -> None:
    switch = netlist.by_role("transceiver_power_switch")
    on = netlist.pin(switch.ref, "ON")
    assert netlist.gpios_reaching(switch.ref, on) == {DEFAULT_PINS.transceiver_power}
    # active high with a board pull-down: off at power-up and while the GPIO is an input
    assert DEFAULT_PINS.transceiver_power_active_high
    assert netlist.resistors_between(netlist.net_of(switch.ref, on), "GND"), (
        "load switch ON needs a pull-down to GND"
    )
    # and it feeds the transceiver
    xcvr = netlist.by_role("rs232_transceiver")
    assert netlist.net_of(switch.ref, netlist.pin(switch.ref, "VOUT")) == netlist.net_of(
        xcvr.ref, netlist.pin(xcvr.ref, "VCC")
    )


def test_mep_enable_gpio_matches_software(netlist: Netlist) -> None:
    xcvr = netlist.by_role("rs232_transceiver")
    t2in = netlist.pin(xcvr.ref, "T2IN")
    assert netlist.gpios_reaching(xcvr.ref, t2in) == {DEFAULT_PINS.mep_enable}
    # the driver inverts: GPIO low = ENABLE high. Pull-up keeps T2OUT low while GPIO23 floats.
    assert not DEFAULT_PINS.mep_enable_active_high
    vcc = netlist.net_of(xcvr.ref, netlist.pin(xcvr.ref, "VCC"))
    assert netlist.resistors_between(netlist.net_of(xcvr.ref, t2in), vcc), (
        "T2IN needs a pull-up to the transceiver supply"
    )


def test_enable_options_reach_terminal_pin_2(netlist: Netlist) -> None:
    """Option A (V+ high-side switch, fitted) and B (T2OUT, not fitted) both end on pin 2."""
    terminal = netlist.by_role("mep_terminal")
    enable = netlist.net_of(terminal.ref, "2")
    xcvr = netlist.by_role("rs232_transceiver")
    t2out = netlist.net_of(xcvr.ref, netlist.pin(xcvr.ref, "T2OUT"))
    link_b = netlist.by_role("enable_link_transceiver")
    link_a = netlist.by_role("enable_link_vplus")
    assert {netlist.net_of(link_b.ref, "1"), netlist.net_of(link_b.ref, "2")} == {t2out, enable}
    assert enable in {netlist.net_of(link_a.ref, "1"), netlist.net_of(link_a.ref, "2")}
    a_driver = ({netlist.net_of(link_a.ref, "1"), netlist.net_of(link_a.ref, "2")} - {enable}).pop()
    # option A is the default: its link is fitted, option B's is not
    assert link_a.fitted
    assert not link_b.fitted
    # option A: Q2 (emitter on V+) -> collector -> feed resistor -> zener node -> link
    high = netlist.by_role("enable_high_side")
    assert netlist.net_of(high.ref, netlist.pin(high.ref, "E")) == netlist.net_of(terminal.ref, "5")
    zener = netlist.by_role("enable_zener")
    assert netlist.net_of(zener.ref, netlist.pin(zener.ref, "K")) == a_driver
    assert netlist.net_of(zener.ref, netlist.pin(zener.ref, "A")) == "GND"
    collector = netlist.net_of(high.ref, netlist.pin(high.ref, "C"))
    assert netlist.resistors_between(collector, a_driver), "zener feed resistor"
    assert netlist.resistors_between(a_driver, "GND"), "ENABLE pull-down when Q2 is off"
    # Q2's base is pulled by the level shifter Q1, whose emitter GPIO23 drives (active low)
    # and whose base sits on the switched transceiver supply: no ENABLE while it is off
    shifter = netlist.by_role("enable_level_shifter")
    assert netlist.net_of(shifter.ref, netlist.pin(shifter.ref, "C")) == netlist.net_of(
        high.ref, netlist.pin(high.ref, "B")
    )
    vcc = netlist.net_of(xcvr.ref, netlist.pin(xcvr.ref, "VCC"))
    assert netlist.net_of(shifter.ref, netlist.pin(shifter.ref, "B")) == vcc
    assert netlist.gpios_reaching(shifter.ref, netlist.pin(shifter.ref, "E")) == {
        DEFAULT_PINS.mep_enable
    }


def _ohms(value: str) -> float:
    for unit, factor in (("R", 1.0), ("k", 1e3), ("M", 1e6)):
        if unit in value:
            whole, _, frac = value.partition(unit)
            return float(f"{whole or 0}.{frac or 0}") * factor
    return float(value)


def _other_end(netlist: Netlist, ref: str, net: str) -> str:
    return netlist.net_of(ref, "2" if netlist.net_of(ref, "1") == net else "1")


@pytest.mark.parametrize(("terminal_pin", "function"), [("3", "T1OUT"), ("4", "R1IN")])
def test_terminal_lines_have_series_resistors_and_tvs(
    netlist: Netlist, terminal_pin: str, function: str
) -> None:
    """TVS at the terminal, then at least 1 kOhm before the transceiver pin (DESIGN.md)."""
    terminal = netlist.by_role("mep_terminal")
    xcvr = netlist.by_role("rs232_transceiver")
    outer = netlist.net_of(terminal.ref, terminal_pin)
    inner = netlist.net_of(xcvr.ref, netlist.pin(xcvr.ref, function))
    assert outer != inner, f"terminal pin {terminal_pin} is wired straight to {function}"
    series = netlist.resistors_between(outer, inner)
    assert len(series) == 1
    assert _ohms(netlist.components[series[0]].value) >= 1e3
    tvs = [r for r, _ in netlist.pins_on(outer) if netlist.components[r].part.startswith("SMAJ")]
    assert tvs, f"no TVS on terminal pin {terminal_pin}"


@pytest.mark.parametrize("function", ["T1OUT", "T2OUT"])
def test_driver_outputs_are_clamped_below_their_rating(netlist: Netlist, function: str) -> None:
    xcvr = netlist.by_role("rs232_transceiver")
    net = netlist.net_of(xcvr.ref, netlist.pin(xcvr.ref, function))
    clamps = [
        netlist.components[r].value
        for r, _ in netlist.pins_on(net)
        if netlist.components[r].part.startswith("D_Zener_Dual")
    ]
    assert clamps == ["AZ23C11"], "bidirectional 11 V clamp (under the 13.2 V rating)"


@pytest.mark.parametrize(("function", "minimum"), [("T1IN", 10e3), ("T2IN", 10e3), ("R1OUT", 1e3)])
def test_logic_lines_have_series_resistance(
    netlist: Netlist, function: str, minimum: float
) -> None:
    """No 0 Ohm between a GPIO and a transceiver that may be switched off (back-powering)."""
    xcvr = netlist.by_role("rs232_transceiver")
    net = netlist.net_of(xcvr.ref, netlist.pin(xcvr.ref, function))
    header = netlist.by_role("pi_header").ref
    assert all(r != header for r, _ in netlist.pins_on(net)), f"{function} wired to the header"
    series = [
        r
        for r, _ in netlist.pins_on(net)
        if netlist.components[r].part == "R"
        and any(h == header for h, _ in netlist.pins_on(_other_end(netlist, r, net)))
    ]
    assert len(series) == 1
    assert _ohms(netlist.components[series[0]].value) >= minimum


def test_meter_sense_gpio_matches_software(netlist: Netlist) -> None:
    terminal = netlist.by_role("mep_terminal")
    sense = netlist.by_role("sense_transistor")
    # collector to GPIO24 with a pull-up to +3V3: low = meter present
    collector = netlist.pin(sense.ref, "C")
    assert netlist.gpios_reaching(sense.ref, collector) == {DEFAULT_PINS.meter_sense}
    assert not DEFAULT_PINS.meter_sense_active_high
    assert netlist.resistors_between(netlist.net_of(sense.ref, collector), "+3V3")
    assert netlist.net_of(sense.ref, netlist.pin(sense.ref, "E")) == "GND"
    # base: divider from terminal pin 5, bottom resistor to GND
    base = netlist.net_of(sense.ref, netlist.pin(sense.ref, "B"))
    assert netlist.resistors_between(base, "GND"), "sense divider needs its bottom resistor"
    assert netlist.resistors_between(base, netlist.net_of(terminal.ref, "5")), (
        "sense divider top must come from terminal pin 5"
    )
    # nothing from the V+ side reaches the Pi's 3.3 V (rev A's D5 back-feed path)
    assert all(
        not netlist.is_power(_other_end(netlist, r, base)) or _other_end(netlist, r, base) == "GND"
        for r, _ in netlist.pins_on(base)
        if netlist.components[r].part in ("R", "C")
    )
    assert {netlist.components[r].part for r, _ in netlist.pins_on(base)} <= {"R", "C", "BC846"}


@pytest.mark.parametrize(
    ("role", "expected"),
    [
        ("link_led", DEFAULT_PINS.link_led),
        ("power_led", DEFAULT_PINS.power_led),
    ],
)
def test_led_gpio_matches_software(netlist: Netlist, role: str, expected: int) -> None:
    led = netlist.by_role(role)
    assert netlist.gpios_reaching(led.ref, netlist.pin(led.ref, "A")) == {expected}
    assert netlist.net_of(led.ref, netlist.pin(led.ref, "K")) == "GND", "LEDs are active high"


def test_uart_and_id_eeprom_pins(netlist: Netlist) -> None:
    xcvr = netlist.by_role("rs232_transceiver")
    assert netlist.gpios_reaching(xcvr.ref, netlist.pin(xcvr.ref, "T1IN")) == {
        DEFAULT_PINS.UART_TXD
    }
    assert netlist.gpios_reaching(xcvr.ref, netlist.pin(xcvr.ref, "R1OUT")) == {
        DEFAULT_PINS.UART_RXD
    }
    eeprom = netlist.by_role("id_eeprom")
    assert netlist.gpios_reaching(eeprom.ref, netlist.pin(eeprom.ref, "SDA")) == {
        DEFAULT_PINS.ID_SD
    }
    assert netlist.gpios_reaching(eeprom.ref, netlist.pin(eeprom.ref, "SCL")) == {
        DEFAULT_PINS.ID_SC
    }
    for a in ("A0", "A1", "A2"):
        assert netlist.net_of(eeprom.ref, netlist.pin(eeprom.ref, a)) == "GND"  # 0x50
    wp = netlist.net_of(eeprom.ref, netlist.pin(eeprom.ref, "WP"))
    assert netlist.resistors_between(wp, "+3V3"), "WP must be pulled up (write protected)"


def test_mep_terminal_nes_numbering(netlist: Netlist) -> None:
    terminal = netlist.by_role("mep_terminal")
    xcvr = netlist.by_role("rs232_transceiver")
    t = terminal.ref

    def xnet(function: str) -> str:
        return netlist.net_of(xcvr.ref, netlist.pin(xcvr.ref, function))

    assert netlist.net_of(t, "1") == "GND"

    def through(pin: str) -> set[str]:
        """Nets one series resistor away from terminal pin `pin`."""
        outer = netlist.net_of(t, pin)
        return {
            _other_end(netlist, r, outer)
            for r, _ in netlist.pins_on(outer)
            if netlist.components[r].part == "R"
        }

    assert xnet("T2OUT") in through("2")  # ENABLE client -> meter (option B link)
    assert xnet("T1OUT") in through("3")  # TXD client -> meter
    assert xnet("R1IN") in through("4")  # RXD meter -> client
    assert (t, "6") not in netlist.pin_net or netlist.net_of(t, "6").startswith("unconnected")
    # pin 5 (meter V+) is sensed only: it reaches no supply
    vplus = netlist.net_of(t, "5")
    assert not netlist.is_power(vplus)
    header = netlist.by_role("pi_header").ref
    assert all(r != header for r, _ in netlist.pins_on(vplus))


def test_header_power_and_unused_pins(netlist: Netlist) -> None:
    header = netlist.by_role("pi_header").ref
    for p in HEADER_3V3:
        assert netlist.net_of(header, str(p)) == "+3V3"
    for p in HEADER_GND:
        assert netlist.net_of(header, str(p)) == "GND"
    for p in HEADER_5V:  # the HAT takes nothing from 5 V, and never feeds it
        net = netlist.pin_net.get((header, str(p)))
        assert net is None or net.startswith("unconnected"), f"5 V pin {p} on {net}"


def test_gpio_choices_avoid_uart_and_id_pins() -> None:
    used = [
        DEFAULT_PINS.transceiver_power,
        DEFAULT_PINS.mep_enable,
        DEFAULT_PINS.meter_sense,
        DEFAULT_PINS.link_led,
        DEFAULT_PINS.power_led,
    ]
    reserved = {
        DEFAULT_PINS.UART_TXD,
        DEFAULT_PINS.UART_RXD,
        DEFAULT_PINS.ID_SD,
        DEFAULT_PINS.ID_SC,
    }
    assert len(set(used)) == len(used)
    assert not set(used) & reserved


def test_every_bom_part_has_a_manufacturer_part_number(netlist: Netlist) -> None:
    missing = [
        c.ref
        for c in netlist.components.values()
        if c.in_bom and (not c.fields.get("MPN") or not c.fields.get("Manufacturer"))
    ]
    assert not missing, f"parts without MPN/Manufacturer: {missing}"
    no_fp = [c.ref for c in netlist.components.values() if not c.footprint]
    assert not no_fp, f"parts without footprint: {no_fp}"


# --- tool checks ----------------------------------------------------------------------------


def test_erc_has_no_errors(kicad_cli: str, tmp_path: Path) -> None:
    report = tmp_path / "erc.json"
    result = subprocess.run(
        [
            kicad_cli,
            "sch",
            "erc",
            "--format",
            "json",
            "--severity-all",
            "-o",
            str(report),
            str(SCHEMATIC),
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    assert report.exists(), result.stdout + result.stderr
    violations = [
        v for sheet in json.loads(report.read_text())["sheets"] for v in sheet["violations"]
    ]
    errors = [v for v in violations if v["severity"] == "error"]
    warnings = [
        v for v in violations if v["severity"] == "warning" and v["type"] not in WAIVED_ERC_WARNINGS
    ]
    assert not errors, [f"{v['type']}: {v['description']}" for v in errors]
    assert not warnings, [f"{v['type']}: {v['description']}" for v in warnings]


def test_drc_is_clean_and_matches_the_schematic(kicad_cli: str, tmp_path: Path) -> None:
    report = tmp_path / "drc.json"
    result = subprocess.run(
        [
            kicad_cli,
            "pcb",
            "drc",
            "--format",
            "json",
            "--severity-all",
            "--schematic-parity",
            "-o",
            str(report),
            str(BOARD),
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    assert report.exists(), result.stdout + result.stderr
    drc = json.loads(report.read_text())
    problems = [
        f"{v['severity']} {v['type']}: {v['description']}"
        for key in ("violations", "unconnected_items", "schematic_parity")
        for v in drc.get(key, [])
    ]
    assert not problems, problems


def test_committed_schematic_is_the_generator_output(kicad_cli: str, tmp_path: Path) -> None:
    out = tmp_path / "mepd-hat.kicad_sch"
    subprocess.run(
        [sys.executable, str(SCH_GENERATOR)],
        check=True,
        capture_output=True,
        env={**os.environ, "MEPD_SCH_OUT": str(out), "PYTHONDONTWRITEBYTECODE": "1"},
    )
    assert out.read_bytes() == SCHEMATIC.read_bytes(), (
        "mepd-hat.kicad_sch differs from tools/kicad_gen_sch.py output: run make regen"
    )


def test_committed_bom_lists_every_part_number(netlist: Netlist) -> None:
    with BOM.open(newline="") as f:
        rows = list(csv.DictReader(f))
    listed = {r["MPN"] for r in rows}
    refs = {ref for r in rows for ref in r["Refs"].split(",")}
    for comp in netlist.components.values():
        if comp.in_bom:
            assert comp.fields["MPN"] in listed, f"{comp.ref} {comp.fields['MPN']} not in BOM"
            assert comp.ref in refs, f"{comp.ref} not in BOM"


def test_overlay_compiles_with_dtc(tmp_path: Path) -> None:
    dtc = require_tool("dtc")
    out = tmp_path / "mepd-hat.dtbo"
    result = subprocess.run(
        [dtc, "-@", "-I", "dts", "-O", "dtb", "-o", str(out), str(OVERLAY)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert out.stat().st_size > 0
    # the pins the overlay configures are the software's, with safe power-up pulls
    text = OVERLAY.read_text()
    node = re.search(r"mepd_hat_pins\s*\{([^}]*)\}", text)
    assert node, "overlay has no mepd_hat_pins node"

    def cells(prop: str) -> list[int]:
        m = re.search(prop + r"\s*=\s*<([^>]*)>", node.group(1))
        assert m, f"mepd_hat_pins has no {prop}"
        return [int(x) for x in m.group(1).split()]

    pins = cells("brcm,pins")
    assert set(pins) == {
        DEFAULT_PINS.transceiver_power,
        DEFAULT_PINS.mep_enable,
        DEFAULT_PINS.meter_sense,
        DEFAULT_PINS.link_led,
        DEFAULT_PINS.power_led,
    }
    assert cells("brcm,function") == [0] * len(pins), "HAT pins stay inputs (no hog)"
    pull = dict(zip(pins, cells("brcm,pull"), strict=True))
    down, up = 1, 2
    assert pull[DEFAULT_PINS.transceiver_power] == down
    assert pull[DEFAULT_PINS.mep_enable] == up
    assert pull[DEFAULT_PINS.link_led] == down
    assert pull[DEFAULT_PINS.power_led] == down


def test_eeprom_settings_name_mepd() -> None:
    settings: dict[str, str] = {}
    for raw in EEPROM_SETTINGS.read_text().splitlines():
        line = raw.split("#", 1)[0].strip()
        if not line or " " not in line:
            continue
        key, value = line.split(None, 1)
        settings.setdefault(key, value.strip())
    assert settings["vendor"] == '"mepd project"'
    assert settings["product"] == '"mepd MEP meter HAT+"'
    assert int(settings["product_id"], 16) > 0
    assert int(settings["product_ver"], 16) > 0
    assert re.fullmatch(
        r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}", settings["product_uuid"]
    )
    assert settings["dt_blob"] == '"mepd-hat"'
    assert "mepd" in EEPROM_SETTINGS.read_text().split("custom_data", 1)[1]


def test_bom_lists_the_mechanical_parts() -> None:
    """Standoffs and screws for the 11 mm HAT+ stack are bought with the board."""
    with BOM.open(newline="") as f:
        rows = {r["Value"]: int(r["Qty"]) for r in csv.DictReader(f)}
    assert rows.get("M2.5x11 F-F standoff") == 4
    assert rows.get("M2.5x6 screw") == 8


def test_mounting_holes_have_copper_keepouts() -> None:
    """No pour, track or via under a screw head: a rule area around each of the 4 holes."""
    text = BOARD.read_text()
    keepouts = re.findall(
        r"\(keepout\s*\(tracks not_allowed\)\s*\(vias not_allowed\)"
        r"\s*\(pads allowed\)\s*\(copperpour not_allowed\)",
        text,
    )
    assert len(keepouts) == 4


def test_silkscreen_names_board_and_terminal_pins() -> None:
    text = BOARD.read_text()
    silk = re.findall(r'\(gr_text "([^"]*)"\s*\(at [^)]*\)\s*\(layer "F.SilkS"\)', text)
    assert "rev B" in silk
    for label in ("1 GND", "2 EN", "3 TXD", "4 RXD", "5 V+", "6 nc", "LINK", "PWR"):
        assert label in silk, f"no silkscreen label {label!r}"


OVERLAY_PI5 = HAT / "overlay" / "mepd-hat-pi5-overlay.dts"
PI5_LABELS = HAT / "overlay" / "pi5-labels.dts"


def _dtb(dtc: str, source: Path, out: Path) -> Path:
    result = subprocess.run(
        [dtc, "-@", "-I", "dts", "-O", "dtb", "-o", str(out), str(source)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    return out


def test_pi5_overlay_applies_to_the_pi5_labels(tmp_path: Path) -> None:
    """Every reference of the Pi 5 overlay resolves on the Pi 5 tree; the Pi 3/4 one does not."""
    dtc = require_tool("dtc")
    fdtoverlay = require_tool("fdtoverlay")
    base = _dtb(dtc, PI5_LABELS, tmp_path / "pi5.dtb")
    pi5 = _dtb(dtc, OVERLAY_PI5, tmp_path / "pi5.dtbo")
    pi34 = _dtb(dtc, OVERLAY, tmp_path / "pi34.dtbo")
    merged = tmp_path / "merged.dtb"
    ok = subprocess.run(
        [fdtoverlay, "-i", str(base), "-o", str(merged), str(pi5)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert ok.returncode == 0, ok.stderr
    text = subprocess.run(
        [dtc, "-I", "dtb", "-O", "dts", str(merged)], capture_output=True, text=True, check=True
    ).stdout
    uart0 = re.search(r"uart0 \{([^}]*)\}", text)
    assert uart0
    assert 'status = "okay"' in uart0.group(1)
    # the HAT's pulls on the RP1 pin controller, as on the Pi 3/4 (test_overlay_compiles_...)
    source = OVERLAY_PI5.read_text()
    for node, pull, pins in (
        ("mepd_hat_pull_down", "bias-pull-down", {22, 25, 27}),
        ("mepd_hat_pull_up", "bias-pull-up", {23}),
        ("mepd_hat_no_pull", "bias-disable", {24}),
    ):
        body = re.search(node + r"\s*\{([^}]*)\}", source)
        assert body, node
        assert pull in body.group(1)
        assert {int(n) for n in re.findall(r'"gpio(\d+)"', body.group(1))} == pins
    assert {22, 23, 24, 25, 27} == {
        DEFAULT_PINS.transceiver_power,
        DEFAULT_PINS.mep_enable,
        DEFAULT_PINS.meter_sense,
        DEFAULT_PINS.link_led,
        DEFAULT_PINS.power_led,
    }
    # the Pi 3/4 overlay (the EEPROM's) cannot apply on a Pi 5: it is skipped, not half applied
    wrong = subprocess.run(
        [fdtoverlay, "-i", str(base), "-o", str(tmp_path / "no.dtb"), str(pi34)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert wrong.returncode != 0


def _design_parts() -> list[Part]:
    """The parts list of the generators (hardware/pi-hat/tools/kicad_design.py)."""
    sys.path.insert(0, str(HAT / "tools"))
    try:
        import kicad_design

        return list(kicad_design.PARTS)
    finally:
        sys.path.remove(str(HAT / "tools"))


def test_schematic_wiring_is_the_design(netlist: Netlist) -> None:
    """The schematic's wires and labels join exactly the pins the design data joins.

    The schematic is drawn with wires inside each functional block; a wire that touched a
    pin of another net would merge two nets silently. Compare net by net, as pin sets.
    """
    want: dict[str, set[tuple[str, str]]] = {}
    for part in _design_parts():
        for pin, net in part.pins.items():
            if net is not None:
                want.setdefault(net, set()).add((part.ref, pin))
    got: dict[str, set[tuple[str, str]]] = {}
    for (ref, pin), net in netlist.pin_net.items():
        if not net.startswith("unconnected"):
            got.setdefault(net, set()).add((ref, pin))
    assert sorted(map(sorted, want.values())) == sorted(map(sorted, got.values()))


def test_schematic_is_drawn_by_function() -> None:
    """Framed blocks per function, and wires between parts rather than only pin stubs."""
    text = SCHEMATIC.read_text()
    for title in (
        "RS-232 transceiver",
        "Transceiver supply switch",
        "ENABLE option A",
        "Meter sense",
        "HAT+ ID EEPROM",
        "Terminal",
    ):
        assert re.search(r'\(text "' + re.escape(title), text), f"no block {title!r}"
    pins = len(re.findall(r"\(pin \"", text))
    wires = len(re.findall(r"\(wire\b", text))
    labels = len(re.findall(r"\(label \"", text))
    # every connected pin has its stub; routed wires come on top, labels only between blocks
    assert wires > pins
    assert labels < 60
