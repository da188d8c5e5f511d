"""The sysctls check: upstream's policy/check_sysctls.go."""

from __future__ import annotations

from ..check import BASELINE, Check
from ..pod import CheckedPod, as_list, as_str


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
SAFE_SYSCTLS_BY_VERSION = (((1, 0), _SYSCTLS_1_0), ((1, 27), _SYSCTLS_1_27), ((1, 29), _SYSCTLS_1_29),
            ((1, 32), _SYSCTLS_1_32), ((1, 37), _SYSCTLS_1_37))


def _sysctls(allowed):
    """check_sysctls.go, sysctlsV1Dot0/V1Dot27/V1Dot29/V1Dot32/V1Dot37: every
    spec.securityContext.sysctls[*].name must be in the safe set of that version."""

    def check(p: CheckedPod):
        out = []
        if p.psc is None:
            return out
        for i, s in enumerate(as_list(p.psc.get("sysctls"))):
            if not isinstance(s, dict):
                continue
            sname = as_str(s.get("name")) or ""
            if sname not in allowed:
                out.append((None, f"/spec/securityContext/sysctls/{i}/name", s.get("name"),
                            f"sysctl {sname!r} is not in the safe set of this policy version",
                            f"remove the {sname} sysctl (or run the pod in a privileged namespace)"))
        return out

    return check


CHECK = Check("sysctls", BASELINE, 'Sysctls',
              'Sysctls can disable security mechanisms or affect the whole node: only the safe '
              'subset allowed at the policy version may be set.',
              tuple((since, _sysctls(safe), ()) for since, safe in SAFE_SYSCTLS_BY_VERSION))
