"""Who the pod's processes run as: runAsNonRoot, runAsUser, runAsGroup, fsGroup, supplementalGroups."""

from __future__ import annotations

from typing import Any, Callable, Iterator

from ..kube import podspec, versions
from ..kube.nodes import WINDOWS_ROOT_USER
from ..results import KEPT_IDENTITY, NOT_APPLICABLE, Change, Skip, Warning
from .base import Control, Option, is_int, is_int_list, one_of
from .context import PodContext


def _is_zero(v: Any) -> bool:
    return isinstance(v, int) and not isinstance(v, bool) and v == 0


def _is_false(v: Any) -> bool:
    return v is False


def _identity(ctx: PodContext, control: str, field: str, value: Any,
              forbidden: Callable[[Any], bool], why: str,
              leave: Callable[[Any], bool] = lambda c: False) -> Iterator[Change | Skip]:
    """Set `field` at pod level when every container may take it; otherwise per container.

    `forbidden(v)` tells an explicit value that conflicts (uid 0, runAsNonRoot false).
    A container that must keep its identity (PodContext.keeps_identity: an explicit root
    setting kept, a job that needs root) never gets the default — the kubelet would refuse
    to start it, or it would start and fail. With opted-out containers named (present, or
    injected later as sidecars are) nothing goes to pod level: it would reach them; nor
    when a container is to be left alone (`leave`).
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
    if pod_val is not None or all(c.sc.get(field) is not None for c in containers):
        return  # set for every container already
    held = {c.pointer: ctx.keeps_identity(c, control) for c in containers}
    left = [c for c in containers if leave(c)]
    if not any(held.values()) and not ctx.skip_containers and not left and ctx.pod_level:
        yield ctx.set(control, ("spec", "securityContext", field), value, why)
        return
    for c in containers:
        if c.sc.get(field) is not None or c in left:
            continue
        if held[c.pointer]:
            yield Skip(control, f"container {held[c.pointer]}", c.name, kind=NOT_APPLICABLE)
        else:
            yield ctx.set(control, c.path + ("securityContext", field), value,
                          why + (" (per container: not every container of the pod takes it)" if ctx.pod_level
                                 else " (per container: no pod level here)"), c.name)


class RunAsNonRoot(Control):
    """Require a non-root user (`runAsNonRoot: true`), at pod level or, when another
    container keeps its identity (kept as root, or its job needs root), on each other
    container. PSS restricted. Windows pods too, where it is the only identity field the API
    allows — but only for containers whose `windowsOptions.runAsUserName` names a user other
    than ContainerAdministrator: the Windows kubelet refuses runAsNonRoot for that user, and
    servercore and IIS images run as it by default."""

    id = "runAsNonRoot"
    scope = "pod"
    linux_only = False
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
        if ctx.is_windows:
            yield from self._windows(ctx)
            return
        yield from _identity(ctx, self.id, "runAsNonRoot", True, _is_false,
                             "PSS restricted: containers must run as non-root")

    def _windows(self, ctx):
        """pkg/kubelet/kuberuntime/security_context_windows.go, verifyRunAsNonRoot: with
        runAsNonRoot the container fails when its user is ContainerAdministrator."""
        if ctx.pod_sc.get("runAsNonRoot") is not None:
            return
        pod_user = podspec.mapping(ctx.pod_sc.get("windowsOptions")).get("runAsUserName")
        for c in ctx.containers():
            if c.sc.get("runAsNonRoot") is not None:
                continue
            user = podspec.mapping(c.sc.get("windowsOptions")).get("runAsUserName") or pod_user
            if isinstance(user, str) and user and user != WINDOWS_ROOT_USER:
                yield ctx.set(self.id, c.path + ("securityContext", "runAsNonRoot"), True,
                              f"PSS restricted: runs as Windows user {user}", c.name)
            else:
                yield Skip(self.id, "Windows container without windowsOptions.runAsUserName: its "
                           f"image may run as {WINDOWS_ROOT_USER} (servercore, IIS), for which the "
                           "kubelet refuses runAsNonRoot", c.name, kind=NOT_APPLICABLE)


class RunAsUser(Control):
    """Set a numeric `runAsUser` (seed: 1000): `runAsNonRoot` alone fails on images whose
    user is a name, and uid 0 is refused by PSS restricted. An explicit non-zero uid
    stays: any non-root uid is as strict as the profile's. So does the image's own uid under
    the manifest's `runAsNonRoot: true` with no uid: the kubelet starts the container only
    when that uid is numeric and not 0 (kuberuntime verifyRunAsNonRoot), so the pod passes
    already, and a uid of ours would replace the one its files belong to (a kept-identity
    skip). With `--images`, a container
    whose image runs as a non-zero numeric uid gets that uid instead (the image was built
    for it); one whose image runs as root or a named user gets the profile's uid and a
    warning that it may break, or, by `onImageRoot`, keeps its identity (`keep`) or stops
    the run (`fail`). An image's uid 0 is never written."""

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
    options = {"value": Option(1000, is_int(1), "the uid to run as"),
               "onImageRoot": Option("warn", one_of("warn", "keep", "fail"),
                                     "with --images, a container whose image runs as root or a named "
                                     "user: warn (set the uid, warn), keep (leave its identity, report "
                                     "it) or fail (exit 2)")}

    def plan(self, ctx, opts):
        containers = list(ctx.containers())
        before = {c.pointer: podspec.effective(c.sc, ctx.pod_sc, "runAsUser") for c in containers}
        for c in containers:
            user = ctx.from_image.get(c.pointer)
            if user is not None and before[c.pointer] is None:
                yield ctx.set(self.id, c.path + ("securityContext", "runAsUser"), user.uid,
                              f"uid {user.uid} from the image {c.container.get('image')}", c.name)
        if ctx.images and opts["onImageRoot"] == "fail":
            self._fail_on_image_root(ctx, containers, before)
        yield from _identity(ctx, self.id, "runAsUser", opts["value"], _is_zero,
                             "run as a fixed non-root uid", leave=ctx.keeps_image_uid)
        for c in containers:
            if ctx.keeps_image_uid(c):
                yield Skip(self.id, "kept the image's own uid: runAsNonRoot: true is the manifest's, and the "
                           "kubelet refuses the container unless that uid is numeric and not 0", c.name,
                           kind=KEPT_IDENTITY)
        for c in containers:
            if (before[c.pointer] is not None or c.pointer in ctx.from_image
                    or podspec.effective(c.sc, ctx.pod_sc, "runAsUser") is None):
                continue
            user = ctx.image_user(c)
            if user is not None:
                image = c.container.get("image")
                yield Warning(self.id, f"image {image} expects {user.describe()}: now runs as uid "
                              f"{opts['value']}; predicted to fail if it needs that user (files "
                              "owned by it, a chown or a user switch at start)", c.name, image=image)
            else:
                yield Warning(self.id, f"image default user unknown: now runs as uid {opts['value']}; "
                              "an image that needs root, or owns its files as another uid, will fail",
                              c.name)

    def _fail_on_image_root(self, ctx, containers, before) -> None:
        """onImageRoot: fail: the profile's uid would go to a container whose image runs as
        root or a named user."""
        for c in containers:
            user = ctx.image_user(c)
            if (before[c.pointer] is None and user is not None and user.kind != "uid"
                    and ctx.keeps_identity(c, self.id) is None):
                raise ctx.failure(f"container {c.name!r}: image {c.container.get('image')} runs as "
                                  f"{user.describe()}, not a non-zero uid (runAsUser.onImageRoot: fail)")


