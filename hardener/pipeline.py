"""The pipeline: read -> find pod templates -> plan/apply -> emit policy objects -> write.

Plain functions over documents. A document that cannot hold a pod template (sniffed from
the parser's events, without building objects) is never loaded and is written back as the
exact text it came as; so is a document whose templates need no change. A KRM
ResourceList is unwrapped by the reader and wrapped again by the writer (:mod:`krm`): the
stages in between see its items as documents.
"""

from __future__ import annotations

from typing import Any

from . import yamlio
from .errors import HardenError, InputError
from .harden import harden_document, verify
from .inputs import Source, origin
from .kube import names
from .kube.pointer import resolve
from .kube.workloads import WorkloadTable
from .options import Options
from .record import Record
from .shapes import ShapeCache
from .results import MALFORMED, ResourceResult, Warning


class VerifyError(HardenError):
    """--verify found a pod template the profile should have brought to its level."""


class Outcome(Record):
    """The result of a run: output text, per-resource results and the documents; whether
    anything `changed`; the policy documents appended (`generated`); the profile controls
    not applied, and why (`inactive`); the (source, text) `pieces` of the output; `notes`,
    what the user should know (stderr)."""

    _fields = ("output", "results", "documents", "changed", "generated", "inactive", "pieces", "notes")

    def __init__(self, output: str | None, results: list[ResourceResult], documents: list | None = None,
                 changed: bool = False, generated: list[str] | None = None,
                 inactive: dict[str, str] | None = None, pieces: list[tuple[str, str]] | None = None,
                 notes: list[str] | None = None) -> None:
        self._output, self.results, self.changed = output, results, changed
        self.documents = [] if documents is None else documents
        self.generated = [] if generated is None else generated
        self.inactive = {} if inactive is None else inactive
        self.pieces = [] if pieces is None else pieces
        self.notes = [] if notes is None else notes
        self.spooled: Any = None  # the binary file holding the output (a spooled run)

    @property
    def output(self) -> str:
        """The output text (joined from `pieces` when first asked for: the CLI writes the
        pieces one by one and never holds a second copy of the stream)."""
        if self._output is None:
            if self.spooled is not None:
                self.spooled.seek(0)
                return self.spooled.read().decode("utf-8", "surrogateescape")
            self._output = "".join(self.texts())
        return self._output

    def texts(self):
        """The output's texts in order (a piece's text may be a list of texts: a
        ResourceList's, whose results are thousands of shared strings)."""
        for _, text in self.pieces:
            if isinstance(text, str):
                yield text
            else:
                yield from text


class _Dropped:
    """Stands for a PodTemplate whose data a lean run let go once its document was written,
    or for a change, skip or warning the report will only count (the summary's totals;
    a skip it names, a malformed one, is kept)."""

    __slots__ = ()
    kind = None  # as a Skip's: never MALFORMED


_DROPPED = _Dropped()

#: Plan each template shape once per run (hardener.shapes); tests turn it off to compare.
PLAN_BY_SHAPE = True


def harden_documents(docs: list[yamlio.Document], opts: Options,
                     rendered: dict[int, str] | None = None, count_changes: bool = False,
                     spool: Any = None, keep_data: bool = False) -> list[ResourceResult]:
    """Plan and apply on every document that may hold a pod template; sets doc.data. With
    `rendered`, each changed document is rendered right away into `rendered` (index ->
    text) from the nodes its load kept (no second parse). Unless `keep_data` (a later stage
    reads the documents: the policy objects, --verify), its data is let go then (a lean
    run), so memory holds one document's data at a time, not the stream's; with
    `count_changes` too (a report that only counts them), its changes are let go as well;
    with `spool` too (a binary file), every document's output text goes there, in order, as
    soon as it is known, and the document lets its text go."""
    table = WorkloadTable(opts.profile.workloads)
    shapes = ShapeCache() if PLAN_BY_SHAPE else None
    results: list[ResourceResult] = []
    images = None
    if opts.images is not None:
        from .images.lookup import resolve_stream  # only runs with --images pay for it

        images = resolve_stream(docs, table, opts.images)
    for doc in docs:
        if not table.may_hold(doc):
            if spool is not None:
                spool.write(doc.text.encode("utf-8", "surrogateescape"))
                doc.text = ""
            continue
        data = doc.load(keep_node=rendered is not None)  # rendered right away: keep the nodes
        if doc.has_aliases:
            # an alias is the same object as its anchor: unshare before planning, so a change
            # (or an opt-out) of one workload never reaches another through it
            from .results import json_copy

            data = doc.data = json_copy(data)
        found = harden_document(data, doc.index, opts.profile, table, opts.kube, opts.assess or opts.verify,
                                doc=doc, images=images, shapes=shapes)
        for r in found:
            r.source, r.source_index = (doc.parent or doc).source, (doc.parent or doc).index_in_source
            if r.changes or r.skipped or r.warnings:  # reported: say where it came from
                r.origin = origin(doc, resolve(data, r.pointer) if r.pointer else data)
            if doc.parent is not None:  # a ResourceList item: named as audit names it (items/N)
                r.pointer = doc.pointer + r.pointer
        results.extend(found)
        if rendered is not None:
            patch = [c.as_patch(copy=False) for r in found for c in r.changes]  # read only
            if patch:
                rendered[doc.index] = _render(doc, patch, found)
            doc.node = None
            if keep_data:
                continue
            if patch:
                doc.text = ""  # its output is `rendered`; nothing reads the input's text again
            # a ResourceList item keeps its metadata: the writer's results name its file
            item = doc.parent is not None and isinstance(data, dict)
            doc.data, doc.loaded = ({"metadata": data.get("metadata")} if item else None), False
            for r in found:
                r.templates = [_DROPPED] * len(r.templates)
                r.template_skips = {}  # read by --verify only
                if count_changes:
                    r.changes = [_DROPPED] * len(r.changes)  # type: ignore[list-item]
                    r.warnings = [_DROPPED] * len(r.warnings)  # type: ignore[list-item]
                    r.skipped = [s if s.kind == MALFORMED else _DROPPED for s in r.skipped]  # type: ignore[misc]
            if spool is not None:
                text = rendered.pop(doc.index, None)
                spool.write((doc.text if text is None else text).encode("utf-8", "surrogateescape"))
                doc.text = ""
    if opts.verify:
        problems = verify(results, opts.profile, opts.kube)
        if problems:
            raise VerifyError("--verify: the hardened output misses the profile's level:\n  "
                              + "\n  ".join(problems))
    return results


