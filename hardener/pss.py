"""Offline evaluator of the Kubernetes Pod Security Standards, version by version.

This mirrors upstream Pod Security Admission (PSA): the check registry in
``kubernetes/staging/src/k8s.io/pod-security-admission/policy`` (``registry.go`` plus one
``check_<id>.go`` per check). Every check has a stable id, a level (baseline or
restricted) and one or more *versioned* implementations, each with a ``MinimumVersion``.
Evaluating a pod at policy version ``v`` runs, for every check, the newest implementation
whose ``MinimumVersion <= v``; a check whose first ``MinimumVersion`` is newer than ``v``
does not run at all. Versions newer than the newest registered ``MinimumVersion`` are
clamped to it (``registry.go`` ``EvaluatePod``), and ``latest`` is that same version.

Restricted runs every baseline check plus the restricted ones, except the baseline checks
named in an active restricted check's ``OverrideCheckIDs`` (``registry.go`` ``populate``):
``restrictedVolumes`` replaces ``hostPathVolumes`` (1.0+), ``seccompProfile_restricted``
replaces ``seccompProfile_baseline`` (1.19+), ``capabilities_restricted`` replaces
``capabilities_baseline`` (1.22+) and ``procMount_restricted`` replaces ``procMount``
(1.35+). Results are ordered like upstream: baseline check ids sorted, then restricted ids.

Upstream works on typed Go structs, so the input here is read the same way: a field of the
wrong JSON type is treated as absent, a list element that is not an object is skipped, and
nothing here ever raises on pod data. Where upstream patched behaviour into an existing
``1.0`` function instead of adding a new version (``image`` volumes in ``restrictedVolumes``,
the ``appArmorProfile`` field in ``appArmorProfile``), that behaviour applies at every
version, exactly as it does on a current API server pinned to an old policy version.
"""

from __future__ import annotations


from .kube import names, nodes, podspec
from .kube.pointer import escape as _esc
from .kube.versions import LATEST, parse_policy_version
from .record import FrozenRecord

#: The Pod Security Standards levels, least strict first.
LEVELS = ("privileged", "baseline", "restricted")
LEVEL_RANK = {level: i for i, level in enumerate(LEVELS)}


def weakest(levels) -> str:
    """The least strict of `levels` ("restricted" for none): what a group of templates meets."""
    return min(levels, key=LEVEL_RANK.__getitem__, default="restricted")


def strictest(levels) -> str:
    return max(levels, key=LEVEL_RANK.__getitem__, default="privileged")

_BASELINE = "baseline"
_RESTRICTED = "restricted"


class Violation(FrozenRecord):
    """One failing check: `check` (the stable upstream check id), `level` ("baseline" or
    "restricted": the level of the failing check), `container` (its name, or None for
    pod-level), `path` (a JSON pointer from the pod template root: /spec/..., /metadata/...),
    `value` (the offending value; None when missing), `message` (what is wrong) and `fix`
    (how to fix it, one line)."""

    __slots__ = _fields = ("check", "level", "container", "path", "value", "message", "fix")

    def __init__(self, check: str, level: str, container: str | None, path: str, value: object,
                 message: str, fix: str) -> None:
        self._init(check, level, container, path, value, message, fix)


class Check(FrozenRecord):
    """One upstream check: id, level, title, what the standard asks, and its versions
    (((MinimumVersion, function, OverrideCheckIDs), ...)); unpacks as those five."""

    __slots__ = _fields = ("id", "level", "title", "description", "versions")

    def __init__(self, id: str, level: str, title: str, description: str, versions: tuple) -> None:  # noqa: A002
        self._init(id, level, title, description, versions)

    def __iter__(self):
        return (getattr(self, f) for f in self._fields)


# --------------------------------------------------------------------------- input access
# Typed-struct reading of untyped YAML: a value of the wrong type is "absent".


def _dict(x) -> dict | None:
    return x if isinstance(x, dict) else None


def _list(x) -> list | tuple:
    return x if isinstance(x, (list, tuple)) else ()


def _str(x) -> str | None:
    return x if isinstance(x, str) else None


def _int(x) -> int | None:
    return x if isinstance(x, int) and not isinstance(x, bool) else None



class _Pod:
    """The pod template as the checks see it (visitor.go order for containers)."""

    __slots__ = ("annotations", "spec", "psc", "containers", "windows", "userns")

    def __init__(self, metadata, spec):
        meta = _dict(metadata) or {}
        self.annotations = _dict(meta.get("annotations")) or {}
        self.spec = spec = _dict(spec) or {}
        self.psc = _dict(spec.get("securityContext"))
        # visitor.go visitContainers: initContainers, containers, ephemeralContainers.
        self.containers = [(c, _str(c.get("name")) or "", f"/spec/{field}/{i}", _dict(c.get("securityContext")))
                           for field, i, c in podspec.containers(spec)]
        # spec.os.name == "windows" (checks with a 1.25 revision exempt such pods).
        self.windows = nodes.psa_windows(spec)
        # helpers.go relaxPolicyForUserNamespacePod: HostUsers != nil && !*HostUsers.
        self.userns = spec.get("hostUsers") is False


# --------------------------------------------------------------------------- baseline checks
# Each check function returns a list of (container, path, value, message, fix) tuples.


