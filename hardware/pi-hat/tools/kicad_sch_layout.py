"""Where each part sits on the schematic sheet: drawn by function, one framed block each.

Single source for kicad_gen_sch.py. (x, y, rotation) in mm on the 1.27 mm grid; rotation as
KiCad's (counter-clockwise). Parts of one block are wired to each other (kicad_sch_route.py);
a net that leaves its block carries a label there. Power nets end in power symbols.
"""

from __future__ import annotations

# (title, (x0, y0, x1, y1), refs)
BLOCKS: list[tuple[str, tuple[float, float, float, float], tuple[str, ...]]] = [
    ("Raspberry Pi 40-pin header (J1, bottom side)", (15.24, 25.4, 101.6, 187.96), ("J1",)),
    ("Transceiver supply switch (GPIO22, on = high)", (111.76, 25.4, 213.36, 86.36),
     ("U2", "R5", "R6", "R7", "C6", "C7", "C10")),
    ("RS-232 transceiver on the switched supply", (111.76, 88.9, 289.56, 187.96),
     ("U1", "C1", "C2", "C3", "C4", "C5", "R1", "R2", "R3", "R4")),
    ("Terminal: series R + clamp at the driver, TVS at the terminal", (294.64, 88.9, 408.94,
                                                                        192.4),
     ("J2", "D1", "D2", "D3", "D4", "D9", "D10", "R20", "R21", "R22")),
    ("ENABLE option A (default): 11 V from the meter's V+", (294.64, 193.04, 408.94, 248.92),
     ("Q1", "Q2", "R16", "R17", "R18", "R19", "D8", "R23")),
    ("Meter sense (GPIO24, low = meter present)", (200.66, 200.66, 289.56, 256.54),
     ("R8", "R9", "C9", "Q4", "R10")),
    ("HAT+ ID EEPROM", (111.76, 200.66, 195.58, 256.54),
     ("U3", "R13", "R14", "R15", "C8", "JP1")),
    ("Status LEDs", (15.24, 200.66, 101.6, 256.54), ("R11", "D7", "R12", "D6")),
    ("Mechanical parts (BOM only)", (304.8, 25.4, 408.94, 82.55),
     tuple(f"MP{i}" for i in range(1, 13))),
]

PLACE: dict[str, tuple[float, float, int]] = {
    "J1": (53.34, 104.14, 0),
    # supply switch
    "U2": (170.18, 45.72, 0),
    "R5": (142.24, 48.26, 90),
    "R6": (151.13, 64.77, 0),
    "C10": (158.75, 64.77, 0),
    "C7": (124.46, 63.5, 0),
    "R7": (190.5, 60.96, 0),
    "C6": (203.2, 60.96, 0),
    # transceiver
    "U1": (215.9, 137.16, 0),
    "C1": (180.34, 118.11, 0),
    "C2": (251.46, 118.11, 0),
    "C3": (266.7, 130.81, 0),
    "C4": (248.92, 134.62, 270),
    "C5": (190.5, 99.06, 0),
    "R1": (172.72, 139.7, 90),
    "R3": (149.86, 144.78, 90),
    "R2": (172.72, 149.86, 270),
    "R4": (187.96, 127.0, 0),
    # terminal
    "J2": (398.78, 132.08, 0),
    "R22": (335.28, 104.14, 90),
    "R20": (335.28, 132.08, 90),
    "R21": (335.28, 157.48, 270),
    "D10": (309.88, 114.3, 270),
    "D9": (317.5, 142.24, 270),
    "D1": (360.68, 110.49, 270),
    "D2": (368.3, 138.43, 270),
    "D3": (375.92, 163.83, 270),
    "D4": (353.06, 184.15, 270),
    # ENABLE option A
    "Q1": (309.88, 226.06, 0),
    "R16": (320.04, 238.76, 270),
    "Q2": (335.28, 215.9, 270),
    "R18": (320.04, 205.74, 90),
    "R17": (350.52, 218.44, 90),
    "D8": (363.22, 228.6, 270),
    "R19": (373.38, 228.6, 0),
    "R23": (388.62, 218.44, 90),
    # sense
    "R8": (215.9, 226.06, 0),
    "R9": (215.9, 241.3, 0),
    "C9": (228.6, 241.3, 0),
    "Q4": (245.11, 229.87, 0),
    "R10": (259.08, 220.98, 0),
    # EEPROM
    "U3": (147.32, 231.14, 0),
    "R13": (170.18, 220.98, 0),
    "R14": (177.8, 220.98, 0),
    "R15": (185.42, 236.22, 0),
    "C8": (124.46, 220.98, 0),
    "JP1": (172.72, 248.92, 0),
    # LEDs
    "R11": (55.88, 220.98, 270),
    "D7": (38.1, 220.98, 0),
    "R12": (55.88, 236.22, 270),
    "D6": (38.1, 236.22, 0),
}
for _i in range(12):  # standoffs in the first row, screws in the next two
    PLACE[f"MP{_i + 1}"] = (320.04 + 25.4 * (_i % 4), 43.18 + 15.24 * (_i // 4), 0)

BLOCK_OF = {ref: title for title, _, refs in BLOCKS for ref in refs}

# (position, text): notes that explain a block, placed inside or under it
NOTES: list[tuple[tuple[float, float], str]] = [
    ((20.32, 262.89),
     "mepd Pi HAT+ rev B : OSGP meter MEP port <-> Raspberry Pi PL011 UART.  "
     "Calculations and datasheet references: hardware/pi-hat/DESIGN.md\\n"
     "GPIOs (BCM) match mepd/drivers/hat.py DEFAULT_PINS (tests/hardware checks the netlist):\\n"
     "GPIO22 supply switch (high = on, R6 pull-down).  GPIO23 ENABLE (low = on, both options; "
     "no ENABLE without the switched supply).\\n"
     "GPIO24 sense (low = meter V+ present).  GPIO25 link LED, GPIO27 power LED (high = on).  "
     "UART GPIO14/15.  ID EEPROM GPIO0/1."),
    ((220.98, 30.48),
     "MEP terminal J2: NES numbering, J2 pin N = meter pin N\\n"
     "(one row of 6: no row/column trap). Pluggable 5.08 mm,\\n"
     "plug Phoenix 1757051. Pin 5 (V+, about 1 W) is never\\n"
     "the Pi's supply: it feeds only the sense and ENABLE A.\\n"
     "ENABLE: fit ONE of R23 (option A) or R22 (option B)."),
    ((114.3, 78.74),
     "mepd power-cycles the transceiver to cure latched-up clones; while it is off,\\n"
     "GPIO23 is parked low and TXD held in a break (no back-powering)."),
    ((17.78, 247.65), "Off at power-up (GPIO25/27 reset as inputs)."),
    ((114.3, 254.0), "A0-A2 low: 0x50. WP pulled up; bridge JP1 to program."),
]
