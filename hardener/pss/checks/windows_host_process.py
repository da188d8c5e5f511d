"""The windowsHostProcess check: upstream's policy/check_windowsHostProcess.go."""

from __future__ import annotations

from ..check import BASELINE, Check
from ..pod import CheckedPod, as_dict


def _windows_host_process(p: CheckedPod):
    """check_windowsHostProcess.go, windowsHostProcessV1Dot0:
    securityContext.windowsOptions.hostProcess != true (pod and every container)."""
    out = []
    fix = "remove windowsOptions.hostProcess or set it to false"
    if p.psc is not None and (as_dict(p.psc.get("windowsOptions")) or {}).get("hostProcess") is True:
        out.append((None, "/spec/securityContext/windowsOptions/hostProcess", True,
                    "pod must not set securityContext.windowsOptions.hostProcess=true", fix))
    for c, name, path, sc in p.containers:
        if sc is not None and (as_dict(sc.get("windowsOptions")) or {}).get("hostProcess") is True:
            out.append((name, f"{path}/securityContext/windowsOptions/hostProcess", True,
                        f'container "{name}" must not set securityContext.windowsOptions.hostProcess=true', fix))
    return out


CHECK = Check("windowsHostProcess", BASELINE, 'HostProcess',
              'Windows HostProcess containers give privileged access to the host and must be '
              'disallowed: windowsOptions.hostProcess is unset or false.',
              (((1, 0), _windows_host_process, ()),))