def _host_namespaces(p: _Pod):
    """check_hostNamespaces.go, hostNamespaces_1_0: hostNetwork/hostPID/hostIPC != true."""
    out = []
    for field, what in (("hostNetwork", "network"), ("hostPID", "PID"), ("hostIPC", "IPC")):
        if p.spec.get(field) is True:
            out.append((None, f"/spec/{field}", True,
                        f"spec.{field}=true shares the host's {what} namespace",
                        f"remove spec.{field} or set it to false"))
    return out


def _privileged(p: _Pod):
    """check_privileged.go, privileged_1_0: securityContext.privileged != true."""
    out = []
    for c, name, path, sc in p.containers:
        if sc is not None and sc.get("privileged") is True:
            out.append((name, f"{path}/securityContext/privileged", True,
                        f'container "{name}" must not set securityContext.privileged=true',
                        "remove securityContext.privileged or set it to false"))
    return out


BASELINE_CAPABILITIES = frozenset((
    "AUDIT_WRITE", "CHOWN", "DAC_OVERRIDE", "FOWNER", "FSETID", "KILL", "MKNOD",
    "NET_BIND_SERVICE", "SETFCAP", "SETGID", "SETPCAP", "SETUID", "SYS_CHROOT",
))


def _capabilities_baseline(p: _Pod):
    """check_capabilities_baseline.go, capabilitiesBaseline_1_0: capabilities.add only from
    the default set ``capabilities_allowed_1_0`` (exact, case-sensitive names)."""
    out = []
    for c, name, path, sc in p.containers:
        caps = _dict(sc.get("capabilities")) if sc is not None else None
        if caps is None:
            continue
        for j, cap in enumerate(_list(caps.get("add"))):
            if isinstance(cap, str) and cap not in BASELINE_CAPABILITIES:
                out.append((name, f"{path}/securityContext/capabilities/add/{j}", cap,
                            f'container "{name}" must not include "{cap}" in securityContext.capabilities.add',
                            f"remove {cap} from securityContext.capabilities.add"))
    return out


def _host_path_volumes(p: _Pod):
    """check_hostPathVolumes.go, hostPathVolumes_1_0: no volumes[*].hostPath."""
    out = []
    for i, vol in enumerate(_list(p.spec.get("volumes"))):
        if isinstance(vol, dict) and _dict(vol.get("hostPath")) is not None:
            vname = _str(vol.get("name")) or ""
            out.append((None, f"/spec/volumes/{i}/hostPath", vol.get("hostPath"),
                        f'volume "{vname}" must not use hostPath',
                        "replace the hostPath volume with emptyDir, configMap, secret or a persistentVolumeClaim"))
    return out


def _host_ports(p: _Pod):
    """check_hostPorts.go, hostPorts_1_0: ports[*].hostPort unset or 0 — on the pod as
    admission sees it: with hostNetwork the API server sets every unset hostPort of a pod's
    containers and init containers to its containerPort (pkg/apis/core/v1/defaults.go
    SetDefaults_Pod: defaultHostNetworkPorts), so such a port fails the check in every pod
    the template makes (templates themselves are not defaulted from 1.28:
    DefaultHostNetworkHostPortsInPodTemplates)."""
    out = []
    host_network = p.spec.get("hostNetwork") is True
    for c, name, path, sc in p.containers:
        defaulted = host_network and not path.startswith("/spec/ephemeralContainers")
        for j, port in enumerate(_list(c.get("ports"))):
            if not isinstance(port, dict):
                continue
            hp = _int(port.get("hostPort"))
            if defaulted and not hp and _int(port.get("containerPort")):
                cp = _int(port.get("containerPort"))
                out.append((name, f"{path}/ports/{j}/containerPort", cp,
                            f'container "{name}" gets hostPort {cp} (hostNetwork: the API server sets '
                            "hostPort to containerPort)",
                            "drop hostNetwork (a hostNetwork pod always uses host ports)"))
            elif hp is not None and hp != 0:
                out.append((name, f"{path}/ports/{j}/hostPort", hp,
                            f'container "{name}" must not set hostPort {hp}',
                            "remove ports[].hostPort (expose the port through a Service instead)"))
    return out


_APPARMOR_ANNOTATION_PREFIX = names.APPARMOR_CONTAINER_PREFIX
_APPARMOR_TYPES_ALLOWED = frozenset(("RuntimeDefault", "Localhost"))


def _apparmor_annotation_ok(v: str) -> bool:
    # allowedAnnotationValue: empty, "runtime/default" or "localhost/<profile>".
    return v == "" or v == "runtime/default" or v.startswith("localhost/")


def _apparmor_profile(p: _Pod):
    """check_appArmorProfile.go, appArmorProfileV1Dot0 (single version at 1.0): the
    securityContext.appArmorProfile.type field (pod and every container) must be
    RuntimeDefault or Localhost, and container.apparmor.security.beta.kubernetes.io/*
    annotations must be empty, runtime/default or localhost/*. The field check was added
    to the 1.0 function (Kubernetes 1.30), so it applies at every policy version."""
    out = _profile_type_violations(
        p, "appArmorProfile", _APPARMOR_TYPES_ALLOWED, "AppArmor profile type",
        "set appArmorProfile.type to RuntimeDefault or Localhost, or remove it")
    for key in sorted(k for k in p.annotations
                      if isinstance(k, str) and k.startswith(_APPARMOR_ANNOTATION_PREFIX)):
        v = p.annotations[key]
        if isinstance(v, str) and not _apparmor_annotation_ok(v):
            out.append((key[len(_APPARMOR_ANNOTATION_PREFIX):], f"/metadata/annotations/{_esc(key)}", v,
                        f"annotation {key}={v!r} sets a forbidden AppArmor profile",
                        "set the annotation to runtime/default or localhost/<profile>, or remove it"))
    return out


