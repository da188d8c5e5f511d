"""KRM functions: the `ResourceList` a kpt or kustomize function reads and writes.

The reader and the writer at the two ends of the pipeline, and nothing in between sees a
ResourceList: :func:`read` turns one into its items (each a Document that knows its place
in the list), :meth:`ResourceList.write` answers with a `ResourceList` (KRM Functions
Specification): items hardened in place, generated policy objects appended to items, and
one `results` entry per change and per skip. Its `functionConfig` is read by
:mod:`hardener.config`.
"""

from __future__ import annotations

from typing import Any

from . import yamlio
from .errors import InputError
from .inputs import krm_path
from .kube import names
from .kube.pointer import field_path

RESOURCE_LIST_VERSIONS = ("config.kubernetes.io/v1", "config.kubernetes.io/v1alpha1")


class ResourceList:
    """A ResourceList read from the input: its document, data and items."""

    def __init__(self, documents: list[yamlio.Document], rl_doc: yamlio.Document):
        self.documents = documents  # every document of the input (the list and empty ones)
        self.doc = rl_doc
        self.data = data = rl_doc.load()
        items = data.get("items")
        if items is None:
            items = data["items"] = []
        if not isinstance(items, list):
            raise InputError("ResourceList items must be a list", source=rl_doc.source, document=0)
        self.items: list[yamlio.Document] = []
        for i, item in enumerate(items):
            if not isinstance(item, dict):
                raise InputError(f"ResourceList item {i} is not a mapping", source=rl_doc.source,
                                 document=0)
            doc = yamlio.Document(i, rl_doc.source, "", rl_doc.first_line, root="mapping",
                                  kind=item.get("kind"), api_version=item.get("apiVersion"))
            doc.data, doc.loaded = item, True
            doc.parent, doc.pointer = rl_doc, f"/items/{i}"
            self.items.append(doc)

    @property
    def function_config(self) -> Any:
        return self.data.get("functionConfig")

    def write(self, bom: str, results, generated: list[str], dropped: set[int] = frozenset()) -> str:
        """The ResourceList with its items as hardened, the items an earlier pass generated
        (`dropped`) replaced by `generated`, and `results` holding one entry per change,
        skip and warning of this run (results an earlier run of ours left are replaced too).

        Edited in place like any changed document: items nothing changed keep their text,
        quotes and comments."""
        items = self.data["items"]
        items[:] = _replace_generated(items, dropped, [yamlio.load_data(t, "generated") for t in generated])
        previous = self.data.get("results") if isinstance(self.data.get("results"), list) else []
        ours = results_for(results, self.items)
        mine = [r for r in previous if isinstance(r, dict) and _is_ours(r)]
        others = [r for r in previous if not (isinstance(r, dict) and _is_ours(r))]
        if ours or mine or "results" in self.data:
            self.data["results"] = others + ours
        text, _ = yamlio.render_changed(self.doc, self.data, [{"op": "replace", "path": "/items"}])
        return bom + "".join(text if d is self.doc else d.text for d in self.documents)


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


def results_for(results, docs: list[yamlio.Document]) -> list[dict]:
    """One KRM result per change (info) and per skip (warning)."""
    out = []
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
                     "resourceRef": ref, "field": {"path": field_path(c.path)}}
            if c.op != "remove":
                entry["field"]["proposedValue"] = c.value
            if file:
                entry["file"] = file
            entry["tags"] = {RESULT_TAG: c.control, "k8s-harden.io/op": c.op}
            out.append(entry)
        for s in r.skipped:
            who = f" (container {s.container})" if s.container else ""
            entry = {"message": f"{s.control} skipped: {s.reason}{who}", "severity": "warning",
                     "resourceRef": ref, "tags": {RESULT_TAG: s.control, "k8s-harden.io/kind": s.kind}}
            if file:
                entry["file"] = file
            out.append(entry)
        for w in r.warnings:
            who = f" (container {w.container})" if w.container else ""
            entry = {"message": f"{w.control}: {w.message}{who}", "severity": "warning",
                     "resourceRef": ref, "tags": {RESULT_TAG: w.control, "k8s-harden.io/kind": "warning"}}
            if file:
                entry["file"] = file
            out.append(entry)
    return out


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
