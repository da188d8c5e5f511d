"""Find the pod templates inside Kubernetes resources, from a table of paths.

kyaml's idea of conventional container paths: a table says, per kind, where the pod
template (an object with `metadata` and `spec`) lives. Built-in kinds are matched by kind
*and* API group (so `batch/v1` and `batch/v1beta1` CronJobs are both found, and a CRD that
happens to be called `Deployment` in another group is not). Custom resources come from the
built-in CRD table (:mod:`hardener.kube.crds`, pointers with `*` wildcards, pods outside
PodTemplateSpecs seen through a :class:`PodView`) and from the profile's `workloads:`.
`*List` kinds are searched item by item. A custom resource no table knows passes through
untouched, but every possible pod template in it is reported (:func:`reported`).
"""

from __future__ import annotations

import functools
from typing import Any, Iterator

from ..results import UNKNOWN_WORKLOAD, UNSUPPORTED, Change, Skip
from ..record import Record
from . import crds
from .pointer import field_path, join, resolve, tokens

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


#: A kind with pod templates from a profile's `workloads:` (or from crds.yaml): kind, group
#: (None: any group) and the pointers (wildcards) of its templates.
CustomWorkload = crds.Entry


def api_group(api_version: Any) -> str:
    if not isinstance(api_version, str):
        return ""
    return api_version.rpartition("/")[0]


def is_custom_group(group: str) -> bool:
    """Is `group` a custom resource's? Built-in API groups have no dot (`apps`, `batch`) or
    are Kubernetes' own (`networking.k8s.io`); `x-k8s.io` is the SIGs' CRD suffix."""
    return "." in group and not (group == "k8s.io" or group.endswith(".k8s.io"))


class WorkloadTable:
    """Which (group, kind) carry a pod template, and where: the built-in kinds, the profile's
    `workloads:` (an entry replaces the built-in CRD table's for its kind and group) and the
    CRD table (:mod:`hardener.kube.crds`, read on first use)."""

    def __init__(self, custom: list[CustomWorkload] = ()):  # type: ignore[assignment]
        self.custom = list(custom)
        self.kinds = set(BUILTIN_WORKLOADS) | {c.kind for c in self.custom}

    def lookup(self, api_version: Any, kind: Any) -> str | CustomWorkload | None:
        """A built-in kind's template pointer, the table entry of a CRD, or None."""
        if not isinstance(kind, str):
            return None
        group = api_group(api_version)
        builtin = BUILTIN_WORKLOADS.get(kind)
        if builtin and group in builtin[0]:
            return builtin[1]
        for c in self.custom:
            if c.kind == kind and (c.group is None or c.group == group):
                return c
        if (group, kind) in crds.KEYS:
            return crds.table().get((group, kind))
        return None

    def may_contain(self, kind: str | None, api_version: str | None = None) -> bool:
        """Cheap test on a sniffed kind (and apiVersion): could this document hold a pod
        template? Never reads the CRD table."""
        if kind is None or kind in self.kinds or kind.endswith("List"):
            return True
        if api_version is None:
            return any(k == kind for _, k in crds.KEYS)
        return (api_group(api_version), kind) in crds.KEYS

    def may_hold(self, doc: Any) -> bool:
        """Could this document of the split stream (a yamlio.Document, not loaded yet) hold a
        pod template to harden or report: a mapping of a kind the table may contain, or a
        custom resource that may hide one?"""
        return doc.root == "mapping" and (self.may_contain(doc.kind, doc.api_version)
                                          or self.may_hide(doc.kind, doc.api_version, doc.text))

    def may_hide(self, kind: str | None, api_version: str | None, text: str) -> bool:
        """Could a document the table does not know hold a pod template the unknown-kind walk
        should report? A custom resource whose text names `containers`."""
        return (isinstance(api_version, str) and is_custom_group(api_group(api_version))
                and "containers" in text)