_SELINUX_TYPES_1_0 = frozenset(("", "container_t", "container_init_t", "container_kvm_t"))
_SELINUX_TYPES_1_31 = _SELINUX_TYPES_1_0 | {"container_engine_t"}
#: (the policy version it starts at, the types allowed) — the check's revisions
_SELINUX_TYPES = (((1, 0), _SELINUX_TYPES_1_0), ((1, 31), _SELINUX_TYPES_1_31))


def _selinux(allowed):
    """check_seLinuxOptions.go: seLinuxOptions.type from the allowed set (1.0:
    container_t, container_init_t, container_kvm_t; 1.31 adds container_engine_t);
    seLinuxOptions.user and .role must be empty. Pod and every container."""

    def check(p: _Pod):
        out = []
        sources = []
        if p.psc is not None:
            sources.append((None, "/spec", p.psc))
        for c, name, path, sc in p.containers:
            if sc is not None:
                sources.append((name, path, sc))
        for name, path, sc in sources:
            opts = _dict(sc.get("seLinuxOptions"))
            if opts is None:
                continue
            who = "pod" if name is None else f'container "{name}"'
            base = f"{path}/securityContext/seLinuxOptions"
            t = _str(opts.get("type")) or ""
            if t not in allowed:
                out.append((name, f"{base}/type", opts.get("type"),
                            f"{who} must not set seLinuxOptions.type to {t!r}",
                            "remove seLinuxOptions.type or use " + ", ".join(sorted(x for x in allowed if x))))
            for field in ("user", "role"):
                v = _str(opts.get(field))
                if v:
                    out.append((name, f"{base}/{field}", v,
                                f"{who} must not set seLinuxOptions.{field}",
                                f"remove seLinuxOptions.{field}"))
        return out

    return check


def _proc_mount_1_0(p: _Pod):
    """check_procMount_baseline.go, procMount_1_0: securityContext.procMount unset or
    "Default" (also run unconditionally by procMount_restricted from 1.35)."""
    out = []
    for c, name, path, sc in p.containers:
        if sc is None:
            continue
        pm = _str(sc.get("procMount"))
        if pm is not None and pm != "Default":
            out.append((name, f"{path}/securityContext/procMount", pm,
                        f'container "{name}" must not set securityContext.procMount to {pm!r}',
                        "remove securityContext.procMount or set it to Default"))
    return out


def _proc_mount_1_35_baseline(p: _Pod):
    """check_procMount_baseline.go, procMount1_35baseline: any procMount is allowed for a
    user-namespaced pod (hostUsers: false); otherwise procMount_1_0."""
    if p.userns:
        return []
    return _proc_mount_1_0(p)


_SECCOMP_POD_ANNOTATION = names.SECCOMP_POD
_SECCOMP_CONTAINER_ANNOTATION_PREFIX = names.SECCOMP_CONTAINER_PREFIX
_SECCOMP_TYPES_ALLOWED = frozenset(("RuntimeDefault", "Localhost"))


def _seccomp_annotation_ok(v: str) -> bool:
    # validSeccompAnnotationValue: runtime/default, docker/default or localhost/*.
    return v == "runtime/default" or v == "docker/default" or v.startswith("localhost/")


def _seccomp_baseline_1_0(p: _Pod):
    """check_seccompProfile_baseline.go, seccompProfileBaseline_1_0 (policy 1.0-1.18):
    only the alpha annotations, pod-level and per visited container name."""
    out = []
    fix = "set the annotation to runtime/default or localhost/<profile>, or remove it"
    v = p.annotations.get(_SECCOMP_POD_ANNOTATION)
    if isinstance(v, str) and not _seccomp_annotation_ok(v):
        out.append((None, f"/metadata/annotations/{_esc(_SECCOMP_POD_ANNOTATION)}", v,
                    f"annotation {_SECCOMP_POD_ANNOTATION}={v!r} sets a forbidden seccomp profile", fix))
    for c, name, path, sc in p.containers:
        key = _SECCOMP_CONTAINER_ANNOTATION_PREFIX + name
        v = p.annotations.get(key)
        if isinstance(v, str) and not _seccomp_annotation_ok(v):
            out.append((name, f"/metadata/annotations/{_esc(key)}", v,
                        f"annotation {key}={v!r} sets a forbidden seccomp profile", fix))
    return out


def _seccomp_baseline_1_19(p: _Pod):
    """check_seccompProfile_baseline.go, seccompProfileBaseline_1_19: if the
    seccompProfile field is set (pod or container) its type must be RuntimeDefault or
    Localhost. Annotations are no longer looked at."""
    return _profile_type_violations(
        p, "seccompProfile", _SECCOMP_TYPES_ALLOWED, "securityContext.seccompProfile.type",
        "set seccompProfile.type to RuntimeDefault or Localhost, or remove it")


