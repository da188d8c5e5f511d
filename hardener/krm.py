"""KRM functions: the `ResourceList` a kpt or kustomize function reads and writes.

The reader and the writer at the two ends of the pipeline, and nothing in between sees a
ResourceList: :func:`read` turns one into its items (each a Document that knows its place
in the list), :meth:`ResourceList.write` answers with a `ResourceList` (KRM Functions
Specification): items hardened in place, generated policy objects appended to items, and
one `results` entry per change and per skip. Its `functionConfig` is read by
:mod:`hardener.config`.
"""

from __future__ import annotations

import re
from typing import Any

import yaml

from . import yamlio
from .errors import InputError
from .inputs import krm_path
from .kube import names
from .kube.pointer import field_path
from .yamlio import items
from .yamlio.textpatch import blocks_of

RESOURCE_LIST_VERSIONS = ("config.kubernetes.io/v1", "config.kubernetes.io/v1alpha1")


#: Cut a block-style list's items apart by their text (hardener.yamlio.items); tests turn
#: it off to compare with the list read whole.
CUT_ITEMS = True


class ResourceList:
    """A ResourceList read from the input: its document, data and items.

    Its items are cut apart by their text where that is exact (:mod:`hardener.yamlio.items`):
    then `data` is the skeleton's (the list with one marker item), each item a document of
    its own text, and only what the run changes is read and edited. Otherwise (a flow or
    JSON list, an entry the cut cannot move), or where the writer needs the whole list
    (generated objects to add), the list is read whole and edited as one document."""

    def __init__(self, documents: list[yamlio.Document], rl_doc: yamlio.Document):
        self.documents = documents  # every document of the input (the list and empty ones)
        self.doc = rl_doc
        self.cut = self._cut(rl_doc) if CUT_ITEMS else None
        if self.cut is not None:
            self.items = self.cut.docs
            return
        self.data = rl_doc.load(keep_node=True)  # the writer edits its text from the nodes
        self.items = self._whole_items()

    def _cut(self, rl_doc: yamlio.Document) -> Any:
        found = items.cut(rl_doc)
        if found is None:
            return None
        skeleton = yamlio.Document(0, rl_doc.source, found.skeleton, rl_doc.first_line, root="mapping",
                                   index_in_source=rl_doc.index_in_source)
        try:
            data = skeleton.load(keep_node=True)
        except InputError:
            return None  # the whole list's read says what is wrong, if anything
        if not isinstance(data, dict) or data.get("items") != [items.MARKER] \
                or found.skeleton.count(items.MARKER) != 1:
            return None
        self.skeleton, self.data = skeleton, data
        return found

    def _whole_items(self) -> list[yamlio.Document]:
        rl_doc, data = self.doc, self.data
        listed = data.get("items")
        if listed is None:
            listed = data["items"] = []
        if not isinstance(listed, list):
            raise InputError("ResourceList items must be a list", source=rl_doc.source, document=0)
        out: list[yamlio.Document] = []
        for i, item in enumerate(listed):
            if not isinstance(item, dict):
                raise InputError(f"ResourceList item {i} is not a mapping", source=rl_doc.source,
                                 document=0)
            doc = yamlio.Document(i, rl_doc.source, "", rl_doc.first_line, root="mapping",
                                  kind=item.get("kind"), api_version=item.get("apiVersion"))
            doc.data, doc.loaded = item, True
            doc.parent, doc.pointer = rl_doc, f"/items/{i}"
            out.append(doc)
        return out

    def _read_whole(self, texts: dict[int, str]) -> None:
        """Leave the cut: the list read whole, its items' data as the run left it (an item
        whose data a lean run let go: read from its new text, which reads back as it)."""
        self.cut = None
        self.data = self.doc.load(keep_node=True)
        whole = self.data.get("items")
        for i, doc in enumerate(self.items):
            if doc.loaded:
                whole[i] = doc.data
            elif i in texts:
                whole[i] = yamlio.load_text(texts[i])
            doc.data, doc.loaded = whole[i], True

    @property
    def function_config(self) -> Any:
        return self.data.get("functionConfig")

    def write(self, bom: str, results, generated: list[str], dropped: set[int] = frozenset(),
              texts: dict[int, str] | None = None) -> list[str]:
        """The ResourceList with its items as hardened, the items an earlier pass generated
        (`dropped`) replaced by `generated`, and `results` holding one entry per change,
        skip and warning of this run (results an earlier run of ours left are replaced too).
        `texts`: the new text of each changed item (index -> text), for a cut list. In
        pieces: the results' entries are shared strings, never joined here.

        Edited in place like any changed document: items nothing changed keep their text,
        quotes and comments."""
        if self.cut is not None:
            pieces = None if generated or dropped else self._write_cut(results, texts or {})
            if pieces is not None:
                return self._in_stream(bom, pieces)
            self._read_whole(texts or {})
        listed = self.data["items"]
        if generated or dropped:
            listed[:] = _replace_generated(listed, dropped, [yamlio.load_data(t, "generated") for t in generated])
            ops = [{"op": "replace", "path": "/items"}]
        else:  # each item's own changes, at their place in the list (the patcher's insertions)
            ops = [{"op": c.op, "path": self.items[r.document].pointer + c.path} for r in results for c in r.changes]
        head, body, tail = self._edit(self.doc, ops, results)
        return self._in_stream(bom, [head, *body, tail])

    def _in_stream(self, bom: str, pieces: list[str]) -> list[str]:
        """The output's pieces: the list's among the input's other (empty) documents."""
        out: list[str] = []
        for d in self.documents:
            if d is self.doc:
                out.extend(pieces)
            else:
                out.append(d.text)
        out[0] = bom + out[0]
        return out

    def _write_cut(self, results, texts: dict[int, str]) -> list[str] | None:
        """The list's text from its skeleton, edited for the results, and its items pasted
        back where the marker is; None where the cut cannot serve (the caller reads the list
        whole)."""
        edited = self._edit(self.skeleton, [], results)
        if edited is None:
            return None
        region = items.paste(self.cut, texts)
        if region is None:
            return None
        head, body, tail = edited
        marker = self.cut.marker_line
        if head.count(marker) + tail.count(marker) != 1:  # the results (body) are never searched
            return None
        if marker in head:
            at = head.index(marker)
            return [head[:at], *region, head[at + len(marker):], *body, tail]
        at = tail.index(marker)
        return [head, *body, tail[:at], *region, tail[at + len(marker):]]

    def _edit(self, doc: yamlio.Document, ops: list[dict], results) -> tuple[str, list[str], str] | None:
        """`doc` (the list, or its skeleton) edited by `ops` and for the results, as (text
        before the results, the results' pieces, text after them); None for a skeleton that
        holds another function's results (the whole list keeps them)."""
        previous = self.data.get("results") if isinstance(self.data.get("results"), list) else []
        ours = Results(results, self.items)
        mine = [r for r in previous if isinstance(r, dict) and _is_ours(r)]
        others = [r for r in previous if not (isinstance(r, dict) and _is_ours(r))]
        if others and doc is not self.doc:
            return None
        written = bool(ours or mine or "results" in self.data)
        if written:
            ops.append({"op": "replace" if "results" in self.data else "add", "path": "/results"})
        edited = None if others else self._with_results(doc, ops, ours)
        if edited is None:
            if written:
                self.data["results"] = others + list(ours)
            text, _ = yamlio.render_changed(doc, self.data, ops)
            return text, [], ""
        return edited

    def _with_results(self, doc: yamlio.Document, ops: list[dict],
                      results: "Results") -> tuple[str, list[str], str] | None:
        """The list's text with `results` (ours alone) written by yamlio.blocks, as (text
        before them, their pieces, text after them), or None (the caller edits the whole
        list then).

        Thousands of results are most of a function's output (one per change): rather than
        writing and proving them as one inserted block, the edit puts a placeholder where
        they go (`results: <placeholder>`, written and proven as any edit), and the list of
        mappings replaces it, each distinct entry written and proven once
        (:meth:`yamlio.blocks.Blocks.mapping_parts`)."""
        root = doc.node
        if not results or root is None or _PLACEHOLDER in doc.text or _flow_results(root):
            return None
        blocks = blocks_of(doc.text, root)
        if blocks is None:
            return None
        self.data["results"] = _PLACEHOLDER
        try:
            text, _ = yamlio.render_changed(doc, self.data, ops)
        finally:
            self.data["results"] = results
        at = text.find(_PLACEHOLDER)
        end = at + len(_PLACEHOLDER)
        line = text[text.rfind("\n", 0, at) + 1:at]
        key = _RESULTS_KEY.fullmatch(line)
        lb = doc.line_break
        tail = text[end:]
        if at < 0 or key is None or text.find(_PLACEHOLDER, end) >= 0 or not (tail.startswith(lb) or not tail):
            return None
        body = blocks.mapping_parts(results, len(key.group(1)) + blocks.seq_indent, lb)
        if body is None:
            return None
        if tail:
            tail = tail[len(lb):]
        else:  # the input had no final line break: nor has the output
            body[-1] = body[-1][:-len(lb)]
        return text[:at - 1] + lb, body, tail