class PodTemplate(Record):
    """One pod template found in a document, with the resource that holds it: `resource`
    (the document, or an item of a List), `resource_pointer` (where the resource is in the
    document: "" or "/items/3"), `pointer` (where the template, metadata + spec, is in the
    document) and `restrictions` (what the kind's admission webhook accepts, crds.yaml
    `restrictions`; None: all)."""

    _fields = ("resource", "resource_pointer", "pointer", "restrictions")

    def __init__(self, resource: dict, resource_pointer: str, pointer: str,
                 restrictions: str | None = None) -> None:
        self.resource, self.resource_pointer, self.pointer, self.restrictions = (
            resource, resource_pointer, pointer, restrictions)

    @functools.cached_property
    def template(self) -> dict | None:
        return resolve(self.resource, self.pointer[len(self.resource_pointer):])

    @property
    def pod_level(self) -> bool:
        """Does the pod have a pod-level securityContext the resource lets us set?"""
        if self.restrictions == "knative":
            # PodSpecMask admits one only with kubernetes.podspec-securitycontext: a manifest
            # that has one is taken to run where the flag is on
            return isinstance((self.template or {}).get("spec", {}).get("securityContext"), dict)
        return True

    @property
    def service_accounts(self) -> tuple[str, ...]:
        """The service accounts its pods run as (the PSP bindings are for them)."""
        spec = (self.template or {}).get("spec")
        spec = spec if isinstance(spec, dict) else {}
        return (str(spec.get("serviceAccountName") or spec.get("serviceAccount") or "default"),)

    def translate(self, change: Change) -> Change | Skip:
        """The change as it is applied to the document, or the Skip that says why the
        resource cannot take it (a real template: the change itself)."""
        if self.restrictions == "knative":
            rel = tokens(change.path[len(self.pointer):])
            why = crds.knative_refusal(rel, change.value, self.pod_level)
            if why:
                return Skip(change.control, why, change.container, kind=UNSUPPORTED)
        return change

    def refresh(self) -> None:
        """After a change was applied (a synthetic view rebuilds itself)."""

    def real_pointer(self, rel: str) -> str:
        """The document pointer of `rel`, a pointer inside the template."""
        return self.pointer + rel

    @property
    def roots(self) -> list[str]:
        """Where the changes to this pod land in the document: the template; for a
        :class:`PodView` also its pod securityContext outside it."""
        return [self.pointer]

    def owns(self, path: str) -> bool:
        """Is the document pointer `path` a part of this pod?"""
        return any(path == r or path.startswith(r + "/") for r in self.roots)

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


