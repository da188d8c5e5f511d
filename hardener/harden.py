"""Harden every pod template of a document: plan each control, apply each change.

For each pod template: opt-out annotations are read, then each enabled control plans in
registry order; every :class:`~hardener.results.Change` it yields is applied before it
resumes, so later controls see earlier changes. The result per resource is a
:class:`~hardener.results.ResourceResult`: the changes (JSON Patch operations with the
control and reason) and the skips.
"""

from __future__ import annotations

from typing import Any

from . import controls as _controls
from .controls.context import PodContext
from .errors import InputError
from .kube import names, podspec
from .kube.workloads import PodTemplate, WorkloadTable, find_pod_templates
from .profile import Profile
from .results import NOT_APPLICABLE, OPT_OUT, Change, ResourceResult, Skip, Warning


def apply_change(data: Any, change: Change) -> None:
    """Apply one planned change in place (values are deep-copied: no shared references,
    so the writer never needs `&id001` anchors)."""
    import jsonpatch  # imported on first change: documents needing none never pay for it

    jsonpatch.apply_patch(data, [change.as_patch()], in_place=True)


def _annotation_list(value: Any) -> frozenset:
    if not isinstance(value, str):
        return frozenset()
    return frozenset(x.strip() for x in value.split(",") if x.strip())


def _opt_outs(pt: PodTemplate, document: int) -> tuple[bool, frozenset, frozenset]:
    """Read the opt-out annotations from the workload's and the pod template's metadata."""
    metas = [pt.metadata]
    tmeta = pt.template.get("metadata") if pt.template else None
    if isinstance(tmeta, dict) and tmeta is not pt.metadata:
        metas.append(tmeta)
    skip, containers, ctrls = False, frozenset(), frozenset()
    for meta in metas:
        ann = meta.get("annotations")
        if not isinstance(ann, dict):
            continue
        if str(ann.get(names.SKIP, "")).lower() in ("true", "yes", "1"):
            skip = True
        containers |= _annotation_list(ann.get(names.SKIP_CONTAINERS))
        ctrls |= _annotation_list(ann.get(names.SKIP_CONTROLS))
    unknown = sorted(ctrls - set(_controls.CONTROLS))
    if unknown:
        raise InputError(f"{pt.kind} {pt.name}: annotation {names.SKIP_CONTROLS} names unknown "
                         f"control(s) {', '.join(unknown)}; known: {', '.join(_controls.CONTROLS)}",
                         document=document)
    return skip, containers, ctrls


def harden_template(pt: PodTemplate, data: Any, profile: Profile, kube: tuple[int, int],
                    document: int, result: ResourceResult) -> None:
    """Plan every enabled control on one pod template, applying changes as they come."""
    skip_all, skip_containers, skip_controls = _opt_outs(pt, document)
    if skip_all:
        result.skipped.append(Skip("*", f"opt-out annotation {names.SKIP}", kind=OPT_OUT))
        return
    conflicts = {cid: profile.rule(cid) for cid in _controls.CONTROLS}
    caps = profile.controls.get("capabilities")
    ctx = PodContext(pt, kube, conflicts, skip_controls, skip_containers, document,
                     allowed_adds=frozenset(caps["allowAdd"]) if caps else frozenset(),
                     active=frozenset(profile.controls) - skip_controls)
    ctx.chosen = frozenset(
        c.pointer for c in ctx.containers(opted_out=True)
        if (podspec.integer(podspec.effective(c.sc, ctx.pod_sc, "runAsUser")) or 0) > 0)
    for name in sorted(skip_containers & {c.name for c in ctx.containers(opted_out=True)}):
        result.skipped.append(Skip("*", f"opt-out annotation {names.SKIP_CONTAINERS}", name,
                                   kind=OPT_OUT))
    windows = ctx.is_windows
    for cid, opts in profile.controls.items():
        control = _controls.CONTROLS[cid]
        if cid in skip_controls:
            result.skipped.append(Skip(cid, f"opt-out annotation {names.SKIP_CONTROLS}", kind=OPT_OUT))
            continue
        if windows and control.linux_only:
            result.skipped.append(Skip(cid, "Windows pod: Linux-only control", kind=NOT_APPLICABLE))
            continue
        for item in control().plan(ctx, opts):
            if isinstance(item, Change):
                apply_change(data, item)
                result.changes.append(item)
            elif isinstance(item, Warning):
                result.warnings.append(item)
            else:
                result.skipped.append(item)


def pss_level(pt: PodTemplate, kube: tuple[int, int]) -> str:
    """The strictest Pod Security Standards level the template meets now."""
    from . import pss

    tpl = pt.template or {}
    return pss.meets(tpl.get("metadata"), tpl.get("spec"), kube)


def harden_document(data: Any, document: int, profile: Profile, table: WorkloadTable,
                    kube: tuple[int, int], assess: bool = False) -> list[ResourceResult]:
    """Harden every pod template in a loaded document (in place); one result per resource.
    With `assess`, each result records the PSS level met before and after."""
    results: dict[str, ResourceResult] = {}
    for pt in find_pod_templates(data, table):
        res = results.get(pt.resource_pointer)
        if res is None:
            res = results[pt.resource_pointer] = ResourceResult(
                document, pt.api_version, pt.kind, pt.namespace, pt.name, pt.resource_pointer)
        res.templates.append(pt)
        before = pss_level(pt, kube) if assess else None
        harden_template(pt, data, profile, kube, document, res)
        if assess:
            res.extra["pss"] = {"before": before, "after": pss_level(pt, kube)}
    return list(results.values())


def verify(results: list[ResourceResult], profile: Profile, kube: tuple[int, int]) -> list[str]:
    """Problems with the hardened output: a template that fails the profile's PSS level
    without being a reported exception (a gap between what the profile claims and does)."""
    from . import pss

    problems = []
    for r in results:
        if r.skipped:
            continue
        for pt in r.templates:
            tpl = pt.template or {}
            for v in pss.evaluate(tpl.get("metadata"), tpl.get("spec"), profile.level, kube):
                who = f" container {v.container!r}" if v.container else ""
                problems.append(f"document {r.document}: {r.ref}:{who} fails PSS "
                                f"{profile.level} check {v.check} at {pt.pointer}{v.path}: {v.message}")
    return problems