def _flow_results(root: Any) -> bool:
    """Were results written in flow style (`results: [{...}]`, not empty)? The edit keeps
    that style, and so does the careful path."""
    if root.__class__ is not yaml.MappingNode or root.flow_style:
        return False  # not a block mapping: the placeholder is not found, the careful path follows
    for key, value in root.value:
        if key.value == "results":
            return value.__class__ is not yaml.ScalarNode and bool(value.flow_style and value.value)
    return False


#: What the edit writes where a ResourceList's results go, before they are written (:meth:`ResourceList._with_results`).
_PLACEHOLDER = "k8s-harden-results-placeholder-9c41e07d"
_RESULTS_KEY = re.compile(r"""( *)(?:results|"results"|'results'): """)


def _object_id(item: Any) -> tuple:
    meta = item.get("metadata") if isinstance(item, dict) else None
    meta = meta if isinstance(meta, dict) else {}
    return (item.get("apiVersion"), item.get("kind"), meta.get("name"), meta.get("namespace"))


def _replace_generated(items: list, dropped: set[int], generated: list[dict]) -> list:
    """The items with those an earlier run generated (`dropped`) replaced: an object generated
    again takes its predecessor's place and the orchestrator's bookkeeping annotations (kpt
    keeps it in the file it was in, and an unchanged one comes out byte for byte); new ones
    are appended, the rest removed."""
    earlier = {_object_id(items[i]): i for i in dropped}
    placed: dict[int, dict] = {}
    added = []
    for obj in generated:
        i = earlier.pop(_object_id(obj), None)
        if i is None:
            added.append(obj)
            continue
        old_ann = (items[i].get("metadata") or {}).get("annotations")
        keep = {k: v for k, v in old_ann.items() if isinstance(k, str) and k.startswith(
            names.KRM_BOOKKEEPING)} if isinstance(old_ann, dict) else {}
        if keep:
            meta = obj.setdefault("metadata", {})
            meta["annotations"] = {**(meta.get("annotations") or {}), **keep}
        placed[i] = obj
    kept = [placed.get(i, item) for i, item in enumerate(items) if i in placed or i not in dropped]
    return kept + added