class PodView(PodTemplate):
    """A pod whose containers are not in a PodTemplateSpec (an Argo Workflows template, a
    Tekton TaskSpec, a Kruise SidecarSet): `template` is a synthetic
    `{metadata, spec: {securityContext, containers, ...}}` made of the resource's own dicts,
    rebuilt after every change; `translate` maps a change to the field it stands for."""

    def __init__(self, resource: dict, resource_pointer: str, parts: crds.PodParts):
        super().__init__(resource, resource_pointer, resource_pointer + parts.at)
        self.parts = parts

    @property
    def pod_level(self) -> bool:
        return bool(self.parts.chain)

    def _sc_pointer(self) -> str | None:
        """The pod securityContext: the first object of the chain that has one, else where
        it is created (the first of the chain); None when the pod has no pod level."""
        chain = self.parts.chain
        for p in chain:
            obj = resolve(self.resource, p)
            if isinstance(obj, dict) and obj.get("securityContext") is not None:
                return join(p, "securityContext")
        return join(chain[0], "securityContext") if chain else None

    @functools.cached_property
    def template(self) -> dict:
        ps, r = self.parts.podset, self.resource
        spec: dict = {}
        sc = self._sc_pointer()
        if sc is not None and resolve(r, sc) is not None:
            spec["securityContext"] = resolve(r, sc)
        for list_name, ptrs in self.parts.containers.items():
            spec[list_name] = [resolve(r, p) for p in ptrs]
        if ps.volumes and resolve(r, crds._fill(ps.volumes, self.parts.at)) is not None:
            spec["volumes"] = resolve(r, crds._fill(ps.volumes, self.parts.at))
        for key in ("nodeSelector", "affinity", "tolerations", "os", "hostNetwork", "hostPID", "hostIPC"):
            for p in self.parts.chain:  # read only: what tells the OS and host access
                obj = resolve(r, p)
                if isinstance(obj, dict) and key in obj:
                    spec[key] = obj[key]
                    break
        meta = resolve(r, crds._fill(ps.metadata, self.parts.at)) if ps.metadata else None
        return {"metadata": meta if isinstance(meta, dict) else {}, "spec": spec}

    def refresh(self) -> None:
        self.__dict__.pop("template", None)

    @property
    def service_accounts(self) -> tuple[str, ...]:
        """crds.yaml `serviceAccounts`: the first plain pointer that holds a name is the
        pod's (else `default`); each match of a wildcard one adds the account of one task
        that overrides it (a PipelineRun's taskRunSpecs)."""
        found: list[str] = []
        own = None
        for pattern in self.parts.podset.service_accounts:
            for _, value in crds.expand(self.resource, crds._fill(pattern, self.parts.at)):
                if not isinstance(value, str) or not value:
                    continue
                if "*" in pattern:
                    found.append(value)
                elif own is None:
                    own = value
        return tuple(dict.fromkeys([own or "default", *found]))

    @property
    def roots(self) -> list[str]:
        sc = self._sc_pointer()
        outside = sc is not None and not (sc + "/").startswith(self.parts.at + "/")
        return [self.pointer] + ([self.resource_pointer + sc] if outside else [])

    def owns(self, path: str) -> bool:
        # a change that created the pod-level object outside the pod (TaskRun spec.podTemplate)
        created = any(r.startswith(path + "/") and not self.pointer.startswith(path + "/")
                      for r in self.roots[1:])
        return created or super().owns(path)

    def _real(self, rel: list[str]) -> str | None:
        """The pointer (from the resource) a template-relative path stands for, or None."""
        ps = self.parts.podset
        if len(rel) >= 2 and rel[0] == "spec":
            head, rest = rel[1], rel[2:]
            if head == "securityContext":
                sc = self._sc_pointer()
                return None if sc is None else join(sc, *rest)
            if head in self.parts.containers and rest and rest[0].isdigit():
                ptrs = self.parts.containers[head]
                i = int(rest[0])
                return join(ptrs[i], *rest[1:]) if i < len(ptrs) else None
            if head == "volumes" and ps.volumes:
                return join(crds._fill(ps.volumes, self.parts.at), *rest)
            return None
        if rel and rel[0] == "metadata" and ps.metadata:
            return join(crds._fill(ps.metadata, self.parts.at), *rel[1:])
        return None

    def real_pointer(self, rel: str) -> str:
        real = self._real(tokens(rel))
        return self.resource_pointer + (real if real is not None else self.parts.at)

    def translate(self, change: Change) -> Change | Skip:
        rel = tokens(change.path[len(self.pointer):])
        real = self._real(rel)
        if real is None:
            if rel[:2] == ["spec", "securityContext"]:
                why = self.parts.podset.unsupported
            else:
                why = f"{self.kind} has no field for pod {field_path(join('', *rel))} here"
            return Skip(change.control, why, change.container, kind=UNSUPPORTED)
        op, value, parts = change.op, change.value, tokens(real)
        # a missing parent (TaskRun spec.podTemplate) is created with the change
        while op == "add" and len(parts) > 1 and resolve(self.resource, join("", *parts[:-1])) is None:
            value, parts = {parts[-1]: value}, parts[:-1]
        return Change(change.control, op, self.resource_pointer + join("", *parts), value,
                      change.reason, change.container)


