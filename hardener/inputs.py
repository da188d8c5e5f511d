"""Where manifests come from: stdin, files and directories, as named sources of text, and
the file each document was rendered from (Helm's chart file, a KRM item's path)."""

from __future__ import annotations

import re
import sys
from typing import Any

from .errors import InputError, UsageError
from .record import FrozenRecord, Record

#: File suffixes read from a directory (recursively, in sorted order).
MANIFEST_SUFFIXES = (".yaml", ".yml", ".json")


class Source(Record):
    """One input: its name (a path, or `<stdin>`) and its text (already decoded)."""

    __slots__ = _fields = ("name", "text")

    def __init__(self, name: str, text: str) -> None:
        self.name, self.text = name, text


def read_inputs(filenames: tuple[str, ...]) -> list[Source]:
    """Read stdin, files and directories (recursively, *.yaml/*.yml/*.json, sorted)."""
    from pathlib import Path

    from .yamlio import decode

    if not filenames:
        if sys.stdin is None or sys.stdin.isatty():
            raise UsageError("no input: pipe manifests to stdin or pass -f FILE")
        filenames = ("-",)
    sources = []
    for name in filenames:
        if name == "-":
            sources.append(Source("<stdin>", decode(sys.stdin.buffer.read(), "<stdin>")))
            continue
        path = Path(name)
        files = sorted(p for p in path.rglob("*") if p.suffix in MANIFEST_SUFFIXES
                       and p.is_file()) if path.is_dir() else [path]
        for f in files:
            try:
                raw = f.read_bytes()
            except OSError as exc:
                raise InputError(f"cannot read: {exc.strerror}", source=str(f)) from None
            sources.append(Source(str(f), decode(raw, str(f))))
    return sources


#: `helm template` (Helm 3) starts every document with `# Source: CHART/templates/FILE`.
_SOURCE_COMMENT = re.compile(r"^#[ \t]*Source:[ \t]*(\S(?:.*\S)?)[ \t]*\r?$", re.M)


class ChartSource(FrozenRecord):
    """The chart file a rendered resource came from, and how to count lines in it.

    A rendered document is not its template (`{{ }}` blocks, `include`s and `if`s are gone),
    so a line in the chart file is an approximation: the line inside the rendered document,
    counted from Helm's header. ``line_in_chart(n) = n - base``: the first line after the
    `# Source:` comment is line 1 (Helm 3); with only Helm 4's filename annotation, the
    resource's first line is line 1. `file`: as Helm names it, CHART/templates/FILE.yaml (or
    CHART/charts/SUB/templates/...); `base`: the input line that counts as line 0 of it."""

    __slots__ = _fields = ("file", "base")

    def __init__(self, file: str, base: int) -> None:
        self._init(file, base)

    def line(self, line: int) -> int:
        return max(1, line - self.base)


def _chart_path(value: str) -> bool:
    """A path as Helm writes it (CHART/templates/FILE): relative, with a directory, no URL."""
    return "/" in value and not value.startswith("/") and "://" not in value


def _source_comment(doc) -> ChartSource | None:
    """Helm 3's `# Source:` comment among the comment lines before a yamlio.Document's first node."""
    head = doc.text if doc.body_start < 0 else doc.text[:doc.body_start]
    if "Source:" not in head:
        return None
    found = None
    for m in _SOURCE_COMMENT.finditer(head):
        found = m  # the last one: it is the nearest to the body
    if found is None or not _chart_path(found.group(1)):
        return None
    return ChartSource(found.group(1), doc.first_line + head.count("\n", 0, found.start()))


def chart_source(doc, resource: Any, resource_line: int) -> ChartSource | None:
    """Where a rendered resource came from in its chart: Helm 3's `# Source:` comment of its
    document, else Helm 4's `postrenderer.helm.sh/postrender-filename` annotation (on the
    resource, else on its document's root) with lines counted from the resource's first line."""
    from .kube import names
    from .kube.podspec import dig

    found = _source_comment(doc) if doc.text else None
    if found is not None:
        return found
    for obj in (resource, doc.data if doc.loaded else None):
        value = dig(obj, "metadata", "annotations", names.HELM4_FILENAME)
        if isinstance(value, str) and _chart_path(value.strip()):
            return ChartSource(value.strip(), resource_line - 1)
    return None


def krm_path(metadata: Any) -> str | None:
    """The path kpt or kustomize gave a ResourceList item (its path annotation)."""
    from .kube import names

    ann = metadata.get("annotations") if isinstance(metadata, dict) else None
    if not isinstance(ann, dict):
        return None
    value = next((ann[k] for k in names.KRM_PATH if ann.get(k)), None)
    return None if value is None else str(value)


def origin(doc, resource: Any) -> str | None:
    """The file a resource was rendered from, as the tool before us names it, for reports
    that would otherwise name only a temporary file or a ResourceList: a KRM item's path
    annotation (kpt, kustomize), else its chart file (:func:`chart_source`, as audit names it)."""
    found = krm_path(resource.get("metadata")) if isinstance(resource, dict) else None
    if found:
        return found
    chart = chart_source(doc, resource, 0)
    return chart.file if chart else None
