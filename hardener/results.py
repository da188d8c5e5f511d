"""What every stage hands on: the planned changes, the skips and the per-resource result.

Plain records, no behaviour. Controls yield :class:`Change` and :class:`Skip`; the
hardener collects them per resource in a :class:`ResourceResult`; the report, KRM
results, the policy emitter and the audit read them.
"""

from __future__ import annotations

from typing import Any

from .record import Record



def json_copy(value: Any) -> Any:
    """A deep copy of JSON-like data: no shared references (so the writer never needs
    `&id001` anchors), far cheaper than copy.deepcopy."""
    t = type(value)
    if t is dict:
        return {k: json_copy(v) for k, v in value.items()}
    if t is list:
        return [json_copy(v) for v in value]
    return value


class Change(Record):
    """One JSON Patch operation planned by a control: `control`, `op` (add | replace |
    remove), `path` (JSON pointer inside the document), `value`, `reason`, `container`."""

    __slots__ = _fields = ("control", "op", "path", "value", "reason", "container")

    def __init__(self, control: str, op: str, path: str, value: Any = None, reason: str = "",
                 container: str | None = None) -> None:
        self.control, self.op, self.path, self.value, self.reason, self.container = (
            control, op, path, value, reason, container)

    def as_patch(self, copy: bool = True) -> dict:
        """The JSON Patch operation; `copy` False for a reader that never keeps its value
        (the text edit, which writes the planned data)."""
        d = {"op": self.op, "path": self.path}
        if self.op != "remove":
            d["value"] = json_copy(self.value) if copy else self.value
        return d


# ---- why a control was not applied: the kinds of Skip
OPT_OUT = "opt-out"  # an opt-out annotation said so
CONFLICT = "conflict"  # an explicit setting conflicts and the rule `keep` kept it
HOST_ACCESS = "host-access"  # the workload is built on host access: reported, never removed
NOT_APPLICABLE = "not-applicable"  # does not apply here (Windows pod, target version, hostNetwork)
BLOCKED = "blocked"  # the API or the runtime forbids the change next to another setting
MALFORMED = "malformed"  # the API server cannot decode or always rejects the workload
UNFIXABLE = "unfixable"  # fixing would change what the workload does (a volume type)
UNFIXED = "unfixed"  # a PSS check of the profile's level no control of the profile fixes
UNSUPPORTED = "unsupported"  # the resource's controller does not accept the setting (a CRD)
UNKNOWN_WORKLOAD = "unknown-workload"  # looks like a pod template in a kind no table knows
KEPT_IDENTITY = "kept-identity"  # a uid the manifest chose keeps its image's group: no second identity
SKIP_KINDS = (OPT_OUT, CONFLICT, HOST_ACCESS, NOT_APPLICABLE, BLOCKED, MALFORMED, UNFIXABLE,
              UNFIXED, UNSUPPORTED, UNKNOWN_WORKLOAD, KEPT_IDENTITY)


class Skip(Record):
    """A control the profile asked for that was not applied, why, and what kind of reason
    (one of :data:`SKIP_KINDS`). For a conflict, `setting` names the explicit setting kept;
    `check` is the Pod Security Standards check id (:data:`hardener.pss.CHECKS`) the template
    still fails because of it, when it fails one."""

    __slots__ = _fields = ("control", "reason", "container", "kind", "setting", "check")

    def __init__(self, control: str, reason: str, container: str | None = None, *, kind: str,
                 setting: str | None = None, check: str | None = None) -> None:
        self.control, self.reason, self.container, self.kind, self.setting, self.check = (
            control, reason, container, kind, setting, check)


class Warning(Record):
    """What hardening could not make safe to predict: the change is made, and this is what
    may still break (an image that expects another user, writes to its root filesystem,
    ...). Separate from Skip: nothing was left out. `image`: the image reference a
    prediction from its config (--images) is about."""

    __slots__ = _fields = ("control", "message", "container", "image")

    def __init__(self, control: str, message: str, container: str | None = None,
                 image: str | None = None) -> None:
        self.control, self.message, self.container, self.image = control, message, container, image


class ResourceResult(Record):
    """What happened to one resource (a document, or one item of a List): where it is
    (`pointer` inside the document, `source` the input it came from, `source_index` the
    document's index there, `origin` the file it was rendered from: inputs.origin), its
    `changes`, `skipped` and `warnings`, the PodTemplates found (`templates`), each
    template's own skips (`template_skips`: pointer -> skips) and `extra` (e.g. PSS levels
    before/after)."""

    __slots__ = _fields = ("document", "api_version", "kind", "namespace", "name", "pointer", "source",
                           "source_index", "origin", "changes", "skipped", "warnings", "templates",
                           "template_skips", "extra")

    def __init__(self, document: int, api_version: str, kind: str, namespace: str, name: str,
                 pointer: str = "", source: str = "", source_index: int = -1,
                 changes: list[Change] | None = None, skipped: list[Skip] | None = None,
                 warnings: list[Warning] | None = None, templates: list | None = None,
                 template_skips: dict | None = None, extra: dict | None = None) -> None:
        self.document, self.api_version, self.kind, self.namespace, self.name = (
            document, api_version, kind, namespace, name)
        self.pointer, self.source, self.source_index = pointer, source, source_index
        self.origin: str | None = None
        self.changes = [] if changes is None else changes
        self.skipped = [] if skipped is None else skipped
        self.warnings = [] if warnings is None else warnings
        self.templates = [] if templates is None else templates
        self.template_skips = {} if template_skips is None else template_skips
        self.extra = {} if extra is None else extra

    @property
    def ref(self) -> str:
        """`Kind namespace/name`, as messages name a resource."""
        ns = f"{self.namespace}/" if self.namespace else ""
        return f"{self.kind} {ns}{self.name}"

    @property
    def where(self) -> str:
        """Where the resource is: `FILE, document N` (N counted in that file), or `document N`
        for stdin; a List or ResourceList item adds its pointer, and the file it was rendered
        from follows (`from CHART/templates/x.yaml`): in a ResourceList or a temporary file
        (Argo CD's plugin) that is the name the user knows."""
        index = self.source_index if self.source_index >= 0 else self.document
        place = f"document {index}" if self.source in ("", "<stdin>") else f"{self.source}, document {index}"
        place += f", {self.pointer.lstrip('/')}" if self.pointer else ""
        return place + (f", from {self.origin}" if self.origin else "")
