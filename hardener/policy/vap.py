"""ValidatingAdmissionPolicy (admissionregistration.k8s.io/v1, Kubernetes >= 1.30) + Binding."""

from __future__ import annotations

import re
from typing import Any

from .. import pss
from ..controls import CONTROLS
from ..kube import names
from ..kube.podspec import containers as containers_of
from ..kube.workloads import BUILTIN_WORKLOADS
from ..options import Options
from .envelope import Envelope, violations
from .naming import Naming, binding_scope
from . import pss_cel
from .cel import every as _every
from .cel import has_path
from .cel import string as _cel_str
from .cel import strings as _cel_list
from .pss_cel import pss_validations
from .stream import Workload

LINUX_ONLY = frozenset(cid for cid, c in CONTROLS.items() if c.linux_only)


def vap_objects(workloads: list[Workload], env: Envelope, naming: Naming, namespaces: list[str],
                opts: Options) -> list[dict]:
    """A ValidatingAdmissionPolicy checking the profile's controls on pods and on the
    built-in workload kinds' templates, bound to the stream's namespaces (never the system
    ones); exceptions (and the ReplicaSets/Jobs and pods they own) are left out by a match
    condition."""
    scope = binding_scope(namespaces, "vap", "reject")
    checks = cel_validations(env)
    validated = {control for control, _, _ in checks}
    exempt = [w for w in workloads if _exception(w, env, validated)]
    name = naming.name(opts.profile.name)
    spec: dict[str, Any] = {"failurePolicy": "Fail", "matchConstraints": {"resourceRules": _resource_rules()}}
    spec["matchConditions"] = [{"name": "create-or-pod-template-change", "expression": _template_changed()}]
    for i, expr in enumerate(exemption_expressions(exempt)):
        spec["matchConditions"].append({"name": "not-a-reported-exception" + (f"-{i + 1}" if i else ""),
                                        "expression": expr})
    sidecars = sidecar_expression(workloads)
    spec["variables"] = [{"name": n, "expression": sidecars if n == "exemptContainers" else e}
                         for n, e in CEL_VARIABLES]
    spec["validations"] = [{"expression": expr, "message": msg, "reason": "Forbidden"} for _, expr, msg in checks]
    policy = {"apiVersion": "admissionregistration.k8s.io/v1", "kind": "ValidatingAdmissionPolicy",
              "metadata": naming.metadata(name), "spec": spec}
    binding = {"apiVersion": "admissionregistration.k8s.io/v1", "kind": "ValidatingAdmissionPolicyBinding",
               "metadata": naming.metadata(name),
               "spec": {"policyName": name, "validationActions": ["Deny"],
                        "matchResources": {"namespaceSelector": {"matchExpressions": [
                            {"key": names.NAMESPACE_NAME_LABEL, "operator": "In", "values": scope}]}}}}
    return [policy, binding]


def _exception(w: Workload, env: Envelope, validated: set) -> bool:
    """A workload the policy must leave out: a hardened template that still fails a check of
    the profile's PSS level (each one a reported skip), or uses more than a validated control
    allows (Linux-only controls pass pods with spec.os.name windows, as PSA's checks do)."""
    from ..kube.nodes import psa_windows

    if any(pss.evaluate(t.get("metadata"), t.get("spec"), env.profile.level, env.kube) for t in w.templates):
        return True
    windows = all(psa_windows(t.get("spec") or {}) for t in w.templates)
    return any(c in validated and not (windows and c in LINUX_ONLY) for c, _ in violations(w.usage, env))


def _template_changed() -> str:
    """CEL: CREATE, or an UPDATE that changes the pod template (of a pod: its spec). The
    deployment controller scales and annotates workloads with UPDATEs, controllers relabel
    and adopt pods: a workload or pod created before the policy, or outside the stream, must
    go on working (it is checked when its pod template changes)."""
    return ("request.operation != 'UPDATE' || oldObject == null || "
            "(object.kind == 'Pod' ? object.spec != oldObject.spec : "
            f"({_template_expression('object')}) != ({_template_expression('oldObject')}))")


