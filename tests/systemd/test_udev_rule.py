"""systemd/90-mepd.rules: valid udev syntax, and it names and opens exactly the right devices.

`udevadm verify` exists from systemd 254 on (Debian trixie); where it does, it checks the file
too. Debian bookworm's udev (252) has no offline checker, so this module carries its own: every
rule is split into KEY{attr}OP"value" tokens, with the keys and operators udev(7) allows, and
the match keys are evaluated against a few devices.
"""

from __future__ import annotations

import fnmatch
import re
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

import pytest

RULES = Path(__file__).resolve().parents[2] / "systemd" / "90-mepd.rules"

MATCH_ONLY = {
    "ACTION",
    "DEVPATH",
    "KERNEL",
    "KERNELS",
    "SUBSYSTEM",
    "SUBSYSTEMS",
    "DRIVER",
    "DRIVERS",
    "ATTRS",
    "TAGS",
    "TEST",
    "PROGRAM",
    "RESULT",
    "CONST",
}
ASSIGN_ONLY = {"OWNER", "GROUP", "MODE", "RUN", "LABEL", "GOTO", "IMPORT", "OPTIONS", "SECLABEL"}
EITHER = {"NAME", "SYMLINK", "ATTR", "SYSCTL", "ENV", "TAG"}
WITH_ATTRIBUTE = {"ATTR", "ATTRS", "SYSCTL", "ENV", "TEST", "IMPORT", "RUN", "SECLABEL", "CONST"}
MATCH_OPS = {"==", "!="}
ASSIGN_OPS = {"=", "+=", "-=", ":="}
TOKEN = re.compile(
    r"\s*(?P<key>[A-Z]+)(?:\{(?P<attr>[^}]*)\})?\s*(?P<op>==|!=|\+=|-=|:=|=)\s*"
    r'"(?P<value>(?:[^"\\]|\\.)*)"\s*(?:,|$)'
)


@dataclass(frozen=True)
class Token:
    key: str
    attr: str | None
    op: str
    value: str


def parse_rule(line: str) -> list[Token]:
    tokens: list[Token] = []
    position = 0
    while position < len(line):
        found = TOKEN.match(line, position)
        if found is None:
            raise ValueError(f"cannot parse at column {position}: {line[position:]!r}")
        tokens.append(Token(found["key"], found["attr"], found["op"], found["value"]))
        position = found.end()
    return tokens


def check_rule(line: str) -> list[Token]:
    tokens = parse_rule(line)
    assert any(t.op in MATCH_OPS for t in tokens), f"a rule without a match: {line}"
    for t in tokens:
        assert t.key in MATCH_ONLY | ASSIGN_ONLY | EITHER, f"unknown key {t.key} in {line}"
        assert (t.attr is not None) == (t.key in WITH_ATTRIBUTE) or t.key in {"IMPORT", "RUN"}, (
            f"{t.key} and its {{attribute}} in {line}"
        )
        if t.key in MATCH_ONLY:
            assert t.op in MATCH_OPS, f"{t.key} can only be matched: {line}"
        if t.key in ASSIGN_ONLY:
            assert t.op in ASSIGN_OPS, f"{t.key} can only be assigned: {line}"
        if t.key == "MODE":
            assert re.fullmatch(r"0[0-7]{3}", t.value), f"MODE {t.value!r}"
    return tokens


def rules(*, include_examples: bool = False) -> list[str]:
    lines = []
    for raw in RULES.read_text().splitlines():
        line = raw.strip()
        if include_examples and line.startswith("#SUBSYSTEM"):
            line = line[1:]
        if line and not line.startswith("#"):
            lines.append(line)
    return lines


def apply(device: dict[str, str]) -> dict[str, str]:
    """What the file's active rules assign to a device, matching only KERNEL/SUBSYSTEM."""
    result: dict[str, str] = {}
    for line in rules():
        tokens = parse_rule(line)
        matches = [t for t in tokens if t.op in MATCH_OPS]
        assert {t.key for t in matches} <= {"KERNEL", "SUBSYSTEM"}
        if all(fnmatch.fnmatchcase(device[t.key], t.value) == (t.op == "==") for t in matches):
            for t in tokens:
                if t.op in ASSIGN_OPS:
                    result[t.key] = t.value
    return result


def test_every_rule_parses_including_the_commented_usb_example() -> None:
    active = rules()
    everything = rules(include_examples=True)
    assert len(active) == 2
    assert len(everything) == 3  # the USB adapter example is valid once uncommented
    for line in everything:
        check_rule(line)


def test_the_checker_rejects_what_udev_rejects() -> None:
    for bad in (
        'KERNEL="ttyAMA0", SYMLINK+="mep0"',  # assigning a match-only key
        'SUBSYSTEM=="tty", GROUP=="dialout"',  # matching an assign-only key
        'SUBSYSTEM=="tty", MODE="660x"',
        'SUBSYSTEM=="tty" SYMLINK+="mep0"',  # missing comma
        'SUBSYSTEM=="tty", FOO="bar"',
    ):
        with pytest.raises((AssertionError, ValueError)):
            check_rule(bad)


def test_mep0_is_the_pl011_uart0_only() -> None:
    assert apply({"SUBSYSTEM": "tty", "KERNEL": "ttyAMA0"}) == {
        "SYMLINK": "mep0",
        "GROUP": "dialout",
        "MODE": "0660",
    }
    for other in ("ttyAMA10", "ttyAMA1", "ttyS0", "ttyUSB0"):  # Pi 5 debug port, extra UARTs
        assert "SYMLINK" not in apply({"SUBSYSTEM": "tty", "KERNEL": other})


def test_gpio_chips_go_to_group_gpio() -> None:
    assert apply({"SUBSYSTEM": "gpio", "KERNEL": "gpiochip0"}) == {
        "GROUP": "gpio",
        "MODE": "0660",
    }
    assert apply({"SUBSYSTEM": "tty", "KERNEL": "gpiochip0"}) == {}


def test_udevadm_verify_where_available(tmp_path: Path) -> None:
    udevadm = shutil.which("udevadm")
    if udevadm is None:
        pytest.skip("udevadm is not installed (Debian package: udev)")
    if subprocess.run([udevadm, "verify", "--help"], capture_output=True, check=False).returncode:
        pytest.skip("this udevadm has no 'verify' (systemd < 254); the checks above cover it")
    example = tmp_path / "90-mepd-example.rules"
    example.write_text("\n".join(rules(include_examples=True)) + "\n")
    for path in (RULES, example):
        result = subprocess.run(
            [udevadm, "verify", "--no-summary", str(path)],
            capture_output=True,
            text=True,
            check=False,
        )
        assert result.returncode == 0, result.stdout + result.stderr
