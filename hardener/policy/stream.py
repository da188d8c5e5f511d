"""The stream as the policy objects see it: its workloads and its namespaces."""

from __future__ import annotations

from dataclasses import dataclass

from .. import yamlio
from ..kube.podspec import dig as _get
from ..options import Options
from ..results import ResourceResult
from .usage import Usage, usage_of


@dataclass
class Workload:
    """One resource with pod templates, as the policy objects see it."""

    result: ResourceResult
    namespace: str  # "" = not known (Helm's release namespace)
    service_accounts: tuple[str, ...]
    usage: Usage
    templates: list[dict]
    mesh: str | None = None  # the service mesh injecting containers into its pods (kube.mesh)

    @property
    def ref(self) -> str:
        ns = f"{self.namespace}/" if self.namespace else ""
        return f"{self.result.kind} {ns}{self.result.name}"


def collect_workloads(results: list[ResourceResult], opts: Options) -> list[Workload]:
    out = []
    # the workloads of one chart mostly use the same: one Usage for each distinct one, shared
    # (2,000 Deployments held 8 MB of equal ones); nothing changes a workload's Usage later
    distinct: dict[str, Usage] = {}
    for r in results:
        templates = [pt.template for pt in r.templates if isinstance(pt.template, dict)]
        if not templates:
            continue
        sas = sorted({sa for pt in r.templates if isinstance(pt.template, dict) for sa in pt.service_accounts})
        usage = usage_of(templates, opts.kube)
        if any(_claims(pt.resource) for pt in r.templates):
            # the StatefulSet controller gives each pod a persistentVolumeClaim volume per
            # claim template (stateful_set_utils.go updateStorage): the pods use that source
            # though the template names none (a 1.24 server's PSP refused them otherwise)
            usage.volumes.add("persistentVolumeClaim")
        usage = distinct.setdefault(repr(usage), usage)  # repr tells 1 from True and "1"
        out.append(Workload(r, r.namespace or opts.namespace or "", tuple(sas), usage, templates))
    return out


def mark_meshed(docs: list[yamlio.Document], workloads: list[Workload]) -> None:
    """Set each workload's `mesh`: its Namespace (in the stream) or its own pod template
    turns a mesh's sidecar injection on."""
    from ..kube.mesh import mesh_of

    namespaces = namespace_docs(docs)
    for w in workloads:
        ns = namespaces.get(w.namespace)
        found = mesh_of(_get(ns.load(), "metadata") if ns is not None else None, w.templates)
        w.mesh = found[0] if found else None


def stream_namespaces(docs: list[yamlio.Document], workloads: list[Workload], opts: Options) -> list[str]:
    """The namespaces the policy objects are for: the workloads', the Namespace objects',
    `--namespace`; when none of them names one, those the stream's other objects are in (a
    chart that sets `namespace: {{ .Release.Namespace }}` on its Services or ServiceAccounts
    only: Helm gives a post-renderer no release namespace)."""
    names = {w.namespace for w in workloads if w.namespace} | set(namespace_docs(docs))
    if opts.namespace:
        names.add(opts.namespace)
    if not names:
        for d in docs:
            if d.root == "mapping" and "namespace" in d.text:  # cheap: most are never loaded
                ns = _get(d.load(), "metadata", "namespace")
                if isinstance(ns, str) and ns:
                    names.add(ns)
    return sorted(names)


def namespace_docs(docs: list[yamlio.Document]) -> dict[str, yamlio.Document]:
    out = {}
    for d in docs:
        if d.kind == "Namespace" and d.api_version == "v1" and d.root == "mapping":
            name = _get(d.load(), "metadata", "name")
            if isinstance(name, str) and name:
                out.setdefault(name, d)
    return out


def _claims(resource) -> bool:
    """The resource declares volumeClaimTemplates (a StatefulSet, or a CRD shaped like one)."""
    spec = resource.get("spec") if isinstance(resource, dict) else None
    claims = spec.get("volumeClaimTemplates") if isinstance(spec, dict) else None
    return isinstance(claims, list) and bool(claims)