def _resource_rules() -> list[dict]:
    """Pods on CREATE and UPDATE, and their ephemeral containers (a subresource, matched only
    when named: `kubectl debug` adds a container to a running pod by an UPDATE of
    pods/ephemeralcontainers, and an UPDATE of a pod may replace its images — both let a
    privileged container into an exempt pod when unmatched, as a real 1.37 server showed);
    the built-in workload kinds (from the workload table) on CREATE and UPDATE."""
    groups: dict[str, list[str]] = {}
    for kind, (api_groups, _) in BUILTIN_WORKLOADS.items():
        if kind != "Pod":
            groups.setdefault(api_groups[0], []).append(kind.lower() + "s")
    rules = [{"apiGroups": [""], "apiVersions": ["v1"], "operations": ["CREATE", "UPDATE"],
              "resources": ["pods", "pods/ephemeralcontainers"]}]
    for group, resources in sorted(groups.items()):
        rules.append({"apiGroups": [group], "apiVersions": ["v1"], "operations": ["CREATE", "UPDATE"],
                      "resources": sorted(resources)})
    return rules


def _template_expression(root: str = "object") -> str:
    """CEL reaching the pod template of any built-in workload kind, from the workload table."""
    by_pointer: dict[str, list[str]] = {}
    for kind, (_, pointer) in BUILTIN_WORKLOADS.items():
        by_pointer.setdefault(pointer, []).append(kind)
    common = max(by_pointer, key=lambda p: len(by_pointer[p]))
    expr = root + common.replace("/", ".")
    for pointer, kinds in sorted(by_pointer.items(), reverse=True):
        if pointer != common:
            test = " || ".join(f"{root}.kind == '{k}'" for k in sorted(kinds))
            expr = f"{test} ? {root}{pointer.replace('/', '.')} : {expr}"
    return expr


CEL_VARIABLES = (
    ("template", _template_expression()),
    ("spec", "variables.template.spec"),
    ("podSC", "has(variables.spec.securityContext) ? variables.spec.securityContext : {}"),
    ("annotations", "has(variables.template.metadata) && has(variables.template.metadata.annotations)"
                    " ? variables.template.metadata.annotations : {}"),
    # opted-out sidecars of the stream's workloads, in their pods (sidecar_expression)
    ("exemptContainers", "[]"),
    ("containers", "(variables.spec.containers"
                   " + (has(variables.spec.initContainers) ? variables.spec.initContainers : [])"
                   " + (has(variables.spec.ephemeralContainers) ? variables.spec.ephemeralContainers : []))"
                   ".filter(c, !has(c.name) || !(c.name in variables.exemptContainers))"),
    # PSA's rule (pod-security-admission policy/*.go): only spec.os.name says Windows; a
    # node selector is the pod author's to set and no check looks at it
    ("osWindows", "has(variables.spec.os) && variables.spec.os.name == 'windows'"),
)


def _sc(path: str) -> str:
    """CEL: container `c` sets securityContext.<path> (every step present)."""
    return has_path("c", "securityContext." + path)


def _effective_cel(key: str, test: str, unset: str = "false") -> str:
    """CEL: `test` ({} = the value) on the container's setting, else the pod's, else `unset`."""
    c, p = f"c.securityContext.{key}", f"variables.podSC.{key}"
    return f"(({_sc(key)}) ? {test.format(c)} : (has({p}) ? {test.format(p)} : {unset}))"


