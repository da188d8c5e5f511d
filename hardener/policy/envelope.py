"""The envelope: the most the profile lets a workload use without being an exception."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Iterable

from .. import pss
from ..kube.kubelet import safe_sysctls
from ..kube.versions import LATEST, PSP_REMOVED
from ..profile import Profile
from .usage import Seen, Usage

GROUP_CONTROLS = ("runAsGroup", "fsGroup", "supplementalGroups")


@dataclass(frozen=True)
class Envelope:
    """The most the profile lets a workload use without being an exception."""

    allowed_caps: frozenset
    required_drop: tuple
    controls: frozenset  # enabled control ids
    safe_sysctls: frozenset  # the kubelet's (PodSecurityPolicy era)
    profile: Profile
    kube: tuple[int, int] = LATEST  # the target version

    @classmethod
    def of(cls, profile: Profile, kube: tuple[int, int]) -> "Envelope":
        caps = profile.controls.get("capabilities")
        return cls(frozenset(caps["allowAdd"]) if caps else pss.BASELINE_CAPABILITIES,
                   tuple(caps["drop"]) if caps else (), frozenset(profile.controls),
                   safe_sysctls(kube), profile, kube)

    def has(self, control: str) -> bool:
        return control in self.controls

    @property
    def root_groups_forbidden(self) -> bool:
        """A profile that sets any group identity keeps gid 0 out of every group field."""
        return any(self.has(c) for c in GROUP_CONTROLS)


#: Envelope rules that are Pod Security Standards checks no control changes.
PSS_ONLY_RULES = ("volumes",)


def violations(u: Usage, env: Envelope) -> list[tuple[str, str]]:
    """(control id, what) for everything `u` uses beyond the envelope; empty when it fits."""
    return [(control_of(key), what) for key, bad, what in rules(u, env) if bad]


def control_of(key: str) -> str:
    """The control of a rule key: `hostAccess:hostPath` -> `hostAccess`."""
    return key.split(":", 1)[0]


def rules(u: Usage, env: Envelope) -> list[tuple[str, Any, str]]:
    """(key, truthy when `u` breaks it, what) for every rule of the envelope: one or more
    per control of the registry (a test holds them together). The key is the control id or
    a PSS_ONLY_RULES entry, with `:<part>` where the ValidatingAdmissionPolicy checks the
    parts of a control apart (its exemptions are per part: `hostAccess:hostPath`)."""
    odd_volumes = u.volumes - set(pss.RESTRICTED_ALLOWED_VOLUMES) - {"hostPath"}  # hostPath: host access
    extra_caps = u.added_caps - env.allowed_caps
    kept_caps = set(env.required_drop) - (u.dropped_caps or set())
    unsafe_sysctls = u.sysctls - env.safe_sysctls
    se_linux = env.profile.controls.get("seLinux", {}).get("options")
    return [
        ("hostAccess:namespaces", u.host_network, "hostNetwork"),
        ("hostAccess:namespaces", u.host_pid, "hostPID"),
        ("hostAccess:namespaces", u.host_ipc, "hostIPC"),
        ("hostAccess:hostProcess", u.host_process, "Windows HostProcess"),
        ("hostAccess:hostPath", u.host_paths, "hostPath " + _join(u.host_paths)),
        ("hostAccess:hostPorts", u.host_ports, "hostPort " + _join(u.host_ports)),
        ("privileged", u.privileged, "privileged container"),
        ("volumes", odd_volumes, "volume types " + _join(odd_volumes)),
        ("capabilities:add", extra_caps, "adds " + _join(extra_caps)),
        ("capabilities:drop", kept_caps, "does not drop " + _join(kept_caps)),
        ("allowPrivilegeEscalation", env.has("allowPrivilegeEscalation") and u.escalation,
         "allowPrivilegeEscalation not false"),
        ("runAsNonRoot", env.has("runAsNonRoot") and not u.non_root, "runAsNonRoot not true"),
        ("runAsUser", env.has("runAsUser") and 0 in u.uids.values, "runAsUser 0"),
        ("runAsGroup", env.has("runAsGroup") and _unset_or_root(u.run_as_groups), "runAsGroup unset or 0"),
        ("fsGroup", env.has("fsGroup") and _unset_or_root(u.fs_groups), "fsGroup unset or 0"),
        ("supplementalGroups", env.root_groups_forbidden and 0 in u.supplemental_groups.values,
         "supplementalGroups contains 0"),
        ("seccompProfile", env.has("seccompProfile") and (
            not _confined(u.seccomp) or (env.kube < PSP_REMOVED and u.pod_seccomp_unset)),
         "seccomp unset or unconfined"),
        ("appArmor", env.has("appArmor") and not _confined(u.apparmor), "AppArmor unset or unconfined"),
        ("seLinux:options", env.has("seLinux") and se_linux and u.se_linux_unset, "seLinuxOptions unset"),
        ("readOnlyRootFilesystem", env.has("readOnlyRootFilesystem") and not u.read_only_root,
         "writable root filesystem"),
        ("unprivilegedPortStart", False, "(the sysctl it sets is safe)"),
        ("sysctls", unsafe_sysctls, "unsafe sysctls " + _join(unsafe_sysctls)),
        ("procMount", u.proc_mounts, "procMount " + _join(u.proc_mounts)),
    ]


def _join(values: Iterable) -> str:
    return ", ".join(map(str, sorted(values)))


def _unset_or_root(seen: Seen) -> bool:
    return seen.unset or 0 in seen.values


def _confined(seen: Seen) -> bool:
    """Every container has a seccomp/AppArmor profile other than unconfined."""
    return not seen.unset and all(v in ("runtime/default", "docker/default") or v.startswith("localhost/")
                                  for v in seen.values)
