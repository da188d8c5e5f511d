"""The pipeline: read -> find pod templates -> plan/apply -> emit policy objects -> write.

Plain functions over documents. A document that cannot hold a pod template (sniffed from
the parser's events, without building objects) is never loaded and is written back as the
exact text it came as; so is a document whose templates need no change. A KRM
ResourceList is unwrapped by the reader and wrapped again by the writer (:mod:`krm`): the
stages in between see its items as documents.
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
    inactive: dict[str, str] = field(default_factory=dict)  # profile controls not applied, and why


def render_changed(doc: yamlio.Document, data: Any, patch: list[dict]) -> str:
    """Text of a changed document: a surgical edit of its text when that is provably
    equal to `data`, otherwise the document re-emitted (leading/trailing comments kept)."""
    from .yamlio.textpatch import patch_text  # imported on the first changed document

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


@dataclass
class Stream:
    """What the reader hands on: the documents to harden and how the input was shaped."""

    bom: str
    documents: list[yamlio.Document]  # a ResourceList's items, or the stream's documents
    resource_list: "krm.ResourceList | None" = None

    @property
    def function_config(self) -> Any:
        """A ResourceList's functionConfig (None for a plain stream)."""
        return self.resource_list.function_config if self.resource_list else None


def read(sources: list[Source]) -> Stream:
    """Split the sources into one stream; a ResourceList becomes its items."""
    bom, docs = yamlio.split_sources(sources)
    rl = krm.read(docs)
    return Stream(bom, rl.items if rl else docs, rl)


def write(stream: Stream, results: list[ResourceResult], generated: list[str]) -> str:
    """The output in the input's shape: a stream, or a ResourceList."""
    if stream.resource_list is not None:
        return stream.resource_list.write(stream.bom, results, generated)
    return write_stream(stream.bom, stream.documents, results, generated)


def policy_stages(docs: list[yamlio.Document], results: list[ResourceResult], opts: Options) -> list[str]:
    """The policy stages: label the Namespace documents (their results are appended to
    `results`), then return the generated admission objects."""
    if (opts.emit or "").strip() == "none":
        return []
    from . import policy  # only runs that emit policy objects pay for the package

    run = policy.prepare(docs, results, opts)
    if run is None:
        return []
    results.extend(policy.label_namespaces(run))
    return policy.generate(run)


def run(sources: list[Source], opts: Options) -> Outcome:
    """Harden a stream made of `sources` and append the policy objects `opts` asks for."""
    return run_stream(read(sources), opts)


def run_stream(stream: Stream, opts: Options) -> Outcome:
    """read -> harden -> policy -> write, in the input's shape."""
    docs = stream.documents
    results = harden_documents(docs, opts)
    extra = policy_stages(docs, results, opts)
    output = write(stream, results, extra)
    return Outcome(output, results, docs, any(r.changes for r in results) or bool(extra), extra,
                   opts.profile.inactive)
