"""The hostPorts check: upstream's policy/check_hostPorts.go."""

from __future__ import annotations

from ..check import BASELINE, Check
from ..pod import CheckedPod, as_int, as_list


def _host_ports(p: CheckedPod):
    """check_hostPorts.go, hostPorts_1_0: ports[*].hostPort unset or 0 — on the pod as
    admission sees it: with hostNetwork the API server sets every unset hostPort of a pod's
    containers and init containers to its containerPort (pkg/apis/core/v1/defaults.go
    SetDefaults_Pod: defaultHostNetworkPorts), so such a port fails the check in every pod
    the template makes (templates themselves are not defaulted from 1.28:
    DefaultHostNetworkHostPortsInPodTemplates)."""
    out = []
    host_network = p.spec.get("hostNetwork") is True
    for c, name, path, sc in p.containers:
        defaulted = host_network and not path.startswith("/spec/ephemeralContainers")
        for j, port in enumerate(as_list(c.get("ports"))):
            if not isinstance(port, dict):
                continue
            hp = as_int(port.get("hostPort"))
            if defaulted and not hp and as_int(port.get("containerPort")):
                cp = as_int(port.get("containerPort"))
                out.append((name, f"{path}/ports/{j}/containerPort", cp,
                            f'container "{name}" gets hostPort {cp} (hostNetwork: the API server sets '
                            "hostPort to containerPort)",
                            "drop hostNetwork (a hostNetwork pod always uses host ports)"))
            elif hp is not None and hp != 0:
                out.append((name, f"{path}/ports/{j}/hostPort", hp,
                            f'container "{name}" must not set hostPort {hp}',
                            "remove ports[].hostPort (expose the port through a Service instead)"))
    return out


CHECK = Check("hostPorts", BASELINE, 'Host Ports',
              'HostPorts should be disallowed: containers[*].ports[*].hostPort is unset or 0.',
              (((1, 0), _host_ports, ()),))
