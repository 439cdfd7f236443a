"""Shared fixtures: the guide's worked examples and the repo's spec folder."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parent.parent
SPEC = REPO.parent / "shared" / "spec"
VECTORS_FILE = SPEC / "vectors.json"


def load_vectors() -> list[dict[str, Any]]:
    if not VECTORS_FILE.exists():
        pytest.fail(f"the guide's test vectors are missing: {VECTORS_FILE}")
    vectors: list[dict[str, Any]] = json.loads(VECTORS_FILE.read_text())
    return vectors


def vectors_of(*kinds: str) -> list[dict[str, Any]]:
    return [vector for vector in load_vectors() if vector["kind"] in kinds]


def vector(name: str) -> dict[str, Any]:
    (found,) = [v for v in load_vectors() if v["name"] == name]
    return found


@pytest.fixture(scope="session")
def vectors() -> list[dict[str, Any]]:
    return load_vectors()