def cel_validations(env: Envelope) -> list[tuple[str, str, str]]:
    """(control id, CEL expression, message) for every enabled control the policy can
    check; Linux-only controls pass Windows pods, as hardening skips them there."""
    profile = env.profile.name
    confined = "{}.type in ['RuntimeDefault', 'Localhost']"
    key = f"({_cel_str(names.APPARMOR_CONTAINER_PREFIX)} + c.name)"
    apparmor_annotation = (f"{key} in variables.annotations && (variables.annotations[{key}] == 'runtime/default'"
                           f" || variables.annotations[{key}].startsWith('localhost/'))")
    spec = "variables.spec"
    selinux_types = ", ".join(sorted(t for t in pss.selinux_types(env.kube) if t))
    checks: dict[str, list[tuple[str, str]]] = {
        "hostAccess": [
            (" && ".join(f"!(has({spec}.{f}) && {spec}.{f})" for f in ("hostNetwork", "hostPID", "hostIPC")),
             "must not use the host's network, PID or IPC namespace"),
            (f"!has({spec}.volumes) || {spec}.volumes.all(v, !has(v.hostPath))", "must not mount hostPath volumes"),
            (_every("!has(c.ports) || c.ports.all(p, !has(p.hostPort) || p.hostPort == 0)"),
             "containers must not declare hostPorts"),
            ("!(has(variables.podSC.windowsOptions) && has(variables.podSC.windowsOptions.hostProcess)"
             " && variables.podSC.windowsOptions.hostProcess)", "must not be a Windows HostProcess pod")],
        "privileged": [(_every(f"!({_sc('privileged')} && c.securityContext.privileged)"),
                        "containers must not be privileged")],
        "capabilities": [(_every(f"{_sc('capabilities.drop')} && c.securityContext.capabilities.drop"
                                 f".exists(d, d == {_cel_str(cap)})"), f"containers must drop capability {cap}")
                         for cap in env.required_drop] + [
            (_every(f"!({_sc('capabilities.add')}) || c.securityContext.capabilities.add"
                    f".all(a, a in {_cel_list(sorted(env.allowed_caps))})"),
             "containers may add only " + (", ".join(sorted(env.allowed_caps)) or "no capabilities"))],
        "allowPrivilegeEscalation": [(_every(f"{_sc('allowPrivilegeEscalation')}"
                                             " && c.securityContext.allowPrivilegeEscalation == false"),
                                      "containers must set allowPrivilegeEscalation: false")],
        "runAsNonRoot": [(_every(_effective_cel("runAsNonRoot", "{} == true")),
                          "containers must run with runAsNonRoot: true")],
        "runAsUser": [(_every(_effective_cel("runAsUser", "{} != 0", "true")), "containers must not run as uid 0")],
        "runAsGroup": [(_every(_effective_cel("runAsGroup", "{} != 0")),
                        "containers must run with a runAsGroup other than 0")],
        "fsGroup": [("has(variables.podSC.fsGroup) && variables.podSC.fsGroup != 0",
                     "pods must set an fsGroup other than 0")],
        "supplementalGroups": [("!has(variables.podSC.supplementalGroups)"
                                " || variables.podSC.supplementalGroups.all(g, g != 0)",
                                "pods must not add supplemental group 0")],
        "seccompProfile": [(_every(_effective_cel("seccompProfile", confined)),
                            "containers must use a RuntimeDefault or Localhost seccomp profile")],
        "appArmor": [(_every(_effective_cel("appArmorProfile", confined, apparmor_annotation)),
                      "containers must use a RuntimeDefault or Localhost AppArmor profile")],
        # the three controls that fix a PSS check: the check's own CEL (pss_cel)
        "seLinux": [(pss_cel.check("seLinuxOptions", env.kube)[0],
                     f"SELinux type must be one of {selinux_types}, with no custom user or role")] + (
            [(_every(_effective_cel("seLinuxOptions", "true")), "containers must have seLinuxOptions")]
            if env.profile.controls.get("seLinux", {}).get("options") else []),
        "procMount": [(pss_cel.check("procMount_restricted", env.kube)[0],
                       "containers must keep the default /proc masks (procMount Default)")],
        "sysctls": [(pss_cel.check("sysctls", env.kube)[0], "pods may set only the safe sysctls")],
        "readOnlyRootFilesystem": [(_every(f"{_sc('readOnlyRootFilesystem')}"
                                           " && c.securityContext.readOnlyRootFilesystem == true"),
                                    "containers must set readOnlyRootFilesystem: true")],
        # the sysctl only lets a pod bind the low ports it declares: nothing to forbid
        "unprivilegedPortStart": [],
    }
    missing = set(CONTROLS) ^ set(checks)
    if missing:  # a control added without saying what the policy checks of it
        raise AssertionError(f"ValidatingAdmissionPolicy table out of step with the controls: {sorted(missing)}")
    out = [(f"pss:{cid}", expr, f"k8s-harden profile {profile}, PSS {env.profile.level} check {cid}: {what}")
           for cid, expr, what in pss_validations(env.profile.level, env.kube)]
    for control in (c for c in CONTROLS if c in env.controls):
        for expr, what in checks[control]:
            if control in LINUX_ONLY:
                expr = f"variables.osWindows || ({expr})"
            out.append((control, expr, f"k8s-harden profile {profile}, {control}: {what}"))
    return out


#: Who creates the objects a built-in workload owns: owner kind -> the controller's service
#: account in kube-system (plugin/pkg/auth/authorizer/rbac/bootstrappolicy/controller_policy.go;
#: kube-controller-manager's own user when it runs without --use-service-account-credentials).
CREATORS = {"Deployment": "deployment-controller", "ReplicaSet": "replicaset-controller",
            "CronJob": "cronjob-controller", "Job": "job-controller", "DaemonSet": "daemon-set-controller",
            "StatefulSet": "statefulset-controller", "ReplicationController": "replication-controller"}
