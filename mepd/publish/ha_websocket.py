"""Home Assistant's websocket API as the statistics backfill uses it: connection and session.

`open_websocket` connects with the `websockets` package, imported only when a connection is
made (so `mepd --help` and a daemon without `[homeassistant.statistics]` never load it), and
turns its errors into `ConnectionLostError`. `Session` drives the sans-I/O `ha_exchange.Exchange`
over any `Connection` (the tests' stand-in speaks the same protocol): authenticate, then one
command at a time. `parse_rows` reads `recorder/statistics_during_period`'s rows leniently:
what is not a row is skipped, never raised.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any, Protocol

from mepd.publish.ha_backfill import Row
from mepd.publish.ha_exchange import Command, Exchange, HomeAssistantError, Result
from mepd.text import printable

OPEN_TIMEOUT_S = 15.0
ANSWER_TIMEOUT_S = 60.0
MAX_MESSAGE_BYTES = 8 * 1024 * 1024


class ConnectionLostError(HomeAssistantError):
    """The websocket could not be opened, or closed under us."""


class Connection(Protocol):
    async def send(self, message: str) -> None: ...

    async def recv(self) -> str | bytes: ...

    async def close(self) -> None: ...


Connector = Callable[[str], Awaitable[Connection]]


class _Websocket:
    """The `websockets` client behind `Connection`, its errors turned into `ConnectionLostError`."""

    def __init__(self, connection: Any) -> None:
        self._connection = connection

    async def send(self, message: str) -> None:
        from websockets.exceptions import WebSocketException  # noqa: PLC0415 - lazy

        try:
            await self._connection.send(message)
        except WebSocketException as error:
            raise ConnectionLostError(f"the websocket closed: {error}") from None

    async def recv(self) -> str | bytes:
        from websockets.exceptions import WebSocketException  # noqa: PLC0415 - lazy

        try:
            message: str | bytes = await self._connection.recv()
        except WebSocketException as error:
            raise ConnectionLostError(f"the websocket closed: {error}") from None
        return message

    async def close(self) -> None:
        await self._connection.close()


async def open_websocket(url: str) -> Connection:
    from websockets.asyncio.client import connect  # noqa: PLC0415 - only when connecting
    from websockets.exceptions import WebSocketException  # noqa: PLC0415

    try:
        connection = await connect(
            url, open_timeout=OPEN_TIMEOUT_S, max_size=MAX_MESSAGE_BYTES, compression=None
        )
    except (OSError, WebSocketException) as error:
        raise ConnectionLostError(f"cannot connect to {url}: {printable(str(error))}") from None
    return _Websocket(connection)


class Session:
    """One authenticated connection: `call` sends a command and awaits its result."""

    def __init__(self, connection: Connection, exchange: Exchange) -> None:
        self.connection = connection
        self.exchange = exchange

    async def _next(self) -> tuple[list[Any], list[Result]]:
        async with asyncio.timeout(ANSWER_TIMEOUT_S):
            text = await self.connection.recv()
        try:
            message = json.loads(text)
        except ValueError:
            raise HomeAssistantError("Home Assistant sent a message that is not JSON") from None
        return self.exchange.receive(message)

    async def authenticate(self) -> None:
        while not self.exchange.ready:
            replies, _ = await self._next()
            for reply in replies:
                await self.connection.send(reply.text())

    async def call(self, command: Command, **fields: Any) -> Any:
        ident, outgoing = self.exchange.command(command, **fields)
        await self.connection.send(outgoing.text())
        while True:
            _, results = await self._next()
            for result in results:
                if result.id == ident:
                    return result.value


def parse_rows(entries: object) -> list[Row]:
    rows: list[Row] = []
    for entry in entries if isinstance(entries, list) else []:
        if not isinstance(entry, dict):
            continue
        start = _moment(entry.get("start"))
        if start is None:
            continue
        rows.append(Row(start, _number(entry.get("sum")), _number(entry.get("state"))))
    return rows


def _moment(value: object) -> datetime | None:
    """A row's start: milliseconds since the epoch (HA 2023.3+) or an ISO 8601 string."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        return datetime.fromtimestamp(value / 1000, UTC)
    if isinstance(value, str):
        with contextlib.suppress(ValueError):
            moment = datetime.fromisoformat(value)
            return moment.astimezone(UTC) if moment.tzinfo else None
    return None


def _number(value: object) -> float | None:
    if isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    return None
