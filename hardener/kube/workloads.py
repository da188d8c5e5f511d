"""Find the pod templates inside Kubernetes resources, from a table of paths.

kyaml's idea of conventional container paths: a table says, per kind, where the pod
template (an object with `metadata` and `spec`) lives. Built-in kinds are matched by kind
*and* API group (so `batch/v1` and `batch/v1beta1` CronJobs are both found, and a CRD that
happens to be called `Deployment` in another group is not); CRDs are added by the profile.
`*List` kinds are searched item by item. Anything else passes through untouched.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Any, Iterator

from .pointer import resolve

# kind -> (API groups it lives in, JSON pointer of the pod template in the resource)
BUILTIN_WORKLOADS: dict[str, tuple[tuple[str, ...], str]] = {
    "Pod": (("",), ""),
    "PodTemplate": (("",), "/template"),
    "ReplicationController": (("",), "/spec/template"),
    "Deployment": (("apps", "extensions"), "/spec/template"),
    "StatefulSet": (("apps",), "/spec/template"),
    "DaemonSet": (("apps", "extensions"), "/spec/template"),
    "ReplicaSet": (("apps", "extensions"), "/spec/template"),
    "Job": (("batch",), "/spec/template"),
    "CronJob": (("batch",), "/spec/jobTemplate/spec/template"),
}


@dataclass(frozen=True)
class CustomWorkload:
    """A CRD kind with a pod template, as configured in a profile's `workloads:`."""

    kind: str
    group: str | None  # None: any group
    pod_template: str  # JSON pointer inside the resource


def api_group(api_version: Any) -> str:
    if not isinstance(api_version, str):
        return ""
    return api_version.rpartition("/")[0]


class WorkloadTable:
    """Which (group, kind) carry a pod template, and where."""

    def __init__(self, custom: list[CustomWorkload] = ()):  # type: ignore[assignment]
        self.custom = list(custom)
        self.kinds = set(BUILTIN_WORKLOADS) | {c.kind for c in self.custom}

    def template_pointer(self, api_version: Any, kind: Any) -> str | None:
        group = api_group(api_version)
        builtin = BUILTIN_WORKLOADS.get(kind) if isinstance(kind, str) else None
        if builtin and group in builtin[0]:
            return builtin[1]
        for c in self.custom:
            if c.kind == kind and (c.group is None or c.group == group):
                return c.pod_template
        return None

    def may_contain(self, kind: str | None) -> bool:
        """Cheap test on a sniffed kind: could this document hold a pod template?"""
        return kind is None or kind in self.kinds or kind.endswith("List")


@dataclass
class PodTemplate:
    """One pod template found in a document, with the resource that holds it."""

    resource: dict  # the resource (the document, or an item of a List)
    resource_pointer: str  # where the resource is in the document ("" or "/items/3")
    pointer: str  # where the template (metadata + spec) is in the document

    @functools.cached_property
    def template(self) -> dict | None:
        return resolve(self.resource, self.pointer[len(self.resource_pointer):])

    @property
    def kind(self) -> str:
        return str(self.resource.get("kind", ""))

    @property
    def builtin(self) -> bool:
        """A Kubernetes kind (its pod spec validated by the API server itself), not a CRD."""
        found = BUILTIN_WORKLOADS.get(self.kind)
        return found is not None and api_group(self.resource.get("apiVersion")) in found[0]

    @functools.cached_property
    def problems(self) -> list:
        """Why the API server cannot decode or always rejects the workload
        (:func:`hardener.kube.shape.problems`); empty when well-formed."""
        from .shape import problems

        return problems(self.resource, self.template, self.builtin)

    @property
    def api_version(self) -> str:
        return str(self.resource.get("apiVersion", ""))

    @property
    def metadata(self) -> dict:
        meta = self.resource.get("metadata")
        return meta if isinstance(meta, dict) else {}

    @property
    def name(self) -> str:
        return str(self.metadata.get("name", ""))

    @property
    def namespace(self) -> str:
        return str(self.metadata.get("namespace", "") or "")


def find_pod_templates(data: Any, table: WorkloadTable, pointer: str = "") -> Iterator[PodTemplate]:
    """Yield every pod template in a loaded document (recursing into `*List` items)."""
    if not isinstance(data, dict):
        return
    kind = data.get("kind")
    items = data.get("items")
    if isinstance(kind, str) and kind.endswith("List") and isinstance(items, list):
        for i, item in enumerate(items):
            yield from find_pod_templates(item, table, f"{pointer}/items/{i}")
        return
    tp = table.template_pointer(data.get("apiVersion"), kind)
    if tp is None:
        return
    template = resolve(data, tp)
    if isinstance(template, dict) and isinstance(template.get("spec"), dict):
        yield PodTemplate(data, pointer, pointer + tp)
