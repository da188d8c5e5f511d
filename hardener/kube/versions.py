"""Kubernetes versions: parsing, formatting, and every version gate by name.

Two parsers, because Kubernetes has two forms: a *server* version (`--kube-version`:
`1.30`, `v1.30.2`, `1.30.2+k3s1`, `latest`) and a Pod Security Admission *policy* version
(the `pod-security.kubernetes.io/enforce-version` label: `latest`, `v1.30`, no patch part;
PSA's `api.ParseVersion`).
"""

from __future__ import annotations

import re

Version = tuple[int, int]

#: The newest Kubernetes minor this tool knows (PSS sysctls gained its 1.37 revision there).
LATEST: Version = (1, 37)

# ---- gates: the first minor where a field, behaviour or API exists
#: The oldest target the hardening rules are written for: RunAsGroup is beta (served by
#: default) from 1.14; an older API server drops the runAsGroup the profiles set.
OLDEST_TARGET: Version = (1, 14)
SECCOMP_FIELD: Version = (1, 19)  # securityContext.seccompProfile (annotation before)
FS_GROUP_CHANGE_POLICY: Version = (1, 20)  # securityContext.fsGroupChangePolicy
TOKEN_PROJECTED: Version = (1, 21)  # BoundServiceAccountTokenVolume: the token is a projected volume
UNPRIVILEGED_PORT_SYSCTL: Version = (1, 22)  # net.ipv4.ip_unprivileged_port_start is a safe sysctl
PSP_REMOVED: Version = (1, 25)  # policy/v1beta1 PodSecurityPolicy no longer served
APPARMOR_FIELD: Version = (1, 30)  # securityContext.appArmorProfile (annotations before)
VAP_V1: Version = (1, 30)  # admissionregistration.k8s.io/v1 ValidatingAdmissionPolicy
MAP_V1BETA1: Version = (1, 34)  # MutatingAdmissionPolicy v1beta1 (feature gate off by default)
MAP_V1: Version = (1, 36)  # MutatingAdmissionPolicy admissionregistration.k8s.io/v1, on by default
POD_OS: Version = (1, 24)  # spec.os and validateWindows/validateLinux (IdentifyPodOS on by default)
HOST_SYSCTL_API: Version = (1, 29)  # ValidateHostSysctl: no net sysctl with hostNetwork (#118705)
PSS_USERNS: Version = (1, 35)  # PSS relaxes user-namespaced pods (relaxPolicyForUserNamespacePod)
APPARMOR_HARD_REJECT: Version = (1, 31)  # the kubelet fails pods it cannot confine (was: Pending)

_SERVER_RE = re.compile(r"^v?(\d+)\.(\d+)(?:[.+-].*)?$")
_POLICY_RE = re.compile(r"^[vV]?1\.(0|[1-9][0-9]*)$")


def parse_kube_version(value: str | tuple | None) -> Version:
    """`1.30`, `v1.30.2`, `1.30.2+k3s1` or `latest` -> (1, 30). Raises ValueError."""
    if value is None or value == "" or value == "latest":
        return LATEST
    if isinstance(value, tuple):
        return (int(value[0]), int(value[1]))
    m = _SERVER_RE.match(str(value).strip())
    if not m:
        raise ValueError(f"not a Kubernetes version: {value!r} (expected X.Y, e.g. 1.30, or 'latest')")
    return (int(m.group(1)), int(m.group(2)))


def parse_policy_version(v: str | tuple | list) -> Version:
    """A PSA policy version: ``"latest"``, ``"1.25"``, ``"v1.25"`` or ``(1, 25)``.

    Like PSA's ``api.ParseVersion`` only major version 1 exists and there is no patch
    part. Minor versions newer than :data:`LATEST` are accepted (PSA accepts them too);
    the evaluator clamps them. Raises ValueError.
    """
    if isinstance(v, str):
        s = v.strip()
        if s.lower() == "latest":
            return LATEST
        m = _POLICY_RE.match(s)
        if m:
            return (1, int(m.group(1)))
        raise ValueError(
            f"invalid Pod Security Standards version {v!r}: expected 'latest' or "
            f"'1.<minor>' / 'v1.<minor>' (for example 'v1.25'); only major version 1 exists"
        )
    if isinstance(v, (tuple, list)) and len(v) == 2 and all(type(x) is int for x in v):
        major, minor = v
        if major != 1 or minor < 0:
            raise ValueError(
                f"invalid Pod Security Standards version {tuple(v)!r}: "
                f"expected (1, <minor>) with minor >= 0"
            )
        return (1, minor)
    raise ValueError(
        f"invalid Pod Security Standards version {v!r}: expected 'latest', "
        f"'1.<minor>', 'v1.<minor>' or a (1, <minor>) tuple"
    )


def fmt(version: Version) -> str:
    return f"{version[0]}.{version[1]}"
