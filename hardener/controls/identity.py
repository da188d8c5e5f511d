"""Who the pod's processes run as: runAsNonRoot, runAsUser, runAsGroup, fsGroup, supplementalGroups."""

from __future__ import annotations

from typing import Any, Callable, Iterator

from ..kube import versions
from ..results import NOT_APPLICABLE, Change, Skip
from .base import Control, Option, is_int, is_int_list, one_of
from .context import PodContext


def _is_zero(v: Any) -> bool:
    return isinstance(v, int) and not isinstance(v, bool) and v == 0


def _is_false(v: Any) -> bool:
    return v is False


def _identity(ctx: PodContext, control: str, field: str, value: Any,
              forbidden: Callable[[Any], bool], why: str) -> Iterator[Change | Skip]:
    """Set `field` at pod level when every container may take it; otherwise per container.

    `forbidden(v)` tells an explicit value that conflicts (uid 0, runAsNonRoot false).
    Containers that keep running as root (PodContext.root_kept) never get the default:
    the kubelet would refuse to start them.
    """
    override = ctx.rule(control) == "override"
    pod_val = ctx.pod_sc.get(field)
    if forbidden(pod_val):
        if not override:
            yield ctx.conflict(control, f"pod securityContext.{field}: {pod_val!r}")
            return
        yield ctx.set(control, ("spec", "securityContext", field), value,
                      f"override pod {field}: {pod_val!r}")
        pod_val = value
    containers = list(ctx.containers())
    for c in containers:
        own = c.sc.get(field)
        if forbidden(own):
            if override:
                yield ctx.set(control, c.path + ("securityContext", field), value,
                              f"override {field}: {own!r}", c.name)
            else:
                yield ctx.conflict(control, f"securityContext.{field}: {own!r}", c.name)
    if pod_val is not None:
        return
    kept = [c for c in containers if not override and ctx.root_kept(c)]
    if not kept:
        yield ctx.set(control, ("spec", "securityContext", field), value, why)
        return
    for c in containers:
        if c.sc.get(field) is not None:
            continue
        if c in kept:
            yield Skip(control, "container keeps running as root (explicit setting kept)", c.name,
                       kind=NOT_APPLICABLE)
        else:
            yield ctx.set(control, c.path + ("securityContext", field), value,
                          why + " (per container: another container keeps running as root)", c.name)


class RunAsNonRoot(Control):
    """Require a non-root user (`runAsNonRoot: true`), at pod level or, when another
    container is kept as root, on each other container. PSS restricted."""

    id = "runAsNonRoot"
    scope = "pod"
    pss_checks = frozenset(("runAsNonRoot",))
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
        yield from _identity(ctx, self.id, "runAsNonRoot", True, _is_false,
                             "PSS restricted: containers must run as non-root")


class RunAsUser(Control):
    """Set a numeric `runAsUser` (seed: 1000): `runAsNonRoot` alone fails on images whose
    user is a name, and uid 0 is refused by PSS restricted. An explicit non-zero uid
    stays: any non-root uid is as strict as the profile's."""

    id = "runAsUser"
    scope = "pod"
    pss_checks = frozenset(("runAsUser",))
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
    options = {"value": Option(1000, is_int(1), "the uid to run as")}

    def plan(self, ctx, opts):
        yield from _identity(ctx, self.id, "runAsUser", opts["value"], _is_zero,
                             "run as a fixed non-root uid")


class RunAsGroup(Control):
    """Set a numeric primary group `runAsGroup` (seed: 3000) instead of the image's (often 0)."""

    id = "runAsGroup"
    scope = "pod"
    pss_checks = frozenset()  # PSS does not look at groups
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
    options = {"value": Option(3000, is_int(1), "the gid to run as")}

    def plan(self, ctx, opts):
        yield from _identity(ctx, self.id, "runAsGroup", opts["value"], _is_zero,
                             "run with a non-root primary group")


class FsGroup(Control):
    """Set `fsGroup` so mounted volumes are group-owned by a non-root group, with
    `fsGroupChangePolicy: OnRootMismatch` (from 1.20) to avoid a recursive chown on every start."""

    id = "fsGroup"
    scope = "pod"
    pss_checks = frozenset()
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
    options = {
        "value": Option(2000, is_int(1), "the gid volumes are owned by"),
        "changePolicy": Option("OnRootMismatch", one_of("OnRootMismatch", "Always", None),
                               "fsGroupChangePolicy to set when absent (null: do not set)"),
    }

    def plan(self, ctx, opts):
        current = ctx.pod_sc.get("fsGroup")
        if _is_zero(current):
            if ctx.rule(self.id) != "override":
                yield ctx.conflict(self.id, "pod securityContext.fsGroup: 0")
                return
            yield ctx.set(self.id, ("spec", "securityContext", "fsGroup"), opts["value"],
                          "override fsGroup: 0")
        elif current is None:
            yield ctx.set(self.id, ("spec", "securityContext", "fsGroup"), opts["value"],
                          "volumes owned by a non-root group")
        if opts["changePolicy"] and ctx.kube >= versions.FS_GROUP_CHANGE_POLICY and "fsGroupChangePolicy" not in ctx.pod_sc:
            yield ctx.set(self.id, ("spec", "securityContext", "fsGroupChangePolicy"),
                          opts["changePolicy"], "skip the recursive chown when ownership already matches")


class SupplementalGroups(Control):
    """Add `supplementalGroups` when the profile lists some (empty list: do nothing);
    an explicit group 0 conflicts."""

    id = "supplementalGroups"
    scope = "pod"
    pss_checks = frozenset()
    example = """\
apiVersion: v1
kind: Pod
metadata:
  name: web
spec:
  securityContext:
    supplementalGroups: [0, 1000]
  containers:
  - name: app
    image: nginx:1.27
"""
    options = {"groups": Option([], is_int_list, "groups to add when the pod sets none")}

    def plan(self, ctx, opts):
        current = ctx.pod_sc.get("supplementalGroups")
        if isinstance(current, list) and any(_is_zero(g) for g in current):
            if ctx.rule(self.id) != "override":
                yield ctx.conflict(self.id, "supplementalGroups contains 0")
                return
            yield ctx.set(self.id, ("spec", "securityContext", "supplementalGroups"),
                          [g for g in current if not _is_zero(g)] or list(opts["groups"]),
                          "override group 0")
        elif current is None and opts["groups"]:
            yield ctx.set(self.id, ("spec", "securityContext", "supplementalGroups"),
                          list(opts["groups"]), "profile's supplemental groups")
