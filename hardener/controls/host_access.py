"""Host access: reported, never removed."""

from __future__ import annotations

from .base import Control, Skip


class HostAccess(Control):
    """Workloads built on host access (host namespaces, hostPath volumes, hostPorts,
    Windows HostProcess) are never "fixed" by removing it — that would break them, not
    harden them. This control changes nothing; it reports each use as an exception so the
    report, the policy objects and `--verify` know about it."""

    id = "hostAccess"
    scope = "pod"
    linux_only = False

    def plan(self, ctx, opts):
        spec = ctx.spec
        for ns in ("hostNetwork", "hostPID", "hostIPC"):
            if spec.get(ns) is True:
                yield Skip(self.id, f"kept: {ns}: true (host access is never removed)")
        volumes = spec.get("volumes")
        for v in volumes if isinstance(volumes, list) else []:
            if isinstance(v, dict) and isinstance(v.get("hostPath"), dict):
                yield Skip(self.id, f"kept: hostPath volume {v.get('name')!r} "
                                    f"({v['hostPath'].get('path')})")
        win = (ctx.pod_sc.get("windowsOptions") or {}) if isinstance(ctx.pod_sc.get("windowsOptions"), dict) else {}
        if win.get("hostProcess") is True:
            yield Skip(self.id, "kept: Windows HostProcess pod")
        for c in ctx.containers():
            ports = c.container.get("ports")
            for p in ports if isinstance(ports, list) else []:
                if isinstance(p, dict) and p.get("hostPort"):
                    yield Skip(self.id, f"kept: hostPort {p.get('hostPort')}", c.name)
