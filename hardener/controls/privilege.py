"""Privilege inside the container: `privileged` and `allowPrivilegeEscalation`."""

from __future__ import annotations

from ..kube.podspec import added_caps, mapping, sequence
from ..results import BLOCKED, Skip, Warning
from .base import Control


class Privileged(Control):
    """Write `privileged: false` explicitly; `privileged: true` is a conflict (PSS baseline).
    Privileged node agents are kept by the default rule and reported as exceptions."""

    id = "privileged"
    scope = "container"
    pss_checks = frozenset(("privileged",))
    example = """\
apiVersion: v1
kind: Pod
metadata:
  name: web
spec:
  containers:
  - name: app
    image: nginx:1.27
"""

    def plan(self, ctx, opts):
        for c in ctx.containers():
            current = c.sc.get("privileged")
            if current is True:
                if ctx.rule(self.id) == "override":
                    yield ctx.set(self.id, c.path + ("securityContext", "privileged"), False,
                                  "override privileged: true", c.name)
                else:
                    yield ctx.conflict(self.id, "privileged: true", c.name)
            elif current is None:
                yield ctx.set(self.id, c.path + ("securityContext", "privileged"), False,
                              "no privileged mode", c.name)


class AllowPrivilegeEscalation(Control):
    """Set `allowPrivilegeEscalation: false` (no setuid gains; PSS restricted). The API
    rejects it next to `privileged: true` and next to the literal `CAP_SYS_ADMIN` in `add`
    (validation.go, ValidateSecurityContext): those are skipped and reported, whatever the
    rule. A container that adds SYS_ADMIN gets it, with a warning: SYS_ADMIN itself still
    allows escalation (mount, namespaces)."""

    id = "allowPrivilegeEscalation"
    scope = "container"
    pss_checks = frozenset(("allowPrivilegeEscalation",))
    example = """\
apiVersion: v1
kind: Pod
metadata:
  name: web
spec:
  containers:
  - name: app
    image: nginx:1.27
"""

    def plan(self, ctx, opts):
        for c in ctx.containers():
            sc = c.sc
            current = sc.get("allowPrivilegeEscalation")
            if current is False:
                continue
            adds = mapping(sc.get("capabilities")).get("add")
            blocker = ("privileged container" if sc.get("privileged") is True
                       else "adds CAP_SYS_ADMIN" if "CAP_SYS_ADMIN" in sequence(adds) else None)
            if blocker:
                yield Skip(self.id, f"{blocker}: the API rejects allowPrivilegeEscalation: false",
                           c.name, kind=BLOCKED)
            elif current is True and ctx.rule(self.id) != "override":
                yield ctx.conflict(self.id, "allowPrivilegeEscalation: true", c.name)
            else:
                yield ctx.set(self.id, c.path + ("securityContext", "allowPrivilegeEscalation"),
                              False, "no privilege escalation (setuid binaries, file capabilities)",
                              c.name)
                if "SYS_ADMIN" in added_caps(sc):
                    yield Warning(self.id, "adds SYS_ADMIN, which still allows privilege escalation "
                                  "(mount, namespaces, ...) whatever allowPrivilegeEscalation says", c.name)