GENERATED = "generated"  # the source name of the policy objects in Outcome.pieces


def _render(doc: yamlio.Document, patch: list[dict], results: list[ResourceResult]) -> str:
    """The text of a changed document; a fidelity warning on its first result when comments
    inside it were lost."""
    text, lost = yamlio.render_changed(doc, doc.data, patch)
    if lost and "#" in doc.text:  # only when there were comments to lose
        first = next(r for r in results if r.document == doc.index)
        first.warnings.append(Warning("fidelity", lost))
    return text


def render_documents(docs: list[yamlio.Document], results: list[ResourceResult],
                     dropped: set[int] = frozenset(),  # type: ignore[assignment]
                     rendered: dict[int, str] | None = None) -> list[tuple[str, str]]:
    """(source, text) of every document in order: unchanged ones verbatim, changed ones
    re-rendered (or as `rendered` already holds them), `dropped` ones (generated by an
    earlier pass, being replaced) left out."""
    texts = changed_texts(docs, results, rendered, dropped)
    return [(doc.source, texts[doc.index] if doc.index in texts else doc.text)
            for doc in docs if doc.index not in dropped]


def changed_texts(docs: list[yamlio.Document], results: list[ResourceResult],
                  rendered: dict[int, str] | None,
                  dropped: set[int] = frozenset()) -> dict[int, str]:  # type: ignore[assignment]
    """Index -> new text of every changed document but the `dropped` (as `rendered` holds
    it, or rendered now, in order, and added to it)."""
    out = {} if rendered is None else rendered
    patches: dict[int, list[dict]] = {}
    for r in results:
        if r.changes and r.document not in out:
            patches.setdefault(r.document, []).extend(c.as_patch(copy=False) for c in r.changes)
    if patches:
        for doc in docs:
            patch = patches.get(doc.index)
            if patch and doc.index not in dropped:
                out[doc.index] = _render(doc, patch, results)
    return out


def join(pieces: list[tuple[str, str]], generated: list[str]) -> list[tuple[str, str]]:
    """`pieces` then the generated objects, each piece ending in a line break before the next."""
    out = list(pieces)
    for text in generated:
        if out and out[-1][1] and not out[-1][1].endswith("\n"):
            out[-1] = (out[-1][0], out[-1][1] + "\n")
        out.append((GENERATED, text))
    return out


def write_stream(bom: str, docs: list[yamlio.Document], results: list[ResourceResult],
                 extra_docs: list[str] = (), dropped: set[int] = frozenset()) -> str:  # type: ignore[assignment]
    """Join the documents back (see :func:`render_documents`), the generated ones last."""
    return bom + "".join(text for _, text in join(render_documents(docs, results, dropped), list(extra_docs)))


class Stream(Record):
    """What the reader hands on: the documents to harden (a ResourceList's items, or the
    stream's documents) and how the input was shaped (`resource_list`: the
    krm.ResourceList the input was, or None)."""

    _fields = ("bom", "documents", "resource_list")

    def __init__(self, bom: str, documents: list[yamlio.Document],
                 resource_list: Any = None) -> None:
        self.bom, self.documents, self.resource_list = bom, documents, resource_list

    @property
    def function_config(self) -> Any:
        """A ResourceList's functionConfig (None for a plain stream)."""
        return self.resource_list.function_config if self.resource_list else None


