"""JSON pointers (RFC 6901) and the one applier of JSON Patch operations (RFC 6902 add,
replace, remove).

Controls, the report, the audit and KRM results all speak JSON pointers; this is the one
place that escapes, splits and follows them, and that applies a change to loaded data (with
the semantics of the `jsonpatch` package, without its per-call objects and copies).
"""

from __future__ import annotations

import sys
from typing import Any

__all__ = ["escape", "unescape", "join", "tokens", "resolve", "field_path", "apply_op", "PatchError"]


class PatchError(ValueError):
    """A JSON Patch operation that does not fit the data (a missing parent, key or index)."""


def escape(token: str) -> str:
    """`~` -> `~0`, `/` -> `~1` (RFC 6901)."""
    return token.replace("~", "~0").replace("/", "~1")


def unescape(token: str) -> str:
    """`~1` -> `/`, `~0` -> `~` (RFC 6901)."""
    return token.replace("~1", "/").replace("~0", "~")


def _index(token: str, op: str) -> int:
    """A list index token: `0` or digits without a leading zero (RFC 6901)."""
    if not token.isdigit() or not token.isascii() or (token[0] == "0" and token != "0"):
        raise PatchError(f"{op}: {token!r} is not a list index")
    return int(token)


def apply_op(data: Any, op: str, pointer: str, value: Any = None) -> None:
    """Apply one `add` / `replace` / `remove` at `pointer` to `data`, in place; `value` is
    inserted as given (the caller copies it). `add` on a list inserts before the index, or
    appends at `-`; `add` on a mapping sets the key; `replace` and `remove` need the key or
    index to exist. Anything else raises :class:`PatchError`."""
    if not pointer.startswith("/"):
        raise PatchError(f"{op}: cannot apply at {pointer!r} (not a pointer below the root)")
    parts = pointer[1:].split("/")
    if "~" in pointer:
        parts = [unescape(t) for t in parts]
    parent = data
    for token in parts[:-1]:
        if isinstance(parent, dict):
            if token not in parent:
                raise PatchError(f"{op}: no member {token!r} on the way to {pointer}")
            parent = parent[token]
        elif isinstance(parent, list):
            i = _index(token, op)
            if i >= len(parent):
                raise PatchError(f"{op}: index {i} out of range on the way to {pointer}")
            parent = parent[i]
        else:
            raise PatchError(f"{op}: cannot descend into a {type(parent).__name__} at {pointer}")
    last = parts[-1]
    if isinstance(parent, dict):
        if op == "add":
            parent[sys.intern(last)] = value  # a key most documents share (as the reader's)
        elif last not in parent:
            raise PatchError(f"{op}: no member {last!r} at {pointer}")
        elif op == "replace":
            parent[last] = value
        elif op == "remove":
            del parent[last]
        else:
            raise PatchError(f"unknown operation {op!r}")
    elif isinstance(parent, list):
        if op == "add" and last == "-":
            parent.append(value)
            return
        i = _index(last, op)
        if op == "add":
            if i > len(parent):
                raise PatchError(f"add: index {i} out of range at {pointer}")
            parent.insert(i, value)
        elif i >= len(parent):
            raise PatchError(f"{op}: index {i} out of range at {pointer}")
        elif op == "replace":
            parent[i] = value
        elif op == "remove":
            del parent[i]
        else:
            raise PatchError(f"unknown operation {op!r}")
    else:
        raise PatchError(f"{op}: a {type(parent).__name__} holds no members ({pointer})")


def apply_patch(data: Any, ops: list[dict]) -> Any:
    """Apply RFC 6902 `ops` (add / replace / remove) in order to `data`, in place; returns
    the result: the same object, or the new value an `add` / `replace` at the root (`""`)
    stands for. Values are inserted as given (the caller copies them)."""
    for o in ops:
        if "path" not in o or (o["op"] != "remove" and "value" not in o):
            raise PatchError(f"malformed operation {o!r}")
        if o["path"] == "" and o["op"] in ("add", "replace"):
            data = o["value"]
            continue
        apply_op(data, o["op"], o["path"], o.get("value"))
    return data


def join(base: str, *parts: Any) -> str:
    """`base` extended by each part, escaped (ints become list indexes)."""
    for p in parts:
        s = p if type(p) is str else str(p)
        base += "/" + (escape(s) if "~" in s or "/" in s else s)
    return base


def tokens(pointer: str) -> list[str]:
    """The unescaped reference tokens of a pointer (`""` -> [])."""
    if not pointer:
        return []
    if "~" not in pointer:  # nothing escaped (almost every pointer): the split is the tokens
        return pointer[1:].split("/")
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
