"""Admission objects that hold the cluster to the profile, chosen by Kubernetes version.

Hardening the pod templates is half the job; this module appends the objects that make the
API server refuse pods that are not hardened, on whatever version the user runs:

=================  ===========  ==============================================================
``--emit`` kind    served       objects
=================  ===========  ==============================================================
``psp``            < 1.25       PodSecurityPolicy ``policy/v1beta1``: one ``restricted`` policy
                                and one narrower policy per exception workload
``rbac``           any          per policy a ClusterRole (``use`` + ``resourceNames``) and a
                                RoleBinding per namespace and service account (``--binding
                                cluster``: one ClusterRoleBinding per policy)
``pss-labels``     >= 1.23      Pod Security Admission labels on the stream's Namespace objects
``vap``            >= 1.30      ValidatingAdmissionPolicy + Binding (CEL) enforcing the controls
=================  ===========  ==============================================================

``auto`` is ``psp,rbac`` below 1.25 and ``pss-labels`` from 1.25 (``vap`` only on request).
PodSecurityPolicy was removed in 1.25 and a stream holding one fails the whole install, so
``psp`` for >= 1.25 (and ``vap`` for < 1.30) is a usage error unless ``--force``.

**Exceptions.** A workload is an exception when its hardened pod template does not fit the
profile's envelope (:class:`Envelope`: no host namespaces, host paths, host ports or
privileged containers, the profile's capabilities, identity, seccomp/AppArmor, read-only
root, only restricted volume types and safe sysctls). Exceptions never widen the restricted
policy: each gets its own PodSecurityPolicy allowing exactly what it uses, bound only to its
own service accounts, and is left out of the ValidatingAdmissionPolicy's match. Its policy
carries the annotations ``k8s-harden.io/exception-for`` (the workload) and
``k8s-harden.io/exception-reasons`` (what it uses beyond the envelope).

**Least privilege beyond the seed's ``restricted`` PSP** (the restricted policy lists what
the fitting workloads use, within the envelope):

* ``volumes`` only the types used (a pod's service-account token is a ``projected`` volume
  from 1.21, ``secret`` before, unless ``automountServiceAccountToken: false``); ``csi`` comes
  with ``allowedCSIDrivers``;
* ``allowedCapabilities`` only what containers add (e.g. ``NET_BIND_SERVICE``);
* seccomp/AppArmor ``allowedProfileNames`` only the profiles used (no ``docker/default``);
* ``runAsGroup`` is ``MustRunAs`` 1-65535 (the seed leaves it open); ``fsGroup`` likewise;
  ``supplementalGroups`` is ``MayRunAs`` 1-65535 unless every pod sets some: ``MustRunAs``
  would inject group 1 into every pod that sets none; ranges grow past 65535 only to cover
  an id a workload uses;
* sysctls: PSP allows ``(safe + allowedUnsafeSysctls) - forbiddenSysctls``, so
  ``allowedUnsafeSysctls`` lists the sysctls used and ``forbiddenSysctls`` the other safe
  ones (``["*"]`` when none is used);
* ``seLinux: RunAsAny`` (a required field the seed omits);
* ``readOnlyRootFilesystem`` true when the profile requires it, and also when every covered
  container already runs read-only.

**Names** are ``k8s-harden-<policy>[-<part>]`` where ``<part>`` is ``--name-prefix`` or else
the release, read from the workloads' ``app.kubernetes.io/instance`` label (the most common
value), so two Helm releases never collide. Exception policies are ``<kind>-<name>`` (plus
the namespace if two exceptions share kind and name). Every object is labelled
``app.kubernetes.io/managed-by: k8s-harden`` (and ``app.kubernetes.io/instance`` when known).

**Namespaces.** A workload without ``metadata.namespace`` is taken to be in ``--namespace``;
without it, RoleBindings and their subjects get no namespace (Helm installs them into the
release namespace; the API reads an empty subject namespace as the binding's), and it counts
for every Namespace of the stream when choosing PSA levels. The ValidatingAdmissionPolicy is
bound to the stream's namespaces (and ``--namespace``) but never to kube-system,
kube-public or kube-node-lease: it checks every pod there, not only the stream's.

**Once.** Objects are appended after the input, deterministically, and not at all when the
input holds only Helm hook documents (a post-renderer pass over hooks alone) or already
holds an object with the same kind, namespace and name (a second pass).
"""

from __future__ import annotations

import hashlib
import re
from collections import Counter
from dataclasses import dataclass, field
from typing import Any, Iterable

