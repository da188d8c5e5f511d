"""JSON pointers (RFC 6901), thin over the `jsonpointer` package that jsonpatch brings.

Controls, the report, the audit and KRM results all speak JSON pointers; this is the one
place that escapes, splits and follows them.
"""

from __future__ import annotations

from typing import Any

from jsonpointer import escape, unescape

__all__ = ["escape", "unescape", "join", "tokens", "resolve", "field_path"]


def join(base: str, *parts: Any) -> str:
    """`base` extended by each part, escaped (ints become list indexes)."""
    return base + "".join("/" + escape(str(p)) for p in parts)


def tokens(pointer: str) -> list[str]:
    """The unescaped reference tokens of a pointer (`""` -> [])."""
    if not pointer:
        return []
    return [unescape(t) for t in pointer[1:].split("/")]


def resolve(data: Any, pointer: str) -> Any:
    """The value at `pointer`, or None when any step is missing or of the wrong type.
    Lenient on purpose: pod data comes from users and may have any shape."""
    for token in tokens(pointer):
        if isinstance(data, dict):
            data = data.get(token)
        elif isinstance(data, list) and token.isdigit() and int(token) < len(data):
            data = data[int(token)]
        else:
            return None
    return data


def field_path(pointer: str) -> str:
    """The kyaml/kubectl field path of a pointer: `spec.containers[0].securityContext`
    (keys holding `.` or `/` in brackets; `-` as `[-]`)."""
    out = ""
    for t in tokens(pointer):
        if t.isdigit():
            out += f"[{t}]"
        elif t == "-":
            out += "[-]"
        else:
            out += ("." if out else "") + (t if "." not in t and "/" not in t else f"[{t}]")
    return out
