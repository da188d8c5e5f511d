"""Host access: reported, never removed."""

from __future__ import annotations

from ..kube.podspec import mapping
from ..results import HOST_ACCESS, Skip
from .base import Control


class HostAccess(Control):
    """Workloads built on host access (host namespaces, hostPath volumes, hostPorts,
    Windows HostProcess) are never "fixed" by removing it — that would break them, not
    harden them. This control changes nothing; it reports each use as an exception so the
    report, the policy objects and `--verify` know about it."""

    id = "hostAccess"
    scope = "pod"
    linux_only = False
    pss_checks = frozenset(("hostNamespaces", "hostPathVolumes", "hostPorts", "restrictedVolumes",
                            "hostProbesAndHostLifecycle", "windowsHostProcess"))
    example = """\
apiVersion: v1
kind: Pod
metadata:
  name: web
spec:
  hostNetwork: true
  containers:
  - name: agent
    image: node-agent:1.0
"""

    def plan(self, ctx, opts):
        spec = ctx.spec
        for ns in ("hostNetwork", "hostPID", "hostIPC"):
            if spec.get(ns) is True:
                yield Skip(self.id, f"kept: {ns}: true (host access is never removed)", kind=HOST_ACCESS,
                           check="hostNamespaces")
        # at restricted, restrictedVolumes replaces hostPathVolumes (pss.CHECKS overrides)
        volume_check = "restrictedVolumes" if ctx.level == "restricted" else "hostPathVolumes"
        volumes = spec.get("volumes")
        for v in volumes if isinstance(volumes, list) else []:
            if isinstance(v, dict) and isinstance(v.get("hostPath"), dict):
                yield Skip(self.id, f"kept: hostPath volume {v.get('name')!r} "
                                    f"({v['hostPath'].get('path')})", kind=HOST_ACCESS, check=volume_check)
        if mapping(ctx.pod_sc.get("windowsOptions")).get("hostProcess") is True:
            yield Skip(self.id, "kept: Windows HostProcess pod", kind=HOST_ACCESS, check="windowsHostProcess")
        for c in ctx.containers():
            ports = c.container.get("ports")
            for p in ports if isinstance(ports, list) else []:
                if isinstance(p, dict) and p.get("hostPort"):
                    yield Skip(self.id, f"kept: hostPort {p.get('hostPort')}", c.name, kind=HOST_ACCESS,
                               check="hostPorts")
                elif (isinstance(p, dict) and p.get("containerPort") and spec.get("hostNetwork") is True
                      and c.path[1] != "ephemeralContainers"):
                    # hardener/pss/checks/host_ports.py: the API server makes it a host port
                    yield Skip(self.id, f"kept: port {p.get('containerPort')} on the host network "
                                        "(hostPort defaults to it)", c.name, kind=HOST_ACCESS, check="hostPorts")