from . import pss, yamlio
from .controls import CONTROLS
from .errors import UsageError
from .harden import apply_change
from .kube import names
from .kube.names import GENERATOR, HELM4_FILENAME, INSTANCE_LABEL, MANAGED_BY_LABEL
from .kube.podspec import effective as _effective
from .kube.podspec import integer as _id
from .kube.podspec import mapping as _dict
from .kube.podspec import sequence as _list
from .kube.podspec import containers as podspec_containers
from .kube.podspec import targets_windows
from .kube.pointer import join
from .kube.versions import PSP_REMOVED, TOKEN_PROJECTED, VAP_V1, fmt
from .kube.workloads import BUILTIN_WORKLOADS
from .options import Options
from .profile import EMIT_KINDS, Profile
from .results import CONFLICT, Change, ResourceResult, Skip

MAX_ID = 65535
#: Namespaces a ValidatingAdmissionPolicy is never bound to: it would reject the cluster's own pods.
SYSTEM_NAMESPACES = frozenset({"kube-system", "kube-public", "kube-node-lease"})
#: The kubelet's safe sysctls of the PodSecurityPolicy era, with the version each became safe.
PSP_SAFE_SYSCTLS = {"kernel.shm_rmid_forced": (1, 0), "net.ipv4.ip_local_port_range": (1, 0),
                    "net.ipv4.tcp_syncookies": (1, 0), "net.ipv4.ping_group_range": (1, 18),
                    "net.ipv4.ip_unprivileged_port_start": (1, 22)}
GROUP_CONTROLS = ("runAsGroup", "fsGroup", "supplementalGroups")
LINUX_ONLY = frozenset(cid for cid, c in CONTROLS.items() if c.linux_only)


# =========================================================================== entry point
def emit(docs: list[yamlio.Document], results: list[ResourceResult], opts: Options) -> list[str]:
    """YAML texts (each starting with ``---``) of the policy objects to append.

    Labels added to Namespace documents are planned and applied like a control's changes and
    recorded as a :class:`ResourceResult` appended to ``results``: the writer re-renders
    those documents and the report lists them.
    """
    kinds = requested_kinds(opts)
    if not kinds or only_hooks(docs):
        return []
    workloads = collect_workloads(results, opts)
    if "pss-labels" in kinds:
        results.extend(label_namespaces(docs, workloads, opts))
    naming = Naming.of(workloads, opts)
    env = Envelope.of(opts.profile, opts.kube)
    objects: list[dict] = []
    if kinds & {"psp", "rbac"}:
        plans = psp_plans(workloads, env, naming, opts)
        if "psp" in kinds:
            objects += [psp_object(p, naming) for p in plans]
        if "rbac" in kinds:
            objects += rbac_objects(plans, naming, opts)
    if "vap" in kinds:
        objects += vap_objects(workloads, env, naming, stream_namespaces(docs, workloads, opts), opts)
    present = existing_identities(docs)
    objects = [o for o in objects if identity(o) not in present]
    filename = helm4_filename(docs)
    if filename:
        for o in objects:
            o["metadata"].setdefault("annotations", {})[HELM4_FILENAME] = filename
    return ["---\n" + yamlio.dump_data(o) for o in objects]


def helm4_filename(docs: list[yamlio.Document]) -> str | None:
    """Under Helm 4 every input document names its template file; give the generated
    objects a file of the same chart so Helm files them under a real `# Source:`."""
    for d in docs:
        if d.root == "mapping" and HELM4_FILENAME in d.text:
            value = _get(d.load(), "metadata", "annotations", HELM4_FILENAME)
            if isinstance(value, str) and "/" in value:
                return value.split("/", 1)[0] + "/templates/k8s-harden-policy.yaml"
    return None


def requested_kinds(opts: Options) -> frozenset[str]:
    """The kinds `--emit` asks for; refuses objects the target version does not serve."""
    value = (opts.emit or "auto").strip()
    if value == "none":
        return frozenset()
    if value == "auto":
        return frozenset({"psp", "rbac"} if opts.kube < PSP_REMOVED else {"pss-labels"})
    kinds = [k.strip() for k in value.split(",") if k.strip()]
    unknown = [k for k in kinds if k not in EMIT_KINDS]
    if unknown or not kinds:
        raise UsageError(f"--emit: unknown kind {', '.join(unknown) or value!r}; use auto, none "
                         f"or a comma list of {', '.join(EMIT_KINDS)}")
    if "psp" in kinds and opts.kube >= PSP_REMOVED and not opts.force:
        raise UsageError(f"--emit psp: PodSecurityPolicy (policy/v1beta1) was removed in Kubernetes "
                         f"1.25, and a stream holding one fails the whole install on {fmt(opts.kube)}; "
                         "emit pss-labels or vap instead, or pass --force to emit it anyway")
    if "vap" in kinds and opts.kube < VAP_V1 and not opts.force:
        raise UsageError(f"--emit vap: ValidatingAdmissionPolicy (admissionregistration.k8s.io/v1) "
                         f"is served from Kubernetes 1.30, not {fmt(opts.kube)}; pass --force to "
                         "emit it anyway")
    return frozenset(kinds)


