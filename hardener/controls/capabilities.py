"""Linux capabilities: drop ALL, add back only what the container needs, and let
non-root processes bind the low ports they declare."""

from __future__ import annotations

from ..kube import versions
from ..kube.kubelet import PORT_SYSCTL
from ..kube.podspec import LINUX_CAPABILITIES, added_caps, cap_name
from ..results import CONFLICT, NOT_APPLICABLE, UNSUPPORTED, Skip, Warning
from .base import Control, Option, is_bool, is_capability_list

PRIVILEGED_PORTS = 1024


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


#: What a container running as root keeps when `drop: [ALL]` is added to it: changing file
#: ownership and modes (chown/chmod init containers, Bitnami's volumePermissions) and
#: switching to another user (gosu, su-exec, entrypoints that drop root). All of them are in
#: the set Pod Security Standards baseline allows.
ROOT_ADD = ["CHOWN", "DAC_OVERRIDE", "FOWNER", "FSETID", "SETGID", "SETUID"]


class Capabilities(Control):
    """`capabilities.drop: [ALL]` and `add` limited to what the container needs:
    NET_BIND_SERVICE when it declares a containerPort below 1024, plus the adds the profile
    lets it keep (`allowAdd`). Other explicit adds conflict. A container that keeps running
    as root gets `rootAdd` back with the drop (uid 0 without CHOWN, DAC_OVERRIDE and FOWNER
    cannot chown or chmod). Capability names are written as Kubernetes spells them
    (`CAP_NET_RAW`, `net_raw` -> `NET_RAW`): Pod Security Admission and PodSecurityPolicy
    compare them exactly and containerd adds `CAP_` again. Skipped for privileged
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
        add: [CAP_NET_BIND_SERVICE]
"""
    options = {
        "drop": Option(["ALL"], is_capability_list(True), "capabilities every container drops"),
        "allowAdd": Option(["NET_BIND_SERVICE"], is_capability_list(False),
                           "capabilities a container may keep in `add`"),
        "netBindService": Option(True, is_bool,
                                 "add NET_BIND_SERVICE to containers that declare a port below 1024"),
        "rootAdd": Option(ROOT_ADD, is_capability_list(False),
                          "capabilities added back to a container that runs as root when ALL is dropped"),
    }

    def plan(self, ctx, opts):
        allowed = {cap_name(a) for a in opts["allowAdd"]}
        for c in ctx.containers():
            if c.sc.get("privileged") is True:
                yield Skip(self.id, "privileged container: capabilities do not limit it", c.name,
                           kind=NOT_APPLICABLE)
                continue
            yield from self._spelling(ctx, c, allowed)
            path = c.path + ("securityContext", "capabilities")
            current = _caps(c).get("drop")
            adding_all = any(cap_name(w) == "ALL" for w in opts["drop"]) and "ALL" not in {
                cap_name(d) for d in (current if isinstance(current, list) else [])}
            wanted = self._wanted(ctx, c, opts, allowed, adding_all)
            refused = ctx.refused(ctx.append(self.id, path + ("add",), wanted[0][0], wanted[0][1], c.name)) \
                if wanted and adding_all else None
            if refused:
                # e.g. Knative: no `add` without a feature flag, and drop ALL alone would take
                # from the container what it needs (a low port, a root entrypoint)
                needs = ", ".join(dict.fromkeys(cap for cap, _ in wanted))
                yield Skip(self.id, f"kept the runtime's default capabilities: the container needs "
                           f"{needs} ({wanted[0][1]}), which cannot be added here: {refused}; drop ALL "
                           "alone would break it", c.name,
                           kind=UNSUPPORTED, check="capabilities_restricted")
                continue
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
            drops = _caps(c).get("drop")
            # what the profile itself gives a container that keeps running as root (rootAdd
            # with drop ALL): not a conflict when it is there already — a second run must
            # find nothing to object to in the first run's output
            root_caps = set(opts["rootAdd"]) if ctx.will_run_as_root(c) and "ALL" in {
                cap_name(d) for d in (drops if isinstance(drops, list) else [])} else set()
            for i in reversed(range(len(adds))):
                if cap_name(adds[i]) in allowed or cap_name(adds[i]) in root_caps:
                    continue
                if ctx.rule(self.id) == "override":
                    yield ctx.remove(self.id, path + ("add", i), f"remove add {adds[i]}", c.name)
                else:
                    yield ctx.conflict(self.id, f"capabilities.add {adds[i]}", c.name)
            kept = [cap for cap in opts["rootAdd"] if cap in root_caps - allowed
                    and (cap in added_caps(c.sc) or any(cap == w for w, _ in wanted))]
            if kept:
                yield Skip(self.id, f"runs as root (an explicit setting kept): has {', '.join(kept)} "
                           "back so uid 0 still works; restricted allows only NET_BIND_SERVICE", c.name,
                           kind=NOT_APPLICABLE, check="capabilities_restricted")
            for cap, why in wanted:
                yield ctx.append(self.id, path + ("add",), cap, why, c.name)

    @staticmethod
    def _wanted(ctx, c, opts, allowed, adding_all) -> list[tuple[str, str]]:
        """(capability, why) for each add the container needs once the profile's drops are
        in: NET_BIND_SERVICE for a low port (declared, or exposed by its image), and
        `rootAdd` for a container that keeps running as root when ALL is dropped."""
        wanted = []
        ports = low_ports(c.container)
        why = f"listens on port {min(ports)}" if ports else ""
        if not ports:
            ports = ctx.image_ports(c)
            why = f"its image {c.container.get('image')} exposes port {min(ports)}" if ports else ""
        if (opts["netBindService"] and "NET_BIND_SERVICE" in allowed and ports
                and "NET_BIND_SERVICE" not in added_caps(c.sc)):
            wanted.append(("NET_BIND_SERVICE", why))
        if adding_all and ctx.will_run_as_root(c):
            why = ("runs as root: keeps what file ownership and user switching need "
                   "(drop ALL alone would leave uid 0 unable to chown or chmod)")
            wanted += [(cap, why) for cap in opts["rootAdd"] if cap not in added_caps(c.sc)]
        return wanted

    def _spelling(self, ctx, c, allowed):
        """`CAP_X` / `x` in add -> `X`: the same capability, spelled as PSA, PSP and
        containerd read it."""
        adds = _caps(c).get("add")
        for i, cap in enumerate(adds if isinstance(adds, list) else []):
            if not isinstance(cap, str) or cap_name(cap) == cap or cap_name(cap) not in LINUX_CAPABILITIES:
                continue
            path = c.path + ("securityContext", "capabilities", "add", i)
            yield ctx.set(self.id, path, cap_name(cap), f"spell {cap!r} as {cap_name(cap)!r}", c.name)
            if cap_name(cap) not in allowed and cap.upper().startswith("CAP_"):
                yield Warning(self.id, f"{cap} was spelled with CAP_: containerd reads it as "
                              f"CAP_{cap.upper()} and did not grant it; spelled {cap_name(cap)}, "
                              "every runtime grants it", c.name)


