"""Line numbers in the input file of JSON pointers inside one document's text (the Helm
chart file a rendered document came from is read by inputs.chart_source)."""

from __future__ import annotations

from typing import Any

import yaml

from .. import yamlio
from ..kube.pointer import tokens as _tokens


class Lines:
    """Line numbers in the input file of JSON pointers inside one document's text."""

    def __init__(self, doc: yamlio.Document):
        self.doc = doc
        # the nodes its load kept (no second parse), else composed when first asked for
        self._root: Any = False if doc.node is None else doc.node

    @property
    def root(self) -> yaml.Node | None:
        if self._root is False:
            try:
                self._root = yaml.compose(self.doc.text, Loader=yamlio.BaseLoader) if self.doc.text else None
            except (yaml.YAMLError, RecursionError):  # the document loaded, so unlikely
                self._root = None
        return self._root

    def line(self, pointer: str) -> tuple[int, bool]:
        """(1-based line in the input file, whether the pointer's own node was found)."""
        node = self.root
        if node is None:
            return self.doc.first_line, False
        line = node.start_mark.line
        for token in _tokens(pointer):
            if isinstance(node, yaml.MappingNode):
                for key, value in node.value:
                    if isinstance(key, yaml.ScalarNode) and key.value == token:
                        line, node = key.start_mark.line, value
                        break
                else:
                    return line + self.doc.first_line, False
            elif isinstance(node, yaml.SequenceNode) and token.isdigit() and int(token) < len(node.value):
                node = node.value[int(token)]
                line = node.start_mark.line
            else:
                return line + self.doc.first_line, False
        return line + self.doc.first_line, True