def only_hooks(docs: list[yamlio.Document]) -> bool:
    """True when no document is a regular manifest: a post-renderer pass over hooks alone
    (Helm 4 may render them apart) must not emit the release's policy objects again."""
    return all(_is_hook(d) for d in docs if d.root == "mapping")


def _is_hook(doc: yamlio.Document) -> bool:
    if names.HELM_HOOK not in doc.text:  # cheap: most documents are never loaded
        return False
    ann = _get(doc.load(), "metadata", "annotations")
    return isinstance(ann, dict) and names.HELM_HOOK in ann


def identity(obj: dict) -> tuple[str, str, str]:
    meta = obj.get("metadata") or {}
    return str(obj.get("kind")), str(meta.get("namespace") or ""), str(meta.get("name"))


def existing_identities(docs: list[yamlio.Document]) -> set[tuple[str, str, str]]:
    """Objects k8s-harden generated on an earlier pass over this stream."""
    out = set()
    for d in docs:
        if d.root == "mapping" and GENERATOR in d.text:
            data = d.load()
            if _get(data, "metadata", "labels", MANAGED_BY_LABEL) == GENERATOR:
                out.add(identity(data))
    return out


# =========================================================================== what workloads use
@dataclass
class Seen:
    """Values a field takes across containers or pods, and whether some left it unset."""

    values: set = field(default_factory=set)
    unset: bool = False

    def add(self, value: Any) -> None:
        if value is None:
            self.unset = True
        else:
            self.values.add(value)


@dataclass
class Usage:
    """What hardened pod templates use, in the terms of PodSecurityPolicy and the envelope."""

    windows: bool = False
    privileged: bool = False
    escalation: bool = False  # some container may gain privileges
    host_network: bool = False
    host_pid: bool = False
    host_ipc: bool = False
    host_process: bool = False
    host_paths: dict[str, bool] = field(default_factory=dict)  # path -> every mount read-only
    host_ports: set[int] = field(default_factory=set)
    volumes: set[str] = field(default_factory=set)
    csi_drivers: set[str] = field(default_factory=set)
    flex_drivers: set[str] = field(default_factory=set)
    added_caps: set[str] = field(default_factory=set)
    dropped_caps: set[str] | None = None  # dropped by every container
    non_root: bool = True  # every container's effective runAsNonRoot is true
    uids: Seen = field(default_factory=Seen)
    run_as_groups: Seen = field(default_factory=Seen)
    fs_groups: Seen = field(default_factory=Seen)
    supplemental_groups: Seen = field(default_factory=Seen)
    seccomp: Seen = field(default_factory=Seen)
    apparmor: Seen = field(default_factory=Seen)
    se_linux_unset: bool = False
    sysctls: set[str] = field(default_factory=set)
    read_only_root: bool = True
    proc_mounts: set[str] = field(default_factory=set)


def usage_of(templates: Iterable[dict], kube: tuple[int, int]) -> Usage:
    """Accumulate what every pod template (``{metadata, spec}``) and container uses."""
    u = Usage()
    for t in templates:
        meta, spec = _dict(t.get("metadata")), _dict(t.get("spec"))
        _pod_usage(u, spec, kube)
        for _, _, c in podspec_containers(spec):
            _container_usage(u, c, meta, spec)
    return u


