"""Home Assistant's websocket message exchange as a state machine: decoded messages in,
messages to send out, no socket (as h11 is to HTTP).

The documented contract (developers.home-assistant.io, "WebSocket API"):
1. the server speaks first: `{"type": "auth_required", "ha_version": ...}`;
2. the client answers `{"type": "auth", "access_token": ...}` (a long-lived access token);
3. the server says `auth_ok`, or `auth_invalid` with a message and closes;
4. after that, every command carries an `id` the client chose, increasing within the
   connection, and its answer is `{"id": n, "type": "result", "success": bool,
   "result": ..., "error": {"code", "message"}}`. Other messages (events) are not ours.

The token goes out once, inside `Outgoing`, whose repr never shows it.
"""

from __future__ import annotations

import enum
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from mepd.errors import MepdError
from mepd.secret import Secret


class MessageType(enum.StrEnum):
    AUTH_REQUIRED = "auth_required"
    AUTH = "auth"
    AUTH_OK = "auth_ok"
    AUTH_INVALID = "auth_invalid"
    RESULT = "result"


class Command(enum.StrEnum):
    """The recorder's commands mepd uses."""

    IMPORT_STATISTICS = "recorder/import_statistics"
    STATISTICS_DURING_PERIOD = "recorder/statistics_during_period"
    # The frontend's list of the entity registry (admin): finds the entity by its unique id.
    ENTITY_REGISTRY_LIST = "config/entity_registry/list"


class HomeAssistantError(MepdError):
    """Home Assistant answered in a way that ends this connection."""


class TokenRefusedError(HomeAssistantError):
    """`auth_invalid`: the token is wrong, expired or revoked."""


class CommandFailedError(HomeAssistantError):
    """A command's result said `success: false`."""

    def __init__(self, command: str, code: str, message: str) -> None:
        super().__init__(f"Home Assistant refused {command}: {code}: {message}")
        self.code = code


class Phase(enum.Enum):
    AWAIT_AUTH_REQUIRED = "awaiting auth_required"
    AWAIT_AUTH_RESULT = "awaiting auth_ok"
    READY = "ready"


@dataclass(frozen=True)
class Outgoing:
    """One message to send; its repr hides the content (the auth message holds the token)."""

    message: Mapping[str, Any] = field(repr=False)
    secret: Secret | None = field(default=None, repr=False)

    def text(self) -> str:
        payload = dict(self.message)
        if self.secret is not None:
            payload["access_token"] = self.secret.reveal()
        return json.dumps(payload, separators=(",", ":"))


@dataclass(frozen=True)
class Result:
    id: int
    command: str
    value: Any


@dataclass
class Exchange:
    """One connection's client side. `receive` takes each decoded message from the server."""

    token: Secret
    phase: Phase = Phase.AWAIT_AUTH_REQUIRED
    ha_version: str | None = None
    _next_id: int = 1
    _pending: dict[int, str] = field(default_factory=dict)

    @property
    def ready(self) -> bool:
        return self.phase is Phase.READY

    def receive(self, message: object) -> tuple[list[Outgoing], list[Result]]:
        """The messages to send in answer, and the commands this message completed."""
        if not isinstance(message, dict) or not isinstance(message.get("type"), str):
            raise HomeAssistantError("Home Assistant sent a message without a type")
        kind = message["type"]
        if self.phase is Phase.AWAIT_AUTH_REQUIRED:
            if kind != MessageType.AUTH_REQUIRED:
                raise HomeAssistantError(f"expected auth_required first, got {kind[:40]!r}")
            version = message.get("ha_version")
            self.ha_version = version if isinstance(version, str) else None
            self.phase = Phase.AWAIT_AUTH_RESULT
            auth = Outgoing({"type": MessageType.AUTH.value}, secret=self.token)
            return [auth], []
        if self.phase is Phase.AWAIT_AUTH_RESULT:
            if kind == MessageType.AUTH_OK:
                self.phase = Phase.READY
                return [], []
            if kind == MessageType.AUTH_INVALID:
                raise TokenRefusedError(
                    "Home Assistant refused the access token (auth_invalid); "
                    "create a long-lived access token on your profile page"
                )
            raise HomeAssistantError(f"expected auth_ok, got {kind[:40]!r}")
        if kind != MessageType.RESULT:
            return [], []  # events and pongs are not ours
        return [], [self._result(message)]

    def command(self, command: Command, **fields: Any) -> tuple[int, Outgoing]:
        """A command to send, with its id; its `Result` comes back through `receive`."""
        if not self.ready:
            raise HomeAssistantError(f"cannot send {command} while {self.phase.value}")
        ident = self._next_id
        self._next_id += 1
        self._pending[ident] = command.value
        return ident, Outgoing({"id": ident, "type": command.value, **fields})

    def _result(self, message: Mapping[str, Any]) -> Result:
        ident = message.get("id")
        if not isinstance(ident, int) or ident not in self._pending:
            raise HomeAssistantError(f"a result for an id never sent: {str(ident)[:20]}")
        command = self._pending.pop(ident)
        if message.get("success") is not True:
            error = message.get("error")
            error = error if isinstance(error, dict) else {}
            raise CommandFailedError(
                command, str(error.get("code", "unknown"))[:60], str(error.get("message", ""))[:200]
            )
        return Result(ident, command, message.get("result"))