def _profile_type_violations(p: _Pod, field: str, allowed, what: str, fix: str) -> list:
    """A set `<field>.type` (pod or container) outside `allowed`: the shared core of the
    seccomp (baseline, 1.19+) and AppArmor field checks; an unset field passes."""
    out = []
    if p.psc is not None:
        prof = _dict(p.psc.get(field))
        if prof is not None:
            t = _str(prof.get("type")) or ""
            if t not in allowed:
                out.append((None, f"/spec/securityContext/{field}/type", prof.get("type"),
                            f"pod must not set {what} to {t!r}", fix))
    for c, name, path, sc in p.containers:
        prof = _dict(sc.get(field)) if sc is not None else None
        if prof is not None:
            t = _str(prof.get("type")) or ""
            if t not in allowed:
                out.append((name, f"{path}/securityContext/{field}/type", prof.get("type"),
                            f'container "{name}" must not set {what} to {t!r}', fix))
    return out


_SYSCTLS_1_0 = frozenset((
    "kernel.shm_rmid_forced",
    "net.ipv4.ip_local_port_range",
    "net.ipv4.tcp_syncookies",
    "net.ipv4.ping_group_range",
    "net.ipv4.ip_unprivileged_port_start",
))
_SYSCTLS_1_27 = _SYSCTLS_1_0 | {"net.ipv4.ip_local_reserved_ports"}
_SYSCTLS_1_29 = _SYSCTLS_1_27 | {
    "net.ipv4.tcp_keepalive_time",
    "net.ipv4.tcp_fin_timeout",
    "net.ipv4.tcp_keepalive_intvl",
    "net.ipv4.tcp_keepalive_probes",
}
_SYSCTLS_1_32 = _SYSCTLS_1_29 | {"net.ipv4.tcp_rmem", "net.ipv4.tcp_wmem"}
_SYSCTLS_1_37 = _SYSCTLS_1_32 | {"net.ipv4.tcp_slow_start_after_idle", "net.ipv4.tcp_notsent_lowat"}
#: (the policy version it starts at, the safe set) — the check's revisions
_SYSCTLS = (((1, 0), _SYSCTLS_1_0), ((1, 27), _SYSCTLS_1_27), ((1, 29), _SYSCTLS_1_29),
            ((1, 32), _SYSCTLS_1_32), ((1, 37), _SYSCTLS_1_37))


def _sysctls(allowed):
    """check_sysctls.go, sysctlsV1Dot0/V1Dot27/V1Dot29/V1Dot32/V1Dot37: every
    spec.securityContext.sysctls[*].name must be in the safe set of that version."""

    def check(p: _Pod):
        out = []
        if p.psc is None:
            return out
        for i, s in enumerate(_list(p.psc.get("sysctls"))):
            if not isinstance(s, dict):
                continue
            sname = _str(s.get("name")) or ""
            if sname not in allowed:
                out.append((None, f"/spec/securityContext/sysctls/{i}/name", s.get("name"),
                            f"sysctl {sname!r} is not in the safe set of this policy version",
                            f"remove the {sname} sysctl (or run the pod in a privileged namespace)"))
        return out

    return check


def _windows_host_process(p: _Pod):
    """check_windowsHostProcess.go, windowsHostProcessV1Dot0:
    securityContext.windowsOptions.hostProcess != true (pod and every container)."""
    out = []
    fix = "remove windowsOptions.hostProcess or set it to false"
    if p.psc is not None and (_dict(p.psc.get("windowsOptions")) or {}).get("hostProcess") is True:
        out.append((None, "/spec/securityContext/windowsOptions/hostProcess", True,
                    "pod must not set securityContext.windowsOptions.hostProcess=true", fix))
    for c, name, path, sc in p.containers:
        if sc is not None and (_dict(sc.get("windowsOptions")) or {}).get("hostProcess") is True:
            out.append((name, f"{path}/securityContext/windowsOptions/hostProcess", True,
                        f'container "{name}" must not set securityContext.windowsOptions.hostProcess=true', fix))
    return out


_PROBES = ("livenessProbe", "readinessProbe", "startupProbe")
_LIFECYCLE_HANDLERS = ("postStart", "preStop")


def _host_probes_and_lifecycle(p: _Pod):
    """check_hostProbesAndhostLifecycle.go, hostProbesAndHostLifecycleV1Dot34: the
    ``host`` of httpGet/tcpSocket in liveness/readiness/startup probes and in
    lifecycle.postStart/preStop must be empty."""
    out = []
    for c, name, path, sc in p.containers:
        handlers = [(f"{path}/{probe}", _dict(c.get(probe))) for probe in _PROBES]
        lifecycle = _dict(c.get("lifecycle"))
        if lifecycle is not None:
            handlers += [(f"{path}/lifecycle/{h}", _dict(lifecycle.get(h))) for h in _LIFECYCLE_HANDLERS]
        for hpath, handler in handlers:
            if handler is None:
                continue
            for kind in ("httpGet", "tcpSocket"):
                host = _str((_dict(handler.get(kind)) or {}).get("host"))
                if host:
                    out.append((name, f"{hpath}/{kind}/host", host,
                                f'container "{name}" must not set a probe or lifecycle host ({host!r})',
                                f"remove {kind}.host (the probe then targets the pod IP)"))
    return out


# --------------------------------------------------------------------------- restricted checks

