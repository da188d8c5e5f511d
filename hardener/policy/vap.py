"""ValidatingAdmissionPolicy (admissionregistration.k8s.io/v1, Kubernetes >= 1.30) + Binding."""

from __future__ import annotations

import re
from typing import Any

from .. import pss
from ..controls import CONTROLS
from ..kube import names
from ..kube.mesh import MESHES
from ..kube.workloads import BUILTIN_WORKLOADS
from ..options import Options
from .envelope import Envelope
from .naming import Naming, binding_scope
from . import pss_cel
from .cel import every as _every
from .cel import has_path
from .cel import string as _cel_str
from .cel import strings as _cel_list
from .pss_cel import pss_validations
from .exemptions import PSS_KEY, Exemption, exemptions, match_term, owned_by
from .stream import Workload

LINUX_ONLY = frozenset(cid for cid, c in CONTROLS.items() if c.linux_only)


def vap_objects(workloads: list[Workload], env: Envelope, naming: Naming, namespaces: list[str],
                opts: Options, notes: list[str] | None = None) -> list[dict]:
    """A ValidatingAdmissionPolicy checking the profile's controls and PSS level on pods and
    on the built-in workload kinds' templates, bound to the stream's namespaces (never the
    system ones). What a hardened workload still fails is exempted check by check and
    container by container (:mod:`.exemptions`), and said in `notes`."""
    scope = binding_scope(namespaces, "vap", "reject")
    checks = cel_validations(env)
    found = exemptions(workloads, env, {key for key, _, _ in checks}, LINUX_ONLY)
    variable_of = _exempt_variables(found)
    name = naming.name(opts.profile.name)
    spec: dict[str, Any] = {"failurePolicy": "Fail", "matchConstraints": {"resourceRules": _resource_rules()}}
    spec["matchConditions"] = [{"name": "create-or-pod-template-change", "expression": _template_changed()}]
    sidecars = sidecar_expression(workloads)
    spec["variables"] = [{"name": n, "expression": sidecars if n == "exemptContainers" else e}
                         for n, e in CEL_VARIABLES]
    spec["variables"] += [{"name": var, "expression": match_term(w, _template_expression("object"),
                                                                  opted_out_containers(w))}
                          for w, var in variable_of.values()]
    spec["validations"] = [{"expression": _exempted(expr, [e for e in found if e.key == key], variable_of),
                            "message": msg, "reason": "Forbidden"} for key, expr, msg in checks]
    policy = {"apiVersion": "admissionregistration.k8s.io/v1", "kind": "ValidatingAdmissionPolicy",
              "metadata": naming.metadata(name), "spec": spec}
    binding = {"apiVersion": "admissionregistration.k8s.io/v1", "kind": "ValidatingAdmissionPolicyBinding",
               "metadata": naming.metadata(name),
               "spec": {"policyName": name, "validationActions": ["Deny"],
                        "matchResources": {"namespaceSelector": {"matchExpressions": [
                            {"key": names.NAMESPACE_NAME_LABEL, "operator": "In", "values": scope}]}}}}
    if notes is not None:
        notes += exemption_notes(found)
        notes += [f"ValidatingAdmissionPolicy: {w.ref} is meshed by {MESHES[w.mesh].name}: its containers "
                  f"{', '.join(MESHES[w.mesh].containers)} in the pods its controllers create are the mesh's, "
                  "not checked" for w in workloads if w.mesh]
    return [policy, binding]


def _exempt_variables(found: list[Exemption]) -> dict[int, tuple[Workload, str]]:
    """id(workload) -> (workload, the policy variable naming its objects and pods:
    match_term), for each workload with an exemption, in the stream's order."""
    out: dict[int, tuple[Workload, str]] = {}
    for e in found:
        out.setdefault(id(e.workload), (e.workload, f"exempt{len(out)}"))
    return out


def _exempted(expr: str, found: list[Exemption], variable_of: dict[int, tuple[Workload, str]]) -> str:
    """A validation with its exemptions: the containers named are left out of
    `variables.containers` for the workload's objects, and the check passes outright for
    those exempt as a whole pod."""
    by_container = [(variable_of[id(e.workload)][1], e.containers) for e in found if e.containers is not None]
    whole = [variable_of[id(e.workload)][1] for e in found if e.containers is None]
    if by_container:
        listed = "[]"
        for var, containers in reversed(by_container):
            listed = f"(variables.{var} ? {_cel_list(sorted(containers))} : {listed})"
        kept = f"variables.containers.filter(c, !has(c.name) || !(c.name in {listed}))"
        expr = re.sub(r"variables\.containers\b", lambda _: kept, expr)
    if whole:
        expr = " || ".join(f"variables.{v}" for v in whole) + f" || ({expr})"
    return expr