def _pod_usage(u: Usage, spec: dict, kube: tuple[int, int]) -> None:
    psc = _dict(spec.get("securityContext"))
    u.windows |= targets_windows(spec)
    u.host_network |= spec.get("hostNetwork") is True
    u.host_pid |= spec.get("hostPID") is True
    u.host_ipc |= spec.get("hostIPC") is True
    u.host_process |= _get(psc, "windowsOptions", "hostProcess") is True
    mounts = [m for _, _, c in podspec_containers(spec) for m in _list(c.get("volumeMounts"))
              if isinstance(m, dict)]
    for v in _list(spec.get("volumes")):
        if not isinstance(v, dict):
            continue
        u.volumes.update(k for k in v if k != "name")
        if isinstance(v.get("hostPath"), dict):
            path = str(v["hostPath"].get("path", ""))
            read_only = all(m.get("readOnly") is True for m in mounts if m.get("name") == v.get("name"))
            u.host_paths[path] = u.host_paths.get(path, True) and read_only
        if _get(v, "csi", "driver"):
            u.csi_drivers.add(str(v["csi"]["driver"]))
        if _get(v, "flexVolume", "driver"):
            u.flex_drivers.add(str(v["flexVolume"]["driver"]))
    if spec.get("automountServiceAccountToken") is not False:
        u.volumes.add("projected" if kube >= TOKEN_PROJECTED else "secret")
    u.fs_groups.add(_id(psc.get("fsGroup")))
    for gid in [g for g in _list(psc.get("supplementalGroups")) if _id(g) is not None] or [None]:
        u.supplemental_groups.add(gid)
    u.sysctls.update(str(s["name"]) for s in _list(psc.get("sysctls")) if _get(s, "name"))


def _container_usage(u: Usage, c: dict, meta: dict, spec: dict) -> None:
    sc, psc = _dict(c.get("securityContext")), _dict(spec.get("securityContext"))
    name = str(c.get("name", ""))
    u.privileged |= sc.get("privileged") is True
    u.escalation |= sc.get("allowPrivilegeEscalation") is not False
    adds = _list(_get(sc, "capabilities", "add"))
    u.added_caps.update(str(a) for a in adds)
    drops = {str(d) for d in _list(_get(sc, "capabilities", "drop"))}
    u.dropped_caps = drops if u.dropped_caps is None else u.dropped_caps & drops
    u.non_root &= _effective(sc, psc, "runAsNonRoot") is True
    u.uids.add(_id(_effective(sc, psc, "runAsUser")))
    u.run_as_groups.add(_id(_effective(sc, psc, "runAsGroup")))
    u.seccomp.add(_seccomp_name(sc, psc, _dict(meta.get("annotations")), name))
    u.apparmor.add(_apparmor_name(sc, psc, _dict(meta.get("annotations")), name))
    u.se_linux_unset |= _effective(sc, psc, "seLinuxOptions") is None
    u.read_only_root &= sc.get("readOnlyRootFilesystem") is True
    if sc.get("procMount") not in (None, "Default"):
        u.proc_mounts.add(str(sc["procMount"]))
    for p in _list(c.get("ports")):
        port = _id(_get(p, "hostPort"))
        if not port and spec.get("hostNetwork") is True:  # the API defaults hostPort to it
            port = _id(_get(p, "containerPort"))
        if port:
            u.host_ports.add(port)


def _profile_name(prof: Any) -> str | None:
    """A seccomp/AppArmor profile field in annotation form (`runtime/default`, `localhost/x`)."""
    kind = _get(prof, "type")
    if kind == "RuntimeDefault":
        return "runtime/default"
    if kind == "Localhost":
        return f"localhost/{prof.get('localhostProfile', '')}"
    return "unconfined" if kind == "Unconfined" else None


def _seccomp_name(sc: dict, psc: dict, ann: dict, container: str) -> str | None:
    for value in (_profile_name(sc.get("seccompProfile")), ann.get(names.SECCOMP_CONTAINER_PREFIX + container),
                  _profile_name(psc.get("seccompProfile")), ann.get(names.SECCOMP_POD)):
        if value:
            return str(value)
    return None


def _apparmor_name(sc: dict, psc: dict, ann: dict, container: str) -> str | None:
    for value in (_profile_name(sc.get("appArmorProfile")), _profile_name(psc.get("appArmorProfile")),
                  ann.get(names.APPARMOR_CONTAINER_PREFIX + container)):
        if value:
            return str(value)
    return None


# =========================================================================== the envelope
@dataclass(frozen=True)
class Envelope:
    """The most the profile lets a workload use without being an exception."""

    allowed_caps: frozenset
    required_drop: tuple
    controls: frozenset  # enabled control ids
    safe_sysctls: frozenset
    profile: Profile

    @classmethod
    def of(cls, profile: Profile, kube: tuple[int, int]) -> "Envelope":
        caps = profile.controls.get("capabilities")
        return cls(frozenset(caps["allowAdd"]) if caps else pss.BASELINE_CAPABILITIES,
                   tuple(caps["drop"]) if caps else (), frozenset(profile.controls),
                   frozenset(s for s, since in PSP_SAFE_SYSCTLS.items() if kube >= since), profile)

    def has(self, control: str) -> bool:
        return control in self.controls

    @property
    def root_groups_forbidden(self) -> bool:
        """A profile that sets any group identity keeps gid 0 out of every group field."""
        return any(self.has(c) for c in GROUP_CONTROLS)