# Volume sources in the order of the Go switch in check_restrictedVolumes.go: the ones
# restricted allows, then the ones it refuses.
RESTRICTED_ALLOWED_VOLUMES = ("configMap", "csi", "downwardAPI", "emptyDir", "ephemeral", "image",
                              "persistentVolumeClaim", "projected", "secret")
RESTRICTED_FORBIDDEN_VOLUMES = (
    "hostPath", "gcePersistentDisk", "awsElasticBlockStore", "gitRepo", "nfs", "iscsi",
    "glusterfs", "rbd", "flexVolume", "cinder", "cephfs", "flocker", "fc", "azureFile",
    "vsphereVolume", "quobyte", "azureDisk", "photonPersistentDisk", "portworxVolume",
    "scaleIO", "storageos",
)


def _restricted_volumes(p: _Pod):
    """check_restrictedVolumes.go, restrictedVolumesV1Dot0 (single version at 1.0; the
    ``image`` source was added to that function in Kubernetes 1.33, so it is allowed at
    every policy version): only configMap, csi, downwardAPI, emptyDir, ephemeral, image,
    persistentVolumeClaim, projected and secret volumes. A volume with no known source is
    what the API server defaults to emptyDir (SetDefaults_Volume) before admission, so it
    is allowed."""
    out = []
    for i, vol in enumerate(_list(p.spec.get("volumes"))):
        if not isinstance(vol, dict):
            continue
        if any(_dict(vol.get(k)) is not None for k in RESTRICTED_ALLOWED_VOLUMES):
            continue
        for k in RESTRICTED_FORBIDDEN_VOLUMES:
            if _dict(vol.get(k)) is not None:
                vname = _str(vol.get("name")) or ""
                out.append((None, f"/spec/volumes/{i}/{k}", vol.get(k),
                            f'volume "{vname}" uses restricted volume type "{k}"',
                            "use configMap, secret, downwardAPI, emptyDir, projected, csi, ephemeral, "
                            "image or a persistentVolumeClaim instead"))
                break
    return out


def _allow_privilege_escalation_1_8(p: _Pod):
    """check_allowPrivilegeEscalation.go, allowPrivilegeEscalation_1_8: every container
    must set securityContext.allowPrivilegeEscalation=false explicitly."""
    out = []
    for c, name, path, sc in p.containers:
        v = sc.get("allowPrivilegeEscalation") if sc is not None else None
        if v is not False:
            out.append((name, f"{path}/securityContext/allowPrivilegeEscalation",
                        v if isinstance(v, bool) else None,
                        f'container "{name}" must set securityContext.allowPrivilegeEscalation=false',
                        "set securityContext.allowPrivilegeEscalation: false"))
    return out


def _windows_exempt(fn):
    """The V1Dot25 revisions of allowPrivilegeEscalation, seccompProfile_restricted and
    capabilities_restricted: pods with spec.os.name == "windows" are admitted unchecked."""

    def check(p: _Pod):
        return [] if p.windows else fn(p)

    check.__doc__ = fn.__doc__
    return check


def _run_as_non_root_1_0(p: _Pod):
    """check_runAsNonRoot.go, runAsNonRoot_1_0: the pod sets runAsNonRoot=true and no
    container sets it to false, or every container sets it to true (a container value
    overrides the pod value). Explicit false anywhere is reported first, like upstream;
    containers that merely miss it are reported only when nothing is explicitly false."""
    explicit = []
    pod_true = False
    if p.psc is not None:
        v = p.psc.get("runAsNonRoot")
        if v is False:
            explicit.append((None, "/spec/securityContext/runAsNonRoot", False,
                             "pod must not set securityContext.runAsNonRoot=false",
                             "set spec.securityContext.runAsNonRoot: true"))
        elif v is True:
            pod_true = True
    implicit = []
    for c, name, path, sc in p.containers:
        v = sc.get("runAsNonRoot") if sc is not None else None
        if isinstance(v, bool):
            if not v:
                explicit.append((name, f"{path}/securityContext/runAsNonRoot", False,
                                 f'container "{name}" must not set securityContext.runAsNonRoot=false',
                                 "set securityContext.runAsNonRoot: true (or remove it and set it on the pod)"))
        elif not pod_true:
            implicit.append((name, f"{path}/securityContext/runAsNonRoot", None,
                             f'pod or container "{name}" must set securityContext.runAsNonRoot=true',
                             "set spec.securityContext.runAsNonRoot: true (or on every container)"))
    return explicit or implicit


def _run_as_user_1_23(p: _Pod):
    """check_runAsUser.go, runAsUser_1_23: neither the pod nor any container sets
    runAsUser=0 (unset is allowed)."""
    out = []
    fix = "set runAsUser to a non-zero UID or remove it"
    if p.psc is not None and _int(p.psc.get("runAsUser")) == 0:
        out.append((None, "/spec/securityContext/runAsUser", 0, "pod must not set runAsUser=0", fix))
    for c, name, path, sc in p.containers:
        if sc is not None and _int(sc.get("runAsUser")) == 0:
            out.append((name, f"{path}/securityContext/runAsUser", 0,
                        f'container "{name}" must not set runAsUser=0', fix))
    return out


