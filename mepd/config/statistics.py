"""`[homeassistant.statistics]` made into `HaStatisticsSettings`: the websocket URL and the token.

The token is an administrator's long-lived access token (HA's `recorder/import_statistics`
is an admin command). It is read like the meter key: a private file, a systemd credential, or
the config itself with a warning when the config is readable by others. It never appears in a
message, a repr or check-config's output.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from urllib.parse import urlsplit, urlunsplit

from mepd.config.document import Document
from mepd.config.keys import readable_secret_warning, secret
from mepd.config.keysource import read_credential, read_private_file
from mepd.secret import Secret
from mepd.settings import HaStatisticsSettings

_WEBSOCKET_SCHEMES = {"http": "ws", "https": "wss", "ws": "ws", "wss": "wss"}
WEBSOCKET_PATH = "/api/websocket"  # HA's documented websocket endpoint
_WHAT = "Home Assistant access token"


def websocket_url(url: str) -> str:
    """`http://host:8123` -> `ws://host:8123/api/websocket`; a ws[s] URL with a path is kept."""
    parts = urlsplit(url)
    path = parts.path.rstrip("/") or WEBSOCKET_PATH
    return urlunsplit((_WEBSOCKET_SCHEMES[parts.scheme], parts.netloc, path, "", ""))


def statistics_settings(
    document: Document, environ: Mapping[str, str], meter_names: Collection[str]
) -> tuple[HaStatisticsSettings | None, list[str]]:
    section = document.file.homeassistant.statistics
    if section is None:
        return None, []
    source = document.source
    loc = ("homeassistant", "statistics")
    warnings: list[str] = []
    if section.token is not None:
        token = section.token.get_secret_value()
        origin = "the configuration file"
        warnings += readable_secret_warning(source, f"the {_WHAT}", "token_file")
    elif section.token_file is not None:
        path = document.path_of(section.token_file)
        token = secret(source, (*loc, "token_file"), lambda: read_private_file(path, _WHAT).strip())
        origin = f"file {path}"
    else:
        credential = section.token_credential or ""
        token = secret(
            source,
            (*loc, "token_credential"),
            lambda: read_credential(credential, environ, _WHAT).strip(),
        )
        origin = f"credential {credential}"
    if not token:
        raise source.error(loc, f"the {_WHAT} is empty")
    for index, name in enumerate(section.meters):
        if name not in meter_names:
            raise source.error(
                (*loc, "meters", index),
                f"no meter is named {name!r}; expected one of {', '.join(sorted(meter_names))}",
            )
    return (
        HaStatisticsSettings(
            url=websocket_url(section.url),
            token=Secret(token),
            token_origin=origin,
            meters=frozenset(section.meters),
            registers=tuple(dict.fromkeys(section.registers)),
        ),
        warnings,
    )
