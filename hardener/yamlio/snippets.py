"""YAML text for the values an edit inserts, as the document's own dumper writes them.

Scalars, keys and flow collections, memoised (the same few values recur in every document),
and the tests for plain text whose reading back is known by construction."""

from __future__ import annotations

from typing import Any, Callable

import yaml

from .dump import Dumper

STR_TAG = "tag:yaml.org,2002:str"
_WIDTH = 1 << 30  # never fold long scalars over several lines


class Unsafe(Exception):
    """An edit the text patcher does not make (here: a value with no text known to read back
    the same); :func:`hardener.yamlio.textpatch.patch_text` answers None."""


def _dump(data: Any, flow: bool = False) -> str:
    return yaml.dump(data, Dumper=Dumper, default_flow_style=flow, sort_keys=False,
                     width=_WIDTH, allow_unicode=True)


MEMO: dict = {}  # renderings of scalars and keys: the same few values recur in every document
_MEMO_MAX = 10_000  # a stream of many distinct values must not grow it without bound


def memoised(table: dict, key: tuple, make: Callable[[], Any]) -> Any:
    """table[key], made once (the table is emptied past _MEMO_MAX entries)."""
    hit = table.get(key)
    if hit is None:
        if len(table) > _MEMO_MAX:
            table.clear()
        hit = table[key] = make()
    return hit


def scalar_lines(value: Any) -> list[str]:
    if type(value) in (str, int, float, bool, type(None)):
        return list(memoised(MEMO, ("v", type(value), value), lambda: tuple(_scalar_lines_uncached(value))))
    return _scalar_lines_uncached(value)


def _scalar_lines_uncached(value: Any) -> list[str]:
    """`value` (a scalar or an empty collection) as written after `key: `: one line, or the
    header and content lines of a literal block, indented for a key at column 0."""
    out = _dump({"k": value})
    if not out.startswith("k: "):
        raise Unsafe("scalar not rendered on the key's line")
    return out[3:].split("\n")[:-1]


def key_text(key: Any) -> str:
    return memoised(MEMO, ("k", type(key), key), lambda: _key_text_uncached(key))


def _key_text_uncached(key: Any) -> str:
    """A mapping key as written before `:` (quoted when YAML would misread it)."""
    out = _dump({key: None})
    if not out.endswith(": null\n") or out.startswith("?") or out.count("\n") != 1:
        raise Unsafe("key needs the explicit `? ` form")
    return out[:-len(": null\n")]


def quoted_scalar(value: str, style: str) -> str | None:
    """`value` in the quote style of the scalar it replaces, when that fits on one line."""
    node = yaml.ScalarNode(STR_TAG, value, style=style)
    out = yaml.serialize(node, Dumper=Dumper, width=_WIDTH, allow_unicode=True)
    return out[:-1] if out.count("\n") == 1 and out[:1] in "'\"" else None


def flow_inner(items: dict | list) -> str:
    """Entries or items in flow style, without the surrounding brackets."""
    out = _dump(items, flow=True).rstrip("\n")
    if "\n" in out or out[:1] not in "[{":
        raise Unsafe("flow rendering spans lines")
    return out[1:-1]


def flow_value(value: Any) -> str:
    """A value written inside a flow collection."""
    return flow_inner([value])


def plain_text(text: str) -> bool:
    """ASCII with no line break but LF and CRLF: the offsets and columns the edits compute
    are then the parser's (YAML 1.1 also breaks lines at CR, NEL, LS and PS)."""
    return text.isascii() and text.count("\r") == text.count("\r\n")


def plain_shape(value: Any) -> bool:
    """Non-empty mappings with string keys and non-empty lists, down to one-line scalars
    (str, int, float, bool, null): what :meth:`_Patcher._block` writes as lines of keys,
    dashes and scalars only, no block scalar among them."""
    cls = value.__class__
    if cls is dict:
        return bool(value) and all(k.__class__ is str and plain_shape(v) for k, v in value.items())
    if cls is list:
        return bool(value) and all(map(plain_shape, value))
    if cls is str:
        return "\n" not in value and "\r" not in value
    return cls in (int, float, bool, type(None))
