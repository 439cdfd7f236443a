"""The mepd Pi HAT as data: parts, their nets, and where they sit.

Single source for the schematic generator (kicad_gen_sch.py) and the PCB generator
(kicad_gen_pcb.py). Pin numbers are the symbol/footprint pad numbers. The GPIO numbers must
match mepd/drivers/hat.py (DEFAULT_PINS); tests/hardware checks the exported netlist against it.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field

PROJECT = "mepd-hat"
NS = uuid.UUID("6d657064-6861-7400-8000-000000000001")  # fixed namespace: deterministic UUIDs


def uid(*names: str) -> str:
    return str(uuid.uuid5(NS, "/".join(names)))


def normalize_uuids(path: str, prefix: str) -> None:
    """Make a board saved by pcbnew reproducible.

    pcbnew draws random UUIDs and orders footprints, tracks and vias by them. Sort those
    top-level blocks by content (footprints by reference), then rewrite every (uuid ...) in
    order of appearance to a name-derived one, so regenerating gives the same file.
    """
    import re
    from pathlib import Path as _P

    lines = _P(path).read_text().split("\n")
    head, blocks, tail = [lines[0]], [], []
    k = 1
    while k < len(lines):
        line = lines[k]
        if line.startswith("\t(") and not line.startswith("\t\t"):
            m = k
            if not line.rstrip().endswith(")") or line.count("(") != line.count(")"):
                while lines[m] != "\t)":
                    m += 1
            blocks.append(lines[k:m + 1])
            k = m + 1
        else:
            (tail if blocks else head).append(line)
            k += 1

    def kind(block: list[str]) -> str:
        return block[0].strip()[1:].split(" ")[0].split("\t")[0]

    def key(block: list[str]) -> str:
        text = "\n".join(x for x in block if "(uuid " not in x)
        ref = re.search(r'\(property "Reference" "([^"]*)"', text)
        if ref:
            r = ref.group(1)
            return f"{r.rstrip('0123456789')}{int(r[len(r.rstrip('0123456789')):] or 0):04d}"
        return text

    sortable = {"footprint", "segment", "via", "arc", "zone"}
    out: list[list[str]] = []
    group: list[list[str]] = []
    for b in blocks + [[""]]:
        if kind(b) in sortable and (not group or kind(group[0]) == kind(b)):
            group.append(b)
            continue
        out.extend(sorted(group, key=key))
        group = [b] if kind(b) in sortable else []
        if kind(b) not in sortable and b != [""]:
            out.append(b)
    out.extend(sorted(group, key=key))
    text = "\n".join(head + [x for b in out for x in b] + tail)
    counter = iter(range(1 << 30))
    text = re.sub(r'\(uuid "[0-9a-fA-F-]{36}"\)',
                  lambda _m: f'(uuid "{uid(prefix, str(next(counter)))}")', text)
    _P(path).write_text(text)


# Raspberry Pi 40-pin header: header pin -> BCM GPIO (only the GPIO pins).
HEADER_BCM = {
    3: 2, 5: 3, 7: 4, 8: 14, 10: 15, 11: 17, 12: 18, 13: 27, 15: 22, 16: 23, 18: 24,
    19: 10, 21: 9, 22: 25, 23: 11, 24: 8, 26: 7, 27: 0, 28: 1, 29: 5, 31: 6, 32: 12,
    33: 13, 35: 19, 36: 16, 37: 26, 38: 20, 40: 21,
}
HEADER_3V3 = (1, 17)
HEADER_5V = (2, 4)
HEADER_GND = (6, 9, 14, 20, 25, 30, 34, 39)

# The HAT's use of the header, by BCM GPIO (mepd/drivers/hat.py DEFAULT_PINS).
GPIO_NETS = {
    14: "PI_TXD",        # PL011 TXD -> transceiver T1IN
    15: "PI_RXD",        # PL011 RXD <- transceiver R1OUT
    0: "ID_SD",          # HAT+ ID EEPROM
    1: "ID_SC",
    22: "XCVR_PWR_EN",   # load switch ON, active high, board pull-down
    23: "MEP_EN_N",      # transceiver T2IN (driver inverts), board pull-up, low = ENABLE
    24: "METER_SENSE",   # terminal pin 5 via divider + clamp, high = meter powered
    25: "LED_LINK",      # link LED, active high
    27: "LED_PWR",       # power/status LED, active high
}

NC = None  # marks a pin that gets a no-connect flag


@dataclass
class Part:
    ref: str
    lib_id: str
    value: str
    footprint: str
    mpn: str
    manufacturer: str
    pins: dict[str, str | None]
    sch: tuple[float, float]          # schematic position (mm, on the 2.54 grid)
    description: str = ""
    extra: dict[str, str] = field(default_factory=dict)
    in_bom: bool = True
    rot: int = 0                      # schematic rotation (R and C are drawn horizontal)
    dnp: bool = False                 # footprint on the board, part not fitted (option link)
    on_board: bool = True             # False: BOM-only hardware (standoffs, screws)


R0603 = "Resistor_SMD:R_0603_1608Metric"
C0603 = "Capacitor_SMD:C_0603_1608Metric"
C0805 = "Capacitor_SMD:C_0805_2012Metric"
R1206 = "Resistor_SMD:R_1206_3216Metric"
R2010 = "Resistor_SMD:R_2010_5025Metric"
SOT23 = "Package_TO_SOT_SMD:SOT-23"
YAGEO = "Yageo"
MURATA = "Murata"

_RES_MPN = {
    (R0603, "0R"): "RC0603JR-070RL", (R0603, "100R"): "RC0603FR-07100RL",
    (R0603, "1k"): "RC0603FR-071KL", (R0603, "3k9"): "RC0603FR-073K9L",
    (R0603, "4k7"): "RC0603FR-074K7L", (R0603, "10k"): "RC0603FR-0710KL",
    (R0603, "22k"): "RC0603FR-0722KL", (R0603, "47k"): "RC0603FR-0747KL",
    (R0603, "100k"): "RC0603FR-07100KL",
    # 1206 (0.25 W) and 2010 (0.75 W): the parts that see the meter's V+ (DESIGN.md)
    (R1206, "2k2"): "RC1206FR-072K2L", (R2010, "1k"): "RC2010FK-071KL",
}
_CAP_MPN = {
    "100n": ("GRM188R71H104KA93D", C0603, "100nF 50V X7R 0603"),
    "1u": ("GRM188R71C105KA12D", C0603, "1uF 16V X7R 0603"),
    "10n": ("GRM188R71H103KA01D", C0603, "10nF 50V X7R 0603"),
    "10u": ("GRM21BR61A106KE19L", C0805, "10uF 10V X5R 0805"),
}


def res(ref: str, value: str, n1: str, n2: str, at: tuple[float, float], desc: str,
        fp: str = R0603, dnp: bool = False) -> Part:
    return Part(ref, "Device:R", value, fp, _RES_MPN[(fp, value)], YAGEO, {"1": n1, "2": n2},
                at, desc, rot=90, dnp=dnp)


def cap(ref: str, value: str, n1: str, n2: str, at: tuple[float, float], desc: str) -> Part:
    mpn, fp, what = _CAP_MPN[value]
    return Part(ref, "Device:C", value, fp, mpn, MURATA, {"1": n1, "2": n2}, at,
                f"{desc} ({what})", rot=90)


def _header_pins() -> dict[str, str | None]:
    pins: dict[str, str | None] = {}
    for p in range(1, 41):
        if p in HEADER_3V3:
            pins[str(p)] = "+3V3"
        elif p in HEADER_GND:
            pins[str(p)] = "GND"
        elif p in HEADER_BCM and HEADER_BCM[p] in GPIO_NETS:
            pins[str(p)] = GPIO_NETS[HEADER_BCM[p]]
        else:
            pins[str(p)] = NC  # 5 V and the GPIOs the HAT does not use
    return pins


PARTS: list[Part] = [
    # ---- Raspberry Pi header -------------------------------------------------------------
    Part("J1", "Connector_Generic:Conn_02x20_Odd_Even", "RPi_GPIO_2x20",
         "Connector_PinSocket_2.54mm:PinSocket_2x20_P2.54mm_Vertical",
         "PPTC202LFBN-RC", "Sullins Connector Solutions", _header_pins(), (60.96, 96.52),
         "40-pin Raspberry Pi header, 2x20 female 2.54 mm, mounted on the bottom side"),
    # ---- MEP terminal (NES numbering, one row: pin N here = NES pin N) -----------------
    Part("J2", "Connector_Generic:Conn_01x06", "MEP_terminal",
         "Connector_Phoenix_MSTB:PhoenixContact_MSTBA_2,5_6-G-5,08_1x06_P5.08mm_Horizontal",
         "1757284", "Phoenix Contact",
         {"1": "GND", "2": "MEP_ENABLE", "3": "MEP_TXD", "4": "MEP_RXD", "5": "MEP_VPLUS",
          "6": NC}, (403.86, 76.2),
         "MEP terminal, 1x6 pluggable 5.08 mm: 1 GND, 2 ENABLE, 3 TXD, 4 RXD, 5 V+, 6 n.c.",
         {"Mating_MPN": "Phoenix Contact 1757051 (MSTB 2,5/6-ST-5,08 plug)"}),
    # ---- RS-232 transceiver (switched supply) ------------------------------------------
    Part("U1", "Interface_UART:MAX3232", "MAX3232E",
         "Package_SO:SOIC-16_3.9x9.9mm_P1.27mm", "MAX3232EIDR", "Texas Instruments",
         {"1": "XCVR_C1P", "3": "XCVR_C1N", "4": "XCVR_C2P", "5": "XCVR_C2N",
          "2": "XCVR_VP", "6": "XCVR_VN", "16": "VCC_XCVR", "15": "GND",
          "11": "XCVR_T1IN", "10": "XCVR_T2IN", "12": "XCVR_R1OUT", "9": NC,
          "14": "XCVR_T1OUT", "7": "XCVR_T2OUT", "13": "XCVR_R1IN", "8": NC}, (228.6, 93.98),
         "3.3 V RS-232 transceiver, +/-15 kV ESD: T1 = TXD, T2 = ENABLE, R1 = RXD"),
    cap("C1", "100n", "XCVR_C1P", "XCVR_C1N", (304.8, 60.96), "charge pump C1"),
    cap("C2", "100n", "XCVR_C2P", "XCVR_C2N", (304.8, 71.12), "charge pump C2"),
    cap("C3", "100n", "XCVR_VP", "GND", (304.8, 81.28), "charge pump V+ reservoir"),
    cap("C4", "100n", "GND", "XCVR_VN", (304.8, 91.44), "charge pump V- reservoir"),
    cap("C5", "100n", "VCC_XCVR", "GND", (304.8, 101.6), "transceiver VCC bypass"),
    # logic-side series resistors: they limit what a switched-off transceiver can draw
    # through its input clamps (DESIGN.md "No back-powering"), and the T2IN pull-up
    res("R1", "10k", "PI_TXD", "XCVR_T1IN", (139.7, 60.96), "series, TXD logic line"),
    res("R2", "1k", "XCVR_R1OUT", "PI_RXD", (139.7, 71.12), "series, RXD logic line"),
    res("R3", "10k", "MEP_EN_N", "XCVR_T2IN", (139.7, 81.28), "series, ENABLE logic line"),
    res("R4", "100k", "VCC_XCVR", "XCVR_T2IN", (139.7, 91.44),
        "pull-up: T2IN high = ENABLE inactive while GPIO23 is an input"),
    # ---- terminal protection: TVS at the terminal, series R, clamp at the driver --------
    Part("D1", "Diode:SMAJ28CA", "SMAJ28CA", "Diode_SMD:D_SMA", "SMAJ28CA", "Littelfuse",
         {"1": "MEP_ENABLE", "2": "GND"}, (355.6, 60.96),
         "TVS, bidirectional 28 V: does not conduct on a 26 V V+ miswire, ENABLE"),
    Part("D2", "Diode:SMAJ28CA", "SMAJ28CA", "Diode_SMD:D_SMA", "SMAJ28CA", "Littelfuse",
         {"1": "MEP_TXD", "2": "GND"}, (355.6, 71.12), "TVS, bidirectional 28 V, TXD"),
    Part("D3", "Diode:SMAJ28CA", "SMAJ28CA", "Diode_SMD:D_SMA", "SMAJ28CA", "Littelfuse",
         {"1": "MEP_RXD", "2": "GND"}, (355.6, 81.28), "TVS, bidirectional 28 V, RXD"),
    res("R20", "1k", "XCVR_T1OUT", "MEP_TXD", (38.1, 241.3),
        "series, T1OUT to terminal pin 3: limits a V+ miswire into D9", fp=R2010),
    res("R21", "1k", "MEP_RXD", "XCVR_R1IN", (76.2, 241.3),
        "series, terminal pin 4 to R1IN: keeps a V+ miswire under R1IN's 25 V", fp=R2010),
    res("R22", "1k", "XCVR_T2OUT", "MEP_ENABLE", (114.3, 241.3),
        "ENABLE option B (MAX3232 T2OUT, about 5.4 V): fit instead of R23", fp=R2010, dnp=True),
    Part("D9", "Device:D_Zener_Dual_CommonAnode_KKA", "AZ23C11", SOT23, "AZ23C11-7-F",
         "Diodes Incorporated", {"1": "XCVR_T1OUT", "2": "GND", "3": NC}, (88.9, 261.62),
         "bidirectional 11 V clamp at T1OUT (series zeners): holds the pin under its 13.2 V"),
    Part("D10", "Device:D_Zener_Dual_CommonAnode_KKA", "AZ23C11", SOT23, "AZ23C11-7-F",
         "Diodes Incorporated", {"1": "XCVR_T2OUT", "2": "GND", "3": NC}, (139.7, 261.62),
         "bidirectional 11 V clamp at T2OUT (series zeners): holds the pin under its 13.2 V"),
    # ---- ENABLE option A (default): 11 V from the meter's own V+ -----------------------
    Part("Q1", "Transistor_BJT:BC846", "BC846B", SOT23, "BC846B,215", "Nexperia",
         {"1": "VCC_XCVR", "2": "EN_Q1E", "3": "EN_Q2B"}, (203.2, 238.76),
         "common-base level shifter: GPIO23 low pulls Q2's base, only while VCC_XCVR is up"),
    res("R16", "10k", "MEP_EN_N", "EN_Q1E", (38.1, 231.14), "Q1 emitter: 0.26 mA base drive"),
    Part("Q2", "Transistor_BJT:BC856", "BC856B", SOT23, "BC856B,215", "Nexperia",
         {"1": "EN_Q2B", "2": "MEP_VPLUS", "3": "EN_Q2C"}, (241.3, 238.76),
         "high-side switch from the meter's V+"),
    res("R18", "47k", "MEP_VPLUS", "EN_Q2B", (114.3, 231.14), "Q2 base-emitter: off when idle"),
    res("R17", "2k2", "EN_Q2C", "EN_VDRV", (76.2, 231.14),
        "feed of the 11 V zener: 5.9 mA at 24 V, 0.1 W at 26 V", fp=R1206),
    Part("D8", "Device:D_Zener", "SMAZ11", "Diode_SMD:D_SMA", "SMAZ11-13-F",
         "Diodes Incorporated", {"1": "EN_VDRV", "2": "GND"}, (38.1, 261.62),
         "11 V 1 W zener: ENABLE level of option A, and the clamp for a miswire on pin 2"),
    res("R19", "22k", "EN_VDRV", "GND", (152.4, 231.14), "pull-down: ENABLE low when Q2 is off"),
    res("R23", "1k", "EN_VDRV", "MEP_ENABLE", (152.4, 241.3),
        "ENABLE option A (default, 11 V from V+): fit this or R22", fp=R2010),
    Part("D4", "Diode:SMAJ28A", "SMAJ28A", "Diode_SMD:D_SMA", "SMAJ28A", "Littelfuse",
         {"1": "MEP_VPLUS", "2": "GND"}, (355.6, 91.44),
         "TVS, unidirectional 28 V standoff, meter V+ (24-26 V)"),
    # ---- transceiver load switch ------------------------------------------------------
    Part("U2", "Power_Management:TPS22917DBV", "TPS22917", "Package_TO_SOT_SMD:SOT-23-6",
         "TPS22917DBVR", "Texas Instruments",
         {"1": "+3V3", "2": "GND", "3": "XCVR_ON", "4": "XCVR_CT", "5": "XCVR_QOD",
          "6": "VCC_XCVR"}, (228.6, 152.4),
         "high-side load switch for the transceiver, ON active high"),
    res("R5", "0R", "XCVR_PWR_EN", "XCVR_ON", (139.7, 101.6), "series, load switch ON line"),
    cap("C10", "10n", "XCVR_CT", "GND", (190.5, 261.62), "rise time: inrush into C5/C6"),
    res("R6", "100k", "XCVR_ON", "GND", (139.7, 111.76),
        "pull-down: transceiver OFF at power-up and while GPIO22 is an input"),
    res("R7", "100R", "XCVR_QOD", "VCC_XCVR", (139.7, 121.92), "quick output discharge"),
    cap("C6", "10u", "VCC_XCVR", "GND", (304.8, 111.76), "bulk after the switch"),
    cap("C7", "1u", "+3V3", "GND", (304.8, 121.92), "load switch VIN bypass"),
    # ---- meter power sense: a transistor, so nothing flows into the Pi's rail ----------
    res("R8", "100k", "MEP_VPLUS", "SENSE_B", (355.6, 106.68),
        "divider top: Q4 conducts above about 13 V on V+"),
    res("R9", "4k7", "SENSE_B", "GND", (355.6, 116.84), "divider bottom"),
    cap("C9", "100n", "SENSE_B", "GND", (304.8, 142.24), "sense filter"),
    Part("Q4", "Transistor_BJT:BC846", "BC846B", SOT23, "BC846B,215", "Nexperia",
         {"1": "SENSE_B", "2": "GND", "3": "METER_SENSE"}, (279.4, 238.76),
         "sense switch: GPIO24 low = meter V+ present"),
    res("R10", "10k", "+3V3", "METER_SENSE", (139.7, 132.08), "GPIO24 pull-up"),
    # ---- status LEDs ------------------------------------------------------------------
    res("R11", "1k", "LED_LINK", "LED_LINK_A", (139.7, 198.12), "link LED current, ~1.3 mA"),
    Part("D7", "Device:LED", "yellow", "LED_SMD:LED_0603_1608Metric", "150060YS75000",
         "Wurth Elektronik", {"2": "LED_LINK_A", "1": "GND"}, (177.8, 198.12),
         "link LED (GPIO25, active high)"),
    res("R12", "1k", "LED_PWR", "LED_PWR_A", (139.7, 208.28), "power LED current, ~1.3 mA"),
    Part("D6", "Device:LED", "green", "LED_SMD:LED_0603_1608Metric", "150060VS75000",
         "Wurth Elektronik", {"2": "LED_PWR_A", "1": "GND"}, (177.8, 208.28),
         "power/status LED (GPIO27, active high)"),
    # ---- HAT+ ID EEPROM ---------------------------------------------------------------
    Part("U3", "Memory_EEPROM:24LC32", "24LC32A", "Package_SO:SOIC-8_3.9x4.9mm_P1.27mm",
         "24LC32AT-I/SN", "Microchip Technology",
         {"1": "GND", "2": "GND", "3": "GND", "4": "GND", "5": "ID_SD", "6": "ID_SC",
          "7": "EEPROM_WP", "8": "+3V3"}, (228.6, 195.58),
         "HAT+ ID EEPROM, 32 kbit, I2C address 0x50"),
    res("R13", "3k9", "+3V3", "ID_SD", (139.7, 149.86), "ID_SD pull-up"),
    res("R14", "3k9", "+3V3", "ID_SC", (139.7, 160.02), "ID_SC pull-up"),
    res("R15", "10k", "+3V3", "EEPROM_WP", (139.7, 170.18),
        "WP pull-up: EEPROM write-protected unless JP1 is bridged"),
    cap("C8", "100n", "+3V3", "GND", (304.8, 132.08), "EEPROM bypass"),
    Part("JP1", "Jumper:SolderJumper_2_Open", "WP_ENABLE_WRITE",
         "Jumper:SolderJumper-2_P1.3mm_Open_RoundedPad1.0x1.5mm", "none (PCB solder jumper)",
         "none", {"1": "EEPROM_WP", "2": "GND"}, (139.7, 180.34),
         "bridge to write the ID EEPROM", in_bom=False),
]

# Mechanical parts: BOM only, no footprint. The HAT+ stack (Pi header 8.5 mm + socket)
# puts the HAT 11 mm above the Pi: 11 mm female-female standoffs, a screw on each side.
def _mechanical(ref: str, value: str, what: str, at: tuple[float, float]) -> Part:
    return Part(ref, "Mechanical:MountingHole", value, "", f"{what} (any maker)", "generic",
                {}, at, what, on_board=False)


PARTS += [
    _mechanical(f"MP{i + 1}", "M2.5x11 F-F standoff", "standoff M2.5 x 11 mm hex, female-female",
                (304.8 + 12.7 * i, 182.88))
    for i in range(4)
] + [
    _mechanical(f"MP{i + 5}", "M2.5x6 screw", "screw M2.5 x 6 mm pan head (ISO 7045)",
                (304.8 + 12.7 * (i % 4), 195.58 + 10.16 * (i // 4)))
    for i in range(8)
]

# Roles, as a "HAT_Function" field on the symbols: tests/hardware finds the parts by it.
ROLES = {
    "J1": "pi_header", "J2": "mep_terminal", "U1": "rs232_transceiver",
    "U2": "transceiver_power_switch", "U3": "id_eeprom", "D6": "power_led", "D7": "link_led",
    "Q4": "sense_transistor", "Q1": "enable_level_shifter", "Q2": "enable_high_side",
    "D8": "enable_zener", "R22": "enable_link_transceiver", "R23": "enable_link_vplus",
}
for _p in PARTS:
    if _p.ref in ROLES:
        _p.extra = {"HAT_Function": ROLES[_p.ref], **_p.extra}

# PWR_FLAGs: the Pi supplies +3V3 and GND through passive header pins.
PWR_FLAG_NETS = ("+3V3", "GND")
POWER_NETS = ("+3V3", "GND")