class RunAsGroup(Control):
    """Set a numeric primary group `runAsGroup` (seed: 3000) instead of the image's (often 0),
    except on containers whose uid the manifest chose: they keep their image's group (an
    explicit group 0 still conflicts). A container that runs as its image's uid
    (`--images`) counts as one whose uid the manifest chose: it gets the image's group when
    the image names a non-zero one (`1001:1001`), else keeps the group the image gives it
    (`1001`, `1001:0`): a group of ours would be a second identity its files do not know,
    and a group 0 is never written."""

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
        from_image = set()
        for c in ctx.containers():
            user = ctx.from_image.get(c.pointer)
            if (user is not None and user.gid and podspec.effective(c.sc, ctx.pod_sc, "runAsGroup") is None):
                from_image.add(c.pointer)
                yield ctx.set(self.id, c.path + ("securityContext", "runAsGroup"), user.gid,
                              f"gid {user.gid} from the image {c.container.get('image')}", c.name)
        # a container running as a uid the manifest chose (Bitnami's 1001, ...) keeps its
        # image's group: the image was built for that identity, often with files writable by
        # group 0, and a group of ours would name a second identity
        yield from _identity(ctx, self.id, "runAsGroup", opts["value"], _is_zero,
                             "run with a non-root primary group", leave=ctx.chose_uid)
        for c in ctx.containers():
            if (ctx.chose_uid(c) and c.pointer not in from_image
                    and podspec.effective(c.sc, ctx.pod_sc, "runAsGroup") is None):
                uid = podspec.effective(c.sc, ctx.pod_sc, "runAsUser")
                source = f"uid {uid} is the manifest's" if uid is not None else "its uid is its image's"
                yield Skip(self.id, f"kept the image's group: {source}, and a group of ours would be a "
                           "second identity its files do not know", c.name, kind=KEPT_IDENTITY)


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
            skip = ctx.pod_level_skip(self.id, "fsGroup")
            if skip:
                yield skip
                return
            value, why = opts["value"], "volumes owned by a non-root group"
            if ctx.chosen_uids:
                # the manifest chose every uid: own volumes by the containers' one group, if
                # they share one; a group of ours would name a second identity
                groups = {podspec.integer(podspec.effective(c.sc, ctx.pod_sc, "runAsGroup"))
                          for c in ctx.containers()}
                if len(groups) != 1 or not next(iter(groups)):
                    yield Skip(self.id, "kept the volumes' ownership: every container runs as a uid of its own "
                               "(the manifest's or its image's) and they share no non-root group to own "
                               "them by", kind=KEPT_IDENTITY)
                    return
                value, why = groups.pop(), "volumes owned by the group the containers run as"
            yield ctx.set(self.id, ("spec", "securityContext", "fsGroup"), value, why)
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
            skip = ctx.pod_level_skip(self.id, "supplementalGroups")
            if skip:
                yield skip
                return
            yield ctx.set(self.id, ("spec", "securityContext", "supplementalGroups"),
                          list(opts["groups"]), "profile's supplemental groups")