def violations(u: Usage, env: Envelope) -> list[tuple[str, str]]:
    """(control id, what) for everything `u` uses beyond the envelope; empty when it fits."""
    odd_volumes = u.volumes - set(pss.RESTRICTED_ALLOWED_VOLUMES) - {"hostPath"}  # hostPath: host access
    extra_caps = u.added_caps - env.allowed_caps
    kept_caps = set(env.required_drop) - (u.dropped_caps or set())
    unsafe_sysctls = u.sysctls - env.safe_sysctls
    se_linux = env.profile.controls.get("seLinux", {}).get("options")
    found = [
        ("hostAccess", u.host_network, "hostNetwork"),
        ("hostAccess", u.host_pid, "hostPID"),
        ("hostAccess", u.host_ipc, "hostIPC"),
        ("hostAccess", u.host_process, "Windows HostProcess"),
        ("hostAccess", u.host_paths, "hostPath " + _join(u.host_paths)),
        ("hostAccess", u.host_ports, "hostPort " + _join(u.host_ports)),
        ("privileged", u.privileged, "privileged container"),
        ("volumes", odd_volumes, "volume types " + _join(odd_volumes)),
        ("capabilities", extra_caps, "adds " + _join(extra_caps)),
        ("capabilities", kept_caps, "does not drop " + _join(kept_caps)),
        ("allowPrivilegeEscalation", env.has("allowPrivilegeEscalation") and u.escalation,
         "allowPrivilegeEscalation not false"),
        ("runAsNonRoot", env.has("runAsNonRoot") and not u.non_root, "runAsNonRoot not true"),
        ("runAsUser", env.has("runAsUser") and 0 in u.uids.values, "runAsUser 0"),
        ("runAsGroup", env.has("runAsGroup") and _unset_or_root(u.run_as_groups), "runAsGroup unset or 0"),
        ("fsGroup", env.has("fsGroup") and _unset_or_root(u.fs_groups), "fsGroup unset or 0"),
        ("supplementalGroups", env.root_groups_forbidden and 0 in u.supplemental_groups.values,
         "supplementalGroups contains 0"),
        ("seccompProfile", env.has("seccompProfile") and not _confined(u.seccomp), "seccomp unset or unconfined"),
        ("appArmor", env.has("appArmor") and not _confined(u.apparmor), "AppArmor unset or unconfined"),
        ("seLinux", env.has("seLinux") and se_linux and u.se_linux_unset, "seLinuxOptions unset"),
        ("readOnlyRootFilesystem", env.has("readOnlyRootFilesystem") and not u.read_only_root,
         "writable root filesystem"),
        ("sysctls", unsafe_sysctls, "unsafe sysctls " + _join(unsafe_sysctls)),
        ("procMount", u.proc_mounts, "procMount " + _join(u.proc_mounts)),
    ]
    return [(control, what) for control, bad, what in found if bad]


def _join(values: Iterable) -> str:
    return ", ".join(map(str, sorted(values)))


def _unset_or_root(seen: Seen) -> bool:
    return seen.unset or 0 in seen.values


def _confined(seen: Seen) -> bool:
    """Every container has a seccomp/AppArmor profile other than unconfined."""
    return not seen.unset and all(v in ("runtime/default", "docker/default") or v.startswith("localhost/")
                                  for v in seen.values)


# =========================================================================== the stream's workloads
@dataclass
class Workload:
    """One resource with pod templates, as the policy objects see it."""

    result: ResourceResult
    namespace: str  # "" = not known (Helm's release namespace)
    service_accounts: tuple[str, ...]
    usage: Usage
    templates: list[dict]

    @property
    def ref(self) -> str:
        ns = f"{self.namespace}/" if self.namespace else ""
        return f"{self.result.kind} {ns}{self.result.name}"


def collect_workloads(results: list[ResourceResult], opts: Options) -> list[Workload]:
    out = []
    for r in results:
        templates = [pt.template for pt in r.templates if isinstance(pt.template, dict)]
        if not templates:
            continue
        sas = sorted({str(_get(t, "spec", "serviceAccountName") or _get(t, "spec", "serviceAccount") or "default")
                      for t in templates})
        out.append(Workload(r, r.namespace or opts.namespace or "", tuple(sas),
                            usage_of(templates, opts.kube), templates))
    return out


def stream_namespaces(docs: list[yamlio.Document], workloads: list[Workload], opts: Options) -> list[str]:
    names = {w.namespace for w in workloads if w.namespace} | set(namespace_docs(docs))
    if opts.namespace:
        names.add(opts.namespace)
    return sorted(names)


