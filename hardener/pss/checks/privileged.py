"""The privileged check: upstream's policy/check_privileged.go."""

from __future__ import annotations

from ..check import BASELINE, Check
from ..pod import CheckedPod


def _privileged(p: CheckedPod):
    """check_privileged.go, privileged_1_0: securityContext.privileged != true."""
    out = []
    for c, name, path, sc in p.containers:
        if sc is not None and sc.get("privileged") is True:
            out.append((name, f"{path}/securityContext/privileged", True,
                        f'container "{name}" must not set securityContext.privileged=true',
                        "remove securityContext.privileged or set it to false"))
    return out


CHECK = Check("privileged", BASELINE, 'Privileged Containers',
              'Privileged pods disable most security mechanisms and must be disallowed: '
              'securityContext.privileged is unset or false.',
              (((1, 0), _privileged, ()),))