def _userns_relaxed(fn):
    """The 1.35 revisions of runAsNonRoot and runAsUser (runAsNonRoot1_35, runAsUser1_35):
    skipped entirely for pods with hostUsers: false (KEP-127). Before 1.35 this relaxation
    existed only behind the alpha UserNamespacesPodSecurityStandards gate (off by
    default), and 1.35 removed it from the older revisions."""

    def check(p: _Pod):
        return [] if p.userns else fn(p)

    check.__doc__ = fn.__doc__
    return check


def _seccomp_restricted_1_19(p: _Pod):
    """check_seccompProfile_restricted.go, seccompProfileRestrictedV1Dot19: seccompProfile.type
    must be RuntimeDefault or Localhost at pod level or on every container (a container value
    overrides the pod's); Unconfined or an empty type is forbidden anywhere."""
    explicit = []
    pod_set = False
    fix_bad = "set seccompProfile.type to RuntimeDefault or Localhost"
    if p.psc is not None:
        prof = _dict(p.psc.get("seccompProfile"))
        if prof is not None:
            t = _str(prof.get("type")) or ""
            if t in _SECCOMP_TYPES_ALLOWED:
                pod_set = True
            else:
                explicit.append((None, "/spec/securityContext/seccompProfile/type", prof.get("type"),
                                 f"pod must not set securityContext.seccompProfile.type to {t!r}", fix_bad))
    implicit = []
    for c, name, path, sc in p.containers:
        prof = _dict(sc.get("seccompProfile")) if sc is not None else None
        if prof is not None:
            t = _str(prof.get("type")) or ""
            if t not in _SECCOMP_TYPES_ALLOWED:
                explicit.append((name, f"{path}/securityContext/seccompProfile/type", prof.get("type"),
                                 f'container "{name}" must not set securityContext.seccompProfile.type to {t!r}',
                                 fix_bad))
        elif not pod_set:
            implicit.append((name, f"{path}/securityContext/seccompProfile/type", None,
                             f'pod or container "{name}" must set securityContext.seccompProfile.type '
                             f'to "RuntimeDefault" or "Localhost"',
                             "set spec.securityContext.seccompProfile.type: RuntimeDefault"))
    return explicit or implicit


def _capabilities_restricted_1_22(p: _Pod):
    """check_capabilities_restricted.go, capabilitiesRestrictedV1Dot22: every container's
    capabilities.drop must include "ALL", and capabilities.add may only hold
    NET_BIND_SERVICE."""
    out = []
    for c, name, path, sc in p.containers:
        caps = _dict(sc.get("capabilities")) if sc is not None else None
        if caps is None:
            out.append((name, f"{path}/securityContext/capabilities/drop", None,
                        f'container "{name}" must set securityContext.capabilities.drop=["ALL"]',
                        'set securityContext.capabilities.drop: ["ALL"]'))
            continue
        drop = caps.get("drop")
        if "ALL" not in [d for d in _list(drop) if isinstance(d, str)]:
            out.append((name, f"{path}/securityContext/capabilities/drop",
                        drop if isinstance(drop, (list, tuple)) else None,
                        f'container "{name}" must set securityContext.capabilities.drop=["ALL"]',
                        'add "ALL" to securityContext.capabilities.drop'))
        for j, cap in enumerate(_list(caps.get("add"))):
            if isinstance(cap, str) and cap != "NET_BIND_SERVICE":
                out.append((name, f"{path}/securityContext/capabilities/add/{j}", cap,
                            f'container "{name}" must not include "{cap}" in securityContext.capabilities.add',
                            f"remove {cap} from securityContext.capabilities.add (only NET_BIND_SERVICE may be added)"))
    return out


# --------------------------------------------------------------------------- registry
# As registered by each check_<id>.go init(): the check id, its level, the title and what
# the standard asks (the Pod Security Standards page's wording, for reports and SARIF help),
# and its ((MinimumVersion, check function, OverrideCheckIDs), ...).