def namespace_docs(docs: list[yamlio.Document]) -> dict[str, yamlio.Document]:
    out = {}
    for d in docs:
        if d.kind == "Namespace" and d.api_version == "v1" and d.root == "mapping":
            name = _get(d.load(), "metadata", "name")
            if isinstance(name, str) and name:
                out.setdefault(name, d)
    return out


@dataclass(frozen=True)
class Naming:
    """Stable, collision-free names: `k8s-harden-<policy>[-<part>]`."""

    part: str  # --name-prefix or the release; "" when neither is known
    instance: str  # the release from app.kubernetes.io/instance, "" if none

    @classmethod
    def of(cls, workloads: list[Workload], opts: Options) -> "Naming":
        """The release is the most common `app.kubernetes.io/instance` (ties: by name)."""
        counts = Counter(v for v in (_get(w.result.templates[0].metadata, "labels", INSTANCE_LABEL)
                                     for w in workloads) if isinstance(v, str) and v)
        instance = min(counts, key=lambda v: (-counts[v], v)) if counts else ""
        return cls(_slug(opts.name_prefix or instance), instance)

    def name(self, *parts: str) -> str:
        return dns_name("k8s-harden", *parts, self.part)

    def metadata(self, name: str, namespace: str = "", annotations: dict | None = None) -> dict:
        labels = {MANAGED_BY_LABEL: GENERATOR}
        if self.instance:
            labels[INSTANCE_LABEL] = self.instance
        meta: dict[str, Any] = {"name": name}
        if namespace:
            meta["namespace"] = namespace
        meta["labels"] = labels
        if annotations:
            meta["annotations"] = annotations
        return meta


def dns_name(*parts: str) -> str:
    """Join parts into a DNS-1123 subdomain (<= 253 chars, a hash keeps long ones unique)."""
    name = "-".join(_slug(p) for p in parts if _slug(p))
    if len(name) > 253:
        name = name[:244].rstrip("-.") + "-" + hashlib.sha256(name.encode()).hexdigest()[:8]
    return name


def _slug(text: str | None) -> str:
    return re.sub(r"-+", "-", re.sub(r"[^a-z0-9.-]", "-", (text or "").lower())).strip("-.")


