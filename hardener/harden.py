"""Harden every pod template of a document: plan each control, apply each change.

For each pod template: opt-out annotations are read, then each enabled control plans in
registry order; every :class:`~hardener.results.Change` it yields is applied before it
resumes, so later controls see earlier changes. The result per resource is a
:class:`~hardener.results.ResourceResult`: the changes (JSON Patch operations with the
control and reason) and the skips.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from . import controls as _controls
from .controls.context import PodContext
from .errors import InputError
from .kube import names, podspec
from .kube.pointer import apply_op, join
from .kube.workloads import PodTemplate, WorkloadTable, find_pod_templates, reported
from .profile import Profile
from .shapes import ShapeCache
from .results import (HOST_ACCESS, MALFORMED, NOT_APPLICABLE, OPT_OUT, UNFIXABLE, UNFIXED, Change,
                      ResourceResult, Skip, Warning, json_copy)

if TYPE_CHECKING:
    from .yamlio import Document


def apply_change(data: Any, change: Change) -> None:
    """Apply one planned change in place (values are deep-copied: no shared references,
    so the writer never needs `&id001` anchors). RFC 6902 semantics, as `jsonpatch` had."""
    op = change.op
    apply_op(data, op, change.path, None if op == "remove" else json_copy(change.value))


def _opt_outs(pt: PodTemplate, document: int,
              doc: Document | None = None) -> tuple[bool, frozenset, frozenset]:
    """Read the opt-out annotations from the workload's and the pod template's metadata
    (`doc`: the document the data was loaded from, for errors)."""
    metas = [(pt.metadata, pt.resource_pointer)]
    tmeta = pt.template.get("metadata") if pt.template else None
    if isinstance(tmeta, dict) and tmeta is not pt.metadata:
        metas.append((tmeta, pt.pointer))
    skip, containers, ctrls = False, frozenset(), frozenset()
    bad_at = None
    for meta, at in metas:
        ann = meta.get("annotations")
        if not isinstance(ann, dict):
            continue
        if str(ann.get(names.SKIP, "")).lower() in ("true", "yes", "1"):
            skip = True
        containers |= names.listed(ann.get(names.SKIP_CONTAINERS))
        listed = names.listed(ann.get(names.SKIP_CONTROLS))
        if bad_at is None and listed - set(_controls.CONTROLS):
            bad_at = join(at, "metadata", "annotations", names.SKIP_CONTROLS)
        ctrls |= listed
    unknown = sorted(ctrls - set(_controls.CONTROLS))
    if unknown:
        raise _unknown_controls(pt, unknown, document, doc, bad_at or pt.resource_pointer)
    return skip, containers, ctrls


def _unknown_controls(pt: PodTemplate, unknown: list, document: int, doc: Document | None,
                      pointer: str) -> InputError:
    """With `doc`, the error names its file, the document within it and the line of the
    annotation at `pointer` (a ResourceList item: in the list's text)."""
    message = (f"{pt.kind} {pt.name}: annotation {names.SKIP_CONTROLS} names unknown "
               f"control(s) {', '.join(unknown)}; known: {', '.join(_controls.CONTROLS)}")
    if doc is None:
        return InputError(message, document=document)
    from .audit.lines import Lines  # only on the error path

    text, item = doc.parent or doc, f"{doc.pointer.lstrip('/')}: " if doc.parent else ""
    return InputError(item + message, source=text.source, document=text.index_in_source,
                      line=Lines(text).line(doc.pointer + pointer)[0])


def _where(doc: Document | None) -> str:
    """`FILE, document N` (N within the file, a List item's pointer after it) for errors."""
    if doc is None:
        return ""
    text = doc.parent or doc
    item = f" {doc.pointer.lstrip('/')}" if doc.parent else ""
    return f"{text.source}, document {text.index_in_source}{item}"


def _image_facts(ctx: PodContext, result: ResourceResult) -> None:
    """What the images say, before any control plans (--images): the containers whose
    image runs as a non-zero uid the manifest leaves open take it (`ctx.from_image`, and
    they count as chosen, as a uid the manifest chose: RunAsGroup and FsGroup then keep the
    image's group, which its files were built for); a config that could not be had is a
    warning; a Windows image's user is a Windows account name, not a uid (a note)."""
    sets_uid = "runAsUser" in ctx.active
    for c in ctx.containers():
        img = ctx.image(c)
        if img is None:
            continue
        if not hasattr(img, "user"):
            result.warnings.append(Warning("images", f"image {img.reference}: config not read: {img.reason}; "
                                           "its user and ports are unknown", c.name, image=img.reference))
            continue
        if ctx.is_windows or img.windows:
            if img.user and sets_uid:
                result.skipped.append(Skip("runAsUser", f"Windows image {img.reference}: its user "
                                           f"{img.user!r} is a Windows account, not a Linux uid",
                                           c.name, kind=NOT_APPLICABLE))
            continue
        user = ctx.image_user(c)
        if (sets_uid and user is not None and user.kind == "uid"
                and ctx.keeps_identity(c, "runAsUser") is None):
            ctx.from_image[c.pointer] = user


def harden_template(pt: PodTemplate, data: Any, profile: Profile, kube: tuple[int, int],
                    document: int, result: ResourceResult, doc: Document | None = None,
                    images: dict | None = None, shapes: ShapeCache | None = None,
                    opt_outs: tuple | None = None, key: str | None = None) -> str | None:
    """Plan every enabled control on one pod template, applying changes as they come.
    Returns the PSS level the hardened template meets (None for an opted-out template).
    `images`: image reference -> ImageConfig or Failure (--images); `shapes`: the run's
    plans by template shape (a template of a shape planned before replays that plan);
    `key`: the template's shape (`shapes.key`; None: not cached); `opt_outs`: what
    :func:`_opt_outs` gave, when the caller read it already."""
    skip_all, skip_containers, skip_controls = opt_outs or _opt_outs(pt, document, doc)
    if skip_all:
        result.skipped.append(Skip("*", f"opt-out annotation {names.SKIP}", kind=OPT_OUT))
        return None
    plan = shapes.get(key) if shapes is not None else None
    if plan is not None:
        return shapes.replay(plan, result, lambda change: apply_change(data, change))
    marks = len(result.changes), len(result.warnings), len(result.skipped)
    before_runs = result.extra.get("changesWhatRuns", 0)
    met = _plan_template(pt, data, profile, kube, document, result, doc, images,
                         skip_containers, skip_controls)
    if key is not None:
        shapes.put(key, shapes.record(result, *marks, result.extra.get("changesWhatRuns", 0) - before_runs, met))
    return met


def _plan_template(pt: PodTemplate, data: Any, profile: Profile, kube: tuple[int, int],
                   document: int, result: ResourceResult, doc: Document | None,
                   images: dict | None, skip_containers: frozenset, skip_controls: frozenset) -> str:
    """The controls' plan on one template that is not opted out (see :func:`harden_template`)."""
    conflicts = {cid: profile.rule(cid) for cid in _controls.CONTROLS}
    caps = profile.controls.get("capabilities")
    ctx = PodContext(pt, kube, conflicts, skip_controls, skip_containers, document, _where(doc),
                     allowed_adds=frozenset(caps["allowAdd"]) if caps else frozenset(),
                     active=frozenset(profile.controls) - skip_controls, level=profile.level,
                     images=images,
                     on_image_root=profile.controls.get("runAsUser", {}).get("onImageRoot", "warn"))
    first = len(result.skipped)
    if images:
        _image_facts(ctx, result)
    if not ctx.is_windows:
        # runAsNonRoot: true of the manifest's own, and no uid: the image's numeric non-root
        # uid runs (kuberuntime verifyRunAsNonRoot refuses any other at start); with
        # --images, an image known to run as root or a named user is not such a container
        ctx.image_uid = frozenset(
            c.pointer for c in ctx.containers(opted_out=True)
            if podspec.effective(c.sc, ctx.pod_sc, "runAsNonRoot") is True
            and podspec.effective(c.sc, ctx.pod_sc, "runAsUser") is None
            and c.pointer not in ctx.from_image and ctx.image_user(c) is None)
    ctx.chosen = frozenset(
        c.pointer for c in ctx.containers(opted_out=True)
        if (podspec.integer(podspec.effective(c.sc, ctx.pod_sc, "runAsUser")) or 0) > 0) | set(ctx.from_image) \
        | ctx.image_uid
    for name in sorted(skip_containers & {c.name for c in ctx.containers(opted_out=True)}):
        result.skipped.append(Skip("*", f"opt-out annotation {names.SKIP_CONTAINERS}", name,
                                   kind=OPT_OUT))
    windows = ctx.is_windows
    applied: list[Change] = []  # as planned, on the template (not translated to a CRD's fields)
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
                real = pt.translate(item)  # a CRD's pod: the field the change stands for
                if isinstance(real, Skip):
                    if real not in result.skipped:
                        result.skipped.append(real)
                    continue
                apply_change(data, real)
                result.changes.append(real)
                applied.append(item)
                pt.refresh()
                ctx.changed()
            elif isinstance(item, Warning):
                result.warnings.append(item)
            else:
                result.skipped.append(item)
    if applied:
        result.extra["changesWhatRuns"] = result.extra.get("changesWhatRuns", 0) + _changes_what_runs(pt, applied)
    return account(pt, profile, kube, result.skipped, first)


def _changes_what_runs(pt: PodTemplate, applied: list[Change]) -> int:
    """How many of the template's changes change what its containers run with (the rest
    spell out a default: kube.effect); --check counts only these."""
    from .kube.effect import changes_what_runs

    base, template = pt.pointer, pt.template
    made = [c.path[len(base):] for c in applied if c.path.startswith(base)]
    return sum(1 for c in applied if not c.path.startswith(base)
               or changes_what_runs(c.op, c.path[len(base):], c.value, template, made))


#: Why a PSS check the controls leave failing is kept: checks whose fix would change what
#: the workload does (kind, why). Any other failing check is a gap of the profile (UNFIXED).
KEPT_CHECKS = {
    "restrictedVolumes": (UNFIXABLE, "kept (another volume type would change what the workload mounts)"),
    "hostPathVolumes": (HOST_ACCESS, "kept (host access is never removed)"),
    "hostNamespaces": (HOST_ACCESS, "kept (host access is never removed)"),
    "hostPorts": (HOST_ACCESS, "kept (host access is never removed)"),
    "windowsHostProcess": (HOST_ACCESS, "kept (host access is never removed)"),
    "hostProbesAndHostLifecycle": (HOST_ACCESS, "kept (without the host the handler would reach "
                                                "the pod, not what it was written for)"),
}


def explains(skip: Skip, v: Any) -> bool:
    """Does this skip say why the template still fails violation `v` (a pss.Violation)?
    Its check, or else its control's checks, for the same container or for the whole pod;
    an opted-out container or template explains everything of it."""
    if skip.container is not None and skip.container != v.container:
        return False
    if skip.control == "*":
        return skip.kind in (OPT_OUT, MALFORMED)
    if skip.check is not None:
        return skip.check == v.check
    control = _controls.CONTROLS.get(skip.control)
    return control is not None and v.check in control.pss_checks


def _why_unfixed(profile: Profile, owner: str, fix: str) -> str:
    if owner in profile.inactive:
        return f"not fixed: control {owner} is off ({profile.inactive[owner]}); {fix}"
    if owner not in profile.controls:
        return f"not fixed: profile {profile.name} has no control {owner}; {fix}"
    return f"not fixed by control {owner}; {fix}"


def account(pt: PodTemplate, profile: Profile, kube: tuple[int, int], skipped: list[Skip],
            first: int) -> str:
    """Every PSS check of the profile's level the hardened template still fails is
    reported: each violation is matched to the skip that explains it (which then names the
    check), and one without is reported as kept (KEPT_CHECKS), as not applicable (its
    control is off on the profile's nodes) or as a gap (UNFIXED: no control of the profile).
    Returns the PSS level the hardened template meets (from the same evaluation)."""
    from . import pss

    tpl = pt.template or {}
    mine = skipped[first:]
    met, violations = pss.assess(tpl.get("metadata"), tpl.get("spec"), profile.level, kube)
    for v in violations:
        found = next((s for s in mine if explains(s, v)), None)
        if found is not None:
            if found.check is None and found.control != "*":
                found.check = v.check
            continue
        owner = next((cid for cid, c in _controls.CONTROLS.items() if v.check in c.pss_checks), "*")
        kind, why = KEPT_CHECKS.get(v.check) or (
            NOT_APPLICABLE if owner in profile.inactive else UNFIXED, _why_unfixed(profile, owner, v.fix))
        skip = Skip(owner, f"{v.message} at {v.path}: {why}", v.container, kind=kind, check=v.check)
        skipped.append(skip)  # not in `mine`: each violation of the kind gets its own
    return met


def pss_level(pt: PodTemplate, kube: tuple[int, int]) -> str:
    """The strictest Pod Security Standards level the template meets now."""
    from . import pss

    tpl = pt.template or {}
    return pss.meets(tpl.get("metadata"), tpl.get("spec"), kube)


def _malformed(pt: PodTemplate) -> list[Skip]:
    return [Skip("*", f"malformed: {p.message} (at "
                      f"{pt.real_pointer(p.path) if p.in_template else pt.resource_pointer + p.path})",
                 kind=MALFORMED) for p in pt.problems]


def _weakest_pss(so_far: dict | None, before: str, after: str) -> dict:
    """A resource's levels: what its weakest pod template meets (Kubeflow jobs, JobSets and
    Volcano jobs have several)."""
    from .pss import weakest

    if so_far is None:
        return {"before": before, "after": after}
    return {"before": weakest((so_far["before"], before)), "after": weakest((so_far["after"], after))}


def harden_document(data: Any, document: int, profile: Profile, table: WorkloadTable,
                    kube: tuple[int, int], assess: bool = False,
                    doc: Document | None = None, images: dict | None = None,
                    shapes: ShapeCache | None = None) -> list[ResourceResult]:
    """Harden every pod template in a loaded document (in place); one result per resource.
    With `assess`, each result records the PSS level met before and after. `doc`, the
    :class:`~hardener.yamlio.Document` the data came from, lets input errors name its file,
    its index within that file and the line (without it: the `document` index alone).
    `images`: the stream's image configs (--images), by reference."""
    results: dict[str, ResourceResult] = {}
    for pt in find_pod_templates(data, table):
        res = results.get(pt.resource_pointer)
        if res is None:
            res = results[pt.resource_pointer] = ResourceResult(
                document, pt.api_version, pt.kind, pt.namespace, pt.name, pt.resource_pointer)
        res.templates.append(pt)
        if pt.problems:
            # never hardened, never given a level: the API server would refuse it anyway
            res.skipped.extend(_malformed(pt))
            res.extra.pop("pss", None)
            res.extra["malformed"] = True
            continue
        opt_outs = key = None
        if shapes is not None:
            opt_outs = _opt_outs(pt, document, doc)
            key = shapes.key(pt, opt_outs[2], opt_outs[1])
        before = (shapes.before(key, lambda: pss_level(pt, kube)) if key is not None
                  else pss_level(pt, kube)) if assess else None
        first = len(res.skipped)
        after = harden_template(pt, data, profile, kube, document, res, doc, images, shapes, opt_outs, key)
        res.template_skips[pt.pointer] = res.skipped[first:]
        if assess and not res.extra.get("malformed"):
            if after is None:  # opted out: never evaluated
                after = pss_level(pt, kube)
            res.extra["pss"] = _weakest_pss(res.extra.get("pss"), before, after)
    for resource, at, skip in reported(data, table):
        res = results.get(at)
        if res is None:
            ref = PodTemplate(resource, at, at)
            res = results[at] = ResourceResult(document, ref.api_version, ref.kind, ref.namespace,
                                               ref.name, at)
        res.skipped.append(skip)
    return list(results.values())


def verify(results: list[ResourceResult], profile: Profile, kube: tuple[int, int]) -> list[str]:
    """Problems with the hardened output, found by evaluating it again: a pod template that
    fails a check of the profile's PSS level with no skip of its own that says why (or only
    an UNFIXED one: a gap between what the profile claims and what its controls do), or a
    malformed one the tool could not harden at all."""
    from . import pss

    problems = []
    for r in results:
        for pt in r.templates:
            if pt.problems:  # malformed: never hardened, so it misses the level
                problems.append(f"document {r.document}: {r.ref}: not hardened at {pt.pointer or '/'}: "
                                + "; ".join(f"malformed: {p.message}" for p in pt.problems))
                continue
            tpl = pt.template or {}
            skips = r.template_skips.get(pt.pointer, r.skipped)
            for v in pss.evaluate(tpl.get("metadata"), tpl.get("spec"), profile.level, kube):
                if any(s.kind != UNFIXED and explains(s, v) for s in skips):
                    continue
                who = f" container {v.container!r}" if v.container else ""
                problems.append(f"document {r.document}: {r.ref}:{who} fails PSS "
                                f"{profile.level} check {v.check} at {pt.pointer}{v.path}: {v.message}")
    return problems
