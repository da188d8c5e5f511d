"""Where manifests come from: stdin, files and directories, as named sources of text."""

from __future__ import annotations

import sys

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
