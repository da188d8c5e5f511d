"""Kustomize and KRM function support: the `Hardener` config kind and `ResourceList` I/O.

The same config feeds every integration: the legacy Kustomize exec plugin passes its
config file (`--config`), a KRM function gets it as `functionConfig` — either our own
kind or, as kpt passes it, a ConfigMap of strings. A `ResourceList` on stdin is answered
with a `ResourceList` (KRM Functions Specification): items hardened in place, generated
policy objects appended to items, and one `results` entry per change and per skip.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from . import yamlio
from .errors import InputError
from .kube import names
from .kube.pointer import field_path

CONFIG_API_VERSION = "k8s-harden.io/v1"
CONFIG_KIND = "Hardener"
RESOURCE_LIST_VERSIONS = ("config.kubernetes.io/v1", "config.kubernetes.io/v1alpha1")
_CONFIG_FIELDS = ("profile", "kubeVersion", "emit", "controls", "conflicts")
_CONFIGMAP_KEYS = {"profile": "profile", "kube-version": "kubeVersion", "kubeVersion": "kubeVersion",
                   "emit": "emit"}


@dataclass
class Config:
    """Options from a Hardener config or a ConfigMap; None means 'not set'."""

    profile: str | None = None
    kube_version: str | None = None
    emit: str | None = None
    overrides: dict = field(default_factory=dict)  # inline profile data (controls, conflicts)
    source: str = "config"


def parse_config(data: Any, source: str) -> Config:
    """Read a `k8s-harden.io/v1 Hardener` or a ConfigMap into a :class:`Config`."""
    if data is None:
        return Config(source=source)
    if not isinstance(data, dict):
        raise InputError("the config must be a mapping (kind Hardener or ConfigMap)", source=source)
    kind = data.get("kind")
    if kind == "ConfigMap":
        values = data.get("data") or {}
        if not isinstance(values, dict):
            raise InputError("ConfigMap data must be a mapping", source=source)
        unknown = sorted(set(values) - set(_CONFIGMAP_KEYS))
        if unknown:
            raise InputError(f"unknown ConfigMap key(s) {', '.join(unknown)}; allowed: "
                             "profile, kube-version, emit", source=source)
        cfg = {_CONFIGMAP_KEYS[k]: str(v) for k, v in values.items()}
        return Config(cfg.get("profile"), cfg.get("kubeVersion"), cfg.get("emit"), source=source)
    if kind != CONFIG_KIND:
        raise InputError(f"config kind must be {CONFIG_KIND} ({CONFIG_API_VERSION}) or ConfigMap, "
                         f"got {kind!r}", source=source)
    body = {k: v for k, v in data.items() if k not in ("apiVersion", "kind", "metadata")}
    unknown = sorted(set(body) - set(_CONFIG_FIELDS))
    if unknown:
        raise InputError(f"unknown {CONFIG_KIND} field(s) {', '.join(unknown)}; allowed: "
                         + ", ".join(_CONFIG_FIELDS), source=source)
    emit = body.get("emit")
    if isinstance(emit, list):
        emit = ",".join(map(str, emit))
    overrides = {k: body[k] for k in ("controls", "conflicts") if k in body}
    kube = body.get("kubeVersion")
    return Config(body.get("profile"), None if kube is None else str(kube),
                  None if emit is None else str(emit), overrides, source)


def load_config_file(path: str) -> Config:
    try:
        raw = open(path, "rb").read()
    except OSError as exc:
        raise InputError(f"cannot read config: {exc.strerror}", source=path) from None
    return parse_config(yamlio.load_data(yamlio.decode(raw, path), path), path)


# --------------------------------------------------------------------------- ResourceList
def is_resource_list(docs: list[yamlio.Document]) -> bool:
    real = [d for d in docs if d.root != "empty"]
    return (len(real) == 1 and real[0].kind == "ResourceList"
            and real[0].api_version in RESOURCE_LIST_VERSIONS)


def item_documents(rl_doc: yamlio.Document) -> tuple[dict, list[yamlio.Document]]:
    """The ResourceList's data and one pre-loaded Document per item (index = item index)."""
    data = rl_doc.load()
    items = data.get("items")
    if items is None:
        items = data["items"] = []
    if not isinstance(items, list):
        raise InputError("ResourceList items must be a list", source=rl_doc.source, document=0)
    docs = []
    for i, item in enumerate(items):
        if not isinstance(item, dict):
            raise InputError(f"ResourceList item {i} is not a mapping", source=rl_doc.source, document=0)
        doc = yamlio.Document(i, rl_doc.source, "", rl_doc.first_line, root="mapping",
                              kind=item.get("kind"), api_version=item.get("apiVersion"))
        doc.data, doc.loaded = item, True
        docs.append(doc)
    return data, docs


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
            entry["tags"] = {"control": c.control, "op": c.op}
            out.append(entry)
        for s in r.skipped:
            who = f" (container {s.container})" if s.container else ""
            entry = {"message": f"{s.control} skipped: {s.reason}{who}", "severity": "warning",
                     "resourceRef": ref, "tags": {"control": s.control}}
            if file:
                entry["file"] = file
            out.append(entry)
    return out


def _file_of(meta: dict) -> dict | None:
    ann = meta.get("annotations") if isinstance(meta.get("annotations"), dict) else {}
    path = next((ann[k] for k in names.KRM_PATH if ann.get(k)), None)
    if not path:
        return None
    file = {"path": str(path)}
    index = next((ann[k] for k in names.KRM_INDEX if ann.get(k) is not None), None)
    if index is not None and str(index).isdigit():
        file["index"] = int(index)
    return file
