"""What the kubelet allows, by version (facts the policy objects must agree with)."""

from __future__ import annotations

#: The sysctl that lets non-root processes bind ports below it, and the kernel that has it.
PORT_SYSCTL = "net.ipv4.ip_unprivileged_port_start"
PORT_SYSCTL_KERNEL = (4, 11)

#: The kubelet's safe sysctls of the PodSecurityPolicy era (<= 1.24), with the version each
#: became safe (pkg/kubelet/sysctl/safe_sysctls.go, SafeSysctlAllowlist).
SAFE_SYSCTLS = {"kernel.shm_rmid_forced": (1, 0), "net.ipv4.ip_local_port_range": (1, 0),
                "net.ipv4.tcp_syncookies": (1, 0), "net.ipv4.ping_group_range": (1, 18),
                "net.ipv4.ip_unprivileged_port_start": (1, 22)}

#: The safe sysctls added after PodSecurityPolicy's removal: name -> (the version it became
#: safe, the kernel it needs). The kubelet drops a sysctl from its allowlist on an older
#: kernel (safe_sysctls.go, getSafeSysctlAllowlist). Versions from the release notes of
#: kubernetes/kubernetes#115374 (1.27), #118846 and #121240 (1.29), #127489 (1.32) and
#: #138389 (1.37, per kubernetes/website#56276); kernels from pkg/util/kernel/constants.go.
LATER_SAFE_SYSCTLS = {
    "net.ipv4.ip_local_reserved_ports": ((1, 27), (3, 16)),
    "net.ipv4.tcp_keepalive_time": ((1, 29), (4, 5)),
    "net.ipv4.tcp_keepalive_intvl": ((1, 29), (4, 5)),
    "net.ipv4.tcp_keepalive_probes": ((1, 29), (4, 5)),
    "net.ipv4.tcp_fin_timeout": ((1, 29), (4, 6)),
    "net.ipv4.tcp_rmem": ((1, 32), (4, 15)),
    "net.ipv4.tcp_wmem": ((1, 32), (4, 15)),
    "net.ipv4.tcp_slow_start_after_idle": ((1, 37), (4, 15)),
    "net.ipv4.tcp_notsent_lowat": ((1, 37), (4, 6)),
}

#: component-helpers/node/util/sysctl, GetNamespace: the namespaced sysctl prefixes.
_IPC_PREFIXES = ("kernel.shm", "kernel.msg", "kernel.sem", "fs.mqueue.")


def safe_sysctls(kube: tuple[int, int]) -> frozenset[str]:
    return frozenset(s for s, since in SAFE_SYSCTLS.items() if kube >= since)


def kubelet_allowlist(kube: tuple[int, int]) -> dict[str, tuple[int, int] | None]:
    """Every safe sysctl of a Linux kubelet at `kube`, with the kernel it needs (None: any).
    The Windows kubelet has none (SafeSysctlAllowlist returns nil off Linux)."""
    out: dict[str, tuple[int, int] | None] = {s: None for s in safe_sysctls(kube)}
    out.update((s, kernel) for s, (since, kernel) in LATER_SAFE_SYSCTLS.items() if kube >= since)
    return out


def sysctl_namespace(name: str) -> str | None:
    """"net" or "ipc" for a sysctl of that namespace, else None (GetNamespace)."""
    if name.startswith("net."):
        return "net"
    return "ipc" if name.startswith(_IPC_PREFIXES) else None
