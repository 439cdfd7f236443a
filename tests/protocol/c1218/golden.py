"""The facts the C12.18 tests use, from tests/data/c1218.json (captured and computed frames)."""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Any

DATA = Path(__file__).resolve().parents[2] / "data" / "c1218.json"


@cache
def golden() -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads(DATA.read_text())
    return loaded


def hexbytes(text: str) -> bytes:
    return bytes.fromhex(text)


def session_frames(direction: str) -> list[dict[str, Any]]:
    return [frame for frame in golden()["session"] if frame["dir"] == direction]


def frame_bytes(n: int) -> bytes:
    (frame,) = [frame for frame in golden()["session"] if frame["n"] == n]
    return hexbytes(frame["hex"])


SESSION_KEY = golden()["session_key_ascii"].encode("ascii")
BT00_PACKETS = [hexbytes(text) for text in golden()["bt00_packets"]]
