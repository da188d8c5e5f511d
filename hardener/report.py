"""The change report on stderr: text for people, one JSON object for tools."""

from __future__ import annotations

from typing import Any, Iterator

from .results import MALFORMED, ResourceResult


def summary(results: list[ResourceResult], documents: int) -> dict[str, Any]:
    templates = sum(len(r.templates) for r in results)
    return {
        "documents": documents,
        "podTemplates": templates,
        "resourcesChanged": sum(1 for r in results if r.changes),
        "changes": sum(len(r.changes) for r in results),
        "resourcesWithSkips": sum(1 for r in results if r.skipped),
        "skipped": sum(len(r.skipped) for r in results),
        "warnings": sum(len(r.warnings) for r in results),
    }


def as_json(results: list[ResourceResult], documents: int, extra: dict | None = None) -> str:
    """The JSON report: one object, ``{"resources": [...], "summary": {...}}``."""
    return "".join(json_chunks(results, documents, extra))


def json_chunks(results: list[ResourceResult], documents: int, extra: dict | None = None) -> Iterator[str]:
    """The JSON report in pieces, one resource at a time (the bytes `json.dumps` writes for
    the whole object): a report of every change of a large stream is several times the
    stream, and is never held whole."""
    import json  # not on the summary's path (cold start)

    yield '{"resources": ['
    sep = ""
    for r in results:
        if r.changes or r.skipped or r.warnings:
            yield sep + json.dumps(_json_entry(r), default=str)
            sep = ", "
    yield '], "summary": ' + json.dumps({**summary(results, documents), **(extra or {})}, default=str) + "}"


def _json_entry(r: ResourceResult) -> dict[str, Any]:
    entry = {
        "document": r.document, "source": r.source or "<stdin>",
        "sourceDocument": r.source_index if r.source_index >= 0 else r.document,
        "apiVersion": r.api_version, "kind": r.kind,
        "namespace": r.namespace, "name": r.name,
        "changes": [{"control": c.control, "op": c.op, "path": c.path, "value": c.value,
                     **({"container": c.container} if c.container else {}),
                     "reason": c.reason} for c in r.changes],
        "skipped": [{"control": s.control, "container": s.container, "kind": s.kind,
                     "check": s.check, "reason": s.reason} for s in r.skipped],
        "warnings": [{"control": w.control, "container": w.container, "message": w.message,
                      **({"image": w.image} if getattr(w, "image", None) else {})}
                     for w in r.warnings],
    }
    if r.pointer:
        entry["item"] = r.pointer
    if r.origin:
        entry["origin"] = r.origin
    entry.update(r.extra)
    return entry


def _head(r: ResourceResult) -> str:
    head = f"{r.ref} ({r.where}): {len(r.changes)} change(s), {len(r.skipped)} skipped"
    head += f", {len(r.warnings)} warning(s)" if r.warnings else ""
    if "pss" in r.extra:
        head += f", PSS {r.extra['pss']['before']} -> {r.extra['pss']['after']}"
    malformed = [s.reason for s in r.skipped if s.kind == MALFORMED]
    if malformed:
        head += f", not hardened: {malformed[0]}" + (f" (+{len(malformed) - 1} more)" if len(malformed) > 1 else "")
    return head


def _footer(results: list[ResourceResult], documents: int) -> str:
    s = summary(results, documents)
    return (f"k8s-harden: {s['documents']} document(s), {s['podTemplates']} pod template(s): "
            f"{s['changes']} change(s) in {s['resourcesChanged']} resource(s), "
            f"{s['skipped']} skipped in {s['resourcesWithSkips']} resource(s)"
            + (f", {s['warnings']} warning(s)" if s["warnings"] else ""))


def as_summary(results: list[ResourceResult], documents: int, extra_lines: list[str] = ()) -> str:  # type: ignore[assignment]
    """One line per resource with changes, skips or warnings, then the totals: what a Helm
    install shows on stderr (every change: `--report text`)."""
    lines = [_head(r) for r in results if r.changes or r.skipped or r.warnings]
    return "\n".join([*lines, _footer(results, documents), *extra_lines]) + "\n"


def as_text(results: list[ResourceResult], documents: int, extra_lines: list[str] = ()) -> str:  # type: ignore[assignment]
    """Every change, skip and warning of every resource, then the totals."""
    return "".join(text_chunks(results, documents, extra_lines))


def text_chunks(results: list[ResourceResult], documents: int,
                extra_lines: list[str] = ()) -> Iterator[str]:  # type: ignore[assignment]
    """:func:`as_text` one line at a time (each ending in a line break): never held whole."""
    import json  # not on the summary's path (cold start)

    for r in results:
        if not (r.changes or r.skipped or r.warnings):
            continue
        yield _head(r) + "\n"
        for c in r.changes:
            who = f" [{c.container}]" if c.container else ""
            yield f"  {c.op:7} {c.path} = {json.dumps(c.value, default=str)}  ({c.control}{who}: {c.reason})\n"
        for s in r.skipped:
            who = f" [{s.container}]" if s.container else ""
            check = f" (PSS {s.check})" if s.check else ""
            yield f"  skipped {s.control}{who}{check}: {s.reason}\n"
        for w in r.warnings:
            who = f" [{w.container}]" if w.container else ""
            yield f"  warning {w.control}{who}: {w.message}\n"
    yield _footer(results, documents) + "\n"
    for line in extra_lines:
        yield line + "\n"
