"""Line numbers in the input file of JSON pointers inside one document's text, and the
Helm chart file a rendered document came from."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import yaml

from .. import yamlio
from ..inputs import chart_path, helm_source_comment
from ..kube import names
from ..kube.podspec import dig
from ..kube.pointer import tokens as _tokens

@dataclass(frozen=True)
class ChartSource:
    """The chart file a rendered resource came from, and how to count lines in it.

    A rendered document is not its template (`{{ }}` blocks, `include`s and `if`s are gone),
    so a line in the chart file is an approximation: the line inside the rendered document,
    counted from Helm's header. ``line_in_chart(n) = n - base``: the first line after the
    `# Source:` comment is line 1 (Helm 3); with only Helm 4's filename annotation, the
    resource's first line is line 1."""

    file: str  # as Helm names it: CHART/templates/FILE.yaml (or CHART/charts/SUB/templates/...)
    base: int  # input line that counts as line 0 of the chart file

    def line(self, line: int) -> int:
        return max(1, line - self.base)


def source_comment(doc: yamlio.Document) -> ChartSource | None:
    """Helm 3's `# Source:` comment among the comment lines before the document's first node."""
    found = helm_source_comment(doc)
    return ChartSource(found[0], doc.first_line + found[1]) if found else None


def chart_source(doc: yamlio.Document, resource: Any, resource_line: int) -> ChartSource | None:
    """Where a rendered resource came from in its chart: Helm 3's `# Source:` comment of its
    document, else Helm 4's `postrenderer.helm.sh/postrender-filename` annotation (on the
    resource, else on its document's root) with lines counted from the resource's first line."""
    found = source_comment(doc)
    if found is not None:
        return found
    for obj in (resource, doc.data if doc.loaded else None):
        value = dig(obj, "metadata", "annotations", names.HELM4_FILENAME)
        if isinstance(value, str) and chart_path(value.strip()):
            return ChartSource(value.strip(), resource_line - 1)
    return None


class Lines:
    """Line numbers in the input file of JSON pointers inside one document's text."""

    def __init__(self, doc: yamlio.Document):
        self.doc = doc
        self._root: Any = False

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