_REGISTRY = (
    Check("appArmorProfile", _BASELINE, 'AppArmor',
          'AppArmor must not be disabled or overridden: '
          'securityContext.appArmorProfile.type (pod and containers) is RuntimeDefault or '
          'Localhost, and the container.apparmor.security.beta.kubernetes.io/* annotations '
          'are unset, runtime/default or localhost/*.',
          (((1, 0), _apparmor_profile, ()),)),
    Check("capabilities_baseline", _BASELINE, 'Capabilities',
          'Adding capabilities beyond the default set must be disallowed: capabilities.add '
          'may hold only AUDIT_WRITE, CHOWN, DAC_OVERRIDE, FOWNER, FSETID, KILL, MKNOD, '
          'NET_BIND_SERVICE, SETFCAP, SETGID, SETPCAP, SETUID, SYS_CHROOT.',
          (((1, 0), _capabilities_baseline, ()),)),
    Check("hostNamespaces", _BASELINE, 'Host Namespaces',
          'Sharing the host namespaces must be disallowed: hostNetwork, hostPID and hostIPC '
          'are unset or false.',
          (((1, 0), _host_namespaces, ()),)),
    Check("hostPathVolumes", _BASELINE, 'HostPath Volumes',
          'HostPath volumes must be forbidden.',
          (((1, 0), _host_path_volumes, ()),)),
    Check("hostPorts", _BASELINE, 'Host Ports',
          'HostPorts should be disallowed: containers[*].ports[*].hostPort is unset or 0.',
          (((1, 0), _host_ports, ()),)),
    Check("hostProbesAndHostLifecycle", _BASELINE, 'Host Probes / Lifecycle Hooks',
          'The host field of probes and lifecycle handlers must not be set (policy version '
          '1.34 and later).',
          (((1, 34), _host_probes_and_lifecycle, ()),)),
    Check("privileged", _BASELINE, 'Privileged Containers',
          'Privileged pods disable most security mechanisms and must be disallowed: '
          'securityContext.privileged is unset or false.',
          (((1, 0), _privileged, ()),)),
    Check("procMount", _BASELINE, '/proc Mount Type',
          'The default /proc masks must be kept: securityContext.procMount is unset or '
          'Default (from 1.35 any value is allowed for pods with hostUsers: false).',
          (
              ((1, 0), _proc_mount_1_0, ()),
              ((1, 35), _proc_mount_1_35_baseline, ()),
          )),
    Check("seLinuxOptions", _BASELINE, 'SELinux',
          'Setting a custom SELinux user or role is forbidden and the type is limited to '
          'container_t, container_init_t, container_kvm_t (and container_engine_t from '
          '1.31).',
          tuple((since, _selinux(types), ()) for since, types in _SELINUX_TYPES)),
    Check("seccompProfile_baseline", _BASELINE, 'Seccomp',
          'The seccomp profile must not be explicitly set to Unconfined.',
          (
              ((1, 0), _seccomp_baseline_1_0, ()),
              ((1, 19), _seccomp_baseline_1_19, ()),
          )),
    Check("sysctls", _BASELINE, 'Sysctls',
          'Sysctls can disable security mechanisms or affect the whole node: only the safe '
          'subset allowed at the policy version may be set.',
          tuple((since, _sysctls(safe), ()) for since, safe in _SYSCTLS)),
    Check("windowsHostProcess", _BASELINE, 'HostProcess',
          'Windows HostProcess containers give privileged access to the host and must be '
          'disallowed: windowsOptions.hostProcess is unset or false.',
          (((1, 0), _windows_host_process, ()),)),
    Check("allowPrivilegeEscalation", _RESTRICTED, 'Privilege Escalation',
          'Privilege escalation (set-user-ID or set-group-ID binaries) must not be allowed: '
          'securityContext.allowPrivilegeEscalation is false (Windows pods exempt from '
          '1.25).',
          (
              ((1, 8), _allow_privilege_escalation_1_8, ()),
              ((1, 25), _windows_exempt(_allow_privilege_escalation_1_8), ()),
          )),
    Check("capabilities_restricted", _RESTRICTED, 'Capabilities (restricted)',
          'Containers must drop ALL capabilities and may add back only NET_BIND_SERVICE '
          '(policy version 1.22 and later).',
          (
              ((1, 22), _capabilities_restricted_1_22, ("capabilities_baseline",)),
              ((1, 25), _windows_exempt(_capabilities_restricted_1_22), ("capabilities_baseline",)),
          )),
    Check("procMount_restricted", _RESTRICTED, '/proc Mount Type (restricted)',
          'securityContext.procMount is unset or Default, user namespaces or not (policy '
          'version 1.35 and later).',
          (((1, 35), _proc_mount_1_0, ("procMount",)),)),
    Check("restrictedVolumes", _RESTRICTED, 'Volume Types',
          'Only configMap, csi, downwardAPI, emptyDir, ephemeral, image, '
          'persistentVolumeClaim, projected and secret volumes are allowed.',
          (((1, 0), _restricted_volumes, ("hostPathVolumes",)),)),
    Check("runAsNonRoot", _RESTRICTED, 'Running as Non-root',
          'Containers must run as non-root users: runAsNonRoot is true at pod level or on '
          'every container (from 1.35 not required with hostUsers: false).',
          (
              ((1, 0), _run_as_non_root_1_0, ()),
              ((1, 35), _userns_relaxed(_run_as_non_root_1_0), ()),
          )),
    Check("runAsUser", _RESTRICTED, 'Running as Non-root user',
          'Containers must not set runAsUser to 0 (policy version 1.23 and later).',
          (
              ((1, 23), _run_as_user_1_23, ()),
              ((1, 35), _userns_relaxed(_run_as_user_1_23), ()),
          )),
    Check("seccompProfile_restricted", _RESTRICTED, 'Seccomp (restricted)',
          'A seccomp profile must be set explicitly to RuntimeDefault or Localhost, at pod '
          'level or on every container (Windows pods exempt from 1.25).',
          (
              ((1, 19), _seccomp_restricted_1_19, ("seccompProfile_baseline",)),
              ((1, 25), _windows_exempt(_seccomp_restricted_1_19), ("seccompProfile_baseline",)),
          )),
)

_MAX_VERSION = max(c.versions[-1][0] for c in _REGISTRY)
assert _MAX_VERSION == LATEST

_PLAN_CACHE: dict = {}


