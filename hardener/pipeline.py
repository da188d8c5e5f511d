"""The pipeline: read -> find pod templates -> plan/apply -> emit policy objects -> write.

Plain functions over documents. A document that cannot hold a pod template (sniffed from
the parser's events, without building objects) is never loaded and is written back as the
exact text it came as; so is a document whose templates need no change.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from . import krm, yamlio
from .errors import HardenError
from .harden import harden_document, verify
from .inputs import Source
from .kube.workloads import WorkloadTable
from .options import Options
from .results import ResourceResult


class VerifyError(HardenError):
    """--verify found a pod template the profile should have brought to its level."""


@dataclass
class Outcome:
    """The result of a run: output text, per-resource results and the documents."""

    output: str
    results: list[ResourceResult]
    documents: list[yamlio.Document] = field(default_factory=list)
    changed: bool = False
    generated: list[str] = field(default_factory=list)  # policy documents appended


def render_changed(doc: yamlio.Document, data: Any, patch: list[dict]) -> str:
    """Text of a changed document: a surgical edit of its text when that is provably
    equal to `data`, otherwise the document re-emitted (leading/trailing comments kept)."""
    from .textpatch import patch_text  # imported on the first changed document

    if not doc.has_aliases:
        text = patch_text(doc.text, patch, data)
        if text is not None:
            return text
    return yamlio.render_document(doc, data)


def harden_documents(docs: list[yamlio.Document], opts: Options) -> list[ResourceResult]:
    """Plan and apply on every document that may hold a pod template; sets doc.data."""
    table = WorkloadTable(opts.profile.workloads)
    results: list[ResourceResult] = []
    for doc in docs:
        if doc.root != "mapping" or not table.may_contain(doc.kind):
            continue
        data = doc.load()
        results.extend(harden_document(data, doc.index, opts.profile, table, opts.kube,
                                       opts.assess or opts.verify))
    if opts.verify:
        problems = verify(results, opts.profile, opts.kube)
        if problems:
            raise VerifyError("--verify: the hardened output misses the profile's level:\n  "
                              + "\n  ".join(problems))
    return results


def write_stream(bom: str, docs: list[yamlio.Document], results: list[ResourceResult],
                 extra_docs: list[str] = ()) -> str:  # type: ignore[assignment]
    """Join the documents back: unchanged ones verbatim, changed ones re-rendered."""
    changed: dict[int, list[dict]] = {}
    for r in results:
        if r.changes:
            changed.setdefault(r.document, []).extend(c.as_patch() for c in r.changes)
    parts = [bom]
    for doc in docs:
        patch = changed.get(doc.index)
        parts.append(render_changed(doc, doc.data, patch) if patch else doc.text)
    out = "".join(parts)
    for text in extra_docs:
        if out and not out.endswith("\n"):
            out += "\n"
        out += text
    return out


def emit_policy(docs: list[yamlio.Document], results: list[ResourceResult], opts: Options) -> list[str]:
    """The policy stage: label Namespace documents and return the generated objects."""
    if (opts.emit or "").strip() == "none":
        return []
    from .policy import emit  # only runs that emit policy objects pay for the module

    return emit(docs, results, opts)


def run(sources: list[Source], opts: Options) -> Outcome:
    """Harden a stream made of `sources` and append the policy objects `opts` asks for."""
    bom, docs = yamlio.split_sources(sources)
    return run_documents(bom, docs, opts)


def run_documents(bom: str, docs: list[yamlio.Document], opts: Options) -> Outcome:
    """Harden split documents; a KRM ResourceList comes back as a ResourceList."""
    if krm.is_resource_list(docs):
        return _run_resource_list(bom, docs, opts)
    results = harden_documents(docs, opts)
    extra = emit_policy(docs, results, opts)
    output = write_stream(bom, docs, results, extra)
    return Outcome(output, results, docs, any(r.changes for r in results) or bool(extra), extra)


def _run_resource_list(bom: str, docs: list[yamlio.Document], opts: Options) -> Outcome:
    rl_doc = next(d for d in docs if d.root != "empty")
    data, items = krm.item_documents(rl_doc)
    results = harden_documents(items, opts)
    extra = emit_policy(items, results, opts)
    for text in extra:
        data["items"].append(yamlio.load_data(text, "generated"))
    previous = data.get("results") if isinstance(data.get("results"), list) else []
    data["results"] = previous + krm.results_for(results, items)
    output = bom + "".join(yamlio.render_document(d, data) if d is rl_doc else d.text for d in docs)
    return Outcome(output, results, items, any(r.changes for r in results) or bool(extra), extra)