def read(sources: list[Source]) -> Stream:
    """Split the sources into one stream; a ResourceList becomes its items."""
    bom, docs = yamlio.split_sources(sources)
    rl = None
    if any(d.kind == "ResourceList" for d in docs):  # only a KRM function's input pays for krm
        from . import krm

        rl = krm.read(docs)
    return Stream(bom, rl.items if rl else docs, rl)


def require_objects(docs: list[yamlio.Document]) -> None:
    """Raise InputError at the first document that is not a Kubernetes object: a shell pipe
    hands on whatever the command before it printed, and `Error: chart "x" not found` is a
    YAML mapping too — it must not pass for a manifest (nor a CI guard pass on it)."""
    for d in docs:
        if not is_object(d):
            raise _not_an_object(d)


def is_object(doc: yamlio.Document) -> bool:
    """Is the document empty, or a mapping with a `kind` (a string)? One without apiVersion
    is still an object, a broken one: a workload's is reported malformed, never hardened.
    Cheap: the split sniffed `kind`; only a document it could not read it from is loaded."""
    if doc.root == "empty" or (doc.root == "mapping" and doc.kind):
        return True
    if doc.root == "sequence":
        return False
    if doc.root == "scalar":
        return is_empty(doc)
    data = doc.load()
    return isinstance(data, dict) and isinstance(data.get("kind"), str) and bool(data["kind"])


def is_empty(doc: yamlio.Document) -> bool:
    """No node, or a null scalar: `---` alone, `~` (what a template whose `if` is false
    renders). Not counted as a document in the report."""
    return doc.root == "empty" or (doc.root == "scalar" and doc.load() is None)


def _not_an_object(doc: yamlio.Document) -> InputError:
    start = max(doc.body_start, 0)
    line = doc.first_line + doc.text.count("\n", 0, start)
    first = doc.text[start:].split("\n", 1)[0].strip()
    shown = first if len(first) <= 60 else first[:57] + "..."
    return InputError(f"not a Kubernetes object (a {doc.root} without kind): {shown!r}. Output of a command "
                      "that failed upstream? Use `set -o pipefail`; pass --allow-non-objects to let such "
                      "documents through unchanged", source=(doc.parent or doc).source,
                      document=(doc.parent or doc).index_in_source, line=line)


def _generated_changed(docs: list[yamlio.Document], dropped: set[int], generated: list[str]) -> bool:
    """Do the generated objects differ from those an earlier pass left (`dropped`)? Compared
    as data, without the orchestrator's bookkeeping annotations (kpt adds them to items)."""
    import json

    def canon(data: Any) -> str:
        meta = data.get("metadata") if isinstance(data, dict) else None
        ann = meta.get("annotations") if isinstance(meta, dict) else None
        if isinstance(ann, dict):
            kept = {k: v for k, v in ann.items()
                    if not (isinstance(k, str) and k.startswith(names.KRM_BOOKKEEPING))}
            data = {**data, "metadata": {**meta, "annotations": kept}}
            if not kept:
                del data["metadata"]["annotations"]
        return json.dumps(data, sort_keys=True, default=str)

    old = sorted(canon(d.load()) for d in docs if d.index in dropped)
    return old != sorted(canon(yamlio.load_data(t, "generated")) for t in generated)


def write(stream: Stream, results: list[ResourceResult], generated: list[str],
          dropped: set[int], changed: bool = True,
          rendered: dict[int, str] | None = None) -> list[tuple[str, str]]:
    """The output in the input's shape, as (source, text) pieces: a stream's documents and
    the generated objects, or one ResourceList, whose text is a list of texts (as it came
    when nothing `changed`: the results of the run that hardened it stay, so a second run
    gives the same bytes)."""
    if stream.resource_list is not None:
        rl = stream.resource_list
        if not changed:
            return [(rl.doc.source, stream.bom + "".join(d.text for d in rl.documents))]
        texts = changed_texts(stream.documents, results, rendered) if rl.cut is not None else None
        return [(rl.doc.source, rl.write(stream.bom, results, generated, dropped, texts))]
    pieces = join(render_documents(stream.documents, results, dropped, rendered), generated)
    if pieces and stream.bom:
        pieces[0] = (pieces[0][0], stream.bom + pieces[0][1])
    return pieces


