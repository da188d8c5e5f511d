"""What a control sees of one pod template: live data, pointers, the target version, rules."""

from __future__ import annotations

from typing import Any, Iterator

from ..errors import ConflictError
from ..kube import nodes, podspec
from ..kube.pointer import join
from ..kube.workloads import PodTemplate
from ..record import Record
from ..results import CONFLICT, OPT_OUT, Change, Skip


def _child(obj: Any, part: Any) -> Any:
    """obj[part] for a mapping key or an in-range list index; None when there is none."""
    if isinstance(obj, dict):
        return obj.get(part)
    if isinstance(obj, list) and isinstance(part, int) and 0 <= part < len(obj):
        return obj[part]
    return None


class ContainerRef(Record):
    """A container, its JSON pointer inside the document, its list (one of
    podspec.CONTAINER_LISTS) and its path inside the pod template (("spec", "containers", 0))."""

    __slots__ = _fields = ("container", "pointer", "list_name", "path")

    def __init__(self, container: dict, pointer: str, list_name: str, path: tuple) -> None:
        self.container, self.pointer, self.list_name, self.path = container, pointer, list_name, path

    @property
    def name(self) -> str:
        return str(self.container.get("name", ""))

    @property
    def sc(self) -> dict:
        return podspec.mapping(self.container.get("securityContext"))


