"""The runAsNonRoot check: upstream's policy/check_runAsNonRoot.go."""

from __future__ import annotations

from ..check import Check, RESTRICTED
from ..pod import CheckedPod, userns_relaxed


def _run_as_non_root_1_0(p: CheckedPod):
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


CHECK = Check("runAsNonRoot", RESTRICTED, 'Running as Non-root',
              'Containers must run as non-root users: runAsNonRoot is true at pod level or on '
              'every container (from 1.35 not required with hostUsers: false).',
              (
                  ((1, 0), _run_as_non_root_1_0, ()),
                  ((1, 35), userns_relaxed(_run_as_non_root_1_0), ()),
              ))
