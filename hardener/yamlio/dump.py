"""Writing YAML so that no value changes type for any reader.

Manifests are read by YAML 1.1 parsers (PyYAML; go-yaml v2 behind sigs.k8s.io/yaml, which
kubectl and Helm use) and by YAML 1.2 ones (go-yaml v3 in kustomize's kyaml). They disagree
on plain scalars: `on`, `yes`, `0755`, `12:30:00` are a boolean or a number for 1.1 and text
for 1.2; `1e3`, `0o17` are numbers for 1.2 only; `2024-01-01` is a timestamp for both Go
parsers. So:

* a string we write is quoted whenever any of those readers would take the plain form for
  something else (:func:`needs_quotes`);
* a value we did not change keeps the node it was read from, its style and its text
  (:mod:`.rewrite`), so every reader reads it as before.

:class:`Dumper` writes new values and generated documents; :class:`NodeDumper` serializes
node trees with the loader's own resolution, so an original plain scalar is written plain
again (its tag already says what our loader made of it).
"""

from __future__ import annotations

import re
import sys
from typing import Any

import yaml

from ..errors import InputError
from .load import SafeLoader
from .split import Document, end_of_line, start_of_line

BaseDumper = getattr(yaml, "CSafeDumper", None) or yaml.SafeDumper
_STR = "tag:yaml.org,2002:str"

#: YAML 1.2 core schema (and go-yaml v3) plain forms that are not strings.
_YAML12_NOT_STR = re.compile(r"""(?x)
    ~ | null | Null | NULL | true | True | TRUE | false | False | FALSE
  | [-+]?[0-9]+ | 0o[0-7]+ | 0x[0-9a-fA-F]+
  | [-+]?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)(?:[eE][-+]?[0-9]+)?
  | [-+]?\.(?:inf|Inf|INF) | \.(?:nan|NaN|NAN)
  | [0-9]{4}-[0-9]{1,2}-[0-9]{1,2}(?:[Tt ].*)?
""")
_YAML11 = yaml.resolver.Resolver()  # PyYAML's YAML 1.1 resolvers, timestamps included


def needs_quotes(text: str) -> bool:
    """Would a YAML 1.1 or a YAML 1.2 reader take the plain scalar `text` for something other
    than a string?"""
    if _YAML11.resolve(yaml.ScalarNode, text, (True, False)) != _STR:
        return True
    return _YAML12_NOT_STR.fullmatch(text) is not None


class Dumper(BaseDumper):  # type: ignore[misc, valid-type]
    """New values and generated documents: key order kept, multi-line strings as literal
    blocks, no `&id001` anchors, strings quoted wherever a reader would misread them."""

    def ignore_aliases(self, data):  # noqa: D102 - never write &id001 anchors
        return True


def _represent_str(dumper: yaml.BaseDumper, data: str) -> yaml.ScalarNode:
    if "\n" in data.rstrip("\n") or (data.endswith("\n") and len(data) > 1):
        style = "|"
    else:
        style = "'" if needs_quotes(data) else None
    return dumper.represent_scalar(_STR, data, style=style)


Dumper.add_representer(str, _represent_str)


class NodeDumper(BaseDumper):  # type: ignore[misc, valid-type]
    """Serializes a node tree resolving plain scalars as our loader does: a node read plain
    is written plain (quoted and block nodes keep their style)."""

    yaml_implicit_resolvers = SafeLoader.yaml_implicit_resolvers


#: PyYAML's representer recurses three Python frames per nesting level, and libyaml lets a
#: document nest 1,000 levels deep: dumping needs more than Python's default 1,000 frames.
_DUMP_RECURSION = 5_000
_OPTIONS = {"allow_unicode": True, "width": 1 << 30}


def deep(call):
    """Run `call()` with enough recursion depth for the deepest document libyaml accepts."""
    limit = sys.getrecursionlimit()
    if limit < _DUMP_RECURSION:
        sys.setrecursionlimit(_DUMP_RECURSION)
    try:
        return call()
    finally:
        sys.setrecursionlimit(limit)


def dump_data(data: Any, line_break: str = "\n") -> str:
    """Write one document body (no `---`) of new data."""
    return deep(lambda: yaml.dump(data, Dumper=Dumper, sort_keys=False, default_flow_style=False,
                                  line_break=line_break, **_OPTIONS))


def serialize_node(node: yaml.Node, line_break: str = "\n") -> str:
    """Write one document body from a node tree (see :class:`NodeDumper`)."""
    return deep(lambda: yaml.serialize(node, Dumper=NodeDumper, line_break=line_break, **_OPTIONS))


def render_document(doc: Document, data: Any, body: str | None = None) -> str:
    """The text of `doc` with its body replaced by `body` (default: `data` dumped), keeping
    its separator line, leading comments and trailing comments."""
    text = doc.text
    if doc.body_start < 0:
        return text
    body_line = start_of_line(text, doc.body_start)
    prefix = text[:body_line]
    if body_line < doc.body_start and text[body_line:doc.body_start].strip():
        # body starts on the `---` line (e.g. `--- {a: 1}`): keep the marker on its own line
        prefix = text[:doc.body_start].rstrip(" ") + doc.line_break
    suffix = text[end_of_line(text, doc.body_end):]
    if body is None:
        try:
            body = dump_data(data, doc.line_break)
        except RecursionError:
            raise InputError("nesting too deep to write the changed document", source=doc.source,
                             document=doc.index_in_source, line=doc.first_line) from None
    if suffix and not body.endswith("\n"):
        body += doc.line_break
    return prefix + body + suffix