class PodContext(Record):
    """What a control sees of one pod template: live data, pointers, target version, rules.

    `conflicts`: control id -> effective rule; `where`: where the document is, for errors
    ("FILE, document N"; default: `document N`); `allowed_adds`: the capabilities the profile
    lets a container keep in `add`; `active`: the controls that plan on this template (the
    profile's, less the opted-out ones); `level`: the Pod Security Standards level the profile
    claims; `chosen`: pointers of the containers that run as a non-zero uid the manifest chose
    (read before any change), or their image does (`from_image`: pointer -> ImageUser), or
    the image's own uid runs under the manifest's runAsNonRoot (`image_uid`: pointers);
    `images`: image reference -> ImageConfig or Failure (None: --images off);
    `on_image_root`: runAsUser's onImageRoot (warn, keep or fail)."""

    _fields = ("template", "kube", "conflicts", "skip_controls", "skip_containers", "document", "where",
               "allowed_adds", "active", "level", "chosen", "images", "on_image_root", "from_image",
               "image_uid", "_root_kept", "_needs_root", "_refs", "_windows", "_lists")
    _hidden = frozenset(("_root_kept", "_needs_root", "_refs", "_windows", "_lists"))

    def __init__(self, template: PodTemplate, kube: tuple[int, int], conflicts: dict[str, str],
                 skip_controls: frozenset = frozenset(), skip_containers: frozenset = frozenset(),
                 document: int = 0, where: str = "", allowed_adds: frozenset = frozenset(),
                 active: frozenset = frozenset(), level: str = "restricted",
                 chosen: frozenset = frozenset(), images: dict | None = None, on_image_root: str = "warn",
                 from_image: dict | None = None, _root_kept: dict | None = None,
                 _needs_root: dict | None = None, _refs: dict | None = None,
                 _windows: bool | None = None) -> None:
        self.template, self.kube, self.conflicts = template, kube, conflicts
        self.images, self.on_image_root = images, on_image_root
        self.from_image = {} if from_image is None else from_image
        self.image_uid: frozenset = frozenset()
        self._image_users: dict = {}  # pointer -> ImageUser | None, decided on the manifest as written
        self.skip_controls, self.skip_containers, self.document, self.where = (
            skip_controls, skip_containers, document, where)
        self.allowed_adds, self.active, self.level, self.chosen = allowed_adds, active, level, chosen
        self._root_kept, self._needs_root = _root_kept, _needs_root
        self._refs = _refs  # (list name, index) -> ContainerRef
        self._windows = _windows
        self._lists: dict[bool, list[ContainerRef]] = {}  # containers(opted_out) until changed()

    # ---- where things are
    @property
    def base(self) -> str:
        return self.template.pointer

    @property
    def spec(self) -> dict:
        return self.template.template["spec"]

    @property
    def pod_level(self) -> bool:
        """Can this pod take pod-level settings? False for a CRD's pod that has no pod-level
        securityContext (a Tekton Task, a Kruise SidecarSet): pod-level controls then set
        what a container can take on each container."""
        return self.template.pod_level

    @property
    def pod_sc(self) -> dict:
        return podspec.mapping(self.spec.get("securityContext"))

    @property
    def pod_annotations(self) -> dict:
        meta = self.template.template.get("metadata")
        return podspec.mapping(meta.get("annotations") if isinstance(meta, dict) else None)

    def pointer(self, *parts: Any) -> str:
        return join(self.base, *parts)

    @property
    def is_windows(self) -> bool:
        """nodes.targets_windows, read once per template: no control changes the answer (none
        sets `os`, node selectors, affinity or windowsOptions, and on a Windows pod none adds
        a Linux-only field)."""
        if self._windows is None:
            self._windows = nodes.targets_windows(self.spec)
        return self._windows

    def containers(self, opted_out: bool = False) -> Iterator[ContainerRef]:
        """Every container (init, regular, ephemeral) that is a mapping and not opted out
        (with `opted_out`, the opted-out ones too). Read once per change: a control asks
        many times per template (:meth:`changed` after each applied change)."""
        found = self._lists.get(opted_out)
        if found is None:
            found = self._lists[opted_out] = list(self._containers(opted_out))
        return iter(found)

    def changed(self) -> None:
        """A change was applied: the containers are read again on the next ask (a change
        may replace a container or a list; a synthetic pod view rebuilds itself)."""
        self._lists.clear()

    def _containers(self, opted_out: bool) -> Iterator[ContainerRef]:
        refs = self._refs
        if refs is None:
            refs = self._refs = {}
        skip = self.skip_containers
        for list_name, i, c in podspec.containers(self.spec):
            if opted_out or not skip or str(c.get("name", "")) not in skip:
                # one ref per container, reused while the container is the same object (a
                # control calls this many times per template; changes edit inside containers)
                ref = refs.get((list_name, i))
                if ref is None or ref.container is not c:
                    ref = refs[(list_name, i)] = ContainerRef(
                        c, f"{self.template.pointer}/spec/{list_name}/{i}", list_name, ("spec", list_name, i))
                yield ref

    # ---- conflicts
    def rule(self, control: str) -> str:
        return self.conflicts.get(control, "keep")

    def conflict(self, control: str, what: str, container: str | None = None,
                 check: str | None = None) -> Skip:
        """Decide a conflict by `fail` (raise) or return the Skip to report for `keep`
        (`check`: the PSS check the kept setting fails, when the control knows it)."""
        if self.rule(control) == "fail":
            where = f"container {container!r}: " if container else ""
            raise self.failure(f"{where}{what} conflicts with control {control} (rule: fail)")
        return Skip(control, f"kept: {what}", container, kind=CONFLICT, setting=what, check=check)

    def failure(self, message: str) -> ConflictError:
        """The error that stops the run over this template: `message` after where the
        resource is ("FILE, document N: apps/v1 Deployment ns/name: ...")."""
        res = self.template
        ns = f"{res.namespace}/" if res.namespace else ""
        return ConflictError(f"{self.where or f'document {self.document}'}: "
                             f"{res.api_version} {res.kind} {ns}{res.name}: {message}")

    def root_kept(self, c: ContainerRef) -> bool:
        """True when this container keeps running as root because the profile keeps an
        explicit root-ish setting (privileged, runAsUser 0, runAsNonRoot false): pod-level
        identity defaults must then not reach it, or the kubelet refuses to start it."""
        if self._root_kept is None:
            self._root_kept = {}
        key = c.pointer
        if key not in self._root_kept:
            sc = c.sc
            uid = podspec.integer(podspec.effective(sc, self.pod_sc, "runAsUser"))
            self._root_kept[key] = (
                (sc.get("privileged") is True and self.rule("privileged") == "keep")
                or (uid == 0 and self.rule("runAsUser") == "keep")
                or (sc.get("runAsNonRoot") is False and self.rule("runAsNonRoot") == "keep")
            )
        return self._root_kept[key]

    def needs_root(self, c: ContainerRef) -> str | None:
        """Why this container's job needs its current identity (root, as a rule), or None.
        Linux gives a non-root process no capability from `add`: Kubernetes sets no ambient
        capabilities (kubernetes/kubernetes#56374) and allowPrivilegeEscalation: false turns
        file capabilities off. So a container that keeps capabilities other than
        NET_BIND_SERVICE, or must bind a port below 1024 where the unprivileged-port sysctl
        cannot help, stops working when moved to a non-root uid. Decided once per container,
        on the manifest as written (the capabilities a root container gets back from the
        hardener do not count)."""
        if self._needs_root is None:
            self._needs_root = {}
        if c.pointer not in self._needs_root:
            self._needs_root[c.pointer] = self._why_root(c)
        return self._needs_root[c.pointer]

    def _why_root(self, c: ContainerRef) -> str | None:
        from .capabilities import low_ports

        kept = podspec.added_caps(c.sc) - {"NET_BIND_SERVICE"}
        if kept and self.rule("capabilities") == "override":
            kept &= self.allowed_adds
        if kept:
            return (f"adds {', '.join(sorted(kept))}: capabilities never reach a non-root process "
                    "(no ambient capabilities)")
        ports = low_ports(c.container) or self.image_ports(c)
        if ports and not self.port_sysctl_works(min(ports)):
            return (f"listens on port {min(ports)}, which a non-root process cannot bind here "
                    f"({self.port_sysctl_blocker(min(ports))})")
        return None

    def port_sysctl_blocker(self, port: int) -> str | None:
        """Why the unprivileged-port sysctl cannot let a non-root process bind `port`, or None."""
        from ..kube import versions
        from .capabilities import PORT_SYSCTL

        if self.spec.get("hostNetwork") is True:
            return "hostNetwork: the sysctl would be the node's"
        if not self.pod_level:
            return "this resource has no pod-level securityContext for the sysctl"
        current = self.pod_sysctl(PORT_SYSCTL)
        if current is not None:
            try:
                return None if int(str(current)) <= port else f"{PORT_SYSCTL}={current} is above it"
            except ValueError:
                return f"{PORT_SYSCTL}={current!r} is not a number"
        if self.kube < versions.UNPRIVILEGED_PORT_SYSCTL:
            return f"{PORT_SYSCTL} is a safe sysctl only from Kubernetes 1.22"
        if "unprivilegedPortStart" not in self.active:
            return f"{PORT_SYSCTL} is not set by this profile on these nodes"
        skip = self.pod_level_skip("unprivilegedPortStart", f"sysctl {PORT_SYSCTL}")
        if skip:
            return skip.reason
        return None

    def port_sysctl_works(self, port: int) -> bool:
        return self.port_sysctl_blocker(port) is None

    def pod_sysctl(self, name: str) -> Any:
        """The value of a pod sysctl, or None."""
        for s in podspec.sequence(self.pod_sc.get("sysctls")):
            if isinstance(s, dict) and s.get("name") == name:
                return s.get("value")
        return None

    def pod_level_skip(self, control: str, what: str) -> Skip | None:
        """A Skip when a pod-level-only setting (`what`: fsGroup, sysctls, ...) would reach an
        opted-out container of this template: opting out means unchanged behaviour."""
        present = sorted(self.skip_containers & {c.name for c in self.containers(opted_out=True)})
        if not present:
            return None
        return Skip(control, f"pod-level {what} would also apply to opted-out container(s) "
                             f"{', '.join(present)}", kind=OPT_OUT)

    def keeps_image_uid(self, c: ContainerRef) -> bool:
        """Does the container run as its image's own uid under the manifest's runAsNonRoot:
        true (the kubelet verifies at start that it is numeric and not 0)? It passes PSS
        restricted as it is, and a uid of ours would replace the one its files belong to."""
        return c.pointer in self.image_uid

    def chose_uid(self, c: ContainerRef) -> bool:
        """Does the manifest run this container as a non-zero uid of its own choosing?"""
        return c.pointer in self.chosen

    @property
    def chosen_uids(self) -> bool:
        """Every container runs as a uid the manifest chose."""
        refs = list(self.containers(opted_out=True))
        return bool(refs) and all(c.pointer in self.chosen for c in refs)

    def will_run_as_root(self, c: ContainerRef) -> bool:
        """Will this container run as uid 0 once hardened? An explicit uid 0 the profile
        keeps, or no uid and none to be set (an image's default user is root as a rule)."""
        if self.is_windows:
            return False
        sc = c.sc
        if podspec.effective(sc, self.pod_sc, "runAsNonRoot") is True:
            return False
        if "runAsNonRoot" in self.active and self.keeps_identity(c, "runAsNonRoot") is None:
            return False
        uid = podspec.integer(podspec.effective(sc, self.pod_sc, "runAsUser"))
        sets_uid = "runAsUser" in self.active
        if uid is not None:
            return uid == 0 and not (sets_uid and self.rule("runAsUser") == "override")
        return not (sets_uid and self.keeps_identity(c, "runAsUser") is None)

    def keeps_identity(self, c: ContainerRef, control: str) -> str | None:
        """Why pod-level identity defaults of `control` must not reach this container, or
        None: an explicit root setting kept (unless `control`'s rule overrides it), a job
        that needs root (:meth:`needs_root`), an image that runs as root or a named user
        under `onImageRoot: keep`, or an opt-out."""
        if self.rule(control) != "override" and self.root_kept(c):
            return "keeps running as root (explicit setting kept)"
        why = self.needs_root(c)
        if why is None and self.on_image_root == "keep":
            user = self.image_user(c)
            if user is not None and user.kind != "uid":
                return (f"keeps the user its image {c.container.get('image')} runs as: "
                        f"{user.describe()} (runAsUser.onImageRoot: keep)")
        return why

    # ---- what the image says (--images)
    def image(self, c: ContainerRef):
        """The container's ImageConfig or Failure; None with --images off or no image."""
        ref = c.container.get("image")
        return self.images.get(ref) if self.images and isinstance(ref, str) else None

    def image_user(self, c: ContainerRef):
        """The image's user (hardener.images.ImageUser) when it decides who a Linux
        container runs as: its config at hand, a Linux pod and image, no uid in the manifest
        (decided once, on the manifest as written, like :meth:`needs_root`)."""
        if c.pointer in self._image_users:
            return self._image_users[c.pointer]
        img = self.image(c)
        user = None
        if (img is not None and hasattr(img, "user") and not img.windows and not self.is_windows
                and podspec.effective(c.sc, self.pod_sc, "runAsUser") is None):
            from ..images import parse_user

            user = parse_user(img.user)
        self._image_users[c.pointer] = user
        return user

    def image_ports(self, c: ContainerRef) -> list[int]:
        """The ports below 1024 the image exposes, when the manifest declares no
        containerPort for the container (declared ports say what it listens on)."""
        img = self.image(c)
        if img is None or not getattr(img, "ports", ()) or img.windows or self.is_windows:
            return []
        declared = [p for p in podspec.sequence(c.container.get("ports"))
                    if isinstance(p, dict) and p.get("containerPort") is not None]
        return [] if declared else list(img.ports)

    # ---- building changes
    def set(self, control: str, path_parts: tuple, value: Any, reason: str,
            container: str | None = None) -> Change:
        """A change that makes the field at base+path_parts equal `value`, creating
        missing parent mappings as one nested `add` (so the patch stays valid)."""
        obj: Any = self.template.template
        parts = list(path_parts)
        for i, part in enumerate(parts[:-1]):
            nxt = _child(obj, part)
            if not (isinstance(nxt, dict) if isinstance(parts[i + 1], str) else isinstance(nxt, list)):
                nested: Any = value  # missing, or of the wrong type (`securityContext: []`)
                for p in reversed(parts[i + 1:]):
                    nested = {p: nested}
                op = "replace" if isinstance(obj, dict) and part in obj else "add"
                return Change(control, op, self.pointer(*parts[:i + 1]), nested, reason, container)
            obj = nxt
        last = parts[-1]
        exists = (last in obj) if isinstance(obj, dict) else (
            isinstance(last, int) and 0 <= last < len(obj))
        op = "replace" if exists else "add"
        return Change(control, op, self.pointer(*parts), value, reason, container)

    def refused(self, change: Change) -> str | None:
        """Why the resource would not take `change` (a CRD's webhook, a field it lacks), or
        None: asked before planning something that only works together with it."""
        real = self.template.translate(change)
        return real.reason if isinstance(real, Skip) else None

    def remove(self, control: str, path_parts: tuple, reason: str,
               container: str | None = None) -> Change:
        return Change(control, "remove", self.pointer(*path_parts), None, reason, container)

    def append(self, control: str, list_parts: tuple, value: Any, reason: str,
               container: str | None = None) -> Change:
        """A change that appends `value` to the list at base+list_parts (creating it)."""
        obj: Any = self.template.template
        for part in list_parts:
            obj = _child(obj, part)
        if isinstance(obj, list):
            return Change(control, "add", self.pointer(*list_parts, "-"), value, reason, container)
        return self.set(control, list_parts, [value], reason, container)
