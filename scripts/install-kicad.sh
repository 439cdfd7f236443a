#!/usr/bin/env bash
# Installs what hardware/pi-hat and tests/hardware need: KiCad 9 (kicad-cli, the pcbnew
# Python module, the symbol and footprint libraries) and dtc.
#
# Debian bookworm ships KiCad 6 only; KiCad 9 comes from bookworm-backports, which this script
# adds as a deb822 source if no apt source names it yet. Idempotent: when everything is there
# it exits at once without touching apt. Needs root or sudo.
#
# Installed with --no-install-recommends (no 3D models, demos or docs):
#   kicad             kicad-cli, eeschema/pcbnew, python3 pcbnew module
#   kicad-symbols     symbol libraries (ERC compares the embedded symbols with them)
#   kicad-footprints  footprint libraries (the PCB generator loads them, DRC checks them)
#   device-tree-compiler  dtc, for the HAT overlay
set -euo pipefail

KICAD_MAJOR=9
BACKPORTS_FILE=/etc/apt/sources.list.d/bookworm-backports.sources

have_all() {
    command -v kicad-cli >/dev/null 2>&1 || return 1
    case "$(kicad-cli --version 2>/dev/null)" in "$KICAD_MAJOR".*) ;; *) return 1 ;; esac
    command -v dtc >/dev/null 2>&1 || return 1
    [ -f /usr/share/kicad/symbols/Device.kicad_sym ] || return 1
    [ -d /usr/share/kicad/footprints/Resistor_SMD.pretty ] || return 1
}

if have_all; then
    echo "install-kicad: kicad-cli $(kicad-cli --version) and dtc already installed"
    exit 0
fi

as_root() {
    if [ "$(id -u)" -eq 0 ]; then "$@"
    elif command -v sudo >/dev/null 2>&1; then sudo "$@"
    else echo "install-kicad: need root or sudo to run: $*" >&2; return 1
    fi
}

codename=$(. /etc/os-release && echo "${VERSION_CODENAME:-}")
target=()
if [ "$codename" = bookworm ]; then
    if ! grep -rqs --include='*.list' --include='*.sources' 'bookworm-backports' \
            /etc/apt/sources.list /etc/apt/sources.list.d/; then
        echo "install-kicad: adding $BACKPORTS_FILE"
        as_root tee "$BACKPORTS_FILE" >/dev/null <<'SRC'
Types: deb
URIs: http://deb.debian.org/debian
Suites: bookworm-backports
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
SRC
    fi
    target=(-t bookworm-backports)
fi

as_root apt-get update -qq
as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
    "${target[@]}" kicad kicad-symbols kicad-footprints
as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
    device-tree-compiler

if ! have_all; then
    echo "install-kicad: KiCad $KICAD_MAJOR or dtc still missing after install" >&2
    kicad-cli --version >&2 || true
    exit 1
fi
echo "install-kicad: kicad-cli $(kicad-cli --version), $(dtc --version)"
