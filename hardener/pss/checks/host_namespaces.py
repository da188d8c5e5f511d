"""The hostNamespaces check: upstream's policy/check_hostNamespaces.go."""

from __future__ import annotations

from ..check import BASELINE, Check
from ..pod import CheckedPod


def _host_namespaces(p: CheckedPod):
    """check_hostNamespaces.go, hostNamespaces_1_0: hostNetwork/hostPID/hostIPC != true."""
    out = []
    for field, what in (("hostNetwork", "network"), ("hostPID", "PID"), ("hostIPC", "IPC")):
        if p.spec.get(field) is True:
            out.append((None, f"/spec/{field}", True,
                        f"spec.{field}=true shares the host's {what} namespace",
                        f"remove spec.{field} or set it to false"))
    return out


CHECK = Check("hostNamespaces", BASELINE, 'Host Namespaces',
              'Sharing the host namespaces must be disallowed: hostNetwork, hostPID and hostIPC '
              'are unset or false.',
              (((1, 0), _host_namespaces, ()),))
