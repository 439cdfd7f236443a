#!/usr/bin/env bash
# Installs what hardware/pi-hat and tests/hardware need: KiCad 9 (kicad-cli, the pcbnew
# Python module, the symbol and footprint libraries) and dtc.
#
# Debian bookworm ships KiCad 6 only; KiCad 9 comes from bookworm-backports, which this script
# adds as a deb822 source if no apt source names it yet. Idempotent: when everything is there
# it exits at once without touching apt. Needs root or sudo.
#
# The backports source uses the mirror this machine already uses for bookworm (a local mirror
# or a proxy works as before), read from /etc/apt/sources.list and sources.list.d/ (*.list one-
# line entries and *.sources deb822 stanzas); deb.debian.org only when none is found.
# `install-kicad.sh --print-mirror` prints that URI and exits ($MEPD_APT_ETC replaces /etc/apt
# for tests).
#
# Installed with --no-install-recommends (no 3D models, demos or docs):
#   kicad             kicad-cli, eeschema/pcbnew, python3 pcbnew module
#   kicad-symbols     symbol libraries (ERC compares the embedded symbols with them)
#   kicad-footprints  footprint libraries (the PCB generator loads them, DRC checks them)
#   device-tree-compiler  dtc, for the HAT overlay
set -euo pipefail

KICAD_MAJOR=9
APT_ETC=${MEPD_APT_ETC:-/etc/apt}
BACKPORTS_FILE=$APT_ETC/sources.list.d/bookworm-backports.sources
FALLBACK_MIRROR=http://deb.debian.org/debian

# "URI SUITE" for every enabled `deb` entry: one-line *.list entries and deb822 *.sources.
apt_entries() {
    local list=() sources=()
    [ -f "$APT_ETC/sources.list" ] && list+=("$APT_ETC/sources.list")
    for f in "$APT_ETC"/sources.list.d/*.list; do [ -f "$f" ] && list+=("$f"); done
    for f in "$APT_ETC"/sources.list.d/*.sources; do [ -f "$f" ] && sources+=("$f"); done
    if [ ${#list[@]} -gt 0 ]; then
        # deb [options] URI SUITE COMPONENTS...
        sed -e 's/#.*//' -e 's/\[[^]]*\]//' "${list[@]}" | awk '$1 == "deb" { print $2, $3 }'
    fi
    if [ ${#sources[@]} -gt 0 ]; then
        awk '
            function flush() {
                if (types ~ /(^| )deb( |$)/ && enabled != "no")
                    for (u = 1; u <= nu; u++) for (s = 1; s <= ns; s++) print uri[u], suite[s]
                types = ""; enabled = ""; nu = 0; ns = 0
            }
            FNR == 1 { flush() }
            /^[ \t]*#/ { next }
            /^[ \t]*$/ { flush(); next }
            {
                field = tolower($1); sub(/:$/, "", field); $1 = ""; sub(/^ +/, "")
                if (field == "types") types = $0
                else if (field == "enabled") enabled = tolower($0)
                else if (field == "uris") nu = split($0, uri, " ")
                else if (field == "suites") ns = split($0, suite, " ")
            }
            END { flush() }
        ' "${sources[@]}"
    fi
}

# The Debian mirror of this machine: the one serving bookworm-updates (only Debian mirrors
# do; Raspberry Pi OS also lists archive.raspberrypi.com for "bookworm"), else any bookworm one.
debian_mirror() {
    local entries uri
    entries=$(apt_entries)
    uri=$(awk '$2 == "bookworm-updates" { print $1; exit }' <<<"$entries")
    [ -n "$uri" ] || uri=$(awk '$2 == "bookworm" && $1 !~ /raspberrypi/ { print $1; exit }' \
        <<<"$entries")
    echo "${uri:-$FALLBACK_MIRROR}"
}

if [ "${1:-}" = --print-mirror ]; then
    debian_mirror
    exit 0
fi

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
            "$APT_ETC/sources.list" "$APT_ETC/sources.list.d/"; then
        mirror=$(debian_mirror)
        echo "install-kicad: adding $BACKPORTS_FILE (bookworm-backports from $mirror)"
        as_root tee "$BACKPORTS_FILE" >/dev/null <<SRC
Types: deb
URIs: $mirror
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
