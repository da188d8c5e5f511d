"""The runAsUser check: upstream's policy/check_runAsUser.go."""

from __future__ import annotations

from ..check import Check, RESTRICTED
from ..pod import CheckedPod, as_int, userns_relaxed


def _run_as_user_1_23(p: CheckedPod):
    """check_runAsUser.go, runAsUser_1_23: neither the pod nor any container sets
    runAsUser=0 (unset is allowed)."""
    out = []
    fix = "set runAsUser to a non-zero UID or remove it"
    if p.psc is not None and as_int(p.psc.get("runAsUser")) == 0:
        out.append((None, "/spec/securityContext/runAsUser", 0, "pod must not set runAsUser=0", fix))
    for c, name, path, sc in p.containers:
        if sc is not None and as_int(sc.get("runAsUser")) == 0:
            out.append((name, f"{path}/securityContext/runAsUser", 0,
                        f'container "{name}" must not set runAsUser=0', fix))
    return out


CHECK = Check("runAsUser", RESTRICTED, 'Running as Non-root user',
              'Containers must not set runAsUser to 0 (policy version 1.23 and later).',
              (
                  ((1, 23), _run_as_user_1_23, ()),
                  ((1, 35), userns_relaxed(_run_as_user_1_23), ()),
              ))
