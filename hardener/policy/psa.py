"""Pod Security Admission labels on the stream's Namespace documents: a transformer stage."""

from __future__ import annotations

from .. import pss
from ..harden import apply_change
from ..kube import names
from ..kube.mesh import MESHES, mesh_of
from ..kube.podspec import dig as _get
from ..kube.pointer import join
from ..kube.versions import fmt
from ..results import CONFLICT, Change, ResourceResult, Skip
from .stream import namespace_docs


def label_namespaces(run) -> list[ResourceResult]:
    """With `pss-labels` requested (`run`: a :class:`~hardener.policy.PolicyRun`), add PSA labels to the stream's Namespace documents: `enforce` at the level every
    workload of that namespace meets after hardening (never one that would reject them),
    `audit`/`warn` at the profile's level (or stricter, if met) so exceptions stay visible.
    A workload with no namespace may land in any of them, so it counts for all. A namespace
    with no workload gets no `enforce`: pods created there later are unknown. Labels already
    set are kept. The labels are applied like a control's changes and recorded as one
    ResourceResult per Namespace: the writer re-renders those documents, the report lists them."""
    if "pss-labels" not in run.kinds:
        return []
    docs, workloads, opts = run.docs, run.workloads, run.opts
    if not namespace_docs(docs) and opts.emit.strip() != "auto":
        run.notes.append("--emit pss-labels: the stream holds no Namespace object to label; put the "
                         "release's Namespace in front of it (see docs/policy.md)")
    version = "v" + fmt(opts.kube)
    out = []
    for name, doc in sorted(namespace_docs(docs).items(), key=lambda kv: kv[1].index):
        members = [t for w in workloads if w.namespace in (name, "") for t in w.templates]
        wanted: dict[str, str] = {}
        target = opts.profile.level
        if members:
            met = pss.weakest(pss.meets(t.get("metadata"), t.get("spec"), opts.kube) for t in members)
            target = pss.strictest((met, target))
            mesh = mesh_of(_get(doc.load(), "metadata"),
                           [t for w in workloads if w.namespace == name for t in w.templates])
            if mesh:
                met = _cap_for_mesh(met, mesh, name, opts.mesh_cni, run.notes)
            wanted |= {"enforce": met, "enforce-version": version}
        wanted |= {"audit": target, "audit-version": version, "warn": target, "warn-version": version}
        result = ResourceResult(doc.index, "v1", "Namespace", "", name)
        _set_labels(doc.load(), {names.PSA_LABEL_PREFIX + k: v for k, v in wanted.items()}, result)
        out.append(result)
    return out


def _cap_for_mesh(met: str, mesh: tuple[str, str], name: str, cni: bool, notes: list[str]) -> str:
    """`enforce` no stricter than the mesh's injected pods pass (kube.mesh): the hardened
    templates may meet restricted, the pods the mesh completes do not. `mesh`: (id, why)."""
    m, why = MESHES[mesh[0]], mesh[1]
    cap = m.enforce_with_cni if cni else m.enforce
    level = pss.weakest((met, cap))
    if level != met:
        head = f"Namespace {name}: {m.name} injects containers into every new pod ({why}); "
        notes.append(head + (f"with {m.cni} its own guide enforces {cap}" if cni else
                             f"its init container needs NET_ADMIN and NET_RAW, which {met} rejects")
                     + f": enforce set to {level}, audit and warn stay at the profile's level"
                     + ("" if cni else f" (with {m.cni}, pass --mesh-cni to enforce {m.enforce_with_cni})"))
    return level


def _set_labels(data: dict, wanted: dict[str, str], result: ResourceResult) -> None:
    labels = _get(data, "metadata", "labels")
    current = labels if isinstance(labels, dict) else {}
    missing = {k: v for k, v in wanted.items() if k not in current}
    for k in sorted(set(wanted) & set(current)):
        if current[k] != wanted[k]:
            setting = f"label {k}={current[k]}"
            result.skipped.append(Skip("pss-labels", f"kept: {setting} (computed {wanted[k]})",
                                       kind=CONFLICT, setting=setting))
    if not missing:
        return
    if not isinstance(labels, dict):
        changes = [Change("pss-labels", "add", "/metadata/labels", missing, "Pod Security Admission labels")]
    else:
        changes = [Change("pss-labels", "add", join("/metadata/labels", k), v, "Pod Security Admission label")
                   for k, v in missing.items()]
    for change in changes:
        apply_change(data, change)
        result.changes.append(change)