# =========================================================================== PodSecurityPolicy
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
        spec, ann = psp_spec(usage_of((t for w in fitting for t in w.templates), opts.kube), env, opts.kube)
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
    spec["volumes"] = sorted(u.volumes)
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
    safe = sorted(s for s, since in PSP_SAFE_SYSCTLS.items() if kube >= since)
    if u.sysctls:
        spec["allowedUnsafeSysctls"] = sorted(u.sysctls)
    forbidden = [s for s in safe if s not in u.sysctls] if u.sysctls else ["*"]
    if forbidden:
        spec["forbiddenSysctls"] = forbidden
    if u.proc_mounts:
        spec["allowedProcMountTypes"] = sorted(u.proc_mounts | {"Default"})
    annotations: dict[str, str] = {}
    for prefix, seen, control in ((names.PSP_SECCOMP_PREFIX, u.seccomp, "seccompProfile"),
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
    """`allowedProfileNames` when every container has a profile (PSP cannot say "none"),
    and for the restricted policy the profile's default."""
    if seen.unset or not seen.values:
        return {}
    allowed = sorted(seen.values)
    out = {prefix + "allowedProfileNames": ",".join(allowed)}
    opts = env.profile.controls.get(control) if env else None
    if opts:
        default = "runtime/default" if opts["type"] == "RuntimeDefault" else f"localhost/{opts['localhostProfile']}"
        if default in allowed:
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


# =========================================================================== Pod Security Admission
def label_namespaces(docs: list[yamlio.Document], workloads: list[Workload],
                     opts: Options) -> list[ResourceResult]:
    """Add PSA labels to the stream's Namespace documents: `enforce` at the level every
    workload of that namespace meets after hardening (never one that would reject them),
    `audit`/`warn` at the profile's level (or stricter, if met) so exceptions stay visible.
    A workload with no namespace may land in any of them, so it counts for all. A namespace
    with no workload gets no `enforce`: pods created there later are unknown. Labels already
    set are kept."""
    version = "v" + fmt(opts.kube)
    out = []
    for name, doc in sorted(namespace_docs(docs).items(), key=lambda kv: kv[1].index):
        members = [t for w in workloads if w.namespace in (name, "") for t in w.templates]
        wanted: dict[str, str] = {}
        target = opts.profile.level
        if members:
            met = pss.weakest(pss.meets(t.get("metadata"), t.get("spec"), opts.kube) for t in members)
            wanted |= {"enforce": met, "enforce-version": version}
            target = pss.strictest((met, target))
        wanted |= {"audit": target, "audit-version": version, "warn": target, "warn-version": version}
        result = ResourceResult(doc.index, "v1", "Namespace", "", name)
        _set_labels(doc.load(), {names.PSA_LABEL_PREFIX + k: v for k, v in wanted.items()}, result)
        out.append(result)
    return out


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


# =========================================================================== ValidatingAdmissionPolicy
def vap_objects(workloads: list[Workload], env: Envelope, naming: Naming, namespaces: list[str],
                opts: Options) -> list[dict]:
    """A ValidatingAdmissionPolicy checking the profile's controls on pods and on the
    built-in workload kinds' templates, bound to the stream's namespaces (never the system
    ones); exceptions (and the ReplicaSets/Jobs and pods they own) are left out by a match
    condition."""
    scope = [ns for ns in namespaces if ns not in SYSTEM_NAMESPACES]
    if not scope:
        where = f"only system namespaces ({', '.join(namespaces)})" if namespaces else "no namespace"
        raise UsageError(f"--emit vap: the stream names {where} to bind the policy to, and a policy "
                         "bound cluster-wide or to a system namespace would reject the cluster's own "
                         "pods; pass --namespace NS")
    checks = cel_validations(env)
    validated = {control for control, _, _ in checks}
    exempt = [w for w in workloads if any(c in validated and not (w.usage.windows and c in LINUX_ONLY)
                                          for c, _ in violations(w.usage, env))]
    name = naming.name(opts.profile.name)
    spec: dict[str, Any] = {"failurePolicy": "Fail", "matchConstraints": {"resourceRules": _resource_rules()}}
    if exempt:
        spec["matchConditions"] = [{"name": "not-a-reported-exception", "expression": exemption_expression(exempt)}]
    spec["variables"] = [{"name": n, "expression": e} for n, e in CEL_VARIABLES]
    spec["validations"] = [{"expression": expr, "message": msg, "reason": "Forbidden"} for _, expr, msg in checks]
    policy = {"apiVersion": "admissionregistration.k8s.io/v1", "kind": "ValidatingAdmissionPolicy",
              "metadata": naming.metadata(name), "spec": spec}
    binding = {"apiVersion": "admissionregistration.k8s.io/v1", "kind": "ValidatingAdmissionPolicyBinding",
               "metadata": naming.metadata(name),
               "spec": {"policyName": name, "validationActions": ["Deny"],
                        "matchResources": {"namespaceSelector": {"matchExpressions": [
                            {"key": names.NAMESPACE_NAME_LABEL, "operator": "In", "values": scope}]}}}}
    return [policy, binding]


def _resource_rules() -> list[dict]:
    """Pods on CREATE; the built-in workload kinds (from the workload table) on CREATE and UPDATE."""
    groups: dict[str, list[str]] = {}
    for kind, (api_groups, _) in BUILTIN_WORKLOADS.items():
        if kind != "Pod":
            groups.setdefault(api_groups[0], []).append(kind.lower() + "s")
    rules = [{"apiGroups": [""], "apiVersions": ["v1"], "operations": ["CREATE"], "resources": ["pods"]}]
    for group, resources in sorted(groups.items()):
        rules.append({"apiGroups": [group], "apiVersions": ["v1"], "operations": ["CREATE", "UPDATE"],
                      "resources": sorted(resources)})
    return rules


def _template_expression() -> str:
    """CEL reaching the pod template of any built-in workload kind, from the workload table."""
    by_pointer: dict[str, list[str]] = {}
    for kind, (_, pointer) in BUILTIN_WORKLOADS.items():
        by_pointer.setdefault(pointer, []).append(kind)
    common = max(by_pointer, key=lambda p: len(by_pointer[p]))
    expr = "object" + common.replace("/", ".")
    for pointer, kinds in sorted(by_pointer.items(), reverse=True):
        if pointer != common:
            test = " || ".join(f"object.kind == '{k}'" for k in sorted(kinds))
            expr = f"{test} ? object{pointer.replace('/', '.')} : {expr}"
    return expr


CEL_VARIABLES = (
    ("template", _template_expression()),
    ("spec", "variables.template.spec"),
    ("podSC", "has(variables.spec.securityContext) ? variables.spec.securityContext : {}"),
    ("annotations", "has(variables.template.metadata) && has(variables.template.metadata.annotations)"
                    " ? variables.template.metadata.annotations : {}"),
    ("containers", "variables.spec.containers"
                   " + (has(variables.spec.initContainers) ? variables.spec.initContainers : [])"
                   " + (has(variables.spec.ephemeralContainers) ? variables.spec.ephemeralContainers : [])"),
    ("windows", "(has(variables.spec.os) && variables.spec.os.name == 'windows') ||"
                " (has(variables.spec.nodeSelector) && 'kubernetes.io/os' in variables.spec.nodeSelector"
                " && variables.spec.nodeSelector['kubernetes.io/os'] == 'windows')"),  # podspec.targets_windows
)


def _sc(path: str) -> str:
    """CEL: container `c` sets securityContext.<path> (every step present)."""
    steps = ["c.securityContext"]
    for part in path.split("."):
        steps.append(f"{steps[-1]}.{part}")
    return " && ".join(f"has({s})" for s in steps)


def _every(condition: str) -> str:
    return f"variables.containers.all(c, {condition})"


def _effective_cel(key: str, test: str, unset: str = "false") -> str:
    """CEL: `test` ({} = the value) on the container's setting, else the pod's, else `unset`."""
    c, p = f"c.securityContext.{key}", f"variables.podSC.{key}"
    return f"(({_sc(key)}) ? {test.format(c)} : (has({p}) ? {test.format(p)} : {unset}))"


def _cel_str(text: str) -> str:
    """A CEL string literal: names come from the manifests and must not change the expression."""
    return "'" + text.replace("\\", "\\\\").replace("'", "\\'") + "'"


def _cel_list(items: Iterable[str]) -> str:
    return "[" + ", ".join(map(_cel_str, items)) + "]"


def cel_validations(env: Envelope) -> list[tuple[str, str, str]]:
    """(control id, CEL expression, message) for every enabled control the policy can
    check; Linux-only controls pass Windows pods, as hardening skips them there."""
    profile = env.profile.name
    confined = "{}.type in ['RuntimeDefault', 'Localhost']"
    key = f"({_cel_str(names.APPARMOR_CONTAINER_PREFIX)} + c.name)"
    apparmor_annotation = (f"{key} in variables.annotations && (variables.annotations[{key}] == 'runtime/default'"
                           f" || variables.annotations[{key}].startsWith('localhost/'))")
    spec = "variables.spec"
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
        "seLinux": [(_every(_effective_cel("seLinuxOptions", "true")), "containers must have seLinuxOptions")]
        if env.profile.controls.get("seLinux", {}).get("options") else [],
        "readOnlyRootFilesystem": [(_every(f"{_sc('readOnlyRootFilesystem')}"
                                           " && c.securityContext.readOnlyRootFilesystem == true"),
                                    "containers must set readOnlyRootFilesystem: true")],
    }
    out = []
    for control in (c for c in CONTROLS if c in env.controls and c in checks):
        for expr, what in checks[control]:
            if control in LINUX_ONLY:
                expr = f"variables.windows || ({expr})"
            out.append((control, expr, f"k8s-harden profile {profile}, {control}: {what}"))
    return out


