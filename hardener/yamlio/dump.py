"""Writing YAML: the two dumpers, side by side, because they must differ.

* :class:`DocumentDumper` re-emits a whole changed document when no surgical edit is
  possible: key order kept, multi-line strings as literal blocks, no `&id001` anchors, the
  document's line breaks. It resolves plain scalars as our loader does (timestamps are
  strings), so a timestamp-like string that was read plain is written plain again and a
  second run changes nothing.
* :class:`ValueDumper` renders the *new* values a surgical edit inserts: it keeps YAML 1.1's
  resolvers, so a date-like string is quoted for every reader.
"""

from __future__ import annotations

import sys
from typing import Any

import yaml

from ..errors import InputError
from .load import _SafeLoader
from .split import Document, _line_end, _line_start

BaseDumper = getattr(yaml, "CSafeDumper", None) or yaml.SafeDumper


class DocumentDumper(BaseDumper):  # type: ignore[misc, valid-type]
    """Dumper for changed documents: literal blocks, no anchors, order kept. It resolves
    plain scalars as the loader does, so a timestamp-like string read plain is written
    plain again (Kubernetes reads both as strings) and a re-run changes nothing."""

    yaml_implicit_resolvers = _SafeLoader.yaml_implicit_resolvers

    def ignore_aliases(self, data):  # noqa: D102 - never write &id001 anchors
        return True


def _represent_str(dumper: yaml.BaseDumper, data: str):
    style = "|" if "\n" in data.rstrip("\n") or (data.endswith("\n") and len(data) > 1) else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", data, style=style)


DocumentDumper.add_representer(str, _represent_str)


#: PyYAML's representer recurses three Python frames per nesting level, and libyaml lets a
#: document nest 1,000 levels deep: dumping needs more than Python's default 1,000 frames.
_DUMP_RECURSION = 5_000


def dump_data(data: Any, line_break: str = "\n") -> str:
    """Write one document body (no `---`), the way changed documents are written."""
    limit = sys.getrecursionlimit()
    if limit < _DUMP_RECURSION:
        sys.setrecursionlimit(_DUMP_RECURSION)
    try:
        return yaml.dump(data, Dumper=DocumentDumper, sort_keys=False, allow_unicode=True,
                         width=1 << 30, default_flow_style=False, line_break=line_break)
    finally:
        sys.setrecursionlimit(limit)


def render_document(doc: Document, data: Any) -> str:
    """The text of `doc` with its body replaced by `data`, keeping its separator line,
    leading comments and trailing comments."""
    text = doc.text
    if doc.body_start < 0:
        return text
    body_line = _line_start(text, doc.body_start)
    prefix = text[:body_line]
    if body_line < doc.body_start and text[body_line:doc.body_start].strip():
        # body starts on the `---` line (e.g. `--- {a: 1}`): keep the marker on its own line
        prefix = text[:doc.body_start].rstrip(" ") + doc.line_break
    suffix = text[_line_end(text, doc.body_end):]
    try:
        body = dump_data(data, doc.line_break)
    except RecursionError:
        raise InputError("nesting too deep to write the changed document", source=doc.source,
                         document=doc.index, line=doc.first_line) from None
    if suffix and not body.endswith("\n"):
        body += doc.line_break
    return prefix + body + suffix


class ValueDumper(BaseDumper):  # type: ignore[misc, valid-type]
    """Renders new values for surgical edits: no `&id001` anchors, multi-line strings as
    literal blocks, and YAML 1.1's resolvers (see the module docstring)."""

    def ignore_aliases(self, data):  # noqa: D102 - never write &id001 anchors
        return True


def _represent_new_str(dumper: yaml.BaseDumper, data: str) -> yaml.ScalarNode:
    return dumper.represent_scalar("tag:yaml.org,2002:str", data, style="|" if "\n" in data else None)


ValueDumper.add_representer(str, _represent_new_str)
