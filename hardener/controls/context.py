"""What a control sees of one pod template: live data, pointers, the target version, rules."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Iterator

from ..errors import ConflictError
from ..kube import podspec
from ..kube.pointer import join
from ..kube.workloads import PodTemplate
from ..results import CONFLICT, Change, Skip


def _child(obj: Any, part: Any) -> Any:
    """obj[part] for a mapping key or an in-range list index; None when there is none."""
    if isinstance(obj, dict):
        return obj.get(part)
    if isinstance(obj, list) and isinstance(part, int) and 0 <= part < len(obj):
        return obj[part]
    return None


@dataclass
class ContainerRef:
    container: dict
    pointer: str  # JSON pointer of the container inside the document
    list_name: str  # one of podspec.CONTAINER_LISTS
    path: tuple  # path parts inside the pod template, e.g. ("spec", "containers", 0)

    @property
    def name(self) -> str:
        return str(self.container.get("name", ""))

    @property
    def sc(self) -> dict:
        return podspec.mapping(self.container.get("securityContext"))


@dataclass
class PodContext:
    """What a control sees of one pod template: live data, pointers, target version, rules."""

    template: PodTemplate
    kube: tuple[int, int]
    conflicts: dict[str, str]  # control id -> effective rule
    skip_controls: frozenset = frozenset()
    skip_containers: frozenset = frozenset()
    document: int = 0
    _root_kept: dict | None = field(default=None, repr=False)

    # ---- where things are
    @property
    def base(self) -> str:
        return self.template.pointer

    @property
    def spec(self) -> dict:
        return self.template.template["spec"]

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
        return podspec.targets_windows(self.spec)

    def containers(self, opted_out: bool = False) -> Iterator[ContainerRef]:
        """Every container (init, regular, ephemeral) that is a mapping and not opted out
        (with `opted_out`, the opted-out ones too)."""
        for list_name, i, c in podspec.containers(self.spec):
            if opted_out or str(c.get("name", "")) not in self.skip_containers:
                yield ContainerRef(c, self.pointer("spec", list_name, i), list_name,
                                   ("spec", list_name, i))

    # ---- conflicts
    def rule(self, control: str) -> str:
        return self.conflicts.get(control, "keep")

    def conflict(self, control: str, what: str, container: str | None = None) -> Skip:
        """Decide a conflict by `fail` (raise) or return the Skip to report for `keep`."""
        if self.rule(control) == "fail":
            res = self.template
            ns = f"{res.namespace}/" if res.namespace else ""
            where = f"container {container!r}: " if container else ""
            raise ConflictError(
                f"document {self.document}: {res.api_version} {res.kind} {ns}{res.name}: "
                f"{where}{what} conflicts with control {control} (rule: fail)")
        return Skip(control, f"kept: {what}", container, kind=CONFLICT, setting=what)

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