def read(documents: list[yamlio.Document]) -> ResourceList | None:
    """The ResourceList the input is, or None for any other stream."""
    real = [d for d in documents if d.root != "empty"]
    if (len(real) == 1 and real[0].kind == "ResourceList"
            and real[0].api_version in RESOURCE_LIST_VERSIONS):
        return ResourceList(documents, real[0])
    return None


#: The tag every KRM result of ours carries (what a later run recognises and replaces).
RESULT_TAG = "k8s-harden.io/control"


def _is_ours(result: dict) -> bool:
    tags = result.get("tags")
    return isinstance(tags, dict) and RESULT_TAG in tags


class Results:
    """One KRM result per change (info), skip and warning (warning) of `results`, made as
    they are read (each reading makes them again): a function's output is mostly its
    results, which are never held as one mapping each."""

    def __init__(self, results, docs: list[yamlio.Document]) -> None:
        self._results, self._docs = results, docs

    def __bool__(self) -> bool:
        return any(r.changes or r.skipped or r.warnings for r in self._results)

    def __iter__(self):
        return results_for(self._results, self._docs)


def results_for(results, docs: list[yamlio.Document]):
    """One KRM result per change (info) and per skip (warning), one after the other."""
    paths: dict[str, str] = {}  # pointer -> field path: the same few recur in every resource

    # the same few tags and fields recur in every resource: one mapping each, shared by the
    # results that hold it (yamlio.blocks writes a shared one once)
    tag_sets: dict[tuple, dict] = {}  # (control, key, value) -> tags
    fields: dict[tuple, dict] = {}  # (pointer, op, id of the value) -> field (the changes keep the values alive)

    def path_of(pointer: str) -> str:
        found = paths.get(pointer)
        if found is None:
            found = paths[pointer] = field_path(pointer)
        return found

    def field(c) -> dict:
        found = fields.get((c.path, c.op, id(c.value)))
        if found is None:
            found = {"path": path_of(c.path)}
            if c.op != "remove":
                found["proposedValue"] = c.value
            fields[(c.path, c.op, id(c.value))] = found
        return found

    def tags(control: str, key: str, value: str) -> dict:
        found = tag_sets.get((control, key, value))
        if found is None:
            found = tag_sets[(control, key, value)] = {RESULT_TAG: control, key: value}
        return found

    for r in results:
        item = docs[r.document].data
        meta = item.get("metadata") if isinstance(item.get("metadata"), dict) else {}
        ref = {"apiVersion": r.api_version, "kind": r.kind, "name": r.name}
        if r.namespace:
            ref["namespace"] = r.namespace
        file = _file_of(meta)
        for c in r.changes:
            who = f" (container {c.container})" if c.container else ""
            entry = {"message": f"{c.control}: {c.reason}{who}", "severity": "info",
                     "resourceRef": ref, "field": field(c)}
            if file:
                entry["file"] = file
            entry["tags"] = tags(c.control, "k8s-harden.io/op", c.op)
            yield entry
        for s in r.skipped:
            who = f" (container {s.container})" if s.container else ""
            entry = {"message": f"{s.control} skipped: {s.reason}{who}", "severity": "warning",
                     "resourceRef": ref, "tags": tags(s.control, "k8s-harden.io/kind", s.kind)}
            if file:
                entry["file"] = file
            yield entry
        for w in r.warnings:
            who = f" (container {w.container})" if w.container else ""
            entry = {"message": f"{w.control}: {w.message}{who}", "severity": "warning",
                     "resourceRef": ref, "tags": tags(w.control, "k8s-harden.io/kind", "warning")}
            if file:
                entry["file"] = file
            yield entry


def _file_of(meta: dict) -> dict | None:
    path = krm_path(meta)
    if not path:
        return None
    ann = meta["annotations"]
    file = {"path": path}
    index = next((ann[k] for k in names.KRM_INDEX if ann.get(k) is not None), None)
    if index is not None and str(index).isdigit():
        file["index"] = int(index)
    return file