CONTROLLER_MANAGER = "system:kube-controller-manager"


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


def _owned_by(w: Workload) -> list[str]:
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


def _own_images(w: Workload, sidecars: frozenset) -> str:
    """CEL: every container of the object's pod (template) runs an image of the stream's
    `w` (or is one of its opted-out sidecars, whose image the mesh chooses), and it has no
    ephemeral container: no template has one, so each was added to a running pod by someone
    (`kubectl debug`), and the exemption is the workload's, not theirs."""
    t = f"({_template_expression('object')})"
    listed = _cel_list(_images_of(w))
    names_ok = f" || c.name in {_cel_list(sorted(sidecars))}" if sidecars else ""
    return (f"(!has({t}.spec) || (({t}.spec.containers + (has({t}.spec.initContainers) ? {t}.spec.initContainers"
            f" : [])).all(c, (has(c.image) && c.image in {listed}){names_ok})"
            f" && (!has({t}.spec.ephemeralContainers) || size({t}.spec.ephemeralContainers) == 0)))")


def opted_out_containers(w: Workload) -> frozenset:
    """The container names the workload opts out (`k8s-harden.io/skip-containers`), on the
    resource or its pod templates."""
    out: set = set()
    metas = [w.result.templates[0].metadata] if w.result.templates else []
    metas += [t.get("metadata") for t in w.templates]
    for meta in metas:
        ann = meta.get("annotations") if isinstance(meta, dict) else None
        out |= names.listed(ann.get(names.SKIP_CONTAINERS) if isinstance(ann, dict) else None)
    return frozenset(out)


def sidecar_expression(workloads: list[Workload]) -> str:
    """CEL for `variables.exemptContainers`: the names a pod of a workload that opts them out
    may carry unchecked (a mesh injects them after hardening; the policy runs after the
    mutating webhooks) — only for pods its controller creates, never for the workload's own
    template, and never because of anything the pod's author can write."""
    expr = "[]"
    for w in sorted(workloads, key=lambda w: (w.namespace, w.result.kind, w.result.name), reverse=True):
        sidecars = opted_out_containers(w)
        if not sidecars:
            continue
        cond = f"object.metadata.ownerReferences.exists(o, {' || '.join(_owned_by(w))})"
        if w.namespace:
            cond = f"request.namespace == {_cel_str(w.namespace)} && {cond}"
        expr = f"({cond}) ? {_cel_list(sorted(sidecars))} : {expr}"
    if expr == "[]":
        return expr
    return f"object.kind == 'Pod' && has(object.metadata.ownerReferences) ? ({expr}) : []"


#: The API server refuses a policy whose CEL expression is longer than this many code points
#: (the parser's expression size limit as the apiserver configures cel-go; a 1.37 server
#: answered "expression code point size exceeds limit: size: 106288, limit 100000"); the
#: exemptions are cut well below it.
EXPRESSION_LIMIT = 100_000
_CHUNK = EXPRESSION_LIMIT // 2


def exemption_expressions(exempt: list[Workload]) -> list[str]:
    """The `not-a-reported-exception` match conditions: CEL that is false for an exception
    workload, the ReplicaSets/Jobs its controller creates and their pods — each only while
    it runs the stream's images for it. Match conditions are ANDed, so `!(a || b)` may be
    cut into `!(a)`, `!(b)`: as many as keep each under the server's expression limit (a
    stream with many exceptions, Tekton's examples, exceeded it in one)."""
    out, chunk = [], []
    for term in _exemption_terms(exempt):
        if chunk and sum(len(t) + 4 for t in chunk) + len(term) > _CHUNK:
            out.append("!(" + " || ".join(chunk) + ")")
            chunk = []
        chunk.append(term)
    if chunk:
        out.append("!(" + " || ".join(chunk) + ")")
    return out


def _exemption_terms(exempt: list[Workload]) -> list[str]:
    terms = []
    for w in sorted(exempt, key=lambda w: (w.namespace, w.result.kind, w.result.name)):
        kind = _cel_str(w.result.kind)
        term = (f"((object.kind == {kind} && {_names('object.metadata.name', w)})"
                f" || (has(object.metadata.ownerReferences) && object.metadata.ownerReferences"
                f".exists(o, {' || '.join(_owned_by(w))}))) && {_own_images(w, opted_out_containers(w))}")
        if w.namespace:
            term = f"request.namespace == {_cel_str(w.namespace)} && ({term})"
        terms.append(f"({term})")
    return terms
