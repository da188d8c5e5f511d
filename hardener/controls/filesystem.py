"""The container's root filesystem: read-only, with writable scratch space where needed."""

from __future__ import annotations

import re

from ..results import Warning
from .base import Control, Option, is_absolute_path_list, is_bool


def volume_name(path: str) -> str:
    """A stable DNS-label volume name for a writable path (`/tmp` -> `k8s-harden-tmp`)."""
    slug = re.sub(r"[^a-z0-9]+", "-", path.lower()).strip("-") or "root"
    return ("k8s-harden-" + slug)[:63].rstrip("-")


class ReadOnlyRootFilesystem(Control):
    """`readOnlyRootFilesystem: true`, and a writable `emptyDir` mounted at each of
    `writablePaths` (e.g. /tmp) in containers that do not mount something there already.
    An explicit `false` conflicts. Where the tool makes the root read-only on an image known
    to write outside its volumes (hardener.images.writes) and nothing writable covers those
    paths, it warns: the container is predicted to fail at start (EROFS)."""

    id = "readOnlyRootFilesystem"
    scope = "container"
    pss_checks = frozenset()  # not a PSS requirement
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
        "writablePaths": Option([], is_absolute_path_list, "paths that get a writable emptyDir"),
        "memoryBacked": Option(False, is_bool, "use emptyDir medium: Memory for them"),
    }

    def plan(self, ctx, opts):
        for c in ctx.containers():
            current = c.sc.get("readOnlyRootFilesystem")
            if current is False and ctx.rule(self.id) != "override":
                yield ctx.conflict(self.id, "readOnlyRootFilesystem: false", c.name)
                continue
            if current is not True:
                yield ctx.set(self.id, c.path + ("securityContext", "readOnlyRootFilesystem"), True,
                              "immutable root filesystem", c.name)
                yield from self._predicted_writes(c, opts)
            for path in opts["writablePaths"]:
                yield from self._writable(ctx, c, path, opts)

    def _predicted_writes(self, c, opts):
        """A warning for the paths the container's image writes at start that no writable
        mount (at the path or above it) nor `writablePaths` will cover."""
        image = c.container.get("image")
        if not isinstance(image, str):
            return
        from ..images.writes import uncovered_writes

        missing = uncovered_writes(image, _writable_mounts(c.container), opts["writablePaths"])
        if missing:
            listed = ", ".join(f"{w.path} ({w.what})" for w in missing)
            yield Warning(self.id, f"image {image} writes {listed} at start: with a read-only root "
                          "filesystem it is predicted to fail; add the path to readOnlyRootFilesystem."
                          "writablePaths, mount a volume there, or opt the workload out", c.name, image=image)

    def _writable(self, ctx, c, path, opts):
        mounts = c.container.get("volumeMounts")
        mounted = {str(m.get("mountPath", "")).rstrip("/") for m in mounts if isinstance(m, dict)} \
            if isinstance(mounts, list) else set()
        if path.rstrip("/") in mounted:
            return
        name = volume_name(path)
        volumes = ctx.spec.get("volumes")
        if not (isinstance(volumes, list) and any(isinstance(v, dict) and v.get("name") == name
                                                  for v in volumes)):
            empty = {"medium": "Memory"} if opts["memoryBacked"] else {}
            yield ctx.append(self.id, ("spec", "volumes"), {"name": name, "emptyDir": empty},
                             f"writable scratch space for {path}")
        yield ctx.append(self.id, c.path + ("volumeMounts",), {"name": name, "mountPath": path},
                         f"{path} stays writable", c.name)


def _writable_mounts(container: dict) -> list[str]:
    """The mount paths of a container's volumes that it can write (not `readOnly: true`)."""
    mounts = container.get("volumeMounts")
    return [m["mountPath"] for m in mounts if isinstance(m, dict) and isinstance(m.get("mountPath"), str)
            and m.get("readOnly") is not True] if isinstance(mounts, list) else []
