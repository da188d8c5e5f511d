"""The one shape every hardening control has, and the context it plans against.

A control is a class with an `id`, a docstring (its documentation), `options` (each with a
default and a validator) and a `plan(ctx, opts)` generator that *yields* changes and skips
as data. Controls never mutate documents: the planner applies each yielded
:class:`Change` (a JSON Patch operation) before resuming the control, so a control always
reads the pod template as its earlier changes left it.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from typing import Any, Callable, ClassVar, Iterator

from ..errors import ConflictError
from ..workloads import PodTemplate

CONFLICT_RULES = ("keep", "override", "fail")
CONTAINER_LISTS = ("initContainers", "containers", "ephemeralContainers")


def json_copy(value: Any) -> Any:
    """A deep copy of JSON-like data: no shared references (so the writer never needs
    `&id001` anchors), far cheaper than copy.deepcopy."""
    t = type(value)
    if t is dict:
        return {k: json_copy(v) for k, v in value.items()}
    if t is list:
        return [json_copy(v) for v in value]
    return value


@dataclass
class Change:
    """One JSON Patch operation planned by a control."""

    control: str
    op: str  # add | replace | remove
    path: str  # JSON pointer inside the document
    value: Any = None
    reason: str = ""
    container: str | None = None

    def as_patch(self) -> dict:
        d = {"op": self.op, "path": self.path}
        if self.op != "remove":
            d["value"] = json_copy(self.value)
        return d


@dataclass
class Skip:
    """A control the profile asked for that was not applied, and why."""

    control: str
    reason: str
    container: str | None = None


@dataclass(frozen=True)
class Option:
    default: Any
    check: Callable[[Any], str | None]  # returns what is allowed when the value is bad
    doc: str = ""


def one_of(*allowed: Any) -> Callable[[Any], str | None]:
    return lambda v: None if v in allowed else "one of " + ", ".join(map(repr, allowed))


def is_bool(v: Any) -> str | None:
    return None if isinstance(v, bool) else "true or false"


def is_int(lo: int = 0, hi: int = 2**31 - 1) -> Callable[[Any], str | None]:
    def check(v: Any) -> str | None:
        ok = isinstance(v, int) and not isinstance(v, bool) and lo <= v <= hi
        return None if ok else f"an integer from {lo} to {hi}"
    return check


def is_str_list(v: Any) -> str | None:
    ok = isinstance(v, list) and all(isinstance(x, str) and x for x in v)
    return None if ok else "a list of non-empty strings"


def is_int_list(v: Any) -> str | None:
    ok = isinstance(v, list) and all(isinstance(x, int) and not isinstance(x, bool) and x > 0 for x in v)
    return None if ok else "a list of positive integers"


def is_str_map(v: Any) -> str | None:
    ok = isinstance(v, dict) and all(isinstance(k, str) and isinstance(x, str) for k, x in v.items())
    return None if ok else "a mapping of strings to strings"


COMMON_OPTIONS = {
    "enabled": Option(True, is_bool, "apply this control"),
    "conflicts": Option(None, lambda v: None if v is None or v in CONFLICT_RULES
                        else "one of keep, override, fail (or null: the profile's rule)",
                        "what to do when the manifest explicitly conflicts; null = profile default"),
}


class Control:
    """Base class: subclasses set `id`, `scope`, `options` and implement `plan`."""

    id: ClassVar[str]
    scope: ClassVar[str]  # "pod" or "container": where it acts, for the docs
    options: ClassVar[dict[str, Option]] = {}
    linux_only: ClassVar[bool] = True  # not applied to Windows pods

    @classmethod
    def all_options(cls) -> dict[str, Option]:
        return {**COMMON_OPTIONS, **cls.options}

    @classmethod
    def defaults(cls) -> dict[str, Any]:
        return {k: copy.deepcopy(o.default) for k, o in cls.all_options().items()}

    def plan(self, ctx: "PodContext", opts: dict) -> Iterator[Change | Skip]:  # pragma: no cover
        raise NotImplementedError


def _child(obj: Any, part: Any) -> Any:
    """obj[part] for a mapping key or an in-range list index; None when there is none."""
    if isinstance(obj, dict):
        return obj.get(part)
    if isinstance(obj, list) and isinstance(part, int) and 0 <= part < len(obj):
        return obj[part]
    return None


def _escape(part: str) -> str:
    return part.replace("~", "~0").replace("/", "~1")


@dataclass
class ContainerRef:
    container: dict
    pointer: str  # JSON pointer of the container inside the document
    list_name: str  # initContainers | containers | ephemeralContainers
    path: tuple  # path parts inside the pod template, e.g. ("spec", "containers", 0)

    @property
    def name(self) -> str:
        return str(self.container.get("name", ""))

    @property
    def sc(self) -> dict:
        sc = self.container.get("securityContext")
        return sc if isinstance(sc, dict) else {}


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
        sc = self.spec.get("securityContext")
        return sc if isinstance(sc, dict) else {}

    @property
    def pod_annotations(self) -> dict:
        meta = self.template.template.get("metadata")
        ann = meta.get("annotations") if isinstance(meta, dict) else None
        return ann if isinstance(ann, dict) else {}

    def pointer(self, *parts: Any) -> str:
        return self.base + "".join("/" + _escape(str(p)) for p in parts)

    @property
    def is_windows(self) -> bool:
        os_ = self.spec.get("os")
        if isinstance(os_, dict) and os_.get("name") == "windows":
            return True
        sel = self.spec.get("nodeSelector")
        return isinstance(sel, dict) and sel.get("kubernetes.io/os") == "windows"

    def containers(self, opted_out: bool = False) -> Iterator[ContainerRef]:
        """Every container (init, regular, ephemeral) that is a mapping and not opted out
        (with `opted_out`, the opted-out ones too)."""
        for list_name in CONTAINER_LISTS:
            items = self.spec.get(list_name)
            if not isinstance(items, list):
                continue
            for i, c in enumerate(items):
                if isinstance(c, dict) and (opted_out or str(c.get("name", "")) not in self.skip_containers):
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
        return Skip(control, f"kept: {what}", container)

    def root_kept(self, c: ContainerRef) -> bool:
        """True when this container keeps running as root because the profile keeps an
        explicit root-ish setting (privileged, runAsUser 0, runAsNonRoot false): pod-level
        identity defaults must then not reach it, or the kubelet refuses to start it."""
        if self._root_kept is None:
            self._root_kept = {}
        key = c.pointer
        if key not in self._root_kept:
            sc = c.sc
            uid = sc.get("runAsUser", self.pod_sc.get("runAsUser"))
            uid0 = isinstance(uid, int) and not isinstance(uid, bool) and uid == 0
            self._root_kept[key] = (
                (sc.get("privileged") is True and self.rule("privileged") == "keep")
                or (uid0 and self.rule("runAsUser") == "keep")
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
