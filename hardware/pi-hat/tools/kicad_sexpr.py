"""Minimal S-expression reader/writer for KiCad files (no dependencies)."""

from __future__ import annotations

import re

_TOKEN = re.compile(r'\s*(?:(\()|(\))|("(?:[^"\\]|\\.)*")|([^\s()"]+))', re.S)


class Sym(str):
    """An unquoted atom."""


def parse(text: str, pos: int = 0, *, first: bool = False) -> list:
    """The expressions in text from pos; with first, only the one that starts at pos (the
    rest of the text is not read: a symbol library is megabytes, one symbol a few kB)."""
    stack: list[list] = [[]]
    n = len(text)
    while pos < n:
        m = _TOKEN.match(text, pos)
        if not m:
            if text[pos:].strip() == "":
                break
            raise ValueError(f"bad s-expression at {pos}: {text[pos:pos + 40]!r}")
        pos = m.end()
        if m.group(1):
            stack.append([])
        elif m.group(2):
            done = stack.pop()
            stack[-1].append(done)
            if first and len(stack) == 1:
                return done
        elif m.group(3) is not None:
            s = m.group(3)[1:-1]
            s = re.sub(r'\\(.)', lambda mm: {"n": "\n", "t": "\t"}.get(mm.group(1), mm.group(1)), s)
            stack[-1].append(s)
        else:
            stack[-1].append(Sym(m.group(4)))
    return stack[0][0] if len(stack[0]) == 1 else stack[0]


def quote(s: str) -> str:
    return '"' + s.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'


def dump(node, indent: int = 0) -> str:
    if isinstance(node, Sym):
        return str(node)
    if isinstance(node, str):
        return quote(node)
    if isinstance(node, (int, float)):
        return fmt(node)
    parts = [dump(x, indent + 1) for x in node]
    flat = "(" + " ".join(parts) + ")"
    if len(flat) + indent < 100 and not any(isinstance(x, list) and len(x) > 3 for x in node):
        return flat
    head = []
    rest_start = 0
    for i, x in enumerate(node):
        if isinstance(x, list):
            rest_start = i
            break
        head.append(parts[i])
    else:
        return flat
    out = "(" + " ".join(head)
    for p in parts[rest_start:]:
        out += "\n" + "\t" * (indent + 1) + p
    return out + "\n" + "\t" * indent + ")"


def fmt(v: float) -> str:
    if isinstance(v, int):
        return str(v)
    s = f"{v:.4f}".rstrip("0").rstrip(".")
    return "0" if s in ("-0", "") else s


def find(node: list, key: str) -> list | None:
    for x in node:
        if isinstance(x, list) and x and x[0] == key:
            return x
    return None


def find_all(node: list, key: str) -> list[list]:
    return [x for x in node if isinstance(x, list) and x and x[0] == key]


def walk(node, key: str):
    if isinstance(node, list):
        if node and node[0] == key:
            yield node
        for x in node:
            yield from walk(x, key)
