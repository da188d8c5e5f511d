"""Linux capabilities: drop ALL, add back only what the container needs, and let
non-root processes bind the low ports they declare."""

from __future__ import annotations

from ..kube import versions
from ..kube.podspec import added_caps, cap_name
from ..results import CONFLICT, NOT_APPLICABLE, Skip
from .base import Control, Option, is_bool, is_str_list

PRIVILEGED_PORTS = 1024
PORT_SYSCTL = "net.ipv4.ip_unprivileged_port_start"


def low_ports(container: dict) -> list[int]:
    """The containerPorts below 1024 a container declares."""
    ports = container.get("ports")
    out = []
    if isinstance(ports, list):
        for p in ports:
            n = p.get("containerPort") if isinstance(p, dict) else None
            if isinstance(n, int) and not isinstance(n, bool) and 0 < n < PRIVILEGED_PORTS:
                out.append(n)
    return out


def _caps(c) -> dict:
    caps = c.sc.get("capabilities")
    return caps if isinstance(caps, dict) else {}


class Capabilities(Control):
    """`capabilities.drop: [ALL]` and `add` limited to what the container needs:
    NET_BIND_SERVICE when it declares a containerPort below 1024, plus the adds the profile
    lets it keep (`allowAdd`). Other explicit adds conflict. Skipped for privileged
    containers, which get every capability whatever is dropped."""

    id = "capabilities"
    scope = "container"
    pss_checks = frozenset(("capabilities_baseline", "capabilities_restricted"))
    example = """\
apiVersion: v1
kind: Pod
metadata:
  name: web
spec:
  containers:
  - name: app
    image: nginx:1.27
    ports:
    - containerPort: 80
    securityContext:
      capabilities:
        drop: [all]
"""
    options = {
        "drop": Option(["ALL"], is_str_list, "capabilities every container drops"),
        "allowAdd": Option(["NET_BIND_SERVICE"], is_str_list,
                           "capabilities a container may keep in `add`"),
        "netBindService": Option(True, is_bool,
                                 "add NET_BIND_SERVICE to containers that declare a port below 1024"),
    }

    def plan(self, ctx, opts):
        allowed = {cap_name(a) for a in opts["allowAdd"]}
        for c in ctx.containers():
            sc = c.sc
            if sc.get("privileged") is True:
                yield Skip(self.id, "privileged container: capabilities do not limit it", c.name,
                           kind=NOT_APPLICABLE)
                continue
            path = c.path + ("securityContext", "capabilities")
            for want in opts["drop"]:
                drop = _caps(c).get("drop")
                drop = drop if isinstance(drop, list) else []
                have = [i for i, d in enumerate(drop) if cap_name(d) == cap_name(want)]
                if not have:
                    yield ctx.append(self.id, path + ("drop",), want, f"drop {want}", c.name)
                elif drop[have[0]] != want:
                    # PSS restricted accepts only the exact spelling `ALL`
                    yield ctx.set(self.id, path + ("drop", have[0]), want,
                                  f"spell {drop[have[0]]!r} as {want!r}", c.name)
            adds = _caps(c).get("add")
            adds = adds if isinstance(adds, list) else []
            for i in reversed(range(len(adds))):
                if cap_name(adds[i]) in allowed:
                    continue
                if ctx.rule(self.id) == "override":
                    yield ctx.remove(self.id, path + ("add", i), f"remove add {adds[i]}", c.name)
                else:
                    yield ctx.conflict(self.id, f"capabilities.add {adds[i]}", c.name)
            ports = low_ports(c.container)
            if (opts["netBindService"] and "NET_BIND_SERVICE" in allowed and ports
                    and "NET_BIND_SERVICE" not in added_caps(c.sc)):
                yield ctx.append(self.id, path + ("add",), "NET_BIND_SERVICE",
                                 f"listens on port {min(ports)}", c.name)


class UnprivilegedPortStart(Control):
    """Let non-root processes bind the low ports the pod declares: NET_BIND_SERVICE alone
    does not reach a non-root process (no ambient capabilities), so set the namespaced,
    PSS-safe pod sysctl `net.ipv4.ip_unprivileged_port_start` (safe from 1.22) to the
    lowest such port. Not with hostNetwork (the sysctl would be the node's)."""

    id = "unprivilegedPortStart"
    scope = "pod"
    pss_checks = frozenset()  # makes a fix of other controls work; no check of its own
    example = """\
apiVersion: v1
kind: Pod
metadata:
  name: web
spec:
  containers:
  - name: app
    image: nginx:1.27
    ports:
    - containerPort: 80
"""

    def plan(self, ctx, opts):
        ports = [p for c in ctx.containers() if not ctx.root_kept(c) for p in low_ports(c.container)]
        if not ports:
            return
        lowest = min(ports)
        if ctx.spec.get("hostNetwork") is True:
            yield Skip(self.id, "hostNetwork pod: the sysctl would be the node's", kind=NOT_APPLICABLE)
            return
        if ctx.kube < versions.UNPRIVILEGED_PORT_SYSCTL:
            yield Skip(self.id, f"{PORT_SYSCTL} is a safe sysctl only from Kubernetes 1.22",
                       kind=NOT_APPLICABLE)
            return
        sysctls = ctx.pod_sc.get("sysctls")
        sysctls = sysctls if isinstance(sysctls, list) else None
        for s in sysctls or []:
            if isinstance(s, dict) and s.get("name") == PORT_SYSCTL:
                try:
                    ok = int(str(s.get("value"))) <= lowest
                except ValueError:
                    ok = False
                if not ok:
                    what = f"{PORT_SYSCTL}={s.get('value')!r}"
                    yield Skip(self.id, f"kept: {what} is above port {lowest}", kind=CONFLICT,
                               setting=what)
                return
        yield ctx.append(self.id, ("spec", "securityContext", "sysctls"),
                         {"name": PORT_SYSCTL, "value": str(lowest)},
                         f"non-root processes may bind port {lowest} and up")
