"""scripts/install and scripts/uninstall, run for real with --root on a fake Raspberry Pi.

What these tests do not cover, because --root and --no-venv skip it: creating the user mepd
(useradd/usermod/userdel), creating /opt/mepd/venv and pip-installing mepd into it, and asking
the running systemd and udev anything (daemon-reload, udevadm trigger, start). Enabling the unit
does run, as `systemctl --root=DIR enable`, which needs no running systemd. Everything else, all
file and boot-file changes, is what a Pi gets.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from mepd.cli.doctor_checks import Level
from mepd.cli.doctor_key import check_key_file
from mepd.cli.doctor_pi import (
    check_bluetooth,
    check_serial0,
    check_serial_console,
    config_directives,
)
from tests.fake_pi import CMDLINE_TXT, CMDLINE_WITHOUT_CONSOLE, CONFIG_TXT, PI4, PI5, FakePi

REPO = Path(__file__).resolve().parents[2]
INSTALL = REPO / "scripts" / "install"
UNINSTALL = REPO / "scripts" / "uninstall"
KEY = "MEPD-DEMO-KEY-000001"


def run(script: Path, root: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, MEPD_PYTHON=sys.executable)  # checks a key's shape before storing
    return subprocess.run(
        ["bash", str(script), "--root", str(root), *args],
        capture_output=True,
        text=True,
        stdin=subprocess.DEVNULL,
        env=env,
        timeout=60,
        check=False,
    )


def install(pi: FakePi, *args: str) -> str:
    result = run(INSTALL, pi.root, "--no-venv", *args)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "skipped with --no-venv" in result.stdout  # and says so
    return result.stdout


def uninstall(pi: FakePi, *args: str) -> str:
    result = run(UNINSTALL, pi.root, *args)
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout


@pytest.fixture
def pi(tmp_path: Path) -> FakePi:
    pi = FakePi(tmp_path / "pi", PI4)
    pi.enable("multi-user.target.wants", "hciuart.service")
    return pi


@pytest.fixture
def key_file(tmp_path: Path) -> Path:
    path = tmp_path / "key.txt"
    path.write_text(f"  {KEY}  \n\n")
    return path


def mode(path: Path) -> int:
    return path.stat().st_mode & 0o7777


def test_install_lays_out_the_service_and_sets_up_the_uart(pi: FakePi, key_file: Path) -> None:
    out = install(pi, "--key-file", str(key_file))
    root = pi.root
    unit = root / "etc/systemd/system/mepd.service"
    assert unit.read_bytes() == (REPO / "systemd/mepd.service").read_bytes()
    assert mode(unit) == 0o644
    rule = root / "etc/udev/rules.d/90-mepd.rules"
    assert rule.read_bytes() == (REPO / "systemd/90-mepd.rules").read_bytes()
    config = root / "etc/mepd/config.toml"
    assert config.read_bytes() == (REPO / "config.example.toml").read_bytes()
    assert mode(config) == 0o640  # it will hold the MQTT password
    key = root / "etc/mepd/mbk"
    assert key.read_text() == KEY + "\n"
    assert mode(key) == 0o600
    assert KEY not in out
    wants = root / "etc/systemd/system/multi-user.target.wants"
    assert os.readlink(wants / "mepd.service") == "/etc/systemd/system/mepd.service"
    assert not (wants / "hciuart.service").exists()

    boot = pi.boot
    config_txt = (boot / "config.txt").read_text()
    assert config_txt.startswith(CONFIG_TXT)  # nothing of the user's changed or reordered
    effective = config_directives(config_txt, PI4)
    assert ("enable_uart", "1") in effective
    assert ("dtoverlay", "disable-bt") in effective  # in [all], not in the file's last [cm5]
    assert "Bluetooth" in config_txt[len(CONFIG_TXT) :]  # the block explains itself
    assert (boot / "cmdline.txt").read_text() == CMDLINE_WITHOUT_CONSOLE
    assert (boot / "config.txt.mepd-backup").read_text() == CONFIG_TXT
    assert (boot / "cmdline.txt.mepd-backup").read_text() == CMDLINE_TXT
    assert "reboot" in out
    assert "mepd doctor" in out

    # What `mepd doctor` will say about the result (after the reboot links serial0).
    pi.link("serial0", "ttyAMA0")
    assert check_bluetooth(root).level is Level.OK
    assert check_serial_console(root).level is Level.OK
    assert check_serial0(root).level is Level.OK
    assert check_key_file(root=root, owner_uid=os.getuid()).level is Level.OK


def test_a_second_install_changes_nothing(pi: FakePi, key_file: Path) -> None:
    install(pi, "--key-file", str(key_file))
    first = pi.tree()
    out = install(pi)
    assert pi.tree() == first
    assert "reboot" not in out
    assert "kept /etc/mepd/mbk" in out
    install(pi, "--key-file", str(key_file))
    assert pi.tree() == first


def test_an_existing_config_is_never_overwritten(pi: FakePi) -> None:
    config = pi.root / "etc/mepd/config.toml"
    config.parent.mkdir(parents=True)
    config.write_text("[meter]\nport = '/dev/ttyUSB0'\n")
    out = install(pi)
    assert config.read_text() == "[meter]\nport = '/dev/ttyUSB0'\n"
    assert "kept your /etc/mepd/config.toml" in out


def test_without_a_key_nothing_is_stored_and_the_way_to_add_it_is_shown(pi: FakePi) -> None:
    out = install(pi)
    assert not (pi.root / "etc/mepd/mbk").exists()
    assert "sudo sh -c 'umask 077 && cat > /etc/mepd/mbk'" in out


def test_a_malformed_key_is_refused_without_being_echoed(pi: FakePi, tmp_path: Path) -> None:
    bad = tmp_path / "bad.txt"
    bad.write_text("MEPD-DEMO-KEY-00000\n")
    result = run(INSTALL, pi.root, "--no-venv", "--key-file", str(bad))
    assert result.returncode != 0
    assert "19 characters" in result.stderr
    assert "MEPD-DEMO-KEY" not in result.stdout + result.stderr
    assert not (pi.root / "etc/mepd/mbk").exists()


def test_uninstall_removes_what_install_added_and_keeps_config_and_boot(
    pi: FakePi, key_file: Path
) -> None:
    install(pi, "--key-file", str(key_file))
    edited_config = (pi.boot / "config.txt").read_text()
    out = uninstall(pi)
    root = pi.root
    assert not (root / "etc/systemd/system/mepd.service").exists()
    assert not (root / "etc/systemd/system/multi-user.target.wants/mepd.service").is_symlink()
    assert not (root / "etc/udev/rules.d/90-mepd.rules").exists()
    assert (root / "etc/mepd/config.toml").exists()
    assert (root / "etc/mepd/mbk").exists()
    assert "kept /etc/mepd (remove it with --purge)" in out
    assert (pi.boot / "config.txt").read_text() == edited_config
    assert (pi.boot / "cmdline.txt").read_text() == CMDLINE_WITHOUT_CONSOLE


def test_purge_and_restore_boot_give_back_the_pi_as_it_was(tmp_path: Path, key_file: Path) -> None:
    pi = FakePi(tmp_path / "pi", PI4)
    (pi.root / "opt").mkdir()
    before = pi.tree()
    install(pi, "--key-file", str(key_file))
    (pi.root / "opt/mepd/venv/bin").mkdir(parents=True)  # as if pip had run
    assert pi.tree() != before
    uninstall(pi, "--purge", "--restore-boot")
    assert pi.tree() == before
    uninstall(pi, "--purge", "--restore-boot")  # and again: harmless
    assert pi.tree() == before


def test_restore_boot_keeps_later_edits_of_cmdline(pi: FakePi) -> None:
    install(pi)
    (pi.boot / "cmdline.txt").write_text("console=tty1 root=/dev/sda2 rootwait\n")
    out = uninstall(pi, "--restore-boot")
    assert (pi.boot / "cmdline.txt").read_text() == "console=tty1 root=/dev/sda2 rootwait\n"
    assert "cmdline.txt changed since the install; not touched" in out
    assert (pi.boot / "config.txt").read_text() == CONFIG_TXT


def test_dry_run_changes_nothing(pi: FakePi, key_file: Path) -> None:
    before = pi.tree()
    result = run(INSTALL, pi.root, "--no-venv", "--dry-run", "--key-file", str(key_file))
    assert result.returncode == 0, result.stderr
    assert pi.tree() == before
    assert "  would install /etc/systemd/system/mepd.service (mode 0644)\n" in result.stdout
    assert "would change /boot/firmware/config.txt: enable_uart=1 dtoverlay=disable-bt" in (
        result.stdout
    )
    assert "would write /etc/mepd/mbk" in result.stdout
    assert KEY not in result.stdout
    install(pi)
    installed = pi.tree()
    result = run(UNINSTALL, pi.root, "--dry-run", "--purge", "--restore-boot")
    assert result.returncode == 0, result.stderr
    assert pi.tree() == installed


def test_pi5_enables_uart0_and_keeps_bluetooth_and_the_debug_console(tmp_path: Path) -> None:
    pi = FakePi(tmp_path / "pi", PI5)
    pi.link("serial0", "ttyAMA10")
    install(pi)
    effective = config_directives((pi.boot / "config.txt").read_text(), PI5)
    assert ("dtparam", "uart0=on") in effective
    assert ("dtoverlay", "disable-bt") not in effective
    assert (pi.boot / "cmdline.txt").read_text() == CMDLINE_TXT  # console=serial0 is ttyAMA10
    assert not (pi.boot / "cmdline.txt.mepd-backup").exists()


def test_older_releases_keep_boot_files_in_boot(tmp_path: Path) -> None:
    pi = FakePi(tmp_path / "pi", PI4, boot="boot")
    install(pi)
    assert "dtoverlay=disable-bt" in (pi.root / "boot/config.txt").read_text()
    assert (pi.root / "boot/cmdline.txt").read_text() == CMDLINE_WITHOUT_CONSOLE


def test_a_pi_already_set_up_is_left_alone(pi: FakePi) -> None:
    pi.config(CONFIG_TXT + "\n[all]\nenable_uart=1\ndtoverlay=disable-bt\n")
    pi.cmdline(CMDLINE_WITHOUT_CONSOLE)
    boot_before = {p.name: p.read_bytes() for p in pi.boot.iterdir()}
    out = install(pi)
    assert {p.name: p.read_bytes() for p in pi.boot.iterdir()} == boot_before
    assert "config.txt already right" in out


def test_only_missing_settings_are_added(pi: FakePi) -> None:
    pi.config(CONFIG_TXT + "[all]\nenable_uart=1\n")
    install(pi)
    block = (pi.boot / "config.txt").read_text().split("# >>> mepd", 1)[1]
    assert "dtoverlay=disable-bt" in block.splitlines()
    assert "enable_uart=1" not in block.splitlines()


def test_a_config_without_its_last_newline(pi: FakePi) -> None:
    pi.config(CONFIG_TXT.rstrip("\n"))
    install(pi)
    once = pi.tree()
    install(pi)
    assert pi.tree() == once
    uninstall(pi, "--restore-boot")
    assert (pi.boot / "config.txt").read_text() == CONFIG_TXT.rstrip("\n")


def test_no_uart_leaves_boot_files_alone(pi: FakePi) -> None:
    install(pi, "--no-uart")
    assert (pi.boot / "config.txt").read_text() == CONFIG_TXT
    assert (pi.boot / "cmdline.txt").read_text() == CMDLINE_TXT


def test_usage_errors() -> None:
    result = subprocess.run(
        ["bash", str(INSTALL), "--bogus"], capture_output=True, text=True, check=False
    )
    assert result.returncode == 2
    assert "unknown option --bogus" in result.stderr


@pytest.mark.parametrize("script", [INSTALL, UNINSTALL])
def test_shellcheck(script: Path) -> None:
    shellcheck = shutil.which("shellcheck")
    if shellcheck is None:
        pytest.skip("shellcheck is not installed (Debian package: shellcheck)")
    result = subprocess.run([shellcheck, str(script)], capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stdout


# --- issue 15 item 8 ----------------------------------------------------------------------


def _changes(stdout: str) -> list[str]:
    return [line.strip() for line in stdout.splitlines() if line.strip().startswith("would ")]


def test_dry_run_prints_each_change_as_one_line(pi: FakePi, key_file: Path) -> None:
    result = run(INSTALL, pi.root, "--no-venv", "--dry-run", "--key-file", str(key_file))
    assert result.returncode == 0, result.stderr
    assert _changes(result.stdout) == [
        "would install /etc/systemd/system/mepd.service (mode 0644)",
        "would install /etc/udev/rules.d/90-mepd.rules (mode 0644)",
        "would create /etc/mepd",
        "would install /etc/mepd/config.toml (mode 0640)",
        "would write /etc/mepd/mbk (mode 0600, owner root)",
        "would change /boot/firmware/config.txt: enable_uart=1 dtoverlay=disable-bt, keeping "
        "the original as /boot/firmware/config.txt.mepd-backup",
        "would change /boot/firmware/cmdline.txt: remove console=serial0,115200 (a login "
        "console on the meter's UART), keeping the original as "
        "/boot/firmware/cmdline.txt.mepd-backup",
        "would disable hciuart.service",
        "would enable mepd.service",
    ]
    # nothing else claims to have been done, no diff, no staging path
    assert "installed:" not in result.stdout
    assert "disabled hciuart" not in result.stdout
    assert str(pi.root) not in result.stdout
    assert not any(
        line.startswith(("    +", "    -", "    @@")) for line in result.stdout.splitlines()
    )


def test_dry_run_into_a_root_that_does_not_exist(tmp_path: Path) -> None:
    missing = tmp_path / "not-yet"
    result = run(INSTALL, missing, "--no-venv", "--dry-run")
    assert result.returncode == 0, result.stderr
    assert not missing.exists()
    assert "would install /etc/systemd/system/mepd.service (mode 0644)" in _changes(result.stdout)


def test_a_rerun_claims_no_change(pi: FakePi, key_file: Path) -> None:
    install(pi, "--key-file", str(key_file))
    again = install(pi)
    assert "enabled mepd.service" not in again
    assert "mepd.service already enabled" in again
    assert "installed:" not in again
    assert _changes(run(INSTALL, pi.root, "--no-venv", "--dry-run").stdout) == []


def test_the_key_is_checked_with_this_checkout_when_no_mepd_is_installed(
    pi: FakePi, tmp_path: Path
) -> None:
    bad = tmp_path / "bad.txt"
    bad.write_text("TOO-SHORT\n")
    result = subprocess.run(
        ["bash", str(INSTALL), "--root", str(pi.root), "--no-venv", "--key-file", str(bad)],
        capture_output=True,
        text=True,
        stdin=subprocess.DEVNULL,
        env={k: v for k, v in os.environ.items() if k != "MEPD_PYTHON"}
        | {"PYTHON": sys.executable},
        timeout=60,
        check=False,
    )
    assert result.returncode == 1
    assert "the key is not usable" in result.stderr
    assert "not checked" not in result.stdout + result.stderr
    assert "TOO-SHORT" not in result.stdout + result.stderr
