"""The seccompProfile_restricted check: upstream's policy/check_seccompProfile_restricted.go."""

from __future__ import annotations

from ..check import Check, RESTRICTED
from ..pod import CheckedPod, as_dict, as_str, windows_exempt
from .seccomp_baseline import SECCOMP_TYPES_ALLOWED


def _seccomp_restricted_1_19(p: CheckedPod):
    """check_seccompProfile_restricted.go, seccompProfileRestrictedV1Dot19: seccompProfile.type
    must be RuntimeDefault or Localhost at pod level or on every container (a container value
    overrides the pod's); Unconfined or an empty type is forbidden anywhere."""
    explicit = []
    pod_set = False
    fix_bad = "set seccompProfile.type to RuntimeDefault or Localhost"
    if p.psc is not None:
        prof = as_dict(p.psc.get("seccompProfile"))
        if prof is not None:
            t = as_str(prof.get("type")) or ""
            if t in SECCOMP_TYPES_ALLOWED:
                pod_set = True
            else:
                explicit.append((None, "/spec/securityContext/seccompProfile/type", prof.get("type"),
                                 f"pod must not set securityContext.seccompProfile.type to {t!r}", fix_bad))
    implicit = []
    for c, name, path, sc in p.containers:
        prof = as_dict(sc.get("seccompProfile")) if sc is not None else None
        if prof is not None:
            t = as_str(prof.get("type")) or ""
            if t not in SECCOMP_TYPES_ALLOWED:
                explicit.append((name, f"{path}/securityContext/seccompProfile/type", prof.get("type"),
                                 f'container "{name}" must not set securityContext.seccompProfile.type to {t!r}',
                                 fix_bad))
        elif not pod_set:
            implicit.append((name, f"{path}/securityContext/seccompProfile/type", None,
                             f'pod or container "{name}" must set securityContext.seccompProfile.type '
                             f'to "RuntimeDefault" or "Localhost"',
                             "set spec.securityContext.seccompProfile.type: RuntimeDefault"))
    return explicit or implicit


CHECK = Check("seccompProfile_restricted", RESTRICTED, 'Seccomp (restricted)',
              'A seccomp profile must be set explicitly to RuntimeDefault or Localhost, at pod '
              'level or on every container (Windows pods exempt from 1.25).',
              (
                  ((1, 19), _seccomp_restricted_1_19, ("seccompProfile_baseline",)),
                  ((1, 25), windows_exempt(_seccomp_restricted_1_19), ("seccompProfile_baseline",)),
              ))
