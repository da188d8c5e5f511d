"""The allowPrivilegeEscalation check: upstream's policy/check_allowPrivilegeEscalation.go."""

from __future__ import annotations

from ..check import Check, RESTRICTED
from ..pod import CheckedPod, windows_exempt


def _allow_privilege_escalation_1_8(p: CheckedPod):
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


CHECK = Check("allowPrivilegeEscalation", RESTRICTED, 'Privilege Escalation',
              'Privilege escalation (set-user-ID or set-group-ID binaries) must not be allowed: '
              'securityContext.allowPrivilegeEscalation is false (Windows pods exempt from '
              '1.25).',
              (
                  ((1, 8), _allow_privilege_escalation_1_8, ()),
                  ((1, 25), windows_exempt(_allow_privilege_escalation_1_8), ()),
              ))