def resources(data: Any, pointer: str = "") -> Iterator[tuple[dict, str]]:
    """(resource, its pointer in the document) for a loaded document: the document, or
    each item of a `*List` (recursively)."""
    if not isinstance(data, dict):
        return
    kind = data.get("kind")
    items = data.get("items")
    if isinstance(kind, str) and kind.endswith("List") and isinstance(items, list):
        for i, item in enumerate(items):
            yield from resources(item, f"{pointer}/items/{i}")
        return
    yield data, pointer


def find_pod_templates(data: Any, table: WorkloadTable, pointer: str = "") -> Iterator[PodTemplate]:
    """Yield every pod template in a loaded document (recursing into `*List` items)."""
    for resource, at in resources(data, pointer):
        entry = table.lookup(resource.get("apiVersion"), resource.get("kind"))
        if entry is None:
            continue
        if isinstance(entry, str):
            template = resolve(resource, entry)
            if isinstance(template, dict) and isinstance(template.get("spec"), dict):
                yield PodTemplate(resource, at, at + entry)
            continue
        for tp in entry.pod_templates:
            for where, template in crds.expand(resource, tp, at):
                if isinstance(template, dict) and isinstance(template.get("spec"), dict):
                    yield PodTemplate(resource, at, where, entry.restrictions)
        for podset in entry.pods:
            if not podset.serves(resource.get("apiVersion")):
                continue
            for parts in crds.find_pods(resource, podset):
                yield PodView(resource, at, parts)


def _has_containers(obj: Any) -> bool:
    items = obj.get("containers") if isinstance(obj, dict) else None
    return (isinstance(items, list) and bool(items)
            and all(isinstance(c, dict) and isinstance(c.get("name"), str) and isinstance(c.get("image"), str)
                    for c in items))


def _possible(obj: Any, at: str) -> Iterator[str]:
    """Pointers of the mappings under `obj` shaped like a pod template (`metadata` + a `spec`
    with containers that have a name and an image) or a pod spec (such `containers`)."""
    if isinstance(obj, dict):
        if isinstance(obj.get("metadata"), dict) and _has_containers(obj.get("spec")):
            yield at
            return
        if _has_containers(obj):
            yield at
            return
        for k, v in obj.items():
            if isinstance(v, (dict, list)):
                yield from _possible(v, join(at, k))
    elif isinstance(obj, list):
        for i, v in enumerate(obj):
            if isinstance(v, (dict, list)):
                yield from _possible(v, f"{at}/{i}")


def reported(data: Any, table: WorkloadTable, pointer: str = "") -> Iterator[tuple[dict, str, Skip]]:
    """(resource, resource pointer, Skip) for what holds pod settings but is not hardened:
    a table entry's `report:` parts, and in a custom resource no table knows, every
    possible pod template (never silent: the profile's `workloads:` can add it)."""
    for resource, at in resources(data, pointer):
        yield from _reported(resource, at, table)


def _reported(data: dict, pointer: str, table: WorkloadTable) -> Iterator[tuple[dict, str, Skip]]:
    kind = data.get("kind")
    entry = table.lookup(data.get("apiVersion"), kind)
    if isinstance(entry, crds.Entry):
        for at_pattern, reason in entry.report:
            for at, value in crds.expand(data, at_pattern):
                if value not in ({}, [], ""):
                    yield data, pointer, Skip("*", f"{field_path(at)}: {reason}", kind=UNSUPPORTED)
        return
    if entry is not None or not is_custom_group(api_group(data.get("apiVersion"))):
        return
    for at in _possible(data, ""):
        where = field_path(at) or "the resource itself"
        yield data, pointer, Skip("*", f"possible pod template at {where} in {kind} "
                                       f"{data.get('apiVersion')} — add it to the profile's workloads:",
                                  kind=UNKNOWN_WORKLOAD)