#: What the policy stages may read or replace: Namespace documents (labelled) and the kinds
#: of object an earlier pass generated (policy.GENERATED_KINDS, which a test keeps in step).
POLICY_KINDS = frozenset({"Namespace", "PodSecurityPolicy", "ClusterRole", "RoleBinding", "ClusterRoleBinding",
                          "ValidatingAdmissionPolicy", "ValidatingAdmissionPolicyBinding",
                          "MutatingAdmissionPolicy", "MutatingAdmissionPolicyBinding"})


def _nothing_to_emit(docs: list[yamlio.Document], opts: Options) -> bool:
    """`--emit auto` on a version without PodSecurityPolicy means pss-labels alone: with no
    Namespace document to label and none an earlier pass generated, the stages would emit
    nothing (and say nothing), so the policy package is not even imported (cold start).
    Not when they would load a document nothing else loaded (a Helm hook or Helm 4 file
    annotation in its text): its load may refuse it (a duplicate key), and must still."""
    from .kube.versions import PSP_REMOVED

    if (opts.emit or "auto").strip() != "auto" or opts.kube < PSP_REMOVED:
        return False
    for d in docs:
        if d.root != "mapping":
            continue
        if d.kind == "Namespace":
            return False
        if d.kind in POLICY_KINDS and (d.loaded or names.GENERATOR in d.text):
            return False  # may be an earlier pass's object (policy.generated_earlier)
        if not d.loaded and (names.HELM_HOOK in d.text or names.HELM4_FILENAME in d.text):
            return False
    return True


def _policy_stages_run(docs: list[yamlio.Document], opts: Options) -> bool:
    """Is there a policy stage to run: `--emit` is not none, and something to emit?"""
    return (opts.emit or "").strip() != "none" and not _nothing_to_emit(docs, opts)


def policy_stages(docs: list[yamlio.Document], results: list[ResourceResult],
                  opts: Options) -> tuple[list[str], set[int], list[str]]:
    """The policy stages (when :func:`_policy_stages_run`): label the Namespace documents
    (their results are appended to `results`), then the generated admission objects, the
    indexes of the documents they replace (what an earlier pass generated) and notes for
    the user."""
    from . import policy  # only runs that emit policy objects pay for the package

    run = policy.prepare(docs, results, opts)
    if run is None:
        return [], set(), []
    results.extend(policy.label_namespaces(run))
    return policy.generate(run), {d.index for d in run.replaced}, run.notes


def run(sources: list[Source], opts: Options) -> Outcome:
    """Harden a stream made of `sources` and append the policy objects `opts` asks for."""
    return run_stream(read(sources), opts)


def run_stream(stream: Stream, opts: Options, lean: bool = False, count_changes: bool = False,
               spool: Any = None) -> Outcome:
    """read -> harden -> policy -> write, in the input's shape. `lean` (the CLI): when no
    later stage reads the documents' data (a plain stream, no --verify, no policy stage to
    run), each document is rendered as soon as it is hardened and its data let go; the
    results then count their pod templates but no longer hold them (and, with
    `count_changes`, for a report that only counts changes, their changes). `spool` (a
    binary file; lean runs only): the output goes there, UTF-8, as it is made, and
    Outcome.spooled says whether it did (then Outcome.pieces is empty)."""
    docs = stream.documents
    plain = stream.resource_list is None
    read_later = opts.verify or _policy_stages_run(docs, opts)
    # each changed document of a plain stream (or item of a cut ResourceList) is rendered as
    # soon as it is hardened, from the nodes its load kept; its data is let go too unless
    # something reads it later (a ResourceList's writer does)
    rendered: dict[int, str] | None = {} if plain or stream.resource_list.cut is not None else None
    keep_data = not (lean and rendered is not None) or read_later
    if keep_data or not plain:  # a ResourceList is written whole, its results from every change
        spool = None
        count_changes = False
    if spool is not None:
        spool.write(stream.bom.encode("utf-8"))
    results = harden_documents(docs, opts, rendered, count_changes, spool, keep_data)
    # a lean run has no policy stage; any other decides on the documents as hardening left them
    policy = keep_data and _policy_stages_run(docs, opts)
    hardened = len(results)
    extra, dropped, notes = policy_stages(docs, results, opts) if policy else ([], set(), [])
    if rendered:
        for r in results[hardened:]:
            if r.changes:  # a document the policy stage changed too (a List's Namespace item)
                rendered.pop(r.document, None)
    if dropped and not _generated_changed(docs, dropped, extra):
        extra, dropped = [], set()  # an earlier pass's objects are current: they stay as they are
    changed = any(r.changes for r in results) or bool(extra) or bool(dropped)
    if spool is not None:
        assert not extra and not dropped  # a lean run has no policy stage
        out = Outcome(None, results, docs, changed, extra, opts.profile.inactive, [], notes)
        out.spooled = spool
        return out
    pieces = write(stream, results, extra, dropped, changed, rendered)
    return Outcome(None, results, docs, changed, extra, opts.profile.inactive, pieces, notes)
