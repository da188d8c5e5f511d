"""The procMount check: upstream's policy/check_procMount_baseline.go."""

from __future__ import annotations

from ..check import BASELINE, Check
from ..pod import CheckedPod, as_str


def proc_mount_1_0(p: CheckedPod):
    """check_procMount_baseline.go, procMount_1_0: securityContext.procMount unset or
    "Default" (also run unconditionally by procMount_restricted from 1.35)."""
    out = []
    for c, name, path, sc in p.containers:
        if sc is None:
            continue
        pm = as_str(sc.get("procMount"))
        if pm is not None and pm != "Default":
            out.append((name, f"{path}/securityContext/procMount", pm,
                        f'container "{name}" must not set securityContext.procMount to {pm!r}',
                        "remove securityContext.procMount or set it to Default"))
    return out


def _proc_mount_1_35_baseline(p: CheckedPod):
    """check_procMount_baseline.go, procMount1_35baseline: any procMount is allowed for a
    user-namespaced pod (hostUsers: false); otherwise procMount_1_0."""
    if p.userns:
        return []
    return proc_mount_1_0(p)


CHECK = Check("procMount", BASELINE, '/proc Mount Type',
              'The default /proc masks must be kept: securityContext.procMount is unset or '
              'Default (from 1.35 any value is allowed for pods with hostUsers: false).',
              (
                  ((1, 0), proc_mount_1_0, ()),
                  ((1, 35), _proc_mount_1_35_baseline, ()),
              ))
