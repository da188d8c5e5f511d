"""Where manifests come from: stdin, files and directories, as named sources of text, and
the file each document was rendered from (Helm's chart file, a KRM item's path)."""

from __future__ import annotations

import re
import sys
from typing import Any

from .errors import InputError, UsageError
from .record import Record

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


def chart_path(value: str) -> bool:
    """A path as Helm writes it (CHART/templates/FILE): relative, with a directory, no URL."""
    return "/" in value and not value.startswith("/") and "://" not in value


def helm_source_comment(doc) -> tuple[str, int] | None:
    """Helm 3's `# Source:` comment among the comment lines before a yamlio.Document's first
    node: (the chart file, its line within the document's text, from 0)."""
    head = doc.text if doc.body_start < 0 else doc.text[:doc.body_start]
    if "Source:" not in head:
        return None
    found = None
    for m in _SOURCE_COMMENT.finditer(head):
        found = m  # the last one: it is the nearest to the body
    if found is None or not chart_path(found.group(1)):
        return None
    return found.group(1), head.count("\n", 0, found.start())


def origin(doc, resource: Any) -> str | None:
    """The file a resource was rendered from, as the tool before us names it, for reports
    that would otherwise name only a temporary file or a ResourceList: a KRM item's path
    annotation (kpt, kustomize), Helm 4's filename annotation, Helm 3's `# Source:` comment."""
    from .kube import names
    from .kube.podspec import dig

    ann = dig(resource, "metadata", "annotations")
    if isinstance(ann, dict):
        for key in (*names.KRM_PATH, names.HELM4_FILENAME):
            value = ann.get(key)
            if isinstance(value, str) and value.strip():
                return value.strip()
    found = helm_source_comment(doc) if doc is not None and doc.text else None
    return found[0] if found else None