def _plan(level: str, version: tuple[int, int]):
    """The (id, level, function) list to run, ordered like registry.go populate():
    sorted baseline ids, then sorted restricted ids; overridden baseline checks removed."""
    key = (level, version)
    plan = _PLAN_CACHE.get(key)
    if plan is not None:
        return plan
    active = []
    for cid, clevel, _, _, versions in _REGISTRY:
        if clevel == _RESTRICTED and level != _RESTRICTED:
            continue
        chosen = None
        for minimum, fn, overrides in versions:
            if minimum <= version:
                chosen = (fn, overrides)
        if chosen is not None:
            active.append((cid, clevel, chosen[0], chosen[1]))
    overridden = {o for _, clevel, _, ovs in active if clevel == _RESTRICTED for o in ovs}
    plan = [(cid, clevel, fn) for cid, clevel, fn, _ in active if cid not in overridden]
    plan.sort(key=lambda t: (t[1] != _BASELINE, t[0]))
    _PLAN_CACHE[key] = plan
    return plan


#: Every check by id, in registry order (baseline ids sorted, then restricted ids).
CHECKS: dict[str, Check] = {c.id: c for c in _REGISTRY}

# --------------------------------------------------------------------------- API


def _at(version, table):
    """The value of a (minimum version, value) table at `version`."""
    v = parse_policy_version(version)
    chosen = table[0][1]
    for minimum, value in table:
        if minimum <= v:
            chosen = value
    return chosen


def active_checks(level: str, version: tuple[int, int] | str = LATEST) -> list[str]:
    """The ids of the checks PSS runs at `level` and `version` (overridden ones left out),
    in evaluation order."""
    v = min(parse_policy_version(version), LATEST)
    return [cid for cid, _, _ in _plan(level, v)] if level != "privileged" else []


def safe_sysctls(version: tuple[int, int] | str = LATEST) -> frozenset[str]:
    """The sysctls the `sysctls` check allows at a policy version (check_sysctls.go)."""
    return _at(version, _SYSCTLS)


def selinux_types(version: tuple[int, int] | str = LATEST) -> frozenset[str]:
    """The seLinuxOptions.type values the `seLinuxOptions` check allows ("" = unset)
    at a policy version (check_seLinuxOptions.go)."""
    return _at(version, _SELINUX_TYPES)


def evaluate(pod_metadata: dict | None, pod_spec: dict | None, level: str = "restricted",
             version: tuple[int, int] | str = LATEST) -> list[Violation]:
    """Evaluate one pod template (metadata + spec) against PSS ``level`` at ``version``
    (``"latest"``, ``"1.25"``, ``"v1.25"`` or ``(1, 25)``). Returns the violations, empty
    when the template passes. Never raises on malformed pod data; raises ValueError for
    an unknown level or an unparsable version."""
    if level not in LEVELS:
        raise ValueError(f"unknown Pod Security Standards level {level!r}: expected one of {', '.join(LEVELS)}")
    v = parse_policy_version(version)
    if v > LATEST:
        v = LATEST  # registry.go EvaluatePod: newer versions evaluate as maxVersion
    if level == "privileged":
        return []
    pod = _Pod(pod_metadata, pod_spec)
    out: list[Violation] = []
    for cid, clevel, fn in _plan(level, v):
        for container, path, value, message, fix in fn(pod):
            out.append(Violation(cid, clevel, container, path, value, message, fix))
    return out


def evaluate_check(cid: str, pod_metadata: dict | None, pod_spec: dict | None,
                   version: tuple[int, int] | str = LATEST) -> list[Violation]:
    """One check, as registered at `version`, whatever the level: the policy's controls
    that reuse a check's CEL (seLinux types, procMount, sysctls) are judged by it."""
    v = min(parse_policy_version(version), LATEST)
    check = CHECKS[cid]
    fn = None
    for minimum, f, _ in check.versions:
        if minimum <= v:
            fn = f
    if fn is None:
        return []
    return [Violation(cid, check.level, *found) for found in fn(_Pod(pod_metadata, pod_spec))]


def meets(pod_metadata, pod_spec, version=LATEST) -> str:
    """The strictest level ("restricted", "baseline" or "privileged") the template passes."""
    return assess(pod_metadata, pod_spec, None, version)[0]


def assess(pod_metadata, pod_spec, level: str | None = "restricted",
           version: tuple[int, int] | str = LATEST) -> tuple[str, list[Violation]]:
    """``(meets(...), evaluate(..., level, ...))`` in one pass: every check runs at most once
    (the baseline checks a restricted check does not override are shared by both levels).
    With `level` None, only the level met (the restricted checks are skipped when the
    baseline already fails)."""
    if level is not None and level not in LEVELS:
        raise ValueError(f"unknown Pod Security Standards level {level!r}: expected one of {', '.join(LEVELS)}")
    v = parse_policy_version(version)
    if v > LATEST:
        v = LATEST  # registry.go EvaluatePod: newer versions evaluate as maxVersion
    pod = _Pod(pod_metadata, pod_spec)
    found: dict[str, list[Violation]] = {}

    def run(plan) -> bool:
        failed = False
        for cid, clevel, fn in plan:
            got = found.get(cid)
            if got is None:
                got = found[cid] = [Violation(cid, clevel, container, path, value, message, fix)
                                    for container, path, value, message, fix in fn(pod)]
            failed = failed or bool(got)
        return failed

    baseline, restricted = _plan(_BASELINE, v), _plan(_RESTRICTED, v)
    if run(baseline):
        met = "privileged"
        if level == _RESTRICTED:
            run(restricted)
    else:
        met = "baseline" if run(restricted) else "restricted"
    if level is None or level == "privileged":
        return met, []
    return met, [x for cid, _, _ in (restricted if level == _RESTRICTED else baseline) for x in found[cid]]
