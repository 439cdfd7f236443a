"""The layers of ARCHITECTURE.md, enforced: every import in mepd points down, never up or sideways.

Each module belongs to the longest layer prefix in `LAYERS` that names it; it may import the
layers listed for it (its own layer always). Imports inside functions and under TYPE_CHECKING
count too: a lazy import is still a dependency. A new edge fails here with the module, the line
and the layer it reaches, so a boundary moves only on purpose, in this table and ARCHITECTURE.md.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "mepd"

# The foundation: imported by every layer, importing (almost) nothing.
_FOUNDATION = (
    "mepd.errors",
    "mepd.backoff",
    "mepd.logs",
    "mepd.text",
    "mepd.secret",
    "mepd.files",
    "mepd.drivers.hat",
)

# layer -> the layers it may import, bottom of the stack first.
LAYERS: dict[str, tuple[str, ...]] = {
    "mepd.errors": (),
    "mepd.backoff": (),
    "mepd.logs": (),
    # Escaping what came from outside before it is printed or logged; imports nothing.
    "mepd.text": (),
    # The password type no repr or asdict shows; imports nothing.
    "mepd.secret": (),
    # Atomic writes and setting a damaged file aside; imports nothing.
    "mepd.files": (),
    # Pin numbers: data that the board's netlist is tested against; imports nothing.
    "mepd.drivers.hat": (),
    # Pure: bytes and time in, frames and decisions out (tests/protocol/test_purity.py).
    "mepd.protocol": ("mepd.errors",),
    # The values every layer is built with; the configuration makes them.
    "mepd.settings": (*_FOUNDATION, "mepd.protocol"),
    # The contract between the engine (producer) and the publisher (consumer).
    "mepd.readings": (*_FOUNDATION, "mepd.protocol"),
    "mepd.drivers": (*_FOUNDATION, "mepd.protocol", "mepd.settings"),
    "mepd.engine": (
        *_FOUNDATION,
        "mepd.protocol",
        "mepd.settings",
        "mepd.readings",
        "mepd.drivers",
    ),
    "mepd.publish": (*_FOUNDATION, "mepd.settings", "mepd.readings"),
    "mepd.config": (*_FOUNDATION, "mepd.protocol", "mepd.settings"),
    # The composition root of `mepd run`: builds every layer from the configuration.
    "mepd.service": (
        *_FOUNDATION,
        "mepd.protocol",
        "mepd.settings",
        "mepd.readings",
        "mepd.drivers",
        "mepd.engine",
        "mepd.publish",
        "mepd.config",
    ),
    "mepd.cli": (
        *_FOUNDATION,
        "mepd.protocol",
        "mepd.settings",
        "mepd.readings",
        "mepd.drivers",
        "mepd.engine",
        "mepd.publish",
        "mepd.config",
        "mepd.service",
    ),
}
# `from mepd import __version__` and `python -m mepd`: the package root, open to all.
_ROOT = ("mepd", "mepd.__main__")


def layer_of(module: str) -> str | None:
    """The longest entry of LAYERS that is `module` or a package above it."""
    matches = [name for name in LAYERS if module == name or module.startswith(name + ".")]
    return max(matches, key=len) if matches else None


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imported_modules(source: str, importer: str) -> list[tuple[int, str]]:
    """Every mepd module `source` imports, with its line; relative imports resolved."""
    found: list[tuple[int, str]] = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = importer.split(".")[: -node.level] if node.level else []
                target = ".".join([*base, *(node.module or "").split(".")]).strip(".")
            else:
                target = node.module or ""
            found.append((node.lineno, target))
            # `from mepd import settings` names a module, not an attribute.
            found += [
                (node.lineno, f"{target}.{alias.name}")
                for alias in node.names
                if layer_of(f"{target}.{alias.name}") not in (None, layer_of(target))
            ]
    return [(line, name) for line, name in found if name == "mepd" or name.startswith("mepd.")]


def violations(source: str, importer: str) -> list[str]:
    own = layer_of(importer)
    if own is None:
        return [f"{importer}: belongs to no layer; add it to LAYERS and ARCHITECTURE.md"]
    allowed = (own, *LAYERS[own])
    bad = []
    for line, target in imported_modules(source, importer):
        if target in _ROOT:
            continue
        layer = layer_of(target)
        if layer is None or layer not in allowed:
            bad.append(f"{importer}:{line} imports {target} (layer {layer}), not allowed for {own}")
    return bad


def test_the_checker_catches_upward_and_sideways_edges() -> None:
    assert violations("from mepd.engine.poller import Poller", "mepd.publish.x") != []
    assert violations("def f():\n    from mepd.publish import a\n", "mepd.engine.x") != []
    assert violations("from mepd import engine", "mepd.protocol.frames") != []
    assert violations("from mepd.engine import poller", "mepd.config.load") != []
    assert violations("from . import poller", "mepd.engine.session") == []
    assert violations("from ..engine import poller", "mepd.publish.client") != []
    assert violations("from mepd import __version__", "mepd.publish.x") == []
    assert violations("from mepd.errors import MepdError", "mepd.protocol.keys") == []
    assert violations("import os", "mepd.nowhere") != []


MODULES = sorted(PACKAGE.rglob("*.py"))


def test_every_package_has_a_layer() -> None:
    packages = {module_name(path) for path in MODULES if path.name == "__init__.py"}
    assert {"mepd.engine", "mepd.cli", "mepd.service", "mepd.publish"} <= packages
    assert [p for p in packages if p != "mepd" and layer_of(p) is None] == []


@pytest.mark.parametrize("path", MODULES, ids=lambda p: str(p.relative_to(PACKAGE)))
def test_imports_point_down(path: Path) -> None:
    name = module_name(path)
    if name in _ROOT:
        return
    assert violations(path.read_text(), name) == []