def exemption_expression(exempt: list[Workload]) -> str:
    """CEL that is false for an exception workload, the ReplicaSets/Jobs it owns and their pods."""
    terms = []
    for w in sorted(exempt, key=lambda w: (w.namespace, w.result.kind, w.result.name)):
        kind, name = _cel_str(w.result.kind), _cel_str(w.result.name)
        owners = [f"(o.kind == {kind} && o.name == {name})"]
        child = {"Deployment": ("ReplicaSet", "[a-z0-9]+"), "CronJob": ("Job", "[0-9]+")}.get(w.result.kind)
        if child is None and w.result.kind not in BUILTIN_WORKLOADS:  # CRDs like Rollouts own ReplicaSets
            child = ("ReplicaSet", "[a-z0-9]+")
        if child:
            pattern = _cel_str(f"^{re.escape(w.result.name)}-{child[1]}$")
            owners.append(f"(o.kind == '{child[0]}' && o.name.matches({pattern}))")
        term = (f"(object.kind == {kind} && object.metadata.name == {name})"
                f" || (has(object.metadata.ownerReferences) && object.metadata.ownerReferences"
                f".exists(o, {' || '.join(owners)}))")
        if w.namespace:
            term = f"request.namespace == {_cel_str(w.namespace)} && ({term})"
        terms.append(f"({term})")
    return "!(" + " || ".join(terms) + ")"


# =========================================================================== small helpers
def _get(obj: Any, *keys: str) -> Any:
    for key in keys:
        if not isinstance(obj, dict):
            return None
        obj = obj.get(key)
    return obj