class UnprivilegedPortStart(Control):
    """Let non-root processes bind the low ports the pod declares: NET_BIND_SERVICE alone
    does not reach a non-root process (no ambient capabilities), so set the namespaced,
    PSS-safe pod sysctl `net.ipv4.ip_unprivileged_port_start` (safe from 1.22) to the
    lowest such port (with `--images`, an image's exposed port counts when the container
    declares none). Not with hostNetwork (the sysctl would be the node's)."""

    id = "unprivilegedPortStart"
    scope = "pod"
    requires = "unprivilegedPortSysctl"
    pss_checks = frozenset()  # makes a fix of other controls work; no check of its own
    example = """\
apiVersion: v1
kind: Pod
metadata:
  name: web
spec:
  containers:
  - name: app
    image: nginxinc/nginx-unprivileged:1.27
    securityContext:
      runAsUser: 101
    ports:
    - containerPort: 80
"""

    def plan(self, ctx, opts):
        ports = [p for c in ctx.containers() if not ctx.will_run_as_root(c)
                 for p in low_ports(c.container) or ctx.image_ports(c)]
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
        skip = ctx.pod_level_skip(self.id, f"sysctl {PORT_SYSCTL}")
        if skip:
            yield skip
            return
        yield ctx.append(self.id, ("spec", "securityContext", "sysctls"),
                         {"name": PORT_SYSCTL, "value": str(lowest)},
                         f"non-root processes may bind port {lowest} and up")
