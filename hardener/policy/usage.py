"""What hardened pod templates use, in the terms of PodSecurityPolicy and the envelope."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Iterable

from ..kube import names
from ..kube.podspec import containers as podspec_containers
from ..kube.podspec import dig as _get
from ..kube.podspec import effective as _effective
from ..kube.podspec import integer as _id
from ..kube.podspec import mapping as _dict
from ..kube.podspec import sequence as _list
from ..kube.nodes import targets_windows
from ..kube.versions import TOKEN_PROJECTED


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
    seccomp: Seen = field(default_factory=Seen)  # each container's effective profile
    pod_seccomp_unset: bool = False  # some pod has no pod-level profile (PSP looks there too)
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
        _pod_usage(u, spec, kube, _dict(meta.get("annotations")))
        for _, _, c in podspec_containers(spec):
            _container_usage(u, c, meta, spec)
    return u


def _pod_usage(u: Usage, spec: dict, kube: tuple[int, int], ann: dict | None = None) -> None:
    psc = _dict(spec.get("securityContext"))
    ann = ann or {}
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
        # a volume's source is its one field besides `name`; a key that is not a string
        # (YAML 1.1 `on:`, `1:`) is no Kubernetes field: the API server drops it
        u.volumes.update(k for k in v if isinstance(k, str) and k != "name")
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
    if not (_profile_name(psc.get("seccompProfile")) or ann.get(names.SECCOMP_POD)):
        # PSP validates the pod's own profile too (seccomp/strategy.go ValidatePod): a pod
        # whose profiles are all per container (a Tekton Task's, Knative's) has none there
        u.pod_seccomp_unset = True


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
