"""Where mepd looks for things when the configuration does not say.

Standard library only: the command line imports this while building its parser, and
`mepd --help` must stay fast on a Pi Zero.
"""

from __future__ import annotations

from pathlib import Path

DEFAULT_CONFIG_PATH = Path("/etc/mepd/config.toml")
DEFAULT_STATE_DIRECTORY = "/var/lib/mepd"
# A stable name for the meter's port; the HAT's UART and USB adapters are linked here.
DEFAULT_SERIAL_PORT = "/dev/mep0"
# systemd passes credentials (LoadCredential=, SetCredentialEncrypted=) as files in this directory.
CREDENTIALS_ENV = "CREDENTIALS_DIRECTORY"
# The credential read when the configuration names no key at all: "mbk" for one meter,
# "mbk-<name>" for each of several.
DEFAULT_KEY_CREDENTIAL = "mbk"
# Where mepd.service loads that credential from (LoadCredential=mbk:/etc/mepd/mbk). Outside
# systemd (`sudo mepd probe`), mepd reads the file itself.
KEY_DIRECTORY = Path("/etc/mepd")
