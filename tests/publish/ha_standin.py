"""A stand-in Home Assistant for the statistics backfill: its documented websocket contract.

Follows developers.home-assistant.io "WebSocket API" and the recorder's commands:
- `auth_required` first; `auth` with the right `access_token` gives `auth_ok`, a wrong one
  `auth_invalid` and the connection closed; anything before auth closes it too;
- each command has an `id` that must increase within the connection, else an `id_reuse` error;
- `recorder/statistics_during_period` (period "hour") answers `{statistic_id: [rows]}` with
  `start`/`end` in milliseconds since the epoch, rows with start_time <= start < end_time;
- `recorder/import_statistics` checks the metadata (a statistic id that is an entity id needs
  source "recorder") and each row's start (top of an hour, with a time zone), then writes the
  rows over any with the same start; `invalid_format` otherwise;
- `config/entity_registry/list` answers the registry entries in `entities` (entity_id,
  unique_id, platform, ...), as the frontend's listing does;
- an unknown command is `unknown_command`.
Knobs: `drop_on_import` closes the connection when an import arrives, before it is applied
(Home Assistant restarting mid-import).
"""

from __future__ import annotations

import itertools
import json
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from websockets.asyncio.server import Server, ServerConnection, serve
from websockets.exceptions import ConnectionClosed

HA_VERSION = "2025.4.4"
_ENTITY_ID = re.compile(r"^(?!.+__)(?!_)[\da-z_]+(?<!_)\.(?!_)[\da-z_]+(?<!_)$")


@dataclass
class StandIn:
    token: str
    rows: dict[str, dict[datetime, dict[str, float | None]]] = field(default_factory=dict)
    metadata: dict[str, dict[str, Any]] = field(default_factory=dict)
    received: list[dict[str, Any]] = field(default_factory=list)
    entities: list[dict[str, Any]] = field(default_factory=list)
    drop_on_import: int = 0
    connections: int = 0
    server: Server | None = None

    async def start(self, port: int = 0) -> int:
        self.server = await serve(self._serve, "127.0.0.1", port)
        return int(self.server.sockets[0].getsockname()[1])

    async def stop(self) -> None:
        if self.server is not None:
            self.server.close()
            await self.server.wait_closed()
            self.server = None

    def seed(self, statistic_id: str, start: datetime, total: float, state: float) -> None:
        self.rows.setdefault(statistic_id, {})[start] = {"sum": total, "state": state}

    def hourly(self, statistic_id: str) -> list[tuple[datetime, float]]:
        """Each hour's consumption as the Energy dashboard shows it: differences of sums."""
        rows = sorted(self.rows.get(statistic_id, {}).items())
        return [
            (start, round(float(row["sum"] or 0) - float(previous["sum"] or 0), 6))
            for (_, previous), (start, row) in itertools.pairwise(rows)
        ]

    async def _serve(self, connection: ServerConnection) -> None:
        self.connections += 1
        await connection.send(json.dumps({"type": "auth_required", "ha_version": HA_VERSION}))
        try:
            auth = json.loads(await connection.recv())
            self.received.append({k: v for k, v in auth.items() if k != "access_token"})
            if auth.get("type") != "auth":
                await connection.close()
                return
            if auth.get("access_token") != self.token:
                await connection.send(
                    json.dumps({"type": "auth_invalid", "message": "Invalid access token"})
                )
                await connection.close()
                return
            await connection.send(json.dumps({"type": "auth_ok", "ha_version": HA_VERSION}))
            last_id = 0
            async for text in connection:
                message = json.loads(text)
                self.received.append(message)
                ident = message.get("id")
                if not isinstance(ident, int) or ident <= last_id:
                    await self._error(
                        connection, ident, "id_reuse", "Identifier values have to increase."
                    )
                    continue
                last_id = ident
                if message.get("type") == "recorder/import_statistics" and self.drop_on_import:
                    self.drop_on_import -= 1
                    await connection.close()
                    return
                await self._command(connection, ident, message)
        except ConnectionClosed:
            return

    async def _command(
        self, connection: ServerConnection, ident: int, message: dict[str, Any]
    ) -> None:
        kind = message.get("type")
        result: Any
        if kind == "recorder/statistics_during_period":
            result = self._during_period(message)
        elif kind == "config/entity_registry/list":
            result = self.entities
        elif kind == "recorder/import_statistics":
            problem = self._import(message)
            if problem:
                await self._error(connection, ident, "invalid_format", problem)
                return
            result = None
        else:
            await self._error(connection, ident, "unknown_command", "Unknown command.")
            return
        await connection.send(
            json.dumps({"id": ident, "type": "result", "success": True, "result": result})
        )

    async def _error(
        self, connection: ServerConnection, ident: object, code: str, text: str
    ) -> None:
        error = {"code": code, "message": text}
        await connection.send(
            json.dumps({"id": ident, "type": "result", "success": False, "error": error})
        )

    def _during_period(self, message: dict[str, Any]) -> dict[str, list[dict[str, Any]]]:
        start = datetime.fromisoformat(message["start_time"])
        end = datetime.fromisoformat(message["end_time"]) if message.get("end_time") else None
        assert message.get("period") == "hour"
        types = set(message.get("types") or ("sum", "state"))
        answer: dict[str, list[dict[str, Any]]] = {}
        for ident in message["statistic_ids"]:
            rows = []
            for moment, row in sorted(self.rows.get(ident, {}).items()):
                if moment < start or (end is not None and moment >= end):
                    continue
                entry: dict[str, Any] = {
                    "start": moment.timestamp() * 1000,
                    "end": (moment + timedelta(hours=1)).timestamp() * 1000,
                }
                entry.update({key: row.get(key) for key in types if key in ("sum", "state")})
                rows.append(entry)
            if rows:
                answer[ident] = rows
        return answer

    def _import(self, message: dict[str, Any]) -> str | None:
        metadata = message.get("metadata")
        required = {"has_mean", "has_sum", "name", "source", "statistic_id", "unit_of_measurement"}
        if not isinstance(metadata, dict) or not required <= set(metadata):
            return "metadata is missing keys"
        ident = metadata["statistic_id"]
        if _ENTITY_ID.match(ident) and metadata["source"] != "recorder":
            return "Invalid source"
        stats = message.get("stats")
        if not isinstance(stats, list):
            return "stats must be a list"
        parsed = []
        for stat in stats:
            start = datetime.fromisoformat(stat["start"])
            if start.tzinfo is None or (start.minute, start.second, start.microsecond) != (0, 0, 0):
                return "Invalid timestamp"
            parsed.append((start.astimezone(UTC), stat))
        self.metadata[ident] = metadata
        for start, stat in parsed:
            self.rows.setdefault(ident, {})[start] = {
                "sum": stat.get("sum"),
                "state": stat.get("state"),
            }
        return None
