"""CEL text the admission policies are built from: literals and field tests."""

from __future__ import annotations

from typing import Iterable


def string(text: str) -> str:
    """A CEL string literal: names come from the manifests and must not change the expression."""
    return "'" + text.replace("\\", "\\\\").replace("'", "\\'") + "'"


def strings(items: Iterable[str]) -> str:
    """A CEL list of string literals, in the order given."""
    return "[" + ", ".join(map(string, items)) + "]"


def has_path(base: str, path: str) -> str:
    """has() on every step of base.path (CEL's has() tests one field)."""
    steps, out = base, []
    for part in path.split("."):
        steps = f"{steps}.{part}"
        out.append(f"has({steps})")
    return " && ".join(out)


def every(condition: str) -> str:
    """`condition` on every container `c` of the policy's `variables.containers`."""
    return f"variables.containers.all(c, {condition})"
