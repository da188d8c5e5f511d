"""What the ValidatingAdmissionPolicy lets a stream's workload keep, check by check.

A workload the CLI hardened may still fail a check of its own policy: a node agent keeps
its host access, a container whose uid the chart chose keeps its image's group, a conflict
kept by the profile's rule. The policy must admit what the CLI left on purpose, and nothing
more: an exemption names one check (a PSS check, or one part of a control) and the
containers that fail it — the whole pod only when the pod's own fields fail it, or every
container does — and it holds only for the workload's own objects and the pods its
controllers create while they run the stream's images (:func:`match_term`).

The judge is the project's mirror of each check (:mod:`hardener.pss` for the PSS checks
and the controls that reuse their CEL, :func:`.envelope.rules` for the rest), and it checks
itself: the containers it exempts are those that fail the check on their own, and the
template without them must pass it, or the exemption is the pod's. tests/server runs the
hardened corpus through the real API server with these exemptions in place.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from .. import pss
from ..kube.nodes import psa_windows
from ..kube.podspec import CONTAINER_LISTS
from ..kube.podspec import containers as containers_of
from ..kube.workloads import BUILTIN_WORKLOADS
from .cel import string as _cel_str
from .cel import strings as _cel_list
from .envelope import Envelope, rules
from .stream import Workload
from .usage import usage_of

PSS_KEY = "pss:"
#: Controls whose validation is a PSS check's CEL (vap.cel_validations): judged by that check.
PSS_BACKED = {"seLinux:types": "seLinuxOptions", "procMount": "procMount_restricted", "sysctls": "sysctls"}


@dataclass(frozen=True)
class Exemption:
    """`workload` may fail the validation `key`: in the containers named, or (containers
    None) in its pod's own fields."""

    workload: Workload
    key: str
    containers: frozenset | None


def exemptions(workloads: list[Workload], env: Envelope, keys: set[str], linux_only: frozenset) -> list[Exemption]:
    """Every exemption the stream's hardened workloads need from the validations `keys`."""
    out = []
    for w in workloads:
        needed: dict[str, frozenset | None] = {}
        for t in w.templates:
            for key in failing(t, env, keys, linux_only):
                names = _failing_containers(t, key, env, keys, linux_only)
                if key not in needed:
                    needed[key] = names
                elif needed[key] is not None:
                    needed[key] = None if names is None else needed[key] | names
        out += [Exemption(w, key, needed[key]) for key in sorted(needed)]
    return out


def failing(template: dict, env: Envelope, keys: set[str], linux_only: frozenset) -> dict[str, str]:
    """key -> what fails, for the validations `keys` a pod of `template` fails."""
    meta, spec = template.get("metadata"), template.get("spec")
    out: dict[str, str] = {}
    for v in pss.evaluate(meta, spec, env.profile.level, env.kube):
        out.setdefault(PSS_KEY + v.check, v.message)
    windows = psa_windows(spec or {})
    for key, bad, what in rules(usage_of([template], env.kube), env):
        if bad and key not in PSS_BACKED and not (windows and key.split(":")[0] in linux_only):
            out.setdefault(key, what)
    for key, check in PSS_BACKED.items():
        if key in keys and not windows:
            found = pss.evaluate_check(check, meta, spec, env.kube)
            if found:
                out.setdefault(key, found[0].message)
    return {k: v for k, v in out.items() if k in keys}


def _failing_containers(template: dict, key: str, env: Envelope, keys: set, linux_only: frozenset):
    """The containers that fail `key` on their own, when the template passes it without
    them; None when the pod's own fields fail it (or every container does)."""
    spec = template.get("spec") if isinstance(template.get("spec"), dict) else {}
    names = [c.get("name") for _, _, c in containers_of(spec)]
    if not names or not all(isinstance(n, str) and n for n in names) or len(set(names)) != len(names):
        return None
    bad = {n for n in names if key in failing(_keeping(template, {n}), env, keys, linux_only)}
    if not bad or len(bad) == len(names):
        return None
    if key in failing(_keeping(template, set(names) - bad), env, keys, linux_only):
        return None
    return frozenset(bad)


def _keeping(template: dict, names: set[str]) -> dict:
    """The template with only the containers named (in every container list)."""
    spec = dict(template["spec"])
    for list_name in CONTAINER_LISTS:
        if isinstance(spec.get(list_name), list):
            spec[list_name] = [c for c in spec[list_name] if isinstance(c, dict) and c.get("name") in names]
    return {**template, "spec": spec}


# --------------------------------------------------------------------------- CEL