def exemption_notes(found: list[Exemption]) -> list[str]:
    """One line per exempt workload: which checks its pods may fail, where, and why."""
    by_workload: dict[int, list[Exemption]] = {}
    for e in found:
        by_workload.setdefault(id(e.workload), []).append(e)
    out = []
    for items in by_workload.values():
        parts = []
        for e in items:
            check = ("PSS " + e.key[len(PSS_KEY):]) if e.key.startswith(PSS_KEY) else e.key
            parts.append(f"{check} [{'pod' if e.containers is None else ', '.join(sorted(e.containers))}]")
        out.append(f"ValidatingAdmissionPolicy: {items[0].workload.ref} is exempt from {', '.join(parts)}: "
                   "as hardened it fails them (see its skips); only its own objects and pods, running its "
                   "images, are")
    return out


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
    """(key, CEL expression, message) for every PSS check of the profile's level
    (`pss:<check>`) and every enabled control the policy can check (`<control>` or
    `<control>:<part>`, as envelope.rules names them); Linux-only controls pass Windows
    pods, as hardening skips them there."""
    profile = env.profile.name
    confined = "{}.type in ['RuntimeDefault', 'Localhost']"
    key = f"({_cel_str(names.APPARMOR_CONTAINER_PREFIX)} + c.name)"
    apparmor_annotation = (f"{key} in variables.annotations && (variables.annotations[{key}] == 'runtime/default'"
                           f" || variables.annotations[{key}].startsWith('localhost/'))")
    spec = "variables.spec"
    selinux_types = ", ".join(sorted(t for t in pss.selinux_types(env.kube) if t))
    # control -> [(expression, message)], or [(part, expression, message)] where the parts
    # of a control are checked apart (envelope.rules names the same parts)
    checks: dict[str, list[tuple]] = {
        "hostAccess": [
            ("namespaces",
             " && ".join(f"!(has({spec}.{f}) && {spec}.{f})" for f in ("hostNetwork", "hostPID", "hostIPC")),
             "must not use the host's network, PID or IPC namespace"),
            ("hostPath", f"!has({spec}.volumes) || {spec}.volumes.all(v, !has(v.hostPath))",
             "must not mount hostPath volumes"),
            ("hostPorts", _every("!has(c.ports) || c.ports.all(p, !has(p.hostPort) || p.hostPort == 0)"),
             "containers must not declare hostPorts"),
            ("hostProcess", "!(has(variables.podSC.windowsOptions) && has(variables.podSC.windowsOptions.hostProcess)"
             " && variables.podSC.windowsOptions.hostProcess)", "must not be a Windows HostProcess pod")],
        "privileged": [(_every(f"!({_sc('privileged')} && c.securityContext.privileged)"),
                        "containers must not be privileged")],
        "capabilities": [("drop", _every(f"{_sc('capabilities.drop')} && c.securityContext.capabilities.drop"
                                         f".exists(d, d == {_cel_str(cap)})"), f"containers must drop capability {cap}")
                         for cap in env.required_drop] + [
            ("add", _every(f"!({_sc('capabilities.add')}) || c.securityContext.capabilities.add"
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
        "seLinux": [("types", pss_cel.check("seLinuxOptions", env.kube)[0],
                     f"SELinux type must be one of {selinux_types}, with no custom user or role")] + (
            [("options", _every(_effective_cel("seLinuxOptions", "true")), "containers must have seLinuxOptions")]
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
    out = [(PSS_KEY + cid, expr, f"k8s-harden profile {profile}, PSS {env.profile.level} check {cid}: {what}")
           for cid, expr, what in pss_validations(env.profile.level, env.kube)]
    for control in (c for c in CONTROLS if c in env.controls):
        for entry in checks[control]:
            part, expr, what = entry if len(entry) == 3 else ("", *entry)
            if control in LINUX_ONLY:
                expr = f"variables.osWindows || ({expr})"
            key = f"{control}:{part}" if part else control
            out.append((key, expr, f"k8s-harden profile {profile}, {control}: {what}"))
    return out


def opted_out_containers(w: Workload) -> frozenset:
    """The container names the workload opts out (`k8s-harden.io/skip-containers`), on the
    resource or its pod templates, and those its service mesh injects (kube.mesh)."""
    out: set = set(MESHES[w.mesh].containers) if w.mesh else set()
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
        cond = f"object.metadata.ownerReferences.exists(o, {' || '.join(owned_by(w))})"
        if w.namespace:
            cond = f"request.namespace == {_cel_str(w.namespace)} && {cond}"
        expr = f"({cond}) ? {_cel_list(sorted(sidecars))} : {expr}"
    if expr == "[]":
        return expr
    return f"object.kind == 'Pod' && has(object.metadata.ownerReferences) ? ({expr}) : []"


#: The API server refuses a policy whose CEL expression is longer than this many code points
#: (the parser's expression size limit as the apiserver configures cel-go; a 1.37 server
#: answered "expression code point size exceeds limit: size: 106288, limit 100000" when all
#: exemptions were one match condition): each exempt workload is its own variable now.
EXPRESSION_LIMIT = 100_000
