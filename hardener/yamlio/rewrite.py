"""Re-emit a changed document from its nodes, when no surgical edit is possible.

The fallback of :mod:`.textpatch` (a document with aliases or merge keys, a layout it does not
edit). The document is composed again and its node tree rebuilt for the new data: every
value that did not change keeps its node — its style, its quotes, its plain text — so no
reader reads it differently than before (`12:30:00` stays plain, `"1e3"` stays quoted), and
only new values are represented afresh (quoted where a reader would misread them). Aliases
are expanded (the data no longer shares them) and comments inside the body are lost: the
caller says so in the report.
"""

from __future__ import annotations

import copy
from typing import Any

import yaml

from .dump import Dumper, serialize_node
from .load import compose_text
from .likeness import Aligner, same

_MERGE = "tag:yaml.org,2002:merge"


class _Rebuilder:
    def __init__(self) -> None:
        self.dumper = Dumper(None)  # a representer for new values; never writes
        self.aligner = Aligner()

    def new(self, value: Any) -> yaml.Node:
        self.dumper.represented_objects = {}
        return self.dumper.represent_data(value)

    def build(self, node: yaml.Node, old: Any, new: Any) -> yaml.Node:
        if same(old, new):
            return copy.deepcopy(node)  # a fresh copy: shared (aliased) nodes are expanded
        if isinstance(node, yaml.MappingNode) and type(old) is dict and type(new) is dict \
                and len(node.value) == len(old) and not any(k.tag == _MERGE for k, _ in node.value):
            entries = {key: (k, v) for (k, v), key in zip(node.value, old)}
            pairs = []
            for key, value in new.items():
                if key in entries:
                    k, v = entries[key]
                    pairs.append((copy.deepcopy(k), self.build(v, old[key], value)))
                else:
                    pairs.append((self.new(key), self.new(value)))
            return yaml.MappingNode(node.tag, pairs, flow_style=node.flow_style)
        if isinstance(node, yaml.SequenceNode) and type(old) is list and type(new) is list \
                and len(node.value) == len(old):
            items = [None] * len(new)
            for step, i, j in self.aligner.align(old, new):
                if step == "pair":
                    items[j] = self.build(node.value[i], old[i], new[j])
                elif step == "ins":
                    items[j] = self.new(new[j])
            return yaml.SequenceNode(node.tag, items, flow_style=node.flow_style)
        return self.new(new)


def rewrite(body: str, new: Any, line_break: str = "\n") -> str:
    """The document body `body` (one document, no BOM) written anew for the data `new`.
    Raises yaml.YAMLError or ValueError when the body cannot be composed."""
    root, old = compose_text(body)
    if root is None:
        return serialize_node(_Rebuilder().new(new), line_break)
    return serialize_node(_Rebuilder().build(root, old, new), line_break)