#: Who creates the objects a built-in workload owns: owner kind -> the controller's service
#: account in kube-system (plugin/pkg/auth/authorizer/rbac/bootstrappolicy/controller_policy.go;
#: kube-controller-manager's own user when it runs without --use-service-account-credentials).
CREATORS = {"Deployment": "deployment-controller", "ReplicaSet": "replicaset-controller",
            "CronJob": "cronjob-controller", "Job": "job-controller", "DaemonSet": "daemon-set-controller",
            "StatefulSet": "statefulset-controller", "ReplicationController": "replication-controller"}
CONTROLLER_MANAGER = "system:kube-controller-manager"


def match_term(w: Workload, template: str, sidecars: frozenset) -> str:
    """CEL, true for `w`'s own object, the ReplicaSets/Jobs its controller creates and their
    pods (in its namespace, when known) — each only while it runs the stream's images for
    `w` and has no ephemeral container. `template` is the CEL reaching an object's pod
    template."""
    kind = _cel_str(w.result.kind)
    term = (f"((object.kind == {kind} && {_names('object.metadata.name', w)})"
            f" || (has(object.metadata.ownerReferences) && object.metadata.ownerReferences"
            f".exists(o, {' || '.join(owned_by(w))}))) && {_own_images(w, template, sidecars)}")
    if w.namespace:
        term = f"request.namespace == {_cel_str(w.namespace)} && ({term})"
    return term


def _created_by(owner_kind: str) -> str:
    """CEL: the request comes from the controller that creates what `owner_kind` owns (true
    for a CRD owner such as a Rollout: its controller's name is the cluster's to choose)."""
    sa = CREATORS.get(owner_kind)
    if sa is None:
        return "true"
    return f"request.userInfo.username in {_cel_list([f'system:serviceaccount:kube-system:{sa}', CONTROLLER_MANAGER])}"


def _generate_name(w: Workload) -> str | None:
    """The workload's metadata.generateName when it has no name (Argo Workflows, Jobs made by
    tools): its objects are named by the API server, `generateName` + 5 random characters
    (k8s.io/apiserver pkg/storage/names: SimpleNameGenerator)."""
    if w.result.name or not w.result.templates:
        return None
    meta = w.result.templates[0].resource.get("metadata")
    gn = meta.get("generateName") if isinstance(meta, dict) else None
    return gn if isinstance(gn, str) and gn else None


def _names(field: str, w: Workload, suffix: str = "") -> str:
    """CEL: `field` is the workload's name (with `suffix`, a regex: the name its controller
    gives a child), or one the API server generated from its generateName."""
    gn = _generate_name(w)
    if gn is None and not suffix:
        return f"{field} == {_cel_str(w.result.name)}"
    base = re.escape(w.result.name) if gn is None else re.escape(gn) + "[a-z0-9]{5}"
    return f"{field}.matches({_cel_str('^' + base + ('-' + suffix if suffix else '') + '$')})"


def owned_by(w: Workload) -> list[str]:
    """CEL terms over an owner reference `o`: `w` itself, or the ReplicaSet/Job it creates —
    each only when the request comes from the controller that creates such objects, so a
    pod's author cannot claim the owner by writing the reference."""
    kind = _cel_str(w.result.kind)
    owners = [f"(o.kind == {kind} && {_names('o.name', w)} && {_created_by(w.result.kind)})"]
    child = {"Deployment": ("ReplicaSet", "[a-z0-9]+"), "CronJob": ("Job", "[0-9]+")}.get(w.result.kind)
    if child is None and w.result.kind not in BUILTIN_WORKLOADS:  # CRDs like Rollouts own ReplicaSets
        child = ("ReplicaSet", "[a-z0-9]+")
    if child:
        owners.append(f"(o.kind == '{child[0]}' && {_names('o.name', w, child[1])} && {_created_by(child[0])})")
    return owners


def _images_of(w: Workload) -> list[str]:
    return sorted({str(c.get("image")) for t in w.templates for _, _, c in containers_of(t.get("spec") or {})
                   if isinstance(c.get("image"), str)})


def _own_images(w: Workload, template: str, sidecars: frozenset) -> str:
    """CEL: every container of the object's pod (template) runs an image of the stream's
    `w` (or is one of its opted-out sidecars, whose image the mesh chooses), and it has no
    ephemeral container: no template has one, so each was added to a running pod by someone
    (`kubectl debug`), and the exemption is the workload's, not theirs."""
    t = f"({template})"
    listed = _cel_list(_images_of(w))
    names_ok = f" || c.name in {_cel_list(sorted(sidecars))}" if sidecars else ""
    return (f"(!has({t}.spec) || (({t}.spec.containers + (has({t}.spec.initContainers) ? {t}.spec.initContainers"
            f" : [])).all(c, (has(c.image) && c.image in {listed}){names_ok})"
            f" && (!has({t}.spec.ephemeralContainers) || size({t}.spec.ephemeralContainers) == 0)))")
