"""PodSecurityPolicy (policy/v1beta1, Kubernetes < 1.25) and the RBAC that lets workloads use it."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from typing import Any, Iterable

from ..errors import UsageError
from ..kube import names
from ..kube.kubelet import SAFE_SYSCTLS
from ..options import Options
from .envelope import Envelope, violations
from .naming import Naming, dns_name
from .stream import Workload
from .usage import Seen, Usage, usage_of

MAX_ID = 65535

#: Pod volume source (core/v1 VolumeSource, json name) -> PodSecurityPolicy FSType
#: (k8s.io/api policy/v1beta1 types.go, the FSType constants; psputil.GetVolumeFSType).
#: Only cephfs is spelled differently. `image` (1.31) came after PodSecurityPolicy (removed
#: in 1.25) and has no FSType.
PSP_FS_TYPES = {name: name for name in (
    "azureFile", "flocker", "flexVolume", "hostPath", "emptyDir", "gcePersistentDisk",
    "awsElasticBlockStore", "gitRepo", "secret", "nfs", "iscsi", "glusterfs",
    "persistentVolumeClaim", "rbd", "cinder", "downwardAPI", "fc", "configMap", "vsphereVolume",
    "quobyte", "azureDisk", "photonPersistentDisk", "storageos", "projected", "portworxVolume",
    "scaleIO", "csi", "ephemeral")} | {"cephfs": "cephFS"}


@dataclass
class PolicyPlan:
    """One PodSecurityPolicy and who may use it."""

    name: str
    spec: dict
    annotations: dict
    subjects: set[tuple[str, str]]  # (namespace, service account)


def psp_plans(workloads: list[Workload], env: Envelope, naming: Naming, opts: Options) -> list[PolicyPlan]:
    """The restricted policy for the workloads that fit the envelope, then one per exception."""
    found = [(w, violations(w.usage, env)) for w in workloads]
    fitting = [w for w, bad in found if not bad]
    exceptions = sorted(((w, bad) for w, bad in found if bad),
                        key=lambda wb: (wb[0].result.kind, wb[0].result.name, wb[0].namespace))
    plans = []
    if fitting:
        usage = usage_of((t for w in fitting for t in w.templates), opts.kube)
        usage.volumes |= set().union(*(w.usage.volumes for w in fitting))  # claim templates' PVCs
        spec, ann = psp_spec(usage, env, opts.kube)
        plans.append(PolicyPlan(naming.name("restricted"), spec, ann, _subjects(fitting)))
    shared = Counter((w.result.kind, w.result.name) for w, _ in exceptions)
    for w, bad in exceptions:
        parts = [w.result.kind, w.result.name] + ([w.namespace] if shared[w.result.kind, w.result.name] > 1 else [])
        spec, ann = psp_spec(w.usage, None, opts.kube)
        ann[names.EXCEPTION_FOR] = w.ref
        ann[names.EXCEPTION_REASONS] = "; ".join(what for _, what in bad)
        plans.append(PolicyPlan(naming.name(*parts), spec, ann, _subjects([w])))
    return plans


def _subjects(workloads: list[Workload]) -> set[tuple[str, str]]:
    return {(w.namespace, sa) for w in workloads for sa in w.service_accounts}


def psp_spec(u: Usage, env: Envelope | None, kube: tuple[int, int]) -> tuple[dict, dict]:
    """(spec, annotations) of a policy allowing what `u` uses. With `env` (the restricted
    policy) identity is held to the profile's rules and default profiles are set; without
    it (an exception) every field allows exactly the values used."""
    drops = list(env.required_drop) if env else sorted(u.dropped_caps or ())
    spec: dict[str, Any] = {"privileged": u.privileged, "allowPrivilegeEscalation": u.escalation}
    if drops:
        spec["requiredDropCapabilities"] = drops
    if u.added_caps:
        spec["allowedCapabilities"] = sorted(u.added_caps)
    spec["volumes"] = sorted({PSP_FS_TYPES[v] for v in u.volumes if v in PSP_FS_TYPES})
    if u.host_paths:
        spec["allowedHostPaths"] = [{"pathPrefix": p, "readOnly": ro} for p, ro in sorted(u.host_paths.items())]
    if u.csi_drivers:
        spec["allowedCSIDrivers"] = [{"name": d} for d in sorted(u.csi_drivers)]
    if u.flex_drivers:
        spec["allowedFlexVolumes"] = [{"driver": d} for d in sorted(u.flex_drivers)]
    spec.update(hostNetwork=u.host_network, hostIPC=u.host_ipc, hostPID=u.host_pid)
    if u.host_ports:
        spec["hostPorts"] = id_ranges(u.host_ports)
    spec["runAsUser"] = _run_as_user(u, env)
    for key, seen, control in (("runAsGroup", u.run_as_groups, "runAsGroup"),
                               ("supplementalGroups", u.supplemental_groups, None),
                               ("fsGroup", u.fs_groups, "fsGroup")):
        spec[key] = _group_rule(seen, env, control)
    spec["seLinux"] = {"rule": "RunAsAny"}
    spec["readOnlyRootFilesystem"] = u.read_only_root
    safe = sorted(s for s, since in SAFE_SYSCTLS.items() if kube >= since)
    if u.sysctls:
        spec["allowedUnsafeSysctls"] = sorted(u.sysctls)
    forbidden = [s for s in safe if s not in u.sysctls] if u.sysctls else ["*"]
    if forbidden:
        spec["forbiddenSysctls"] = forbidden
    if u.proc_mounts:
        spec["allowedProcMountTypes"] = sorted(u.proc_mounts | {"Default"})
    annotations: dict[str, str] = {}
    seccomp = Seen(set(u.seccomp.values), u.seccomp.unset or u.pod_seccomp_unset)
    for prefix, seen, control in ((names.PSP_SECCOMP_PREFIX, seccomp, "seccompProfile"),
                                  (names.PSP_APPARMOR_PREFIX, u.apparmor, "appArmor")):
        annotations.update(_profile_annotations(prefix, seen, env, control))
    return spec, annotations


def _run_as_user(u: Usage, env: Envelope | None) -> dict:
    if env is not None:
        return {"rule": "MustRunAsNonRoot" if env.has("runAsNonRoot") else "RunAsAny"}
    if not u.uids.unset:
        return {"rule": "MustRunAs", "ranges": id_ranges(u.uids.values)}
    return {"rule": "MustRunAsNonRoot" if u.non_root else "RunAsAny"}


def _group_rule(seen: Seen, env: Envelope | None, control: str | None) -> dict:
    """MustRunAs when every pod sets the field (no value is injected), MayRunAs otherwise.
    Restricted: 1..65535 (wider only to cover an id in use); exception: the ids used."""
    rule = "MayRunAs" if seen.unset else "MustRunAs"
    if env is not None:
        if not (env.has(control) if control else env.root_groups_forbidden):
            return {"rule": "RunAsAny"}
        return {"rule": rule, "ranges": [{"min": 1, "max": max([MAX_ID, *seen.values])}]}
    return {"rule": rule, "ranges": id_ranges(seen.values) if seen.values else [{"min": 1, "max": MAX_ID}]}


def _profile_annotations(prefix: str, seen: Seen, env: Envelope | None, control: str) -> dict:
    """The allowedProfileNames/defaultProfileName annotations that admit exactly the pods
    covered (pkg/security/podsecuritypolicy/seccomp/strategy.go, apparmor/strategy.go):

    * seccomp: a policy without allowedProfileNames refuses every pod that sets a profile
      ("seccomp may not be set"), one with it refuses every pod that sets none unless a
      default is given (PSP then sets it on create). So: the profiles used, the profile's
      default for the restricted policy, and `*` where an exception mixes pods with and
      without a profile (nothing narrower admits both);
    * AppArmor: no allowedProfileNames means unrestricted; set only when every container
      has a profile.
    `runtime/default` and `docker/default` are the same profile, but PSP compared them as
    strings until 1.19.4 (kubernetes/kubernetes#95985): both are listed."""
    if not seen.values:
        return {}
    opts = env.profile.controls.get(control) if env else None
    default = None
    if opts:
        default = "runtime/default" if opts["type"] == "RuntimeDefault" else f"localhost/{opts['localhostProfile']}"
    allowed = set(seen.values) | ({default} if default else set())
    if control == "seccompProfile" and allowed & {"runtime/default", "docker/default"}:
        allowed |= {"runtime/default", "docker/default"}
    if seen.unset and not default:
        if control != "seccompProfile":
            return {}
        allowed = {"*"}
    out = {prefix + "allowedProfileNames": ",".join(sorted(allowed))}
    if default:
        out[prefix + "defaultProfileName"] = default
    return out


def id_ranges(values: Iterable[int]) -> list[dict]:
    """Sorted ids as the fewest `{min, max}` ranges."""
    out: list[dict] = []
    for v in sorted(set(values)):
        if out and out[-1]["max"] == v - 1:
            out[-1]["max"] = v
        else:
            out.append({"min": v, "max": v})
    return out


def psp_object(plan: PolicyPlan, naming: Naming) -> dict:
    return {"apiVersion": "policy/v1beta1", "kind": "PodSecurityPolicy",
            "metadata": naming.metadata(plan.name, annotations=plan.annotations), "spec": plan.spec}


def rbac_objects(plans: list[PolicyPlan], naming: Naming, opts: Options) -> list[dict]:
    """A ClusterRole per policy and bindings to exactly the policy's service accounts: a
    RoleBinding per namespace and service account (named after the policy, plus the service
    account when the policy has several in that namespace) or one ClusterRoleBinding."""
    roles, bindings = [], []
    for plan in plans:
        roles.append({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRole",
                      "metadata": naming.metadata(plan.name),
                      "rules": [{"apiGroups": ["policy"], "resources": ["podsecuritypolicies"],
                                 "verbs": ["use"], "resourceNames": [plan.name]}]})
        role_ref = {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": plan.name}
        subjects = sorted(plan.subjects)
        if opts.binding == "cluster":
            missing = sorted(sa for ns, sa in subjects if not ns)
            if missing:
                raise UsageError(f"--binding cluster: service account(s) {', '.join(missing)} have no "
                                 "namespace in the stream, and a ClusterRoleBinding subject needs one; "
                                 "pass --namespace NS or use --binding namespace")
            bindings.append({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRoleBinding",
                             "metadata": naming.metadata(plan.name), "roleRef": role_ref,
                             "subjects": [_subject(sa, ns) for ns, sa in subjects]})
            continue
        per_namespace = Counter(ns for ns, _ in subjects)
        for ns, sa in subjects:
            name = plan.name if per_namespace[ns] == 1 else dns_name(plan.name, sa)
            bindings.append({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "RoleBinding",
                             "metadata": naming.metadata(name, ns),
                             "roleRef": role_ref, "subjects": [_subject(sa, ns)]})
    bindings.sort(key=lambda b: (b["metadata"].get("namespace", ""), b["metadata"]["name"]))
    return roles + bindings


def _subject(sa: str, namespace: str) -> dict:
    subject = {"kind": "ServiceAccount", "name": sa}
    if namespace:
        subject["namespace"] = namespace
    return subject
