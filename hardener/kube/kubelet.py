"""What the kubelet allows, by version (facts the policy objects must agree with)."""

from __future__ import annotations

#: The kubelet's safe sysctls of the PodSecurityPolicy era (<= 1.24), with the version each
#: became safe (pkg/kubelet/sysctl/safe_sysctls.go, SafeSysctlAllowlist).
SAFE_SYSCTLS = {"kernel.shm_rmid_forced": (1, 0), "net.ipv4.ip_local_port_range": (1, 0),
                "net.ipv4.tcp_syncookies": (1, 0), "net.ipv4.ping_group_range": (1, 18),
                "net.ipv4.ip_unprivileged_port_start": (1, 22)}


def safe_sysctls(kube: tuple[int, int]) -> frozenset[str]:
    return frozenset(s for s, since in SAFE_SYSCTLS.items() if kube >= since)
