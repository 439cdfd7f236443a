"""scripts/install-kicad.sh takes bookworm-backports from this machine's own Debian mirror.

A machine behind a local mirror or an apt proxy must not be sent to deb.debian.org (issue 15
item 14). `--print-mirror` prints the choice; $MEPD_APT_ETC stands in for /etc/apt.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "install-kicad.sh"

RASPBERRY_PI_OS = {
    "sources.list": (
        "deb [arch=arm64] http://mirror.local/debian bookworm main contrib non-free-firmware\n"
        "deb http://mirror.local/debian-security/ bookworm-security main\n"
        "deb http://mirror.local/debian bookworm-updates main  # comment\n"
        "# deb-src http://elsewhere/debian bookworm main\n"
    ),
    "sources.list.d/raspi.list": "deb http://archive.raspberrypi.com/debian/ bookworm main\n",
}
DEB822 = {
    "sources.list.d/debian.sources": (
        "Types: deb deb-src\n"
        "# a comment inside the stanza\n"
        "URIs: http://apt-cacher.lan:3142/deb.debian.org/debian\n"
        "Suites: bookworm bookworm-updates\n"
        "Components: main\n"
        "\n"
        "Types: deb\n"
        "URIs: http://apt-cacher.lan:3142/security.debian.org/debian-security\n"
        "Suites: bookworm-security\n"
        "Components: main\n"
    ),
}
DISABLED = {
    "sources.list.d/old.sources": (
        "Enabled: no\nTypes: deb\nURIs: http://old.example/debian\nSuites: bookworm\n\n"
    ),
    "sources.list.d/debian.sources": (
        "Types: deb\nURIs: https://ftp.example.org/debian/\nSuites: bookworm\nComponents: main\n"
    ),
}
ONLY_SRC = {"sources.list": "deb-src http://src.example/debian bookworm main\n"}


def mirror(tmp_path: Path, files: dict[str, str]) -> str:
    etc = tmp_path / "apt"
    (etc / "sources.list.d").mkdir(parents=True)
    for name, text in files.items():
        (etc / name).write_text(text)
    result = subprocess.run(
        ["bash", str(SCRIPT), "--print-mirror"],
        capture_output=True,
        text=True,
        env={**os.environ, "MEPD_APT_ETC": str(etc)},
        timeout=30,
        check=True,
    )
    return result.stdout.strip()


@pytest.mark.parametrize(
    ("files", "expected"),
    [
        (RASPBERRY_PI_OS, "http://mirror.local/debian"),
        (DEB822, "http://apt-cacher.lan:3142/deb.debian.org/debian"),
        (DISABLED, "https://ftp.example.org/debian/"),
        (ONLY_SRC, "http://deb.debian.org/debian"),
        ({}, "http://deb.debian.org/debian"),
    ],
    ids=["one-line-with-raspi", "deb822-proxy", "disabled-stanza", "deb-src-only", "none"],
)
def test_the_mirror_is_the_machines_own(
    tmp_path: Path, files: dict[str, str], expected: str
) -> None:
    assert mirror(tmp_path, files) == expected


def test_no_mirror_url_is_hard_coded_in_the_source_it_writes() -> None:
    text = SCRIPT.read_text()
    stanza = text[text.index("Types: deb\nURIs:") :]
    assert stanza.startswith("Types: deb\nURIs: $mirror\n")
